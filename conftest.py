"""Settings for every pytest run (tests and notebooks under nbval).

Notebooks run on the smoke budget unless RESLAB_BUDGET says otherwise; the kernels nbval
starts inherit this environment.
"""
import os

os.environ.setdefault("RESLAB_BUDGET", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
