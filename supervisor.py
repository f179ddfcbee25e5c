"""facegate's entry point: `python supervisor.py [serve|register|replay] ...` (see --help)."""

import os
import sys

# Before numpy loads: one BLAS thread per process (the encoding network runs in several at once).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from entry.cli import main

if __name__ == "__main__":
    sys.exit(main())
