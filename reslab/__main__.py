"""``python -m reslab ...``: see :mod:`reslab.cli`."""
from reslab.cli import main

raise SystemExit(main())
