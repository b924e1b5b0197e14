"""Each notebook's default experiment, as one function: what the notebook trains and measures.

A notebook cell calls ``experiments.run("01")``; ``python -m reslab findings`` calls the same
functions for several seeds and reads the papers' findings off the results
(:mod:`reslab.course.findings`). Nets that two notebooks share (ResNet-20 in 00, 01, 02, 04, 05)
have the same config, so a later notebook reuses the earlier run instead of training it again.

Each experiment is written beside its findings in its notebook's lesson module under
:mod:`reslab.course.lessons` (``degradation`` for 01, ..., ``successive`` for 08); this module
indexes them by notebook, and holds only what the notebooks use besides (:class:`Result`,
:func:`eval_images`, 01's :func:`instability` and the model lists of 05, 06 and 07).

Default experiments on the ``quick`` budget (the short recipe of :mod:`reslab.training.budget`):

====  ===============================================================  ==================
 nb    trains                                                           measures
====  ===============================================================  ==================
 01    plain-20, plain-56, ResNet-20, ResNet-56 (He et al. Fig. 6)      training error
 02    ResNet-20 with options A, B, C and plain-20 (cf. Table 3)        test error
 03    ResNet-20 and a 29-layer bottleneck net (Sec. 4.1)               test error
 04    01's four nets (reused)                                          Fig. 7 response std
 05    ResNet and ResResNet at 20 and 56 layers (Gelda et al. Fig. 9)   test error
 06    CNN, ResNet, ResNet Init, RiR, 32 layers (Targ et al. Table 3)   test error, Fig. 3
 07    RoR-m (m = 1, 2, 3) and RoR-3 + SD, 32 layers (Zhang et al.)     test error, gap
 08    ResNet-32 grown bottom-up, top-down, and trained at once         test error
====  ===============================================================  ==================
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from reslab.course.lessons import (bottlenecks, degradation, responses, resresnet, rir, ror,
                                   shortcuts, successive)
from reslab.course.lessons.degradation import instability
from reslab.course.lessons.experiment import Result, eval_images
from reslab.course.lessons.resresnet import RESRES
from reslab.course.lessons.rir import RIR
from reslab.course.lessons.ror import ROR
from reslab.training.budget import Budget

__all__ = ["Result", "eval_images", "run", "EXPERIMENTS", "instability", "RESRES", "RIR", "ROR"]

EXPERIMENTS: dict[str, Callable[..., Result]] = {
    "01": degradation.experiment, "02": shortcuts.experiment, "03": bottlenecks.experiment,
    "04": responses.experiment, "05": resresnet.experiment, "06": rir.experiment,
    "07": ror.experiment, "08": successive.experiment}


def run(notebook: str, budget: Budget | str | None = None, seed: int = 0,
        dataset: str = "auto", out: str | Path | None = None, progress: bool = True,
        **kwargs: Any) -> Result:
    """Run notebook ``notebook``'s default experiment ("01" ... "08")."""
    if notebook not in EXPERIMENTS:
        raise ValueError(f"no default experiment for notebook {notebook!r}; choose one of "
                         f"{', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[notebook](budget, seed=seed, dataset=dataset, out=out,
                                 progress=progress, **kwargs)
