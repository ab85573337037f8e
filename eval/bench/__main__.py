"""``python -m eval.bench``: see :mod:`eval.bench.run`."""

from __future__ import annotations

import sys

from eval.bench.run import main

if __name__ == "__main__":
    sys.exit(main())
