"""PUT /api/config changes what the running pipeline does, one test per kind of setting.

One supervisor on 127.0.0.1 runs the clip as a live camera (a file in live mode loops at 30 fps)
for the module; every test changes a setting while frames flow and checks what the pipeline
then produces over the API, never by restarting it. A setting that was only stored, and not
taken up by the running stages, fails these tests: the name never comes, the boxes keep their
old grid, events keep coming.

Frames, not seconds, measure the waits: the design promises a stage takes a change up within a
second, so once emit has passed 60 more frames (2 s of the 30 fps clip) the new value rules.
A window of one whole loop of the clip (275 frames) always has Lin-Manuel Miranda on screen.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.service_proc import ServiceProcess, poll_until
from tests.support.supervisor_cli import copy_gallery

LIN = "Lin-Manuel Miranda"
UNKNOWN = "Unknown"
TAKE_UP_FRAMES = 60  # 2 s of video: past the stages' once-a-second look at the config
LOOP_FRAMES = 275  # one pass of the clip: Lin is on screen for part of every pass
FLOW_S = 90.0  # bound of every wait (the machine is shared; frames come at 30 fps or fewer)


@pytest.fixture(scope="module")
def svc(gallery_dir: Path, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """Recognition running on the clip, with a threshold so strict that nobody is named (the first test's start)."""
    service = ServiceProcess(copy_gallery(gallery_dir, tmp_path_factory.mktemp("config_live")))
    service.start(timeout=120)
    try:
        set_config(service, stream_url=str(clip), threshold=0.1, event_cooldown_s=1, unknown_events=True)
        assert service.post("/api/start").json()["running"] is True
        yield service
    finally:
        assert service.stop(timeout=60) == 0, service.log()[-3000:]


def set_config(svc: ServiceProcess, **settings: Any) -> None:
    answer = svc.put("/api/config", json=settings)
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()["config"][k] for k in settings} == settings


def wait(condition: Callable[[], Any], what: str, svc: ServiceProcess, timeout: float = FLOW_S) -> Any:
    found = poll_until(condition, timeout, 0.25)
    assert found, f"timed out after {timeout:.0f} s waiting for {what}\n{svc.log()[-3000:]}"
    return found


def frames_done(svc: ServiceProcess) -> int:
    """Frames that went all the way through the pipeline (emit's count)."""
    stages = svc.get("/api/stats").json()["pipeline"]["stages"]
    return int(stages.get("emit", {}).get("frames_out", 0))


def pass_frames(svc: ServiceProcess, count: int) -> None:
    start = frames_done(svc)
    wait(lambda: frames_done(svc) >= start + count, f"{count} more frames", svc)


def results(svc: ServiceProcess, name: str | None = None) -> list[dict[str, Any]]:
    path = "/api/results?limit=1000" if name is None else f"/api/results/{name}?limit=1000"
    return svc.get(path).json()["results"]


def change_and_take_up(svc: ServiceProcess, **settings: Any) -> None:
    """PUT the settings, then let the stages take them up (TAKE_UP_FRAMES more frames through)."""
    set_config(svc, **settings)
    pass_frames(svc, TAKE_UP_FRAMES)


def odd(box: dict[str, int]) -> bool:
    return any(value % 2 for value in box.values())


def process_row(svc: ServiceProcess, name: str) -> dict[str, Any]:
    """The stage's row in /api/stats (pid, alive, restarts)."""
    return next(row for row in svc.get("/api/stats").json()["pipeline"]["processes"] if row["name"] == name)


def test_a_restarted_stage_starts_from_the_stored_config(svc: ServiceProcess) -> None:
    """First: match was spawned at the default threshold 0.6, and the fixture stored 0.1 since.

    Killed and started again, match must judge at the stored 0.1, not at the 0.6 it was spawned
    with: at 0.6 Lin-Manuel Miranda would be named within one loop of the clip.
    """
    wait(lambda: results(svc, UNKNOWN), "faces judged at threshold 0.1", svc)
    old = process_row(svc, "match")
    os.kill(int(old["pid"]), signal.SIGKILL)
    wait(
        lambda: (
            (row := process_row(svc, "match"))["alive"]
            and row["pid"] != old["pid"]
            and int(row["restarts"]) == int(old["restarts"]) + 1
        ),
        "match restarted",
        svc,
    )
    strangers = len(results(svc, UNKNOWN))
    pass_frames(svc, LOOP_FRAMES)
    assert results(svc, LIN) == [], "the restarted match named Lin: it judged at its spawn-time threshold"
    wait(lambda: len(results(svc, UNKNOWN)) > strangers, "the restarted match judging faces", svc)


def test_threshold_change_names_people_the_old_threshold_could_not(svc: ServiceProcess) -> None:
    unknown = wait(
        lambda: len(results(svc, UNKNOWN)) >= 2 and results(svc, UNKNOWN), "faces judged at threshold 0.1", svc
    )
    assert results(svc, LIN) == [], "at 0.1 nobody is close enough to be named"
    assert all(r["distance"] > 0.1 for r in unknown)
    set_config(svc, threshold=0.6)
    named = wait(lambda: results(svc, LIN), "Lin-Manuel Miranda named at threshold 0.6", svc)
    assert named[0]["distance"] <= 0.6


def test_event_cooldown_change_stops_and_restarts_events(svc: ServiceProcess) -> None:
    wait(lambda: len(results(svc, LIN)) >= 2, "Lin's events once a second", svc)
    change_and_take_up(svc, event_cooldown_s=3600)
    quiet_from = len(results(svc, LIN))
    pass_frames(svc, LOOP_FRAMES)
    assert len(results(svc, LIN)) == quiet_from, "an event inside a 3600 s cooldown"
    set_config(svc, event_cooldown_s=1)
    wait(lambda: len(results(svc, LIN)) > quiet_from, "Lin's events again with a 1 s cooldown", svc)


def test_downscale_change_moves_the_detector_to_the_new_scale(svc: ServiceProcess) -> None:
    """Boxes found at scale 0.5 are scaled back by 2: every coordinate is even. At 1.0 some are odd."""
    before = wait(lambda: len(results(svc)) >= 3 and results(svc), "results at scale 0.5", svc)
    assert not [r["box"] for r in before if odd(r["box"])]
    set_config(svc, downscale=1.0)
    try:
        wait(lambda: [r for r in results(svc) if odd(r["box"])], "a box found at full scale", svc)
    finally:
        set_config(svc, downscale=0.5)


def test_unknown_events_change_silences_and_restores_strangers(svc: ServiceProcess) -> None:
    """Last: it empties the gallery, so that every face on the clip is a stranger."""
    for person in svc.get("/api/persons").json()["persons"]:
        assert svc.delete(f"/api/persons/{person['id']}").status_code == 200
    counted = len(results(svc, UNKNOWN))
    wait(lambda: len(results(svc, UNKNOWN)) >= counted + 2, "strangers' events", svc)
    change_and_take_up(svc, unknown_events=False)
    quiet_from = len(results(svc, UNKNOWN))
    pass_frames(svc, LOOP_FRAMES)
    assert len(results(svc, UNKNOWN)) == quiet_from, "an Unknown event with unknown_events off"
    set_config(svc, unknown_events=True)
    wait(lambda: len(results(svc, UNKNOWN)) > quiet_from, "strangers' events again", svc)
