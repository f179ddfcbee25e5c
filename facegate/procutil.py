"""What every stage process does first: take its name, its logging, its signals, and its parent's fate.

Also what a process knows of itself (its resident memory), for the stats of every stage and the supervisor.
"""

from __future__ import annotations

import ctypes
import faulthandler
import logging
import multiprocessing
import os
import resource
import select
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from setproctitle import setproctitle

from facegate.logsetup import setup_logging

PR_SET_PDEATHSIG = 1
SIGNAL_POLL_S = 0.1  # how soon StopFlag.wait notices a signal
log = logging.getLogger(__name__)


def stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` writes where every thread of this process is to stderr (the log), and it goes on."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)


@contextmanager
def stacks_if_slow(seconds: float) -> Iterator[None]:
    """Every thread's stack to stderr if the block still runs after `seconds`: a hang says where it hangs."""
    faulthandler.dump_traceback_later(seconds)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


class StopFlag:
    """Set by SIGTERM/SIGINT or by the supervisor's death; stage loops poll it between messages.

    The stage's parent is the supervisor, or the forkserver that forked the stage
    (pipeline/supervision/launcher.py); the death of either stops the stage.
    """

    def __init__(self, supervisor_pid: int) -> None:
        self._event = threading.Event()
        self._signalled = False
        self.supervisor_pid = supervisor_pid
        self._parent = os.getppid()

    def set(self) -> None:
        self._event.set()

    def set_from_signal(self) -> None:
        """What a signal handler may do: a plain store, no lock. The handler can interrupt the main thread while
        it holds the event's lock (or interrupt another handler doing `set`), and taking it again deadlocks."""
        self._signalled = True

    def __bool__(self) -> bool:
        if self._signalled and not self._event.is_set():
            self._event.set()
        if not self._event.is_set() and os.getppid() != self._parent:
            log.warning("parent %d is gone; exiting", self._parent)
            self._event.set()
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking within SIGNAL_POLL_S of a signal (a handler cannot wake the event)."""
        deadline = time.monotonic() + seconds
        while not bool(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._event.wait(min(left, SIGNAL_POLL_S))
        return True


def one_blas_thread_for_children() -> None:
    """Children started after this run numpy's BLAS on one thread (unless the user set a count): the
    encoding network (facegate/encoder.py) runs in every detect worker and photo worker at once, and
    a second thread each would only fight the others for the cores. The variable is read when a
    process loads numpy, so it is set here, in the parent, before a child starts."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def one_opencv_thread() -> None:
    """OpenCV's own loops (resize, colour conversion, the motion check) on this process's one thread: every
    stage is a process of its own, so a second thread per call only wakes and spins against the other
    stages: a paced 15 fps capture loop spends ~0.4 ms more CPU per frame with the pool (bench/decode_paced.py)."""
    import cv2

    cv2.setNumThreads(1)


def rss_mb() -> float:
    """This process's resident memory in MB (from /proc; the peak from getrusage where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def give_back_freed_memory() -> None:
    """Hand the C heap's freed pages back to the system (glibc's malloc_trim; nothing where it is missing):
    after a one-off burst of allocations, such as an onnxruntime session's start (~25 MB), they would
    count in the process's resident memory for good."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent (the supervisor or the forkserver) dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def watch_supervisor(flag: StopFlag) -> None:
    """Set `flag` when the supervisor exits, however it exits, even when it is not this process's parent.

    A pidfd becomes readable when its process ends (a zombie included), so one blocked thread
    does what PR_SET_PDEATHSIG does for a direct parent. Without pidfds (not Linux 5.3+), the
    parent check of StopFlag remains.
    """
    try:
        pidfd = os.pidfd_open(flag.supervisor_pid)
    except ProcessLookupError:
        log.warning("supervisor %d is gone; exiting", flag.supervisor_pid)
        flag.set()
        return
    except (OSError, AttributeError):
        return

    def wait() -> None:
        select.select([pidfd], [], [])
        log.warning("supervisor %d is gone; exiting", flag.supervisor_pid)
        flag.set()

    threading.Thread(target=wait, name="supervisor-watch", daemon=True).start()


def become_stage(title: str, supervisor_pid: int, log_level: str | None = None) -> StopFlag:
    """Name this process `facegate: <title>`, log under that name, and exit cleanly on signals.

    The stage leaves the terminal's process group, so a Ctrl-C reaches only the supervisor,
    which then stops the stages in order instead of all of them dying at once.
    """
    setproctitle(f"facegate: {title}")
    multiprocessing.current_process().name = title
    setup_logging(log_level)
    try:
        os.setpgrp()
    except OSError:
        pass
    _die_with_parent()
    flag = StopFlag(supervisor_pid)

    def on_signal(signum: int, _frame: object) -> None:
        flag.set_from_signal()
        log.info("received %s; finishing", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stacks_on_sigusr1()  # the watchdog asks a stage that stopped beating for its stack before it kills it
    one_opencv_thread()
    watch_supervisor(flag)
    return flag
