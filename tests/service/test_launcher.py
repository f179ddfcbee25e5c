"""Stages forked from a forkserver that loaded dlib's models once (pipeline/supervision/launcher.py),
and what must not change.

Real processes throughout: a real pipeline started in this process, and a real process standing
in for the supervisor a stage watches. The killed-stage restart, signal and killed-supervisor
cases run end to end in tests/test_lifecycle.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from facegate.procutil import StopFlag, watch_supervisor
from pipeline.supervision.launcher import stage_context
from pipeline.supervision.runner import Pipeline
from tests.support.service_proc import poll_until
from tests.support.supervisor_cli import copy_gallery

STAGES = {"facegate: emit", "facegate: match", "facegate: detect-1", "facegate: detect-2"}


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, command line) of a running process; None once it is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    return None if fields[0] == "Z" else (int(fields[1]), cmdline)


def children(parent: int) -> dict[int, str]:
    """Pid -> command line of every live child of `parent`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (seen := _stat(int(entry.name))) is not None and seen[0] == parent:
            found[int(entry.name)] = seen[1]
    return found


def test_stages_are_forked_by_a_named_forkserver_that_leaves_with_the_pipeline(
    gallery_dir: Path, tmp_path: Path
) -> None:
    pipeline = Pipeline(
        str(copy_gallery(gallery_dir, tmp_path / "data")),
        {"workers": 2},
        follow_config=False,
        deliver_webhooks=False,
        log_level="WARNING",
    )
    forkserver = None
    try:
        pipeline.start()
        assert pipeline.wait_ready(120), [row.name for row in pipeline.stage_figures()]
        ours = children(os.getpid())
        forkservers = [pid for pid, cmdline in ours.items() if cmdline == "facegate: forkserver"]
        assert len(forkservers) == 1, ours
        forkserver = forkservers[0]
        stages = poll_until(lambda: (found := children(forkserver)) and set(found.values()) >= STAGES and found, 30.0)
        assert stages, children(forkserver)
        assert {row.pid for row in pipeline.stage_figures()} == set(stages)
        assert not STAGES & set(ours.values()), "stages are the forkserver's children, not this process's"
    finally:
        pipeline.shutdown()
    assert forkserver is not None and _stat(forkserver) is None, "the forkserver outlived the last pipeline"
    assert not [cmd for cmd in children(os.getpid()).values() if cmd.startswith("facegate:")]
    assert not sorted(p.name for p in Path("/dev/shm").glob(f"{pipeline.prefix}*"))


def test_a_stage_sees_its_supervisor_exit_although_it_is_not_its_parent() -> None:
    """A stage's parent is the forkserver; the supervisor it watches may die first (SIGKILL included)."""
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        flag = StopFlag(supervisor.pid)
        watch_supervisor(flag)
        assert any(t.name == "supervisor-watch" for t in threading.enumerate()), "nobody watches the supervisor"
        assert not flag, "the supervisor is alive: the stage must keep running"
        supervisor.kill()  # not reaped yet: a zombie counts as gone
        assert poll_until(lambda: bool(flag), 10.0, 0.05), "the stage did not notice its supervisor exit"
    finally:
        supervisor.kill()
        supervisor.wait(10)


def test_a_stage_started_after_its_supervisor_died_stops_at_once() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    flag = StopFlag(gone.pid)
    watch_supervisor(flag)
    assert flag


def test_stages_run_blas_on_one_thread_unless_the_user_says_otherwise(monkeypatch) -> None:
    """Two detect workers' encodings (facegate/encoder.py) already fill two cores: a second BLAS thread
    each would only fight the other worker. The forkserver, and so every stage, inherits this."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    stage_context()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    stage_context()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
