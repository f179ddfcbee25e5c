"""Privacy end to end, on a running service: an audit that cannot be skipped, retention on an idle system, live
views that let go.

A real supervisor on 127.0.0.1 (SQLite, and PostgreSQL for retention) with an admin token. Old rows are planted
straight into the service's database with old timestamps, and a retention pass every half second
(FACEGATE_RETENTION_EVERY_S) is awaited by a bounded poll: the clock is moved by the data, not by sleeping.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
import requests

from facegate.store import Sighting, Store
from tests.support.pgserver import PostgresServer
from tests.support.service_proc import ServiceProcess, poll_until
from tests.support.supervisor_cli import copy_gallery

TOKEN = "privacy-admin-token-3c1e"
DAY_S = 86400.0
MJPEG_MAX_S = 8
VIEWERS = 4  # control/cameras/live_views.py MJPEG_MAX_CLIENTS
ENV = {"FACEGATE_RETENTION_EVERY_S": "0.5", "FACEGATE_MJPEG_MAX_S": str(MJPEG_MAX_S)}


@pytest.fixture(scope="module")
def svc(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("privacy"))
    service = ServiceProcess(data_dir, token=TOKEN, env=ENV).start(timeout=120)
    try:
        yield service
    finally:
        assert service.stop(timeout=60) == 0, service.log()[-3000:]


def _audit(svc: ServiceProcess, action: str) -> list[dict]:
    return svc.get(f"/api/audit?action={action}&limit=1000").json()["audit"]


def _people(svc: ServiceProcess) -> list[str]:
    return [p["name"] for p in svc.get("/api/persons").json()["persons"]]


# --- an audit that cannot be skipped ----------------------------------------------------------------------
def test_a_body_that_cannot_be_parsed_is_a_400_that_changes_nothing_and_is_on_the_trail(svc: ServiceProcess) -> None:
    person = svc.get("/api/persons").json()["persons"][0]
    for content_type, refused_with in (("application/json", {400}), (None, {400, 415})):  # 415: not JSON at all
        answer = svc.delete(
            f"/api/persons/{person['id']}",
            data="[" * 5000,
            headers={"Content-Type": content_type} if content_type else {},
        )
        assert answer.status_code in refused_with, answer.text
        assert "error" in answer.json()
    assert person["name"] in _people(svc), "the person is still there"
    refused = [row for row in _audit(svc, "person.delete") if "refused" in row["details"]]
    assert refused and refused[0]["target"] == str(person["id"]) and refused[0]["details"]["refused"]["status"] == 400
    for path in ("/api/register", "/api/config", "/api/search", "/api/recognize"):  # every route, not only DELETE
        method = svc.put if path == "/api/config" else svc.post
        assert method(path, data="[" * 5000, headers={"Content-Type": "application/json"}).status_code == 400


def test_a_change_whose_audit_row_cannot_be_written_is_refused(svc: ServiceProcess) -> None:
    person = svc.get("/api/persons").json()["persons"][-1]
    database = sqlite3.connect(svc.data_dir / "facegate.db", timeout=10)
    database.execute("CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'broken'); END")
    database.commit()
    try:
        answer = svc.delete(f"/api/persons/{person['id']}")
        assert answer.status_code == 503, answer.text
        assert "error" in answer.json() and "audit row of person.delete cannot be written" in svc.log()
        assert person["name"] in _people(svc), "rolled back with its audit row"
    finally:
        database.execute("DROP TRIGGER audit_broken")
        database.commit()
        database.close()


def test_looking_for_a_face_is_audited_without_the_photo(svc: ServiceProcess, faces: Path) -> None:
    photo = (faces / "obama.jpg").read_bytes()
    assert svc.post("/api/recognize", files={"image": ("o.jpg", photo, "image/jpeg")}).status_code == 200
    encoded = base64.b64encode(photo).decode()
    assert svc.post("/api/search", json={"image_base64": encoded}).status_code == 200
    assert svc.post("/api/search", json={"encoding": [0.01] * 128}).status_code == 200
    verify = svc.post("/api/verify", json={"image1_base64": encoded, "image2_base64": encoded})
    assert verify.status_code == 200, verify.text
    recognized, verified = _audit(svc, "face.recognize"), _audit(svc, "face.verify")
    searched = _audit(svc, "face.search")
    assert recognized[0]["details"]["request"] == {"image": f"<file of {len(photo)} bytes>"}
    assert verified[0]["details"]["request"] == {
        "image1_base64": "<image1_base64 given>",
        "image2_base64": "<image2_base64 given>",
    }
    assert [row["details"]["request"] for row in searched[:2]] == [
        {"encoding": "<encoding given>"},
        {"image_base64": "<image_base64 given>"},
    ]
    trail = json.dumps([recognized, verified, searched])
    assert encoded[:64] not in trail and "0.01" not in trail


# --- retention on an idle system --------------------------------------------------------------------------
def _plant_old_and_new(store: Store) -> dict[str, int]:
    """An old visitor (its face, its results, their webhooks), an old unknown face, and a new visitor."""
    now = time.time()
    old, new = now - 40 * DAY_S, now - DAY_S
    ids = {}
    for label, seen in (("old", old), ("new", new)):
        visitor = store.visitors.create(seen)
        store.visitors.offer_face(visitor, np.full(128, 0.01), b"crop", 5.0)
        event = f"evt_{label}_{visitor}"
        store.results.add(
            event,
            {
                "timestamp": "2026-01-01T00:00:00.000Z",
                "name": "Unknown",
                "confidence": 0.4,
                "distance": 0.6,
                "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
            },
            "cam0",
            None,
            json.dumps({"event_id": event}),
            created=seen,
            sighting=Sighting(np.full(128, 0.01), b"crop", visitor),
        )
        if label == "old":
            store.outbox.mark_delivered(event, 1, seen + 1)  # delivered or not, it goes
        ids[label] = visitor
    fresh = store.unknown.add("evt_unknown_new", "cam0", now, (1, 2, 3, 4), b"crop", np.full(128, 0.02))
    with store.engine.begin() as db:  # a week-old unknown face: an add would trim it, an idle system never adds
        db.exec_driver_sql(
            f"INSERT INTO unknown_faces (event_id, camera_id, seen_at, created, box_top, box_right,"
            f" box_bottom, box_left, jpeg, vector) SELECT 'evt_unknown_old', camera_id, seen_at,"
            f" {now - 8 * DAY_S}, box_top, box_right, box_bottom, box_left, jpeg, vector"
            f" FROM unknown_faces WHERE id = {fresh}"
        )
    ids["unknown"] = fresh
    return ids


def _forgotten_on_an_idle_service(svc: ServiceProcess, store: Store) -> None:
    assert svc.get("/api/status").json()["running"] is False, "idle: no camera runs"
    ids = _plant_old_and_new(store)
    visitors = {v["id"] for v in svc.get("/api/visitors").json()["visitors"]}

    def forgotten() -> bool:  # both, since a pass may run between planting the visitors and the unknown face
        kept = {v["id"] for v in svc.get("/api/visitors").json()["visitors"]}
        return kept == visitors - {ids["old"]} and len(store.unknown.recent()) == 1

    assert poll_until(forgotten, 30), f"retention did not pass:\n{svc.log()[-2000:]}"
    assert svc.get(f"/api/visitors/{ids['old']}").status_code == 404
    assert svc.get(f"/api/visitors/{ids['new']}").json()["faces"], "the new visitor keeps its face"
    assert store.visitors.index()[1].count(ids["old"]) == 0, "the old visitor's faces are gone"
    assert [u["id"] for u in store.unknown.recent()] == [ids["unknown"]], "the week-old unknown face is gone"
    assert store.outbox.get(f"evt_old_{ids['old']}") is None, "the delivered webhook of an old event is gone"
    assert store.outbox.get(f"evt_new_{ids['new']}") is not None
    assert store.results.of_event(f"evt_old_{ids['old']}") is None


def test_retention_forgets_on_an_idle_service_with_sqlite(svc: ServiceProcess) -> None:
    store = Store(svc.data_dir)
    try:
        _forgotten_on_an_idle_service(svc, store)
    finally:
        store.close()
    assert (svc.data_dir / "facegate.db").stat().st_mode & 0o777 == 0o600, "the database is the owner's only"


def test_retention_forgets_on_an_idle_service_with_postgresql(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database("privacy")
    service = ServiceProcess(tmp_path / "node", "--database-url", url, token=TOKEN, env=ENV)
    store = Store(tmp_path / "planter", url)
    try:
        service.start(timeout=120)
        _forgotten_on_an_idle_service(service, store)
    finally:
        store.close()
        assert service.stop(timeout=60) == 0, service.log()[-3000:]
        postgres.drop_database(url)


# --- live views that let go -------------------------------------------------------------------------------
def _open_view(svc: ServiceProcess, camera_id: str) -> requests.Response:
    return svc.get(f"/api/cameras/{camera_id}/stream.mjpg?fps=5", stream=True, timeout=(5, 10))


def test_views_of_a_stopped_camera_leave_the_api_answering_and_let_go(svc: ServiceProcess) -> None:
    added = svc.post("/api/cameras", json={"id": "parked", "stream_url": "rtsp://127.0.0.1:9/none"})
    assert added.status_code == 201, added.text
    assert added.json()["camera"]["state"] in ("stopped", "unassigned"), "recognition is off: no frame comes"
    with ExitStack() as views:
        with ThreadPoolExecutor(VIEWERS + 1) as pool:
            answers = list(pool.map(lambda _: _open_view(svc, "parked"), range(VIEWERS + 1)))
        for answer in answers:
            views.callback(answer.close)
        assert sorted(a.status_code for a in answers) == [200] * VIEWERS + [503]
        refused = next(a for a in answers if a.status_code == 503)
        assert int(refused.headers["Retry-After"]) > 0 and "error" in refused.json()  # a 5xx says no more
        first = next(a for a in answers if a.status_code == 200)
        part = first.raw.read(200)  # the placeholder came with the headers: the camera has no frame
        assert part.startswith(b"--facegateframe\r\nContent-Type: image/jpeg"), part
        started = time.monotonic()
        assert svc.get("/api/persons", timeout=1).status_code == 200
        assert time.monotonic() - started < 1.0
    # the clients left: the slots come free once the next placeholder finds no one to write to
    again = poll_until(lambda: (view := _open_view(svc, "parked")).status_code == 200 and view, 15)
    assert again, "the views of clients that left still hold their slots"
    with again:
        assert svc.delete("/api/cameras/parked").status_code == 200
        ended = poll_until(lambda: _drained(again), 15, interval=0.1)
        assert ended, "the view of a deleted camera does not end"


def _drained(view: requests.Response) -> bool:
    """Read what the view sent; True once it ended (False while it still sends)."""
    try:
        return not view.raw.read(4096)
    except (requests.RequestException, OSError, ValueError):
        return True


def test_a_view_ends_after_its_longest_time(svc: ServiceProcess) -> None:
    assert svc.post("/api/cameras", json={"id": "longview", "stream_url": "rtsp://127.0.0.1:9/none"}).status_code == 201
    try:
        with _open_view(svc, "longview") as view:
            started = time.monotonic()
            parts = 0
            deadline = started + MJPEG_MAX_S + 20
            for chunk in view.iter_content(4096):
                parts += chunk.count(b"--facegateframe")
                assert time.monotonic() < deadline, "the view outlived FACEGATE_MJPEG_MAX_S"
            assert time.monotonic() - started >= MJPEG_MAX_S - 1
            assert parts >= MJPEG_MAX_S - 2, "a placeholder about every second"
    finally:
        svc.delete("/api/cameras/longview")
