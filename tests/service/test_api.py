"""The REST API over real HTTP against a running supervisor: compatible shapes, bad input, token, CORS.

One supervisor (real models, processes, SQLite) serves the module on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegate.faces import encode_single_face
from tests.support import leaks
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery

JSON_TYPE = {"Content-Type": "application/json"}  # a body sent as text, said to be JSON
TOKEN = "test-token-123"
ORIGIN = "http://localhost:3000"
LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def api(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("api"))
    service = ServiceProcess(data_dir, token=TOKEN, env={"FACEGATE_CORS_ORIGINS": f"{ORIGIN}, https://app.example"})
    service.start()
    try:
        yield service
    finally:
        code = service.stop()
        assert code == 0, service.log()[-3000:]
        assert not leaks.segments_of(service.pid)


@pytest.fixture(scope="module")
def lin_encoding(faces: Path) -> list[float]:
    return [float(v) for v in encode_single_face(faces / "lin-manuel-miranda.png")]


def _error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and "Traceback" not in body["error"]
    return body["error"]


def _error_with_files(response, reason: str) -> str:
    """An enrollment refusal: a 400 with the reason and an answer per file."""
    assert response.status_code == 400, (response.status_code, response.text)
    body = response.json()
    assert body["reason"] == reason and body["files"][0]["reason"] == reason
    return body["error"]


def _people(api: ServiceProcess) -> list[dict]:
    return api.get("/api/persons").json()["persons"]


def _state(api: ServiceProcess) -> dict:
    """Everything a refused request must leave as it was: people, config, cameras, results, outbox, running."""
    status = api.get("/api/status").json()
    return {
        "people": _people(api),
        "config": api.get("/api/config").json(),
        "cameras": api.get("/api/cameras").json(),
        "results": api.get("/api/results?limit=1000").json(),
        "failed_webhooks": api.get("/api/webhooks/failed").json(),
        "status": {
            key: status[key]
            for key in ("active", "running", "stream_url", "total_results", "encodings_loaded", "registered_people")
        },
    }


# --- the old script's endpoints -----------------------------------------------------------------------
def test_status_has_the_old_fields(api: ServiceProcess) -> None:
    status = api.get("/api/status").json()
    assert {"active", "encodings_loaded", "stream_url", "total_results"} <= set(status)
    assert status["active"] is False and status["stream_url"] is None
    assert status["encodings_loaded"] == 2 and status["registered_people"] == 2


def test_start_without_a_stream_is_refused(api: ServiceProcess) -> None:
    before = _state(api)
    assert "stream_url" in _error(api.post("/api/start"), 400)
    assert api.get("/api/status").json()["active"] is False
    assert _state(api) == before


def test_config_is_validated_persisted_and_applied(api: ServiceProcess, clip: Path) -> None:
    before = _state(api)
    bad = [
        {"threshold": 0},
        {"threshold": 1.5},
        {"threshold": "high"},
        {"threshold": None},
        {"stream_url": "ftp://camera/1"},
        {"stream_url": ""},
        {"stream_url": 12.5},
        {"no_such": 1},
        {"workers": 3},
    ]
    for body in bad:
        _error(api.put("/api/config", json=body), 400)
    assert "valid JSON" in _error(api.put("/api/config", data="{threshold: 0.5", headers=JSON_TYPE), 400)
    assert _error(api.put("/api/config", data="[1, 2]", headers=JSON_TYPE), 400) == "body must be a JSON object"
    _error(api.put("/api/config", data=b'{"threshold": NaN}', headers=JSON_TYPE), 400)
    assert api.get("/api/config").json()["config"]["threshold"] == 0.6
    assert _state(api) == before, "bad input changed nothing"

    done = api.put("/api/config", json={"threshold": 0.55, "encoding_model": "hog"}).json()
    assert done["success"] is True and done["config"]["threshold"] == 0.55 and done["config"]["model"] == "hog"
    from facegate.store import Store

    assert Store(api.data_dir).config.read()["threshold"] == 0.55, "persisted in the store"
    api.put("/api/config", json={"threshold": 0.6})
    assert _state(api) == before


def test_a_camera_id_outside_ascii_is_refused(api: ServiceProcess) -> None:
    """The one camera-id rule (ASCII letters, digits, '.', '_', '-') holds for the API as for the command line."""
    before = _state(api)
    assert "camera_id" in _error(api.put("/api/config", json={"camera_id": "cámara"}), 400)
    assert "camera_id" in _error(api.post("/api/cameras", json={"id": "cámara", "stream_url": "0"}), 400)
    assert "camera_id" in _error(api.put("/api/config", json={"cameras": [{"id": "cámara", "stream_url": "0"}]}), 400)
    assert _state(api) == before


def test_visitor_threshold_is_a_live_setting(api: ServiceProcess) -> None:
    done = api.put("/api/config", json={"visitor_threshold": 0.45})
    assert done.status_code == 200, done.text
    assert api.get("/api/config").json()["config"]["visitor_threshold"] == 0.45
    api.put("/api/config", json={"visitor_threshold": 0.5})


def test_register_an_encoding_the_old_way(api: ServiceProcess, lin_encoding: list[float]) -> None:
    before = len(_people(api))
    done = api.post(
        "/api/register",
        json={"name": "Old Client", "encoding": lin_encoding, "imageUrl": "https://img/1.jpg", "clientId": "c-17"},
    )
    assert done.status_code == 200
    body = done.json()
    assert body["success"] is True and body["total_users"] == before + 1 and body["message"]
    person = api.get(f"/api/persons/{body['person_id']}").json()
    assert (person["name"], person["client_id"], person["image_url"], person["encodings"]) == (
        "Old Client",
        "c-17",
        "https://img/1.jpg",
        1,
    )
    assert api.delete(f"/api/persons/{body['person_id']}").status_code == 200


@pytest.mark.parametrize("body", [{"name": "X"}, {"encoding": [0.0] * 128}, {}, {"name": "", "encoding": []}])
def test_register_without_name_or_encoding_is_the_old_400(api: ServiceProcess, body: dict) -> None:
    assert _error(api.post("/api/register", json=body), 400) == "name and encoding are required"


def test_bad_registrations_change_nothing(api: ServiceProcess, lin_encoding: list[float]) -> None:
    before = _people(api)
    bad_bodies = [
        ({"name": "A", "encoding": lin_encoding[:127]}, "128"),
        ({"name": "A", "encoding": [*lin_encoding[:127], "x"]}, "numbers"),
        ({"name": "A", "encoding": [*lin_encoding[:127], True]}, "numbers"),
        ({"name": "A", "encoding": "0.1,0.2"}, "list"),
        ({"name": "   ", "encoding": lin_encoding}, "empty"),
        ({"name": "N" * 101, "encoding": lin_encoding}, "100"),
        ({"name": 42, "encoding": lin_encoding}, "string"),
        ({"name": "A\nB", "encoding": lin_encoding}, "control"),
        ({"name": "A", "encoding": lin_encoding, "client_id": ["x"]}, "client_id"),
    ]
    for body, word in bad_bodies:
        assert word in _error(api.post("/api/register", json=body), 400), body
    with_nan = json.dumps({"name": "A", "encoding": lin_encoding}).replace(str(lin_encoding[5]), "NaN", 1)
    assert "NaN" in _error(api.post("/api/register", data=with_nan, headers=JSON_TYPE), 400)
    with_inf = json.dumps({"name": "A", "encoding": lin_encoding}).replace(str(lin_encoding[5]), "Infinity", 1)
    _error(api.post("/api/register", data=with_inf, headers=JSON_TYPE), 400)
    assert "multipart" in _error(api.post("/api/register", data="name=A&encoding=1"), 415)  # a bare form: no
    big = b'{"name": "A", "encoding": [' + b"0.1," * 3_000_000 + b"0.1]}"
    assert "MB" in _error(api.post("/api/register", data=big), 413)
    assert _people(api) == before


def _png(width: int, height: int, color: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (color, color, color)).save(buffer, "PNG")
    return buffer.getvalue()


def _two_faces(faces: Path) -> bytes:
    lin = Image.open(faces / "lin-manuel-miranda.png").convert("RGB")
    alex = Image.open(faces / "alex-lacamoire.png").convert("RGB").resize(lin.size)
    both = Image.new("RGB", (lin.width * 2, lin.height))
    both.paste(lin, (0, 0))
    both.paste(alex, (lin.width, 0))
    buffer = io.BytesIO()
    both.save(buffer, "JPEG")
    return buffer.getvalue()


def _bomb() -> bytes:
    """A small PNG that claims 30000x30000 pixels: a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG")
    return buffer.getvalue()


def test_register_from_a_photo(api: ServiceProcess, faces: Path) -> None:
    photo = (faces / "alex-lacamoire.png").read_bytes()
    upload = api.post(
        "/api/register",
        data={"name": "Alex Upload", "client_id": "u1"},
        files={"image": ("alex.png", photo, "image/png")},
    )
    assert upload.status_code == 200, upload.text
    data_url = "data:image/png;base64," + base64.b64encode(photo).decode()
    as_json = api.post("/api/register", json={"name": "Alex Base64", "image_base64": data_url})
    assert as_json.status_code == 200, as_json.text
    people = {p["name"]: p for p in _people(api)}
    assert people["Alex Upload"]["encodings"] == 1 and people["Alex Upload"]["client_id"] == "u1"
    recognized = api.post("/api/recognize", files={"image": ("a.png", photo, "image/png")}).json()
    assert recognized["faces"][0]["name"] in {"Alex Lacamoire", "Alex Upload", "Alex Base64"}
    for name in ("Alex Upload", "Alex Base64"):
        assert api.delete(f"/api/persons/{people[name]['id']}").status_code == 200


def test_photos_that_are_not_one_face_are_refused(api: ServiceProcess, faces: Path) -> None:
    before = _people(api)
    cases = [
        (_two_faces(faces), "found 2 faces"),
        (_png(200, 200), "found no face"),
        (b"this is not an image", "not a decodable image"),
        (_bomb(), "megapixels"),
    ]
    for data, message in cases:
        answer = api.post("/api/register", data={"name": "Nobody"}, files={"image": ("x.png", data, "image/png")})
        assert message in _error(answer, 400)
    assert "base64" in _error(api.post("/api/register", json={"name": "N", "image_base64": "%%%"}), 400)
    assert _people(api) == before


def test_people_crud(api: ServiceProcess, faces: Path, lin_encoding: list[float]) -> None:
    listed = _people(api)
    assert {p["name"] for p in listed} >= {LIN, "Alex Lacamoire"}
    assert all({"id", "name", "client_id", "encodings", "created_at"} <= set(p) for p in listed)
    person_id = api.post("/api/register", json={"name": "Temp", "encoding": lin_encoding}).json()["person_id"]
    added = api.post(
        f"/api/persons/{person_id}/faces", files={"image": ("o.jpg", (faces / "obama2.jpg").read_bytes(), "image/jpeg")}
    )
    assert added.status_code == 200 and added.json()["person"]["encodings"] == 2
    farther = [v + 0.3 / math.sqrt(len(lin_encoding)) for v in lin_encoding]  # not a near-duplicate
    added = api.post(f"/api/persons/{person_id}/faces", json={"encoding": farther})
    assert added.json()["person"]["encodings"] == 3
    assert _error_with_files(api.post(f"/api/persons/{person_id}/faces", json={"encoding": lin_encoding}), "duplicate")
    _error(api.post(f"/api/persons/{person_id}/faces", json={"encoding": [1, 2]}), 400)
    _error(api.post(f"/api/persons/{person_id}/faces", json={}), 400)
    assert api.delete(f"/api/persons/{person_id}").json()["success"] is True
    _error(api.get(f"/api/persons/{person_id}"), 404)
    _error(api.delete(f"/api/persons/{person_id}"), 404)
    _error(api.post(f"/api/persons/{person_id}/faces", json={"encoding": lin_encoding}), 404)
    _error(api.get("/api/persons/abc"), 404)
    from facegate.store import Store

    vectors, names = Store(api.data_dir).gallery.all_vectors()
    assert "Temp" not in names and len(vectors) == len(names), "the encodings are gone with the person"


def test_recognize_a_photo(api: ServiceProcess, faces: Path) -> None:
    photo = (faces / "lin-manuel-miranda.png").read_bytes()
    found = api.post("/api/recognize", json={"image_base64": base64.b64encode(photo).decode()})
    assert found.status_code == 200
    body = found.json()
    assert body["count"] == 1
    face = body["faces"][0]
    assert face["name"] == LIN and face["distance"] < 0.6 and face["confidence"] == round(1 - face["distance"], 2)
    box = face["box"]
    assert 0 <= box["left"] < box["right"] <= body["width"] and 0 <= box["top"] < box["bottom"] <= body["height"]
    assert api.post("/api/recognize", files={"image": ("e.png", _png(120, 80), "image/png")}).json()["faces"] == []
    _error(api.post("/api/recognize", json={}), 400)
    _error(api.post("/api/recognize", files={"image": ("x.png", b"GIF89a-not-really", "image/gif")}), 400)


def test_fifty_parallel_registrations_all_land(api: ServiceProcess, lin_encoding: list[float]) -> None:
    before = len(_people(api))

    def register(n: int) -> int:
        encoding = [v + n * 1e-4 for v in lin_encoding]
        answer = api.post("/api/register", json={"name": f"Parallel {n:02d}", "encoding": encoding})
        assert answer.status_code == 200, answer.text
        return answer.json()["person_id"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = list(pool.map(register, range(50)))
    assert len(set(ids)) == 50
    people = _people(api)
    assert len(people) == before + 50
    assert {f"Parallel {n:02d}" for n in range(50)} <= {p["name"] for p in people}
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda pid: api.delete(f"/api/persons/{pid}").status_code, ids))
    assert codes == [200] * 50
    assert len(_people(api)) == before


# --- token and CORS -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/start"),
        ("POST", "/api/stop"),
        ("PUT", "/api/config"),
        ("POST", "/api/register"),
        ("DELETE", "/api/persons/1"),
        ("POST", "/api/webhooks/retry"),
        ("POST", "/api/cameras"),
    ],
)
def test_mutations_need_the_token(api: ServiceProcess, method: str, path: str) -> None:
    before = _state(api)
    assert "Bearer" in _error(api.request(method, path, token="", json={}), 401)
    assert api.request(method, path, token="wrong", json={}).status_code == 401
    assert api.request(method, path, token=f"{TOKEN}x", json={}).status_code == 401
    assert _state(api) == before, "a refused request changed nothing"


def test_reads_need_a_token_except_health(api: ServiceProcess) -> None:
    assert api.get("/api/health", token="").status_code in (200, 503)
    for path in ("/api/status", "/api/results", "/api/stats", "/api/persons", "/api/openapi.json", "/metrics"):
        assert api.get(path, token="").status_code == 401, path
        assert api.get(path).status_code == 200, path


def test_cors_preflight_and_responses(api: ServiceProcess) -> None:
    preflight = api.request(
        "OPTIONS",
        "/api/register",
        token="",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    got = api.get("/api/status", headers={"Origin": "https://app.example"})
    assert got.headers["Access-Control-Allow-Origin"] == "https://app.example"
    refused = api.post("/api/start", token="", headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    stranger = api.get("/api/status", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


# --- odd requests ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", "1e3", "%00"])
def test_a_limit_that_is_not_a_positive_integer_is_400(api: ServiceProcess, limit: str) -> None:
    assert "limit" in _error(api.get(f"/api/results?limit={limit}"), 400)


def test_unknown_routes_and_methods_are_json(api: ServiceProcess) -> None:
    assert "/api/nope" in _error(api.get("/api/nope"), 404)
    _error(api.request("PATCH", "/api/status"), 405)


# --- results, through the running pipeline ------------------------------------------------------------
def _results(api: ServiceProcess, path: str = "/api/results?limit=1000") -> list[dict]:
    return api.get(path).json()["results"]


def test_results_latest_stats_and_the_gallery_round_trip(
    api: ServiceProcess, clip: Path, lin_encoding: list[float]
) -> None:
    """Start on the clip; Lin is named; delete him: no longer recognized; register again: he is back."""
    assert api.put("/api/config", json={"stream_url": str(clip), "event_cooldown_s": 1}).status_code == 200
    started = api.post("/api/start").json()
    assert started["active"] is True and started["running"] is True
    try:
        assert api.wait_for(lambda: any(r["name"] == LIN for r in _results(api)), 60), api.log()[-3000:]
        result = next(r for r in _results(api) if r["name"] == LIN)
        assert {"timestamp", "name", "confidence", "distance", "box"} <= set(result)
        assert result["confidence"] == round(1 - result["distance"], 2) and result["distance"] <= 0.6
        box = result["box"]
        assert 0 <= box["left"] < box["right"] <= 640 and 0 <= box["top"] < box["bottom"] <= 360
        assert time.time() - _epoch(result["timestamp"]) < 120

        mine = api.get("/api/results/" + LIN).json()
        assert mine["results"] and all(r["name"] == LIN for r in mine["results"])
        assert len(api.get("/api/results?limit=1").json()["results"]) == 1
        newest_before = _results(api, "/api/results?limit=1")[0]
        latest = api.get("/api/latest").json()
        newest_after = _results(api, "/api/results?limit=1")[0]
        assert set(latest) == set(newest_after)  # the newest result, as /api/results lists it
        assert _epoch(newest_before["timestamp"]) <= _epoch(latest["timestamp"]) <= _epoch(newest_after["timestamp"])
        stats = api.get("/api/stats").json()
        assert stats["recognized"][LIN] >= 1 and stats["total_detections"] >= stats["recognized"][LIN]
        assert {"delivered", "pending", "retrying", "failed"} <= set(stats["webhooks"])
        assert stats["pipeline"]["stages"]["detect"]["frames_out"] > 0

        lin_id = next(p["id"] for p in _people(api) if p["name"] == LIN)
        with_lin = api.gallery_in_use()
        assert api.delete(f"/api/persons/{lin_id}").status_code == 200
        applied_at = api.gallery_newer_than(with_lin)
        after = api.wait_for(
            lambda: (
                (found := [r for r in _results(api) if _epoch(r["timestamp"]) > applied_at])
                and len(found) >= 3
                and found
            ),
            120,
        )
        assert after, "no results after the deletion reached match"
        assert all(r["name"] != LIN for r in after), after  # nobody named Lin once match has the new gallery

        registered = api.post("/api/register", json={"name": LIN, "encoding": lin_encoding}).json()
        back_at = time.time()
        assert api.wait_for(
            lambda: any(r["name"] == LIN and _epoch(r["timestamp"]) > back_at for r in _results(api)), 30
        ), "registered again, not named again"
        assert registered["success"] is True
    finally:
        stopped = api.post("/api/stop").json()
        assert stopped["active"] is False
        api.put("/api/config", json={"event_cooldown_s": 10})


def _epoch(timestamp: str) -> float:
    from datetime import datetime, timezone

    text = timestamp.rstrip("Z")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # noqa: UP017 (read as UTC on purpose)
    return parsed.timestamp()


# --- webhooks dead letters over the API ---------------------------------------------------------------------
def test_failed_webhooks_are_listed_and_retried(api: ServiceProcess) -> None:
    from facegate.store import Store, new_event_id

    store = Store(api.data_dir)
    event_id = new_event_id()
    result = {
        "timestamp": "2026-11-25T10:00:00Z",
        "name": "Dead Letter",
        "confidence": 0.5,
        "distance": 0.5,
        "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
    }
    store.results.add(event_id, result, "cam0", "x", json.dumps({"result": result}))
    store.outbox.mark_failed(event_id, 20, "HTTP 500")
    failed = api.get("/api/webhooks/failed").json()
    # webhooks are off in this module: the planted row is the only dead letter
    assert failed["total"] == 1 and [f["event_id"] for f in failed["failed"]] == [event_id]
    row = failed["failed"][0]
    assert row["attempts"] == 20 and row["last_error"] == "HTTP 500" and row["body"]["result"]["name"] == "Dead Letter"
    assert api.get("/api/stats").json()["webhooks"]["failed"] == 1
    retried = api.post("/api/webhooks/retry").json()
    assert retried["success"] is True and retried["queued"] == 1
    assert api.get("/api/webhooks/failed").json() == {"failed": [], "total": 0}
    assert api.get("/api/stats").json()["webhooks"]["failed"] == 0


# --- the OpenAPI document -------------------------------------------------------------------------------------
def test_openapi_document_matches_the_served_routes(api: ServiceProcess) -> None:
    from control.app import make_app
    from control.openapi import served_operations

    document = api.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    app = make_app(_Offline(api.data_dir), token="", cors_origins="")
    assert documented == served_operations(app)
    for path, ops in document["paths"].items():
        for method, operation in ops.items():
            placeholders = {p.split("}")[0] for p in path.split("{")[1:]}
            assert {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"} == placeholders
            assert operation["responses"], (method, path)
            for response in operation["responses"].values():
                for media in response.get("content", {}).values():
                    _resolve(document, media["schema"])


def test_responses_follow_the_documented_schemas(api: ServiceProcess) -> None:
    document = api.get("/api/openapi.json").json()
    checked = set()
    for path, ops in document["paths"].items():
        get = ops.get("get")
        if get is None or "{" in path or not path.startswith("/api/"):
            continue
        answer = api.get(path)
        assert str(answer.status_code) in get["responses"], path
        schema = get["responses"][str(answer.status_code)]["content"]["application/json"]["schema"]
        _conforms(document, schema, answer.json(), path)
        checked.add(path)
    assert checked == {
        "/api/attendance",
        "/api/audit",
        "/api/cameras",
        "/api/config",
        "/api/health",
        "/api/latest",
        "/api/nodes",
        "/api/openapi.json",
        "/api/persons",
        "/api/presence",
        "/api/results",
        "/api/signed-url",
        "/api/stats",
        "/api/status",
        "/api/unknown",
        "/api/visitors",
        "/api/visits",
        "/api/webhooks/endpoints",
        "/api/webhooks/failed",
    }


def _resolve(document: dict, schema: dict) -> dict:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return document["components"]["schemas"][name]
    return schema


def _conforms(document: dict, schema: dict, value: object, where: str) -> None:
    """The parts of JSON Schema the document uses: type, nullable, required, properties, items."""
    nullable = schema.get("nullable", False)
    schema = _resolve(document, schema)
    if value is None:
        assert nullable or schema.get("nullable", False), f"{where}: null"
        return
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if kind:
        assert isinstance(value, types[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)), (
            f"{where}: {value!r} is not {kind}"
        )
    if isinstance(value, float):
        assert math.isfinite(value)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: {key} missing"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _conforms(document, sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value[:20]):
            _conforms(document, schema["items"], item, f"{where}[{n}]")


class _Offline:
    """Just enough of a service to build the app and list its routes."""

    version = "test"
    started_at = 0.0
    running = False

    def __init__(self, data_dir: Path) -> None:
        from facegate.store import Store

        self.store = Store(data_dir)


def test_nan_never_leaves_the_server(api: ServiceProcess) -> None:
    for path in ("/api/status", "/api/stats", "/api/results", "/api/latest"):
        text = api.get(path).text
        assert "NaN" not in text and "Infinity" not in text, path
    assert np.isfinite(api.get("/api/status").json()["uptime_s"])
