"""Benchmarks of facegate on real data: `python -m bench` (issue 5) and `python -m bench.soak`.

Each module measures one thing and returns plain dicts, so `bench/__main__.py` can put every
figure of one run into one table and one JSON file. Timings are reported, never asserted.
"""

import os

# As supervisor.py does, before numpy loads: one BLAS thread per process, the way every stage runs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
