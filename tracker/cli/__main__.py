"""``python -m tracker.cli``: the same as the ``tracker`` script (tests and benchmarks use it)."""

import sys

from tracker.cli import main

sys.exit(main())
