"""The watchdog end to end: a stage that hangs (SIGSTOP) is killed once it made no progress for the stall
limit, and restarted, and recognition goes on. The limit is shortened for the test (FACEGATE_STAGE_STALL_S)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.test_live_api import LIN, results, seconds
from tests.support.service_proc import ServiceProcess, children, poll_until
from tests.support.supervisor_cli import copy_gallery

STALL_S = 10.0


@pytest.fixture
def svc(gallery_dir: Path, clip: Path, tmp_path: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        copy_gallery(gallery_dir, tmp_path / "data"),
        "--stream-url",
        str(clip),
        env={"FACEGATE_STAGE_STALL_S": str(STALL_S)},
    )
    with service.serving():
        yield service


def stage_pid(svc: ServiceProcess, title: str) -> int | None:
    found = [pid for pid, cmd in children(svc.pid).items() if cmd.strip() == f"facegate: {title}"]
    return found[0] if len(found) == 1 else None


def restarts(svc: ServiceProcess, name: str) -> int:
    rows = svc.get("/api/stats").json()["pipeline"]["processes"]
    return next(int(r["restarts"]) for r in rows if r["name"] == name)


def test_a_hung_stage_is_killed_after_the_stall_limit_and_restarted(svc: ServiceProcess) -> None:
    assert svc.post("/api/start").status_code == 200
    assert poll_until(lambda: results(svc, LIN), 120), svc.log()[-3000:]
    hung = stage_pid(svc, "match")
    assert hung is not None and restarts(svc, "match") == 0
    os.kill(hung, signal.SIGSTOP)  # alive, silent: no heartbeat, no exit
    stopped_at = time.monotonic()
    assert poll_until(lambda: (pid := stage_pid(svc, "match")) is not None and pid != hung, 120), svc.log()[-3000:]
    assert time.monotonic() - stopped_at >= STALL_S - 1, "killed before the stall limit"
    log = svc.log()
    assert "match made no progress" in log and "its stack follows" in log and restarts(svc, "match") == 1
    back = time.time()
    assert poll_until(lambda: [r for r in results(svc, LIN) if seconds(r["timestamp"]) > back], 120), (
        "no Lin-Manuel Miranda after the restart"
    )
