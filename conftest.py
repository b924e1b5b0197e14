"""Settings for every pytest run (tests and notebooks under nbval).

Notebooks run on the smoke budget unless RESLAB_BUDGET says otherwise; the kernels nbval
starts inherit this environment. (Grading needs no variable: a graded cell asserts its
check's result, so a course notebook whose solution fails its check fails CI.)
"""
import os

os.environ.setdefault("RESLAB_BUDGET", "smoke")
