"""Notebook 07 (``07_ror``): residual networks of residual networks (RoR), Zhang et al. 2017.

The experiment trains 32-layer RoR with 1, 2 and 3 levels of shortcuts (m = 1 is a ResNet with
projection shortcuts) and RoR-3 with stochastic depth (p_L = 0.5). Its findings are the
paper's CIFAR results, cited as Tables V-VI: m = 3 is the best level count, and stochastic
depth makes RoR pay (RoR-3-WRN40-2 4.59% error with SD vs 5.01% without, CIFAR-10).
``shared/papers/`` holds the paper's first page only, so these numbers are checked
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
    h, z = result.histories, "Zhang et al. 2017, Tables V-VI (CIFAR-10/100)"
    gap = {k: final(h[k], "eval_error") - final(h[k], "train_error") for k in ("ror:m3",
                                                                              "ror:m3+SD")}
    return [lower(NOTEBOOK, "RoR-3 beats RoR-1 (m = 1: a ResNet with projection shortcuts)",
                  f"{z}: m = 3 is their best level count", h, "ror:m3", "ror:m1"),
            lower(NOTEBOOK, "stochastic depth makes RoR-3 better", f"{z} (e.g. RoR-3-WRN40-2 "
                  "4.59 with SD vs 5.01 without)", h, "ror:m3+SD", "ror:m3"),
            Finding(NOTEBOOK, "the kit's own question: does stochastic depth narrow "
                    "RoR-3's generalisation gap?", f"not a finding of the paper: {z} give test "
                    "errors only; with SD, Pre-RoR-3-164 4.51 vs 5.02 and RoR-3-WRN40-2 4.59 "
                    "vs 5.01 without (CIFAR-10)", "gap (test - train error) with SD - "
                    "without (points)", round(gap["ror:m3+SD"] - gap["ror:m3"], 2),
                    gap["ror:m3+SD"] < gap["ror:m3"])]


AGAINST = {  # claim -> why a short run can come out against the paper
    "RoR-3 beats RoR-1 (m = 1: a ResNet with projection shortcuts)":
        "budget and noise: Zhang et al. compare levels after 500 epochs on deeper nets "
        "(110 and 164 layers); the kit's 32-layer nets after a short run differ by about the "
        "noise of one test error",
    "stochastic depth makes RoR-3 better":
        "budget: stochastic depth drops residual blocks while training, a regulariser; Zhang "
        "et al. train for 500 epochs, and in a short run the dropped blocks slow fitting "
        "more than they prevent overfitting",
    "the kit's own question: does stochastic depth narrow RoR-3's generalisation gap?":
        "no paper claims it in the text the kit has: a short run is far from overfitting, so "
        "there is little gap to narrow",
}
