"""CPython's POSIX shared-memory calls (Modules/_multiprocessing/posixshmem.c), which typeshed leaves out.

pipeline/transport/shm.py calls them directly to keep its segments away from the resource tracker.
"""

def shm_open(path: str, flags: int, mode: int = 0o777) -> int: ...
def shm_unlink(path: str) -> None: ...
