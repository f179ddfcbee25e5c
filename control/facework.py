"""Face detection for API requests in a small bounded pool of processes, so uploads cannot starve the cameras.

`POST /api/register`, `POST /api/persons/<id>/faces` with a photo and `POST /api/recognize` decode
a photo and run dlib on it: ~2 s of CPU for a 1080p photo, holding the GIL for most of it. Run in
the API's own threads, a burst of them would freeze the supervisor's routing threads (and so the
cameras) and every other request. Here they run in `api_face_workers` processes (1 by default, at a
lower CPU priority, so the pipeline keeps the cores) with at most `api_face_queue` more requests
waiting; beyond that the caller gets `PoolFull`, which control/errors.py answers with 429 and a `Retry-After`.
Photos over `max_image_pixels` are refused before they are decoded. (Settings, so also
`FACEGATE_API_FACE_WORKERS`, `FACEGATE_API_FACE_QUEUE`, `FACEGATE_MAX_IMAGE_PIXELS`.)
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import bottle
import numpy as np

from facegate.procutil import one_blas_thread_for_children
from facegate.settings import DEFAULT_ENCODER, Settings

T = TypeVar("T")

log = logging.getLogger(__name__)

WORKER_NICE = 10  # below the pipeline's stages, which run at the default priority
JOB_TIMEOUT_S = 120.0
FIRST_GUESS_S = 2.0  # a 1080p photo on one core, until the pool has timed real jobs


class PoolFull(RuntimeError):
    """Every worker is busy and the queue is full; try again after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"face detection is busy; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}  # on its 429 (control/errors.py)


class PoolUnavailable(RuntimeError):
    """A worker died (out of memory?) mid-job; the pool is rebuilt for the next request."""

    headers = {"Retry-After": "1"}  # on its 503 (control/errors.py)


@dataclass(frozen=True)
class FaceWorkConfig:
    workers: int = 1  # processes running face detection for the API
    queue: int = 2  # requests that may wait for a worker; more get 429
    max_pixels: int = 16_000_000  # larger photos are refused before decoding
    encoder: str = DEFAULT_ENCODER  # what runs the encoding network in the workers

    @classmethod
    def of(cls, settings: Settings) -> FaceWorkConfig:
        """From the `api_face_workers`, `api_face_queue`, `max_image_pixels` and `encoder` settings."""
        return cls(
            workers=settings.api_face_workers,
            queue=settings.api_face_queue,
            max_pixels=settings.max_image_pixels,
            encoder=settings.encoder,
        )


@dataclass(frozen=True)
class PhotoFaces:
    """What a worker found: the photo's size and every face as ((top, right, bottom, left), 128-d encoding)."""

    width: int
    height: int
    faces: list[tuple[tuple[int, int, int, int], np.ndarray]]


def _worker_start(parent_pid: int, log_level: int, encoder: str) -> None:
    """Runs first in each worker: its name, its logging, a lower priority, death with the supervisor, and
    the encoding network on the `encoder` the settings name."""
    from setproctitle import setproctitle

    from facegate.encoder import use
    from facegate.logsetup import setup_logging
    from facegate.procutil import _die_with_parent

    setproctitle("facegate: api-faces")
    multiprocessing.current_process().name = "api-faces"
    setup_logging(log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle; it closes the pool
    _die_with_parent()
    if os.getppid() != parent_pid:
        os._exit(0)
    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    use(encoder)


def _find_faces(data: bytes, model: str, upsample: int, max_pixels: int) -> PhotoFaces:
    """In a worker: decode the photo (refusing more than `max_pixels`) and locate and encode every face."""
    from facegate.faces import load_rgb, locate_and_encode

    rgb = load_rgb(data, max_pixels=max_pixels)
    return PhotoFaces(int(rgb.shape[1]), int(rgb.shape[0]), locate_and_encode(rgb, model=model, upsample=upsample))


class FaceWorkPool:
    """At most `workers` photos in work and `queue` waiting; the processes start with the first photo."""

    def __init__(self, config: FaceWorkConfig) -> None:
        self.config = config
        self._admission = threading.BoundedSemaphore(config.workers + config.queue)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self._job_s = FIRST_GUESS_S  # running average of a job's duration
        self._holding = threading.local()
        self.rejected = 0

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free: the queue ahead, worked off by every worker."""
        ahead = (self.config.workers + self.config.queue) / self.config.workers
        return max(1, math.ceil(self._job_s * ahead))

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise PoolUnavailable("the service is shutting down")
            if self._executor is None:
                one_blas_thread_for_children()
                self._executor = ProcessPoolExecutor(
                    max_workers=self.config.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_start,
                    initargs=(os.getpid(), logging.getLogger().level, self.config.encoder),
                )
                log.info("started %d face-detection process(es) for API photos", self.config.workers)
            return self._executor

    @contextmanager
    def turn(self) -> Iterator[None]:
        """A place in the pool (working or waiting) for this thread; PoolFull at once when there is none.

        Taken before the upload is even parsed, so a flood is turned away for next to nothing.
        """
        if getattr(self._holding, "turn", False):
            yield
            return
        if not self._admission.acquire(blocking=False):
            self.rejected += 1
            raise PoolFull(self.retry_after_s())
        self._holding.turn = True
        try:
            yield
        finally:
            self._holding.turn = False
            self._admission.release()

    def find_faces(self, data: bytes, *, model: str = "hog", upsample: int = 1) -> PhotoFaces:
        """Every face in the photo (taking a turn unless this thread holds one); PoolFull when full.

        FaceImageError (not an image, too many pixels) comes back from the worker as it was raised.
        """
        return self.run(_find_faces, data, model, upsample, self.config.max_pixels)

    def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work(*args, **kwargs)` in a worker (a module-level function; taking a turn unless this thread
        holds one): the photo checks of enrollment, verify and search share the pool with recognize."""
        with self.turn():
            started = time.monotonic()
            try:  # a worker that died while idle breaks the pool too: submit says so
                done = self._pool().submit(work, *args, **kwargs).result(timeout=JOB_TIMEOUT_S)
            except BrokenProcessPool:
                self._discard()
                raise PoolUnavailable("a face-detection process died; try again") from None
            self._job_s = 0.8 * self._job_s + 0.2 * (time.monotonic() - started)
            return done

    def _discard(self) -> None:
        with self._lock:
            broken, self._executor = self._executor, None
        if broken is not None:
            log.error("a face-detection process died; starting new ones for the next photo")
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes (waits for a photo in work); later calls get PoolUnavailable."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        return {
            "workers": self.config.workers,
            "queue": self.config.queue,
            "rejected": self.rejected,
            "job_s": round(self._job_s, 2),
            "started": self._executor is not None,
        }


class _ClosesWithApp:
    """Bottle's `app.close()` closes every installed plugin: how the pool's processes end with the API server."""

    name, api = "facegate-face-pool", 2

    def __init__(self, pool: FaceWorkPool) -> None:
        self.pool = pool

    def apply(self, callback: Callable[..., Any], _route: bottle.Route) -> Callable[..., Any]:
        return callback

    def close(self) -> None:
        self.pool.close()


def install(app: bottle.Bottle, config: FaceWorkConfig) -> FaceWorkPool:
    """The pool for `app`'s photo routes, closed by `app.close()`."""
    pool = FaceWorkPool(config)
    app.install(_ClosesWithApp(pool))
    return pool
