"""Access control, secrets and floods end to end: a real supervisor with tokens set, over real HTTP.

One supervisor serves the module with two admin tokens (rotation), a read token, a webhook secret,
short-lived signed URLs and webhooks to a receiver on 127.0.0.1. A camera whose MJPEG URL carries a
password runs through the real pipeline; the password is then looked for everywhere it could leak.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from control.declaration import Scope, is_signable, scope_of
from control.openapi import openapi_path
from facegate.store import Store, new_event_id
from tests.support import leaks
from tests.support.mjpeg_server import MjpegCamera, free_port, load_jpegs
from tests.support.service_proc import ServiceProcess, poll_until
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import WebhookReceiver

ADMIN_OLD, ADMIN_NEW, READ = "admin-token-old-7f3a", "admin-token-new-91c2", "read-token-55d0"
WEBHOOK_SECRET = "whook-secret-e8b4a1"
PASSWORD = "Pa55w0rd-Zebra"
SIGNED_URL_TTL_S = 5
MAX_PIXELS = 2_500_000  # a 1080p photo (2.07 MP) passes, 3000x2000 does not
LIN = "Lin-Manuel Miranda"


# --- fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hooks:
        yield hooks


@pytest.fixture(scope="module")
def camera(clip: Path) -> Iterator[MjpegCamera]:
    served = MjpegCamera(load_jpegs(clip), fps=15).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def svc(
    gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[ServiceProcess]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("security"))
    Store(data_dir).config.update({"event_cooldown_s": 1.0})
    service = ServiceProcess(
        data_dir,
        token=f"{ADMIN_OLD}, {ADMIN_NEW}",
        env={
            "FACEGATE_READ_TOKEN": READ,
            "FACEGATE_SIGNED_URL_TTL_S": str(SIGNED_URL_TTL_S),
            "FACEGATE_MAX_IMAGE_PIXELS": str(MAX_PIXELS),
            "FACEGATE_WEBHOOKS": "on",
            "NEXTJS_WEBHOOK_URL": receiver.url,
            "FACIAL_RECOGNITION_WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
    )
    service.token = ADMIN_NEW
    service.start(timeout=120)
    booted = poll_until(lambda: service.get("/api/health").status_code == 200, 120)  # 503 `starting` before
    try:
        assert booted, service.log()[-3000:]
        yield service
    finally:
        code = service.stop(timeout=60)
        assert code == 0, service.log()[-3000:]
        assert not leaks.segments_of(service.pid)
        assert not [p for p in _children(service.pid)], "a process outlived the supervisor"


def _children(parent: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, (
        response.request.method,
        response.url,
        response.status_code,
        response.text[:300],
    )
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]


# --- who may call what ----------------------------------------------------------------------------------
# A harmless request for every route: ids that do not exist and bodies that are refused, so an allowed call
# answers 400/404 (or 200 for a read) and changes nothing. Every served route must be here.
PLACEHOLDERS = {
    "name": "Nobody",
    "person_id": "999999",
    "camera_id": "nocam",
    "unknown_id": "999999",
    "filename": "app.js",
    "endpoint_id": "nohook",
}
BODIES = {
    ("POST", "/api/register"): {},
    ("PUT", "/api/config"): {},
    ("POST", "/api/cameras"): {},
    ("POST", "/api/recognize"): {},
    ("POST", "/api/unknown/<unknown_id>/register"): {},
    ("POST", "/api/persons/<person_id>/faces"): {},
    ("PUT", "/api/cameras/<camera_id>"): {},
    ("POST", "/api/webhooks/endpoints"): {},
    ("PUT", "/api/webhooks/endpoints/<endpoint_id>"): {"description": "nobody's"},
}
QUERIES = {
    ("GET", "/api/signed-url"): "?path=/api/unknown/1.jpg",
    ("GET", "/api/attendance"): "?from=2026-01-01&to=2026-01-31",
}
# the only routes without a token (besides /metrics when FACEGATE_METRICS_AUTH=open), and the only pictures a
# signed URL opens: a route that joins either by a slip of its scope= or signable= fails here
OPEN = {("GET", "/api/health"), ("GET", "/"), ("GET", "/ui/<filename>"), ("GET", "/metrics")}
SIGNABLE = {
    ("GET", "/api/cameras/<camera_id>/snapshot.jpg"),
    ("GET", "/api/cameras/<camera_id>/stream.mjpg"),
    ("GET", "/api/unknown/<unknown_id>.jpg"),
}
# The one answer each route gives that request once allowed (read token or admin alike); 200 for the others.
# A lookup of an id that does not exist is 404; a body that is refused is 400 (checked before the id where
# the route reads the body first).
ANSWERS = {
    **dict.fromkeys(
        [
            ("DELETE", "/api/cameras/<camera_id>"),
            ("DELETE", "/api/persons/<person_id>"),
            ("DELETE", "/api/persons/<person_id>/encodings/<encoding_id>"),
            ("DELETE", "/api/unknown/<unknown_id>"),
            ("DELETE", "/api/visitors/<visitor_id>"),
            ("GET", "/api/cameras/<camera_id>/snapshot.jpg"),
            ("GET", "/api/cameras/<camera_id>/stream.mjpg"),
            ("GET", "/api/persons/<person_id>"),
            ("GET", "/api/persons/<person_id>/encodings"),
            ("GET", "/api/persons/<person_id>/encodings/<encoding_id>.jpg"),
            ("GET", "/api/results/<event_id>/crop.jpg"),
            ("GET", "/api/unknown/<unknown_id>.jpg"),
            ("GET", "/api/visitors/<visitor_id>"),
            ("GET", "/api/visitors/<visitor_id>/faces/<face_id>.jpg"),
            ("POST", "/api/persons/<person_id>/faces"),
            ("PUT", "/api/cameras/<camera_id>"),
            ("POST", "/api/results/<event_id>/reject"),  # its body is optional: the event is looked up
            ("GET", "/api/webhooks/endpoints/<endpoint_id>"),
            ("PUT", "/api/webhooks/endpoints/<endpoint_id>"),
            ("DELETE", "/api/webhooks/endpoints/<endpoint_id>"),
            ("POST", "/api/webhooks/endpoints/<endpoint_id>/test"),
        ],
        404,
    ),
    **dict.fromkeys(
        [
            ("POST", "/api/cameras"),
            ("POST", "/api/recognize"),
            ("POST", "/api/register"),
            ("POST", "/api/search"),
            ("POST", "/api/unknown/<unknown_id>/register"),
            ("POST", "/api/verify"),
            ("POST", "/api/visitors/<visitor_id>/register"),
            ("POST", "/api/visitors/merge"),
            ("PUT", "/api/config"),
            ("PUT", "/api/persons/<person_id>"),
            ("POST", "/api/webhooks/endpoints"),
        ],
        400,
    ),
}
# start/stop really act; the table calls them with an admin token only after the other checks. No camera is
# configured here: start is refused, stop and a retry of no failed webhook are fine.
ACTING = {("POST", "/api/start"): 400, ("POST", "/api/stop"): 200, ("POST", "/api/webhooks/retry"): 200}


def _concrete(rule: str) -> str:
    path = openapi_path(rule)
    for name, value in PLACEHOLDERS.items():
        path = path.replace("{" + name + "}", value)
    return path


def _served_routes() -> dict[tuple[str, str], tuple[Scope, bool]]:
    """(method, rule) of every route the app serves -> the scope it declares, and whether it is signable."""
    from control.app import make_app

    class Offline:
        version, started_at, running = "test", 0.0, False

        def __init__(self, data_dir: Path) -> None:
            self.store = Store(data_dir)

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Offline(Path(tmp)), token="", read_token="", cors_origins="")
        routes = {(r.method, r.rule): (scope_of(r), is_signable(r)) for r in app.routes}
        app.close()
    return routes


def test_every_served_route_has_a_scope_and_the_document_says_it(svc: ServiceProcess) -> None:
    served = _served_routes()
    assert {key for key, (scope, _) in served.items() if scope in (Scope.PUBLIC, Scope.METRICS)} == OPEN
    assert {key for key, (_, signable) in served.items() if signable} == SIGNABLE
    document = svc.get("/api/openapi.json").json()
    for (method, rule), (scope, _) in served.items():
        operation = document["paths"][openapi_path(rule)][method.lower()]
        assert operation["x-facegate-scope"] == scope.value, (method, rule)
        if scope in (Scope.READ, Scope.ADMIN):
            assert {"401", "403"} <= set(operation["responses"]), (method, rule)
            assert {"bearer": []} in operation["security"]
    assert set(document["components"]["securitySchemes"]) == {"bearer", "signedUrl"}


def test_each_route_without_a_token_with_the_read_token_and_with_an_admin_token(svc: ServiceProcess) -> None:
    people_before = svc.get("/api/persons").json()["total"]
    for (method, rule), (scope, _) in sorted(_served_routes().items()):
        key = (method, rule)
        path = _concrete(rule) + QUERIES.get(key, "")

        def call(token: str, method: str = method, path: str = path, key: tuple[str, str] = key) -> requests.Response:
            return svc.request(method, path, token=token, json=BODIES.get(key), timeout=60)

        without = call("")
        if scope is Scope.PUBLIC:  # /metrics too needs a token unless FACEGATE_METRICS_AUTH=open
            assert without.status_code == 200, (key, without.status_code)
        else:
            assert "Bearer" in _error(without, 401)
            assert without.headers["WWW-Authenticate"].startswith("Bearer")
            _error(call("not-a-token"), 401)
            _error(call(f"{ADMIN_NEW}x"), 401)
        as_reader = call(READ)
        if scope is Scope.ADMIN:
            assert "admin" in _error(as_reader, 403), key
        else:
            assert as_reader.status_code == ANSWERS.get(key, 200), (key, as_reader.status_code, as_reader.text[:200])
        if key in ACTING:
            continue
        for admin in (ADMIN_OLD, ADMIN_NEW):  # both tokens of the comma list work: rotation without downtime
            as_admin = call(admin)
            assert as_admin.status_code == ANSWERS.get(key, 200), (key, as_admin.status_code, as_admin.text[:200])
    for (method, path), status in sorted(ACTING.items()):
        assert svc.request(method, path, token=ADMIN_OLD).status_code == status, path
    assert svc.get("/api/persons").json()["total"] == people_before, "the table changed nothing"


def test_preflights_and_unknown_routes_need_no_token(svc: ServiceProcess) -> None:
    assert svc.request("OPTIONS", "/api/persons", token="").status_code == 204
    assert "/api/nope" in _error(svc.get("/api/nope", token=""), 404)


# --- a camera with a password -----------------------------------------------------------------------------
def _camera_url(camera: MjpegCamera) -> str:
    return camera.url.replace("http://", f"http://admin:{PASSWORD}@")


@pytest.fixture(scope="module")
def door(svc: ServiceProcess, camera: MjpegCamera) -> Iterator[str]:
    """The clip as an MJPEG camera whose URL carries a password, plus one nobody answers (errors, retries)."""
    added = svc.post("/api/cameras", json={"id": "door", "stream_url": _camera_url(camera), "name": "Front door"})
    assert added.status_code == 201, added.text
    ghost = f"http://admin:{PASSWORD}@127.0.0.1:{free_port()}/stream.mjpg?pwd={PASSWORD}"
    assert svc.post("/api/cameras", json={"id": "ghost", "stream_url": ghost}).status_code == 201
    assert svc.post("/api/start").status_code == 200
    try:
        yield "door"
    finally:
        svc.post("/api/stop")
        svc.delete("/api/cameras/ghost")
        svc.delete("/api/cameras/door")


def _live(svc: ServiceProcess, camera_id: str) -> bool:
    cameras = svc.get("/api/cameras").json()["cameras"]
    return any(c["id"] == camera_id and c["state"] == "live" for c in cameras)


def test_a_signed_snapshot_url_works_until_it_expires(svc: ServiceProcess, door: str) -> None:
    assert poll_until(lambda: svc.get(f"/api/cameras/{door}/snapshot.jpg").status_code == 200, 60), svc.log()[-3000:]
    path = f"/api/cameras/{door}/snapshot.jpg"
    _error(svc.get(path, token=""), 401)
    issued = svc.get(f"/api/signed-url?path={path}", token=READ).json()
    assert issued["url"].startswith(path + "?") and "signature=" in issued["url"] and READ not in issued["url"]
    first = svc.get(issued["url"], token="")
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/jpeg"
    assert first.content[:2] == b"\xff\xd8"

    tampered = issued["url"][:-4] + ("0000" if not issued["url"].endswith("0000") else "1111")
    _error(svc.get(tampered, token=""), 401)
    query = issued["url"].split("?", 1)[1]
    _error(svc.get(f"/api/cameras/ghost/snapshot.jpg?{query}", token=""), 401)  # signed for another path
    _error(svc.get(f"/api/persons?{query}", token=""), 401)  # only picture routes take signatures
    _error(svc.get("/api/signed-url?path=/api/persons", token=READ), 400)
    _error(svc.get(f"/api/signed-url?path={path}", token=""), 401)
    mjpeg = svc.get(f"/api/signed-url?path=/api/cameras/{door}/stream.mjpg?fps=2", token=READ).json()["url"]
    assert "fps=2" in mjpeg
    with requests.get(svc.url + mjpeg, stream=True, timeout=30) as streamed:
        assert streamed.status_code == 200 and streamed.headers["Content-Type"].startswith("multipart/x-mixed")

    # after SIGNED_URL_TTL_S the same URL is refused (polled, bounded: no timing assertion)
    expired = poll_until(lambda: svc.get(issued["url"], token="").status_code == 401, 30, 0.5)
    assert expired, "the signed URL never expired"
    assert "expired" in _error(svc.get(issued["url"], token=""), 401)


def _everything_the_api_says(svc: ServiceProcess) -> dict[str, str]:
    """Every GET answer (with the admin token), each unknown face listing and the metrics page, by path."""
    texts = {}
    for method, rule in _served_routes():
        if method != "GET" or "<" in rule or rule == "/api/signed-url":
            continue
        texts[rule] = svc.get(rule).text
    for camera in svc.get("/api/cameras").json()["cameras"]:
        texts[f"camera {camera['id']}"] = json.dumps(camera)
    return texts


def test_a_password_in_a_stream_url_leaves_through_no_door(
    svc: ServiceProcess, door: str, camera: MjpegCamera, receiver: WebhookReceiver
) -> None:
    assert receiver.wait_for(lambda: any(d.payload.get("camera_id") == door for d in receiver.accepted()), 90), (
        svc.log()[-3000:]
    )
    assert poll_until(
        lambda: (
            "error"
            in json.dumps([c for c in svc.get("/api/cameras").json()["cameras"] if c["id"] == "ghost" and c["error"]])
        ),
        60,
    )
    # a dead letter with the camera's URL, as the API lists them
    store = Store(svc.data_dir)
    event_id = new_event_id()
    result = {
        "timestamp": "2026-11-25T10:00:00Z",
        "name": "Dead Letter",
        "confidence": 0.5,
        "distance": 0.5,
        "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
    }
    from pipeline.delivery.webhooks import webhook_body

    stored_url = _camera_url_from(svc, door)
    store.results.add(event_id, result, door, stored_url, webhook_body(result, door, stored_url))
    store.outbox.mark_failed(event_id, 20, "HTTP 500")

    said = _everything_the_api_says(svc)
    for where, text in said.items():
        assert PASSWORD not in text, f"{where} gives the password away"
    assert f"admin:***@127.0.0.1:{_port(svc, door)}" in said["camera door"]
    assert "pwd=***" in said["camera ghost"]
    assert "admin:***@" in said["/api/config"] and "admin:***@" in said["/api/webhooks/failed"]
    metrics = svc.get("/metrics").text
    assert (
        f'facegate_camera_info{{camera="{door}",stream_url="{_camera_url(camera).replace(PASSWORD, "***")}"}}'
        in metrics
    ), "the camera's URL is a label, masked"
    assert PASSWORD not in metrics
    for delivery in receiver.deliveries:
        assert PASSWORD not in delivery.body and PASSWORD not in json.dumps(delivery.headers)
    sent = next(d.payload for d in receiver.accepted() if d.payload.get("camera_id") == door)
    assert sent["camera_stream_url"] == _camera_url(camera).replace(PASSWORD, "***"), "kept, masked"
    log = svc.log()
    assert "admin:***@" in log, "the log names the camera (masked)"
    for secret in (PASSWORD, ADMIN_OLD, ADMIN_NEW, READ, WEBHOOK_SECRET):
        assert secret not in log, f"{secret} is in the log"


def _camera_url_from(svc: ServiceProcess, camera_id: str) -> str:
    """The URL as stored (with its password), read from the store as the pipeline reads it."""
    row = Store(svc.data_dir).cameras.get(camera_id)
    assert row is not None, f"no camera {camera_id!r} stored"
    return str(row.fields["stream_url"])


def _port(svc: ServiceProcess, camera_id: str) -> int:
    return int(_camera_url_from(svc, camera_id).rsplit(":", 1)[1].split("/")[0])


def test_an_update_without_the_password_keeps_it(svc: ServiceProcess, door: str, camera: MjpegCamera) -> None:
    stored = _camera_url(camera)
    shown = next(c for c in svc.get("/api/cameras").json()["cameras"] if c["id"] == door)["stream_url"]
    assert shown == stored.replace(PASSWORD, "***")
    renamed = svc.put(f"/api/cameras/{door}", json={"stream_url": shown, "name": "Door (renamed)"})
    assert renamed.status_code == 200 and renamed.json()["camera"]["name"] == "Door (renamed)"
    assert _camera_url_from(svc, door) == stored, "the masked URL sent back kept the stored password"
    without = stored.replace(f":{PASSWORD}@", "@")
    assert svc.put(f"/api/cameras/{door}", json={"stream_url": without}).status_code == 200
    assert _camera_url_from(svc, door) == stored, "a URL without a password kept the stored one"
    config = svc.get("/api/config").json()["config"]
    assert svc.put("/api/config", json={"cameras": config["cameras"]}).status_code == 200
    assert _camera_url_from(svc, door) == stored, "the config round trip kept the stored password"
    assert poll_until(lambda: _live(svc, door), 60), "the camera still runs with its password"


# --- heavy requests --------------------------------------------------------------------------------------
def test_a_flood_of_recognize_calls_gets_429s_and_nothing_breaks(svc: ServiceProcess, faces: Path) -> None:
    photo = (faces / "obama-1080p.jpg").read_bytes()

    def recognize(_n: int) -> requests.Response:
        return svc.post("/api/recognize", files={"image": ("obama.jpg", photo, "image/jpeg")}, timeout=300)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(recognize, range(50)))
    codes = sorted(a.status_code for a in answers)
    busy = [a for a in answers if a.status_code == 429]
    assert busy, codes
    assert set(codes) <= {200, 429}, codes
    for answer in busy:
        assert int(answer.headers["Retry-After"]) >= 1 and "busy" in answer.json()["error"]
    done = [a.json() for a in answers if a.status_code == 200]
    assert done and all(d["count"] == 1 and (d["width"], d["height"]) == (1920, 1080) for d in done), done[:2]
    assert svc.get("/api/status").status_code == 200
    after = poll_until(lambda: recognize(0).status_code == 200, 60, 1.0)
    assert after, "recognize never answered again after the flood"
    titles = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] for pid in _children(svc.pid)]
    assert titles.count(b"facegate: api-faces") == 1, titles


def test_photos_over_the_pixel_limit_are_refused(svc: ServiceProcess) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000)).save(buffer, "PNG")
    refused = svc.post("/api/recognize", files={"image": ("big.png", buffer.getvalue(), "image/png")})
    assert "3000x2000" in _error(refused, 400) and "2.5 megapixels" in refused.json()["error"]
    registered = svc.post(
        "/api/register", data={"name": "Too Big"}, files={"image": ("big.png", buffer.getvalue(), "image/png")}
    )
    assert "megapixels" in _error(registered, 400)


# --- the audit trail ---------------------------------------------------------------------------------------
def _audit(svc: ServiceProcess, action: str) -> list[dict]:
    return svc.get(f"/api/audit?action={action}&limit=1000").json()["audit"]


def test_every_kind_of_change_leaves_an_audit_row(svc: ServiceProcess, faces: Path, camera: MjpegCamera) -> None:
    _error(svc.get("/api/audit", token=READ), 403)
    _error(svc.get("/api/audit", token=""), 401)
    person_id = svc.post(
        "/api/register",
        data={"name": "Audit Person"},
        files={"image": ("o.jpg", (faces / "obama.jpg").read_bytes(), "image/jpeg")},
        timeout=120,
    ).json()["person_id"]
    assert (
        svc.post(
            f"/api/persons/{person_id}/faces",
            files={"image": ("o2.jpg", (faces / "obama2.jpg").read_bytes(), "image/jpeg")},
            timeout=120,
        ).status_code
        == 200
    )
    assert svc.put(f"/api/persons/{person_id}", json={"name": "Audited Person"}).status_code == 200
    assert svc.delete(f"/api/persons/{person_id}", token=ADMIN_OLD).status_code == 200
    assert svc.put("/api/config", json={"threshold": 0.58}).status_code == 200
    url = _camera_url(camera)
    assert svc.post("/api/cameras", json={"id": "audited", "stream_url": url, "enabled": False}).status_code == 201
    assert svc.put("/api/cameras/audited", json={"name": "Audited"}).status_code == 200
    assert svc.delete("/api/cameras/audited").status_code == 200
    assert svc.post("/api/webhooks/retry").status_code == 200

    expected = {
        "person.register": "Audit Person",
        "person.add_face": str(person_id),
        "person.rename": str(person_id),
        "person.delete": str(person_id),
        "config.update": None,
        "camera.add": "audited",
        "camera.update": "audited",
        "camera.delete": "audited",
        "webhooks.retry": None,
    }
    for action, target in expected.items():
        rows = _audit(svc, action)
        assert rows, f"no audit row for {action}"
        row = rows[0]
        assert (row["scope"], row["client"]) == ("admin", "127.0.0.1"), row
        assert row["time"].endswith("Z") and row["target"] == target, row
    assert _audit(svc, "person.register")[0]["details"]["request"]["image"].startswith("<file of")
    assert _audit(svc, "person.delete")[0]["details"]["answer"]["message"].startswith("Audited Person")
    assert _audit(svc, "config.update")[0]["details"]["request"] == {"threshold": 0.58}
    added = _audit(svc, "camera.add")[0]["details"]["request"]
    assert added["stream_url"] == url.replace(PASSWORD, "***")
    assert PASSWORD not in svc.get("/api/audit?limit=1000").text
    assert not _audit(svc, "recognize"), "recognizing a photo changes nothing"
    with sqlite3.connect(svc.data_dir / "facegate.db") as db:
        stored = db.execute("SELECT details FROM audit WHERE action = 'camera.add'").fetchone()[0]
        assert PASSWORD not in stored
    svc.put("/api/config", json={"threshold": 0.6})


def test_the_audit_trail_is_append_only_and_has_its_own_retention(svc: ServiceProcess) -> None:
    assert svc.put("/api/config", json={"threshold": 0.6}).status_code == 200  # at least one fresh row
    db = sqlite3.connect(svc.data_dir / "facegate.db", timeout=10)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit SET scope = 'read'")
        with pytest.raises(sqlite3.DatabaseError, match="younger than a day"):
            db.execute("DELETE FROM audit")
        old = time.time() - 100 * 86400
        db.execute(
            "INSERT INTO audit(at, time, scope, client, action, target, details)"
            " VALUES(?, '2026-08-17T00:00:00.000Z', 'admin', '127.0.0.1', 'planted.old', NULL, '{}')",
            (old,),
        )
        db.commit()
    finally:
        db.close()
    total = svc.get("/api/audit").json()["total"]
    assert svc.put("/api/config", json={"retention_days": 1}).status_code == 200
    assert _audit(svc, "planted.old"), "retention_days (results) does not touch the audit trail"
    assert svc.put("/api/config", json={"audit_retention_days": 30}).status_code == 200
    assert not _audit(svc, "planted.old"), "audit_retention_days prunes the audit trail"
    assert svc.get("/api/audit").json()["total"] == total + 2 - 1
    svc.put("/api/config", json={"retention_days": 30, "audit_retention_days": 365})
