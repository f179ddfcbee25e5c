"""How stage processes start: forked from one forkserver that has already loaded dlib's models.

A stage started as a fresh interpreter (multiprocessing's "spawn") spent about 1.2 s of CPU
before its first frame, 0.9 s of it loading dlib's models (bench/startup.py),
and every stage and every restart paid it again, all at once on a 2-core machine. Instead the
first stage start launches multiprocessing's forkserver, which imports all of that once
(pipeline/supervision/preload.py); each stage is then forked from it, with the models already in
(copy-on-write) memory. Queues, the stats board and the shared-memory rings reach a stage as
they did under spawn (pickled at start, file descriptors passed over a Unix socket).

Stages are children of the forkserver, not of the supervisor, so each one watches the
supervisor itself (facegate/procutil.py). The forkserver holds no frames and no segments; it
is stopped when the last pipeline of the process shuts down, so a stopped pipeline leaves no
process behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext

from facegate.procutil import one_blas_thread_for_children

log = logging.getLogger(__name__)

PRELOAD = ["__main__", "pipeline.supervision.preload"]  # the entry script's imports, then dlib's models and every stage
_lock = threading.Lock()
_running = 0  # pipelines of this process between start() and shutdown()


def stage_context() -> ForkServerContext:
    """The multiprocessing context every stage process is started with."""
    one_blas_thread_for_children()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def pipeline_started() -> None:
    global _running
    with _lock:
        _running += 1


def pipeline_stopped() -> None:
    """Stop the forkserver once no pipeline of this process runs any more (its stages have all been reaped).

    Another pipeline's stages would keep the forkserver alive (they hold its "alive" pipe), so
    it is stopped only after the last one.
    """
    global _running
    with _lock:
        _running = max(0, _running - 1)
        if _running == 0:
            # CPython's own way to stop it (close the pipe, wait for it): private, so typeshed leaves it out.
            forkserver._forkserver._stop()  # type: ignore[attr-defined]
            log.debug("stage forkserver stopped")
