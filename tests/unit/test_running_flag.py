"""Whether recognition runs is shared by every node through the store, and read by each node's cluster agent.

A round of the agent can read the flag just before this node's own start commits; that stale read must
not switch recognition back off (it once made `POST /api/start` answer `"running": false` on PostgreSQL).
A real Store on SQLite and a real Service whose pipeline only records the cameras it is told to run; the
agent's rounds are called by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entry import serve
from facegate.camera_settings import write_settings
from facegate.settings import Settings, validate
from facegate.store import Store


class RecordedPipeline:
    """The cameras the service asks to run, without processes."""

    def __init__(self) -> None:
        self.running: dict[str, str] = {}

    def cameras(self) -> dict[str, str]:
        return dict(self.running)

    def add_camera(self, camera_id: str, url: str) -> None:
        self.running[camera_id] = url

    def remove_camera(self, camera_id: str) -> None:
        del self.running[camera_id]


@pytest.fixture
def service(tmp_path: Path):
    store = Store(tmp_path)
    write_settings(store, validate({"stream_url": "/media/door.mp4"}, runtime_only=True))
    node = serve.Service(store, Settings.of({}), str(tmp_path))
    node._pipeline = RecordedPipeline()  # type: ignore[assignment]
    node._booted.set()  # no stages and no agent: start() need not wait for them
    try:
        yield node
    finally:
        store.close()


def test_a_round_that_read_before_this_nodes_start_does_not_stop_it(service: serve.Service) -> None:
    service.start()
    assert service.running is True and service.store.core.get_meta("running") == "1"
    service.follow_leases({"cam0"}, False)  # the round read "0" before the start committed
    assert service.running is True
    assert service.held == {"cam0"} and service._pipeline.cameras() == {"cam0": "/media/door.mp4"}


def test_another_nodes_stop_is_followed_once_this_nodes_start_was_read(service: serve.Service) -> None:
    service.start()
    service.follow_leases(set(), True)  # the agent has read this node's start
    service.follow_leases(set(), False)  # then another node stopped recognition
    assert service.running is False


def test_a_stale_guard_runs_out(service: serve.Service, monkeypatch: pytest.MonkeyPatch) -> None:
    service.start()
    real = serve.time.monotonic
    monkeypatch.setattr(serve.time, "monotonic", lambda: real() + 2 * serve.TICK_S + 1)
    service.follow_leases(set(), False)  # rounds after the guard's time are the agent's word
    assert service.running is False


def test_a_stop_is_guarded_the_same_way(service: serve.Service) -> None:
    service.start()
    service.follow_leases(set(), True)
    service.stop()
    service.follow_leases(set(), True)  # read before the stop committed
    assert service.running is False and service.store.core.get_meta("running") == "0"
