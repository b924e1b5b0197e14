"""Settings for every pytest run (tests and notebooks under nbval).

* Notebooks run on the smoke budget unless RESLAB_BUDGET says otherwise.
* RESLAB_GRADING=1 makes a failing exercise check raise, so a course notebook whose own
  solution does not pass its check fails CI (student notebooks are tested without it).

The kernels nbval starts inherit this environment.
"""
import os

os.environ.setdefault("RESLAB_BUDGET", "smoke")
os.environ.setdefault("RESLAB_GRADING", "1")
