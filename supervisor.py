"""facegate's entry point: `python supervisor.py [serve|register|replay] ...` (see --help)."""

import sys

from entry.cli import main

if __name__ == "__main__":
    sys.exit(main())
