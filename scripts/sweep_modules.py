"""How many reslab modules one experiment touches (issue 27's acceptance line).

Counts the modules of ``reslab/`` with at least one line executed (coverage) while
``reslab.sweep(["plain20", "resnet20"], budget="smoke", dataset="shapes10")`` runs and its
figure is drawn, leaving out the lines that ``import reslab`` alone executes. Runs go to a
fresh temporary folder, so nothing is resumed::

    python scripts/sweep_modules.py          # prints the count, then the modules
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]


def executed(cov: coverage.Coverage) -> dict[str, set[int]]:
    """``{module path relative to the repository: lines executed}`` of reslab's modules."""
    data = cov.get_data()
    return {str(Path(f).resolve().relative_to(ROOT)): set(data.lines(f) or ())
            for f in data.measured_files() if Path(f).resolve().is_relative_to(ROOT / "reslab")}


def main() -> None:
    os.environ["RESLAB_RUNS"] = tempfile.mkdtemp(prefix="sweep-modules-")
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, str(ROOT))
    source = [str(ROOT / "reslab")]
    on_import = coverage.Coverage(source=source, data_file=None)
    on_import.start()
    import reslab
    on_import.stop()
    on_sweep = coverage.Coverage(source=source, data_file=None)
    on_sweep.start()
    histories = reslab.sweep(["plain20", "resnet20"], budget="smoke", dataset="shapes10")
    from reslab.course import plots
    plots.degradation_figure(histories)
    on_sweep.stop()
    before = executed(on_import)
    touched = sorted(m for m, lines in executed(on_sweep).items()
                     if lines - before.get(m, set()))
    print(len(touched))
    print("\n".join(touched))


if __name__ == "__main__":
    main()
