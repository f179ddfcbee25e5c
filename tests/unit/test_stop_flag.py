"""What `become_stage` sets up in a stage process, each checked in a real process: the stop flag under signals,
the stack on request, OpenCV on one thread.

The stop flag: a SIGTERM that lands while the flag's lock is held must not deadlock.

Seen in a test run: the parent died (PDEATHSIG's SIGTERM) and more SIGTERMs arrived while the first
handler was inside `Event.set()`; the nested handler waited for the lock its own thread held, and the
emit stage never exited. The scene is replayed here in a real process, bounded by a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import os, signal, time
from facegate.procutil import become_stage
flag = become_stage("stop-flag-test", os.getppid())
with flag._event._cond:  # the lock a handler calling Event.set() would need
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)  # the handler runs here, on this thread
print("stopped" if flag else "running", flush=True)
print("set" if flag.wait(60.0) else "never set", flush=True)
"""


def run_stage(script: str) -> subprocess.CompletedProcess[str]:
    """`script` in a process of its own, as a stage runs (bounded by a timeout); it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_a_signal_while_the_flags_lock_is_held_stops_the_stage_without_deadlock() -> None:
    done = run_stage(SCRIPT)
    lines = done.stdout.split("\n")
    assert lines[:2] == ["stopped", "set"]
    assert "received SIGTERM; finishing" in done.stderr


HANG_SCRIPT = """
import os, signal, time
from facegate.procutil import become_stage
become_stage("stack-test", os.getppid())

def stuck_in_here() -> None:
    os.kill(os.getpid(), signal.SIGUSR1)  # what the watchdog sends a stage that stopped beating
    time.sleep(0.5)

stuck_in_here()
print("still running", flush=True)
"""


def test_a_stage_asked_for_its_stack_prints_where_it_is_and_goes_on() -> None:
    done = run_stage(HANG_SCRIPT)
    assert done.stdout == "still running\n"
    assert "Current thread" in done.stderr and "in stuck_in_here" in done.stderr, done.stderr[-2000:]


THREADS_SCRIPT = """
import os
import cv2
before = cv2.getNumThreads()
from facegate.procutil import become_stage
become_stage("threads-test", os.getppid())
print(before, cv2.getNumThreads(), flush=True)
"""


def test_a_stage_process_runs_opencv_on_one_thread() -> None:
    # the stages are processes already: OpenCV's pool in each only spun against the others (facegate/procutil.py)
    done = run_stage(THREADS_SCRIPT)
    before, after = (int(n) for n in done.stdout.split())
    assert after == 1 and before >= 1  # OpenCV's own default is one thread per core it may use


SLOW_SCRIPT = """
import time
from facegate.procutil import stacks_if_slow

def quick_stop() -> None:
    pass

def slow_stop() -> None:
    time.sleep(1.5)

with stacks_if_slow(1.0):
    quick_stop()
time.sleep(1.2)  # past the first block's limit: its dump was called off
with stacks_if_slow(0.2):
    slow_stop()
print("stopped", flush=True)
"""


def test_a_block_that_runs_past_its_limit_prints_where_it_is_and_one_within_it_prints_nothing() -> None:
    """What a supervisor's stop does (entry/serve.py): a hang in it leaves its stacks in the log."""
    done = run_stage(SLOW_SCRIPT)
    assert done.stdout == "stopped\n"
    assert done.stderr.count("Thread 0x") == 1 and "in slow_stop" in done.stderr, done.stderr[-2000:]
    assert "quick_stop" not in done.stderr
