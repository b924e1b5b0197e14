"""Notebook 07 (``07_ror``): residual networks of residual networks (RoR), Zhang et al. 2017.

The experiment trains 32-layer RoR with 1, 2 and 3 levels of shortcuts (m = 1 is a ResNet with
projection shortcuts) and RoR-3 with stochastic depth (p_L = 0.5). Its findings are the
paper's CIFAR results, cited as Tables V-VI: m = 3 is the best level count, and stochastic
depth makes RoR pay (RoR-3-WRN40-2 4.59% error with SD vs 5.01% without; RoR without SD
overfits). ``shared/papers/`` holds the paper's first page only, so these numbers are checked
against ``SPEC.md``'s transcription, not the tables themselves.
"""
from __future__ import annotations

from reslab.course.lessons.experiment import Result, sweep_nets
from reslab.course.lessons.finding import Finding, final, lower

NOTEBOOK = "07"
ROR = {"ror:m1": {"levels": 1}, "ror:m2": {"levels": 2}, "ror:m3": {"levels": 3},
       "ror:m3+SD": {"levels": 3, "stochastic_depth": 0.5}}
ROR_DEPTH = 32


def experiment(budget, seed=0, dataset="auto", out=None, progress=True,
               on_eval=None) -> Result:
    """07: RoR with 1, 2 and 3 shortcut levels, and RoR-3 with stochastic depth (p_L = 0.5)."""
    options = {k: {"depth": ROR_DEPTH, **v} for k, v in ROR.items()}
    return Result(NOTEBOOK, sweep_nets(list(ROR), budget, seed, dataset, out, progress,
                                       options, on_eval))


def findings(result: Result) -> list[Finding]:
    """RoR-3 against RoR-1, and what stochastic depth does to RoR-3's error and gap."""
    h, z = result.histories, "Zhang et al. 2017, Tables V-VI"
    gap = {k: final(h[k], "eval_error") - final(h[k], "train_error") for k in ("ror:m3",
                                                                              "ror:m3+SD")}
    return [lower(NOTEBOOK, "RoR-3 beats RoR-1 (m = 1: a ResNet with projection shortcuts)",
                  f"{z} (m = 3 is the best level count)", h, "ror:m3", "ror:m1"),
            lower(NOTEBOOK, "stochastic depth makes RoR-3 better", f"{z} (e.g. RoR-3-WRN40-2 "
                  "4.59 with SD vs 5.01 without)", h, "ror:m3+SD", "ror:m3"),
            Finding(NOTEBOOK, "stochastic depth narrows RoR-3's generalisation gap",
                    f"{z}: RoR without SD overfits", "gap (test - train error) with SD - "
                    "without (points)", round(gap["ror:m3+SD"] - gap["ror:m3"], 2),
                    gap["ror:m3+SD"] < gap["ror:m3"])]
