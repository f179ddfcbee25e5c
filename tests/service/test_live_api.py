"""Live operation end to end: a real supervisor process, real models, the real clip, over real HTTP.

One supervisor serves the module (Lin-Manuel Miranda and Alex Lacamoire registered, webhooks to a
local receiver, event cooldown 2 s). Every test adds the cameras it needs through the API and
removes them again, so the tests do not lean on each other's cameras; the last test empties the
gallery. Cameras are the clip as a file (a file in live mode loops at 30 fps) and the clip served
as an HTTP MJPEG stream from 127.0.0.1 that can be switched off and on like a camera losing power.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from entry.retention_timer import RetentionTimer
from facegate.store import Store, iso_now, new_event_id
from tests.support import leaks
from tests.support.mjpeg_server import MjpegCamera, free_port, load_jpegs
from tests.support.service_proc import ServiceProcess, children, cmdline, poll_until
from tests.support.supervisor_cli import copy_gallery
from tests.support.testdata import CLIP_SIZE
from tests.support.webhook_receiver import WebhookReceiver

LIN = "Lin-Manuel Miranda"
DAY = 86400.0
RETENTION_DAYS = 7
CLIP_SECONDS = 275 / 30.0  # the clip's length; a file camera starts over after this long
BOUNDARY = b"--facegateframe"


# --- fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jpegs(clip: Path) -> list[bytes]:
    return load_jpegs(clip)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver().start()
    try:
        yield hooks
    finally:
        hooks.stop()


def _plant_results(data_dir: Path) -> dict[str, str]:
    """Results of various ages written before the service starts, for the retention test: name → event id."""
    store = Store(data_dir)
    now = time.time()
    planted = {}
    for name, age_days in (("Old Ghost", RETENTION_DAYS + 3), ("Older Ghost", 400), ("Recent Ghost", 2)):
        created = now - age_days * DAY
        event_id = new_event_id()
        result = {
            "timestamp": iso_now(created),
            "name": name,
            "confidence": 0.6,
            "distance": 0.4,
            "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
        }
        store.results.add(event_id, result, "attic", "file:///nowhere.mp4", None, created=created)
        planted[name] = event_id
    store.config.update({"retention_days": RETENTION_DAYS, "event_cooldown_s": 2.0})
    store.close()
    return planted


@pytest.fixture(scope="module")
def planted(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("live_api"))
    return data_dir, _plant_results(data_dir)


@pytest.fixture(scope="module")
def svc(planted: tuple[Path, dict[str, str]], receiver: WebhookReceiver) -> Iterator[ServiceProcess]:
    data_dir, _ = planted
    service = ServiceProcess(data_dir, env={"FACEGATE_WEBHOOKS": "on", "NEXTJS_WEBHOOK_URL": receiver.url})
    service.start(timeout=120)
    try:
        yield service
    finally:
        stages = {pid: cmd for pid, cmd in children(service.pid).items() if cmd.startswith("facegate:")}
        code = service.stop(timeout=60)
        assert code == 0, service.log()[-3000:]
        assert not leaks.segments_of(service.pid)
        assert not [pid for pid, cmd in stages.items() if cmdline(pid) == cmd], "stages outlived the supervisor"


@pytest.fixture(scope="module")
def unreachable(svc: ServiceProcess) -> tuple[str, float]:
    """A camera at a port nobody listens on, added early so the module's other tests pass its retry time."""
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    add_camera(svc, "ghost", url)
    return url, time.monotonic()


# --- helpers ------------------------------------------------------------------------------------------
def wait(
    condition: Callable[[], Any], timeout: float, what: str, svc: ServiceProcess | None = None, interval: float = 0.25
) -> Any:
    """Poll `condition` until it returns something truthy (returned), for at most `timeout` seconds."""
    found = poll_until(condition, timeout, interval)
    if found:
        return found
    tail = f"\n--- service log ---\n{svc.log()[-4000:]}" if svc is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")


def _error(response: requests.Response, status: int) -> str:
    """Every error is JSON `{"error": "..."}` with the expected status."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


def capture_pids(svc: ServiceProcess, camera_id: str) -> list[int]:
    return [pid for pid, cmd in children(svc.pid).items() if cmd.strip() == f"facegate: capture {camera_id}"]


def camera(svc: ServiceProcess, camera_id: str) -> dict[str, Any] | None:
    cameras = svc.get("/api/status").json()["cameras"]
    return next((c for c in cameras if c["id"] == camera_id), None)


def state(svc: ServiceProcess, camera_id: str) -> str | None:
    found = camera(svc, camera_id)
    return found["state"] if found else None


def process_row(svc: ServiceProcess, name: str) -> dict[str, Any] | None:
    rows = svc.get("/api/stats").json()["pipeline"]["processes"]
    return next((row for row in rows if row["name"] == name), None)


def frames_out(svc: ServiceProcess, camera_id: str) -> int:
    row = process_row(svc, f"capture {camera_id}")
    return int(row["frames_out"]) if row else -1


def results(svc: ServiceProcess, name: str | None = None, camera_id: str | None = None) -> list[dict[str, Any]]:
    path = "/api/results?limit=1000" if name is None else f"/api/results/{name}?limit=1000"
    found = svc.get(path).json()["results"]
    return [r for r in found if camera_id is None or r["camera_id"] == camera_id]


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def add_camera(svc: ServiceProcess, camera_id: str, url: str) -> dict[str, Any]:
    """POST the camera and make sure recognition is on (it stays on while the module runs)."""
    created = svc.post("/api/cameras", json={"id": camera_id, "stream_url": url})
    assert created.status_code == 201, created.text
    assert created.json()["camera"]["id"] == camera_id
    assert svc.post("/api/start").status_code == 200
    found = camera(svc, camera_id)
    assert found is not None
    return found


def remove_camera(svc: ServiceProcess, camera_id: str) -> None:
    if camera(svc, camera_id) is not None:
        assert svc.delete(f"/api/cameras/{camera_id}").status_code == 200
    wait(lambda: not capture_pids(svc, camera_id), 30, f"capture {camera_id} to exit", svc)


def go_live(svc: ServiceProcess, camera_id: str, timeout: float = 60) -> None:
    wait(
        lambda: state(svc, camera_id) == "live" and frames_out(svc, camera_id) > 10,
        timeout,
        f"camera {camera_id} live",
        svc,
    )


def rising(svc: ServiceProcess, camera_id: str, timeout: float = 20) -> tuple[int, int]:
    """Two readings of the camera's frame counter, the second larger than the first."""
    first = frames_out(svc, camera_id)
    later = wait(lambda: (n := frames_out(svc, camera_id)) > first and n, timeout, f"{camera_id} frames", svc)
    return first, later


def jpeg_shape(data: bytes) -> tuple[int, ...]:
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the JPEG does not decode"
    return tuple(image.shape)


def mjpeg_parts(
    response: requests.Response, wanted: int, timeout: float = 30.0, max_bytes: int = 8 << 20
) -> list[bytes]:
    """Read multipart JPEG parts from a streaming response: at most `timeout` seconds and `max_bytes`."""
    buffer = b""
    deadline = time.monotonic() + timeout
    for chunk in response.iter_content(16384):
        buffer += chunk
        if buffer.count(BOUNDARY) > wanted or time.monotonic() > deadline or len(buffer) > max_bytes:
            break
    parts = []
    for raw in buffer.split(BOUNDARY + b"\r\n")[1:]:
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n") if b": " in line)
        assert headers[b"Content-Type"] == b"image/jpeg"
        length = int(headers[b"Content-Length"])
        if len(body) >= length + 2:  # a complete part: the JPEG and its closing CRLF
            assert body[length : length + 2] == b"\r\n"
            parts.append(body[:length])
    return parts


# --- a camera that goes away and comes back ----------------------------------------------------------
@pytest.mark.usefixtures("unreachable")  # started first so that its later check costs no extra wait
def test_mjpeg_camera_reconnects_and_recognition_resumes(svc: ServiceProcess, jpegs: list[bytes]) -> None:
    server = MjpegCamera(jpegs).start()
    try:
        added = add_camera(svc, "door", server.url)
        assert added["state"] in ("connecting", "live") and added["stream_url"] == server.url
        go_live(svc, "door")
        wait(lambda: results(svc, LIN, "door"), 60, "Lin-Manuel Miranda on door", svc)
        [pid] = capture_pids(svc, "door")

        server.stop()
        wait(lambda: state(svc, "door") == "reconnecting", 30, "door reconnecting", svc)
        down = camera(svc, "door")
        assert down["error"], "a reconnecting camera says what went wrong"
        metrics = svc.get("/metrics").text
        assert 'facegate_camera_state{camera="door",state="reconnecting"} 1.0' in metrics

        restarted_at = time.time()
        server.start()  # the same port, as a camera that rebooted
        go_live(svc, "door")
        assert camera(svc, "door")["error"] is None
        rising(svc, "door")
        fresh = wait(
            lambda: [r for r in results(svc, LIN, "door") if seconds(r["timestamp"]) > restarted_at],
            60,
            "a Lin-Manuel Miranda result after the camera came back",
            svc,
        )
        assert fresh[0]["camera_id"] == "door"
        assert svc.proc is not None and svc.proc.poll() is None, "facegate itself kept running"
        assert capture_pids(svc, "door") == [pid], "the capture process reconnected by itself"
        assert process_row(svc, "capture door")["restarts"] == 0
    finally:
        server.stop()
        remove_camera(svc, "door")


# --- two cameras at once; one dies, the other carries on -----------------------------------------------
def test_two_cameras_carry_their_ids_and_one_dying_leaves_the_other_live(
    svc: ServiceProcess, jpegs: list[bytes], clip: Path, receiver: WebhookReceiver, planted: tuple[Path, dict[str, str]]
) -> None:
    server = MjpegCamera(jpegs).start()
    try:
        # the default camera through PUT /api/config, the second through POST /api/cameras
        assert svc.put("/api/config", json={"stream_url": str(clip)}).status_code == 200
        add_camera(svc, "web", server.url)
        go_live(svc, "cam0")
        go_live(svc, "web")
        file_live_at = time.time()
        urls = {"cam0": str(clip), "web": server.url}
        wait(
            lambda: results(svc, LIN, "cam0") and results(svc, LIN, "web"),
            90,
            "Lin-Manuel Miranda on both cameras",
            svc,
        )

        # the API: every result names its camera, and the newest result has the field too
        assert {"cam0", "web"} <= {r["camera_id"] for r in results(svc, LIN)}
        assert "camera_id" in svc.get("/api/latest").json()
        # the store: each camera's results carry that camera's stream
        with sqlite3.connect(planted[0] / "facegate.db") as db:
            rows = db.execute("SELECT DISTINCT camera_id, stream_url FROM results WHERE camera_id IN ('cam0', 'web')")
            assert sorted(rows.fetchall()) == sorted(urls.items())
        # the webhooks: camera_id and camera_stream_url agree
        receiver.wait_for(lambda: {"cam0", "web"} <= {d.payload["camera_id"] for d in receiver.accepted()}, 30)
        sent = [d.payload for d in receiver.accepted() if d.payload["camera_id"] in urls]
        assert {p["camera_id"] for p in sent} == {"cam0", "web"}
        assert all(p["camera_stream_url"] == urls[p["camera_id"]] for p in sent)
        assert all(p["result"]["name"] for p in sent)

        server.stop()
        wait(lambda: state(svc, "web") in ("reconnecting", "failed"), 30, "web camera down", svc)
        rising(svc, "cam0")
        wait(lambda: (c := camera(svc, "cam0"))["state"] == "live" and c["fps"] > 0, 30, "cam0 live with an fps", svc)
        assert state(svc, "web") in ("reconnecting", "failed")
        rising(svc, "cam0")
        # a file in live mode starts over at its end and is recognized again on every pass
        wait(
            lambda: [r for r in results(svc, LIN, "cam0") if seconds(r["timestamp"]) > file_live_at + CLIP_SECONDS],
            60,
            "Lin-Manuel Miranda on cam0 after the clip looped",
            svc,
        )
    finally:
        server.stop()
        remove_camera(svc, "web")
        remove_camera(svc, "cam0")
    assert svc.get("/api/config").json()["config"]["stream_url"] is None


# --- what a camera sees: snapshot, MJPEG, metrics --------------------------------------------------------
def _frame_counter(text: str, stage: str) -> float:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = [
        s
        for s in families["facegate_stage_frames"].samples
        if s.name == "facegate_stage_frames_total" and s.labels["stage"] == stage
    ]
    assert len(samples) == 1, samples
    return samples[0].value


@pytest.fixture(scope="module")
def clip_frames(clip: Path) -> list[np.ndarray]:
    """Every frame of the clip at a quarter of its size, to tell which frame a snapshot shows."""
    frames, cap = [], cv2.VideoCapture(str(clip))
    for _ in range(400):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (0, 0), fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA).astype(np.int16))
    cap.release()
    return frames


def clip_frame(clip: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(clip))
    for _ in range(index + 1):
        ok, frame = cap.read()
        assert ok
    cap.release()
    return frame


def drawn_pixels(jpeg: bytes, clip: Path, clip_frames: list[np.ndarray]) -> int:
    """Pixels of a snapshot that differ strongly from the clip frame it shows: what the overlay drew.

    JPEG compression alone moves a pixel of this clip by a few levels; a box or a label moves it by
    over a hundred in some channel.
    """
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    small = cv2.resize(image, (0, 0), fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA).astype(np.int16)
    index = int(np.argmin([np.abs(small - frame).mean() for frame in clip_frames]))
    difference = np.abs(image.astype(np.int16) - clip_frame(clip, index).astype(np.int16)).max(axis=2)
    return int((difference > 100).sum())


def test_snapshot_mjpeg_and_metrics_of_a_live_camera(
    svc: ServiceProcess, clip: Path, clip_frames: list[np.ndarray]
) -> None:
    add_camera(svc, "snap", str(clip))
    try:
        go_live(svc, "snap")
        width, height = CLIP_SIZE
        assert camera(svc, "snap")["width"] == width and camera(svc, "snap")["height"] == height

        shot = svc.get("/api/cameras/snap/snapshot.jpg")
        assert shot.status_code == 200 and shot.headers["Content-Type"] == "image/jpeg"
        assert jpeg_shape(shot.content) == (height, width, 3)
        # boxes and names are drawn on it (once a face is in view and matched: the clip shows Lin often)
        wait(
            lambda: drawn_pixels(svc.get("/api/cameras/snap/snapshot.jpg").content, clip, clip_frames) > 300,
            60,
            "a snapshot with a face drawn on it",
            svc,
        )

        with svc.get("/api/cameras/snap/stream.mjpg?fps=10", stream=True, timeout=(10, 20)) as stream:
            assert stream.status_code == 200
            assert stream.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=facegateframe"
            parts = mjpeg_parts(stream, wanted=40)  # 4 s: longer than the clip's stretch without a face
        assert len(parts) >= 30, f"{len(parts)} complete MJPEG parts"
        assert all(jpeg_shape(part) == (height, width, 3) for part in parts)
        assert any(drawn_pixels(part, clip, clip_frames) > 300 for part in parts), "no face drawn on the stream"
        _error(svc.get("/api/cameras/snap/stream.mjpg?fps=0"), 400)
        _error(svc.get("/api/cameras/snap/stream.mjpg?fps=fast"), 400)

        first = svc.get("/metrics")
        assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/plain")
        before = _frame_counter(first.text, "capture snap")
        later = wait(
            lambda: (n := _frame_counter(svc.get("/metrics").text, "capture snap")) > before and n,
            20,
            "the frame counter to move between scrapes",
            svc,
        )
        assert later > before > 0
        families = {f.name: f for f in text_string_to_metric_families(svc.get("/metrics").text)}
        live = [s for s in families["facegate_camera_state"].samples if s.labels == {"camera": "snap", "state": "live"}]
        assert [s.value for s in live] == [1.0]
        assert families["facegate_registered_people"].samples[0].value == 2
        assert {"facegate_stage_fps", "facegate_latency_seconds", "facegate_webhook_events"} <= set(families)
    finally:
        remove_camera(svc, "snap")
    _error(svc.get("/api/cameras/snap/snapshot.jpg"), 404)


# --- camera CRUD ------------------------------------------------------------------------------------
def test_camera_crud_refuses_bad_requests_with_json_errors(svc: ServiceProcess, clip: Path) -> None:
    def configured() -> list[tuple[str, str, bool]]:
        return [(c["id"], c["stream_url"], c["enabled"]) for c in svc.get("/api/cameras").json()["cameras"]]

    before = configured()
    bad_bodies = [
        ({"id": "x"}, "stream_url"),
        ({"stream_url": str(clip)}, "id"),
        ({"id": "x", "stream_url": "ftp://camera/1"}, "scheme"),
        ({"id": "x", "stream_url": ""}, "empty"),
        ({"id": "bad id!", "stream_url": str(clip)}, "camera_id"),
        ({"id": "x", "stream_url": str(clip), "colour": "red"}, "colour"),
        ({"id": "x", "stream_url": str(clip), "enabled": "maybe"}, "enabled"),
    ]
    for body, word in bad_bodies:
        assert word in _error(svc.post("/api/cameras", json=body), 400), body
    _error(svc.post("/api/cameras", data="{not json", headers={"Content-Type": "application/json"}), 400)
    _error(svc.post("/api/cameras", data="[1, 2]", headers={"Content-Type": "application/json"}), 400)
    for method in ("put", "delete"):
        assert "nope" in _error(getattr(svc, method)("/api/cameras/nope", json={"enabled": False}), 404)
    _error(svc.get("/api/cameras/nope/snapshot.jpg"), 404)
    _error(svc.get("/api/cameras/nope/stream.mjpg"), 404)
    assert configured() == before, "bad requests changed nothing"

    assert svc.post("/api/cameras", json={"id": "hall", "stream_url": str(clip), "enabled": False}).status_code == 201
    try:
        assert "exists" in _error(svc.post("/api/cameras", json={"id": "hall", "stream_url": str(clip)}), 409)
        _error(svc.put("/api/cameras/hall", json={"id": "other"}), 400)
        _error(svc.put("/api/cameras/hall", json={"stream_url": "gopher://x"}), 400)
        _error(svc.put("/api/cameras/hall", json={"enabled": "sometimes"}), 400)
        _error(svc.put("/api/cameras/hall", data="[]", headers={"Content-Type": "application/json"}), 400)
        assert camera(svc, "hall")["stream_url"] == str(clip)
    finally:
        assert svc.delete("/api/cameras/hall").status_code == 200


def test_camera_crud_starts_changes_disables_and_deletes_captures(svc: ServiceProcess, clip: Path) -> None:
    added = add_camera(svc, "tmp", str(clip))
    assert added["id"] == "tmp" and added["enabled"] is True
    try:
        go_live(svc, "tmp")
        [first_pid] = wait(lambda: capture_pids(svc, "tmp"), 20, "the capture process", svc)
        listed = svc.get("/api/cameras").json()["cameras"]
        assert [c["stream_url"] for c in listed if c["id"] == "tmp"] == [str(clip)]

        changed = svc.put("/api/cameras/tmp", json={"stream_url": f"file://{clip}", "name": "Temporary"})
        assert changed.status_code == 200 and changed.json()["camera"]["stream_url"] == f"file://{clip}"
        wait(lambda: capture_pids(svc, "tmp") not in ([], [first_pid]), 30, "a new capture for the new URL", svc)
        go_live(svc, "tmp")
        assert camera(svc, "tmp")["name"] == "Temporary"

        disabled = svc.put("/api/cameras/tmp", json={"enabled": False})
        assert disabled.status_code == 200 and disabled.json()["camera"]["enabled"] is False
        wait(lambda: not capture_pids(svc, "tmp"), 30, "the disabled camera's capture to exit", svc)
        stopped = camera(svc, "tmp")
        assert stopped["state"] == "stopped" and stopped["fps"] == 0.0
        _error(svc.get("/api/cameras/tmp/snapshot.jpg"), 409)  # a stopped camera has no frame to show

        assert svc.put("/api/cameras/tmp", json={"enabled": True}).status_code == 200
        go_live(svc, "tmp")
    finally:
        deleted = svc.delete("/api/cameras/tmp")
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert camera(svc, "tmp") is None and "tmp" not in [c["id"] for c in svc.get("/api/cameras").json()["cameras"]]
    wait(lambda: not capture_pids(svc, "tmp"), 30, "the deleted camera's capture to exit", svc)
    assert "capture tmp" not in {row["name"] for row in svc.get("/api/stats").json()["pipeline"]["processes"]}
    _error(svc.delete("/api/cameras/tmp"), 404)
    _error(svc.get("/api/cameras/tmp/snapshot.jpg"), 404)


# --- retention ----------------------------------------------------------------------------------------
def test_store_prunes_only_results_older_than_the_cutoff(tmp_path: Path) -> None:
    store = Store(tmp_path)
    now = time.time()
    for age_days in (40, 31, 29, 1, 0):
        result = {
            "timestamp": iso_now(now - age_days * DAY),
            "name": f"aged {age_days}",
            "confidence": 0.5,
            "distance": 0.5,
            "box": {"top": 0, "right": 1, "bottom": 1, "left": 0},
        }
        store.results.add(new_event_id(), result, "cam0", None, "{}", created=now - age_days * DAY)
    assert store.retention.forget_before(now - 30 * DAY, now).results == 2
    assert sorted(r["name"] for r in store.results.recent()) == ["aged 0", "aged 1", "aged 29"]
    assert store.outbox.counts()["pending"] == 3, "the pruned events' webhook rows go with them"
    assert store.retention.forget_before(now - 30 * DAY, now).total == 0
    store.close()


def test_the_retention_timer_passes_again_and_again_on_its_clock(tmp_path: Path) -> None:
    """Retention runs on a timer, idle or not; the clock is moved, not waited for."""
    store = Store(tmp_path)
    result = {
        "timestamp": iso_now(),
        "name": "today",
        "confidence": 0.5,
        "distance": 0.5,
        "box": {"top": 0, "right": 1, "bottom": 1, "left": 0},
    }
    store.results.add(new_event_id(), result, "cam0", None, None, created=time.time())
    moved = {"by": 0.0}
    timer = RetentionTimer(store, lambda: 30, 0.1, clock=lambda: time.time() + moved["by"]).start()
    try:
        assert wait(lambda: timer.passes >= 2, 10, "two passes")
        assert store.results.count() == 1, "nothing is old yet"
        moved["by"] = 31 * DAY
        assert wait(lambda: store.results.count() == 0, 10, "a pass after the clock moved")
    finally:
        timer.stop()
        store.close()


def test_running_service_prunes_results_past_retention_days(
    svc: ServiceProcess, planted: tuple[Path, dict[str, str]]
) -> None:
    _, events = planted
    assert svc.get("/api/config").json()["config"]["retention_days"] == RETENTION_DAYS
    names = wait(
        lambda: (found := {r["name"] for r in results(svc)}) and "Old Ghost" not in found and found,
        60,
        "the emitter's prune at startup",
        svc,
    )
    assert "Older Ghost" not in names and "Recent Ghost" in names
    kept = results(svc, "Recent Ghost")
    assert [r["event_id"] for r in kept] == [events["Recent Ghost"]]
    assert results(svc, "Old Ghost") == []


# --- a camera that never comes up ------------------------------------------------------------------------
GHOST_WAIT_S = 45.0  # past the supervisor's 30 s stall limit and a 1+2+4+8+16 s run of backoffs


def test_a_camera_that_keeps_failing_is_retried_in_place_not_killed(
    svc: ServiceProcess, unreachable: tuple[str, float]
) -> None:
    url, added_at = unreachable
    [pid] = wait(lambda: capture_pids(svc, "ghost"), 30, "the ghost camera's capture", svc)
    while time.monotonic() < added_at + GHOST_WAIT_S:  # watched all along, past the stall limit
        assert capture_pids(svc, "ghost") == [pid], "the capture kept retrying in the same process"
        time.sleep(1.0)
    ghost = camera(svc, "ghost")
    assert ghost["stream_url"] == url and ghost["state"] in ("failed", "connecting") and ghost["error"]
    assert ghost["fps"] == 0.0
    assert process_row(svc, "capture ghost")["restarts"] == 0
    assert "capture ghost made no progress" not in svc.log()
    remove_camera(svc, "ghost")


# --- unknown faces (last: it empties the module's gallery) ----------------------------------------------
def test_unknown_faces_are_kept_and_can_be_registered(svc: ServiceProcess, clip: Path) -> None:
    for person in svc.get("/api/persons").json()["persons"]:
        assert svc.delete(f"/api/persons/{person['id']}").status_code == 200
    assert svc.get("/api/persons").json()["total"] == 0
    add_camera(svc, "lobby", str(clip))
    try:
        go_live(svc, "lobby")
        # two crops at least, so that one is left to delete after another is registered
        crops = wait(
            lambda: (
                (found := [u for u in svc.get("/api/unknown").json()["unknown"] if u["camera_id"] == "lobby"])
                and len(found) >= 2
                and found
            ),
            90,
            "two unknown faces from lobby",
            svc,
        )
        listing = svc.get("/api/unknown").json()
        assert listing["total"] == len(listing["unknown"]) >= len(crops)
        face = crops[0]
        assert {"id", "event_id", "seen_at", "box", "image"} <= set(face)
        assert face["image"] == f"/api/unknown/{face['id']}.jpg"
        image = svc.get(face["image"])
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
        height, width, _ = jpeg_shape(image.content)
        assert height > 10 and width > 10
        unknown_results = results(svc, "Unknown", "lobby")
        assert face["event_id"] in {r["event_id"] for r in unknown_results}, "the crop belongs to an Unknown result"

        _error(svc.get("/api/unknown/999999999.jpg"), 404)
        _error(svc.get("/api/unknown/abc.jpg"), 404)
        _error(svc.post(f"/api/unknown/{face['id']}/register", json={}), 400)
        _error(svc.post(f"/api/unknown/{face['id']}/register", json={"name": "   "}), 400)
        _error(svc.post("/api/unknown/999999999/register", json={"name": "Nobody"}), 404)

        registered = svc.post(f"/api/unknown/{face['id']}/register", json={"name": "Newcomer"})
        assert registered.status_code == 200, registered.text
        body = registered.json()
        assert body["success"] is True and body["total_users"] == 1
        people = svc.get("/api/persons").json()["persons"]
        assert [(p["name"], p["encodings"], p["id"]) for p in people] == [("Newcomer", 1, body["person_id"])]
        _error(svc.get(face["image"]), 404)  # a registered crop leaves the unknown list
        assert face["id"] not in {u["id"] for u in svc.get("/api/unknown").json()["unknown"]}

        named = wait(lambda: results(svc, "Newcomer", "lobby"), 90, "Newcomer recognized by name", svc)
        assert named[0]["name"] == "Newcomer" and named[0]["distance"] <= 0.6

        others = [u for u in svc.get("/api/unknown").json()["unknown"] if u["id"] != face["id"]]
        assert crops[1]["id"] in {u["id"] for u in others}, "registering one crop left the others"
        assert svc.delete(f"/api/unknown/{crops[1]['id']}").status_code == 200
        assert crops[1]["id"] not in {u["id"] for u in svc.get("/api/unknown").json()["unknown"]}
        _error(svc.delete(f"/api/unknown/{crops[1]['id']}"), 404)
        _error(svc.delete("/api/unknown/999999999"), 404)
    finally:
        remove_camera(svc, "lobby")
