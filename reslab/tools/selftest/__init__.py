"""``python -m reslab selftest``: is this machine's training path right, and how fast is it?

The first command to run on a new machine, and on any GPU the project is lent. Every check
prints one line -- ``PASS``, ``FAIL``, ``MEASURE`` (a number, no verdict) or ``SKIP (needs
CUDA)`` -- and the whole report is written as JSON naming the device and torch version
(``benchmarks/results/selftest-<device>.json`` in a checkout). The exit code is 1 if any check
failed.

On a CPU the checks are tiny (a 8-layer net of 4-8 channels, seconds in all): environment,
resume after a stop, activation checkpointing, sweep vs solo, seeds trained together, and the
operators a step issues. On CUDA the same run ResNet-20 sized, and the CUDA-only checks join:
whole-step graph vs eager, a graphed sweep on side streams vs solo runs, the graph's own
check against the eager step, a failed capture leaving no capture stream behind, a
deterministic run after earlier GPU work, bf16 vs fp32 loss curves over 200 steps (within
the gap another fp32 seed shows), kernels per step, steps/s of eager and graphed
ResNet-20/56/110, a sweep on one stream vs side streams, the peak memory of ResNet-1202 at
batch 128 with and without activation checkpointing, five seeds trained together vs one run,
and compile (ResNet-20 only), with and without checkpointing; fp32 is compared without
TF32. How long that takes on a GPU has not been measured yet.

The time budget bounds the whole selftest: every check carries an estimate of its seconds on
a GPU, and one whose estimate does not fit in the time left is skipped, and says so. The report
is rewritten (and every line flushed) after each check, so a selftest that is killed keeps
what it had checked. The checks come in three groups, in this order: ``core`` (environment,
resume, seeds vs solo, graph vs eager, the trainer's own graph check, determinism), ``speed``
(eager vs graphed steps/s) and ``more``; ``--group`` runs some of them, and groups run one by
one into the same ``--out`` make one report (``scripts/gpu_run.py`` runs them as its steps).

The package, in reading order: :mod:`~reslab.tools.selftest.records` (a check's result, its
context, the JSON report), :mod:`~reslab.tools.selftest.harness` (build, train and compare
runs), the checks (:mod:`~reslab.tools.selftest.any_device`, :mod:`~reslab.tools.selftest.cuda`,
:mod:`~reslab.tools.selftest.cuda_measures`) and :mod:`~reslab.tools.selftest.runner` (their
order, the time budget, :func:`run_selftest`).
"""
from reslab.tools.selftest.any_device import (check_checkpointing, check_environment,
                                              check_operators, check_resume, check_seeds,
                                              check_sweep)
from reslab.tools.selftest.cuda import (DETERMINISTIC_AFTER_GPU_WORK, check_bf16,
                                        check_capture_failure, check_compile,
                                        check_compile_checkpointing,
                                        check_deterministic_after_gpu_work, check_graph,
                                        check_graph_self_check, check_graph_sweep,
                                        curves_agree)
from reslab.tools.selftest.cuda_measures import (check_kernels, check_memory, check_seeds_speed,
                                                 check_speed_compiled, check_speed_eager_graphed,
                                                 steps_per_s)
from reslab.tools.selftest.harness import (OperatorCount, build_runs, largest_difference,
                                           no_tf32, synchronize, train_steps, trained_weights,
                                           verdict, weights)
from reslab.tools.selftest.records import (Check, Context, Result, default_out, device_name,
                                           device_tag, read_report, shapes10, write_report)
from reslab.tools.selftest.runner import CHECKS, GROUPS, run_check, run_selftest
from reslab.training import fastpath  # selftest.fastpath, as before the split (tests read it)

__all__ = [
    "run_selftest", "CHECKS", "GROUPS", "Check", "run_check",
    "Result", "Context", "shapes10", "device_name", "device_tag", "default_out", "write_report",
    "read_report",
    "build_runs", "train_steps", "trained_weights", "weights", "largest_difference", "verdict",
    "synchronize", "OperatorCount", "steps_per_s", "no_tf32", "curves_agree",
    "check_environment", "check_resume", "check_checkpointing", "check_sweep", "check_seeds",
    "check_operators",
    "check_graph", "check_graph_sweep", "check_graph_self_check", "check_capture_failure",
    "DETERMINISTIC_AFTER_GPU_WORK", "check_deterministic_after_gpu_work", "check_bf16",
    "check_compile", "check_compile_checkpointing",
    "check_kernels", "check_memory", "check_seeds_speed", "check_speed_compiled",
    "check_speed_eager_graphed",
    "fastpath",
]
