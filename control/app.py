"""The Bottle app: the old Flask script's endpoints with the same JSON, plus people, recognize, webhooks.

Every error is JSON (`{"error": ...}`) with a 4xx status that says what was wrong; an unexpected
exception is logged with its traceback and answered with a plain 500, never the traceback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import bottle
import numpy as np

from control import (
    audit_api,
    auth,
    cluster,
    enroll_api,
    facework,
    gallery_api,
    health_api,
    live,
    openapi,
    operator_page,
    security,
    sightings_api,
    visitors_api,
)
from control.facework import FaceWorkConfig
from control.gallery_api import candidate, check_top
from control.masking import RedactPlugin, keep_config_passwords
from control.request_schema import CONFIG_ALIASES, RequestSchemaPlugin
from control.service import ServiceApi, ServiceError
from control.validation import (
    MAX_BODY_BYTES,
    check_encoding,
    check_id,
    check_limit,
    check_name,
    decode_base64_image,
    fail,
    form_fields,
    is_multipart,
    json_body,
    optional_text,
    sent_image,
    uploaded_image,
)
from facegate.audit import AuditTrail
from facegate.records import ENCODING_SIZE, result_dict
from facegate.settings import SettingError, Settings, from_environment
from facegate.store import iso_now
from pipeline.recognition.known_faces import Gallery

log = logging.getLogger(__name__)
URL_SIGNING_KEY = "url_signing_key"  # meta row: the cluster's key for signed picture URLs


def _json_errors(app: bottle.Bottle) -> None:
    def handler(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        message = error.body if isinstance(error.body, str) and error.body else error.status_line
        if error.status_code == 404 and message.startswith("Not found: "):
            message = f"no route {bottle.request.path}"
        if error.status_code >= 500:
            message = "internal error; the server log has the details"
        return json.dumps({"error": message})

    app.default_error_handler = handler  # type: ignore[method-assign]


def _log_crashes(callback: Callable[..., Any]) -> Callable[..., Any]:
    """A Bottle plugin: unexpected exceptions go to the log, the client gets a JSON 500."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except bottle.HTTPResponse:
            raise
        except Exception:
            log.exception("%s %s failed", bottle.request.method, bottle.request.path)
            raise fail(500, "internal error") from None

    return wrapper


def _form_or_json() -> dict[str, Any]:
    return form_fields() if is_multipart() else json_body()


def make_app(service: ServiceApi, *, token: str | None = None, read_token: str | None = None,
             cors_origins: str | None = None, host: str | None = None,
             settings: Settings | None = None) -> bottle.Bottle:
    """The whole API over one running service; tokens default to FACEGATE_API_TOKEN / FACEGATE_READ_TOKEN,
    the start-time settings (the face pool's) to the defaults and FACEGATE_* variables."""
    app = bottle.Bottle(catchall=True)
    bottle.BaseRequest.MEMFILE_MAX = MAX_BODY_BYTES
    app.install(_log_crashes)
    _json_errors(app)
    security.install(app, cors_origins=cors_origins)
    shared = service.store.backend == "postgresql"
    shared_key = bytes.fromhex(service.store.core.shared_secret(URL_SIGNING_KEY)) if shared else None
    auth.install(app, auth.AuthConfig.from_env().with_tokens(token, read_token), host, shared_key)
    schema = RequestSchemaPlugin()
    app.install(schema)  # after auth: a caller without a token hears 401, not a schema's 400
    store = service.store
    audit_api.install(app, AuditTrail(store.engine, lambda: service.config().audit_retention_days))
    app.install(RedactPlugin())
    pool = facework.install(app, FaceWorkConfig.of(settings or Settings.of(from_environment())))

    def status() -> dict[str, Any]:
        current = service.status()
        return {
            "active": service.running,
            "encodings_loaded": store.gallery.count_encodings(),
            "stream_url": current.get("stream_url"),
            "total_results": store.results.count(),
            "running": service.running,
            "registered_people": store.gallery.count_people(),
            "cameras": current.get("cameras", []),
            "workers": current.get("workers"),
            "uptime_s": round(time.time() - service.started_at, 1),
            "version": service.version,
            "node": service.node_id,
        }

    # --- the old script's endpoints ---------------------------------------------------------------
    @app.get("/api/status")
    def get_status() -> dict[str, Any]:
        return status()

    @app.post("/api/start")
    def start() -> dict[str, Any]:
        try:
            service.start()
        except ServiceError as exc:
            raise fail(400, str(exc)) from None
        return {"success": True, "message": "recognition started", **status()}

    @app.post("/api/stop")
    def stop() -> dict[str, Any]:
        service.stop()
        return {"success": True, "message": "recognition stopped", **status()}

    @app.get("/api/results")
    def results() -> dict[str, Any]:
        found = store.results.recent(check_limit(bottle.request.query.get("limit")))
        return {"results": found, "total": store.results.count()}

    @app.get("/api/results/<name>")
    def results_for(name: str) -> dict[str, Any]:
        found = store.results.recent(check_limit(bottle.request.query.get("limit")), name=name)
        return {"results": found, "total": len(found), "name": name}

    @app.get("/api/latest")
    def latest() -> str:
        bottle.response.content_type = "application/json"
        return json.dumps(store.results.latest())

    @app.get("/api/stats")
    def stats() -> dict[str, Any]:
        counts = store.results.counts_by_name()
        unknown = counts.pop("Unknown", 0)
        outbox = store.outbox.counts()
        latencies = sorted(store.outbox.latencies())
        return {
            "total_detections": sum(counts.values()) + unknown,
            "recognized": counts,
            "unknown_count": unknown,
            "last_detection": store.results.latest(),
            "webhooks": {**outbox, "latency_ms": _percentiles(latencies)},
            "pipeline": service.stats(),
            "nodes": {node["id"]: node["stages"] for node in service.nodes() if node["alive"]},
        }

    @app.get("/api/config")
    def get_config() -> dict[str, Any]:
        return {"config": service.config().as_dict()}

    @app.put("/api/config")
    def put_config() -> dict[str, Any]:
        body = keep_config_passwords(service, {CONFIG_ALIASES.get(k, k): v for k, v in json_body().items()})
        if not body:
            raise fail(400, "send at least one setting, e.g. {\"threshold\": 0.5}")
        camera_ids = [c.get("id") for c in body.get("cameras") or [] if isinstance(c, dict)]
        if len(set(camera_ids)) != len(camera_ids):
            raise fail(409, "two cameras have the same id")
        try:
            config = service.update_config(body)
        except SettingError as exc:
            raise fail(400, str(exc)) from None
        return {"success": True, "message": f"updated {', '.join(sorted(body))}", "config": config.as_dict()}

    @app.post("/api/register", skip=[RequestSchemaPlugin.name])  # its own checks keep the old API's messages
    def register() -> dict[str, Any]:
        body = _form_or_json()
        image = uploaded_image()  # read once: the multipart file is a stream
        if body.get("name") in (None, "") or (body.get("encoding") in (None, []) and body.get("image_base64") is None
                                               and image is None):
            raise fail(400, "name and encoding are required")  # the old API's words
        if image is None and body.get("image_base64") is not None:
            image = decode_base64_image(body["image_base64"])
        name = check_name(body["name"])
        client_id = optional_text(body, "client_id", "clientId")
        image_url = optional_text(body, "image_url", "imageUrl")
        crops = None
        if body.get("encoding") is not None:
            raw = body["encoding"]
            if isinstance(raw, str):  # a multipart form carries the list as JSON text
                try:
                    raw = json.loads(raw)
                except ValueError:
                    raise fail(400, f"encoding must be a list of {ENCODING_SIZE} numbers") from None
            encoding = np.asarray(check_encoding(raw))
        else:
            enrolled = enroll_api.enroll_one(service, pool, name, image or b"")
            encoding, crops = enrolled.encoding, [enrolled.crop]
        person_id = store.gallery.register(name, [encoding], client_id=client_id, image_url=image_url, crops=crops)
        service.gallery_changed()
        log.info("registered %s (person %d)", name, person_id)
        return {"success": True, "message": f"{name} registered", "total_users": store.gallery.count_people(),
                "person_id": person_id}

    # --- people ------------------------------------------------------------------------------------
    @app.get("/api/persons")
    def persons() -> dict[str, Any]:
        people = store.gallery.people()
        return {"persons": people, "total": len(people)}

    @app.get("/api/persons/<person_id>")
    def person(person_id: str) -> dict[str, Any]:
        found = store.gallery.person(check_id(person_id))
        if found is None:
            raise fail(404, f"no person {person_id}")
        return found

    @app.delete("/api/persons/<person_id>")
    def delete_person(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        found = store.gallery.person(pid)
        if found is None or not store.gallery.delete_person(pid):
            raise fail(404, f"no person {person_id}")
        service.gallery_changed()
        log.info("deleted %s (person %d) and %d encodings", found["name"], pid, found["encodings"])
        return {"success": True, "message": f"{found['name']} and {found['encodings']} encodings deleted",
                "total_users": store.gallery.count_people()}

    @app.post("/api/recognize", skip=[RequestSchemaPlugin.name])  # checked inside its turn, below
    def recognize() -> dict[str, Any]:
        with facework.http_errors(pool):  # a turn before the upload is parsed: a flood is turned away cheaply
            schema.check("POST", "/api/recognize")
            body = {} if is_multipart() else json_body()
            image = sent_image(body)
            if image is None:
                raise fail(400, "send a multipart image or an image_base64")
            config = service.config()
            found = pool.find_faces(image, model=config.model)
        top = check_top(bottle.request.query.get("top"))
        gallery = Gallery(*store.gallery.all_vectors(), store.gallery.negatives_by_name())
        threshold = config.threshold
        faces = []
        for box, encoding in found.faces:
            name, distance = gallery.identify(encoding, threshold)
            faces.append(result_dict(iso_now(), name, distance, box))
            if top:
                faces[-1]["candidates"] = [candidate(n, d, threshold) for n, d in gallery.nearest_people(encoding, top)]
        return {"faces": faces, "count": len(faces), "width": found.width, "height": found.height}

    # --- webhooks -----------------------------------------------------------------------------------
    @app.get("/api/webhooks/failed")
    def failed_webhooks() -> dict[str, Any]:
        rows = store.outbox.failed(check_limit(bottle.request.query.get("limit")))
        for row in rows:
            row["body"] = json.loads(row["body"])
        return {"failed": rows, "total": store.outbox.counts()["failed"]}

    @app.post("/api/webhooks/retry")
    def retry_webhooks() -> dict[str, Any]:
        count = store.outbox.retry_failed()
        return {"success": True, "message": f"{count} failed deliveries queued again", "queued": count}

    live.install(app, service)
    operator_page.install(app)
    cluster.install(app, service)
    health_api.install(app, service)
    enroll_api.install(app, service, pool)
    gallery_api.install(app, service, pool)
    visitors_api.install(app, service)
    sightings_api.install(app, service, pool)

    @app.get("/api/openapi.json")
    def openapi_document() -> dict[str, Any]:
        return openapi.document(service.version)

    for route in app.routes:
        route.prepare()  # applies the plugins now: a route missing from auth's or audit's tables fails here
    return app


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0}
    return {"p50": round(values[len(values) // 2] * 1000.0, 1),
            "p95": round(values[min(len(values) - 1, int(len(values) * 0.95))] * 1000.0, 1)}
