"""Self-checks for the notebooks' exercises, one module per paper: specific feedback, compared
with hidden references (``from reslab.course import checks``; ``checks.basic_block(...)``).

* :mod:`~reslab.course.checks.result`: :class:`CheckResult`, the verdict every check returns
  (falsy when something is wrong), and the helpers the checks share.
* :mod:`~reslab.course.checks.he2016`: He et al. 2016, notebooks 00-04.
* :mod:`~reslab.course.checks.gelda2016`: Gelda et al. 2016, notebooks 05 (ResResNet) and 08
  (successive block training).
* :mod:`~reslab.course.checks.rir`: Targ et al. 2016 (ResNet in ResNet), notebook 06.
* :mod:`~reslab.course.checks.ror`: Zhang et al. 2017 (RoR), notebook 07.

In notebooks 05-08 the reader builds a module, a rule or a plan that reslab then draws or
trains; each check compares behaviour with a hidden reference (outputs on random inputs,
parameter counts, the plugged-in model's outputs) and never prints the reference's values.
"""
from reslab.course.checks.gelda2016 import partial_net, phase_plan, resres_stage, stage_shortcut
from reslab.course.checks.he2016 import (basic_block, bottleneck_block, bottleneck_param_formula,
                                         fashion_mnist_model, identity_at_init,
                                         projection_shortcut, response_std, shortcut_param_counts,
                                         zero_pad_shortcut)
from reslab.course.checks.result import CheckResult
from reslab.course.checks.rir import generalized_conv, resnet_init_identity
from reslab.course.checks.ror import level_shortcut, linear_survival

__all__ = [
    "CheckResult",
    # He et al. 2016 (notebooks 00-04)
    "fashion_mnist_model", "identity_at_init", "basic_block", "zero_pad_shortcut",
    "projection_shortcut", "shortcut_param_counts", "bottleneck_block",
    "bottleneck_param_formula", "response_std",
    # Gelda et al. 2016 (05: ResResNet; 08: successive block training)
    "resres_stage", "stage_shortcut", "partial_net", "phase_plan",
    # Targ et al. 2016, RiR (06)
    "resnet_init_identity", "generalized_conv",
    # Zhang et al. 2017, RoR (07)
    "level_shortcut", "linear_survival",
]
