"""The audit trail over HTTP: every successful change is recorded by a plugin; `GET /api/audit` lists them.

Each route that changes something names its action in `ACTIONS`, and the few POSTs that change
nothing are in `NOT_CHANGES`; building the app fails on a changing route that is in neither, so a
new one cannot slip past the trail. What is recorded: the URL's ids, the request's fields
(encodings and photos summarised, passwords masked) and the answer's ids and message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import bottle

from control.auth import SCOPE_ENVIRON_KEY
from control.validation import check_limit, is_multipart
from facegate.audit import AuditEntry, AuditTrail

ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/api/start"): "recognition.start",
    ("POST", "/api/stop"): "recognition.stop",
    ("PUT", "/api/config"): "config.update",
    ("POST", "/api/register"): "person.register",
    ("POST", "/api/persons/<person_id>/faces"): "person.add_face",
    ("DELETE", "/api/persons/<person_id>"): "person.delete",
    ("POST", "/api/webhooks/retry"): "webhooks.retry",
    ("POST", "/api/cameras"): "camera.add",
    ("PUT", "/api/cameras/<camera_id>"): "camera.update",
    ("DELETE", "/api/cameras/<camera_id>"): "camera.delete",
    ("POST", "/api/unknown/<unknown_id>/register"): "unknown.register",
    ("DELETE", "/api/unknown/<unknown_id>"): "unknown.delete",
    ("PUT", "/api/persons/<person_id>"): "person.rename",
    ("DELETE", "/api/persons/<person_id>/encodings/<encoding_id>"): "person.delete_encoding",
    ("POST", "/api/visitors/<visitor_id>/register"): "visitor.register",
    ("POST", "/api/visitors/merge"): "visitor.merge",
    ("DELETE", "/api/visitors/<visitor_id>"): "visitor.delete",
    ("POST", "/api/results/<event_id>/reject"): "result.reject",
}
NOT_CHANGES = frozenset({("POST", "/api/recognize"), ("POST", "/api/verify"), ("POST", "/api/search")})
ANSWER_FIELDS = ("person_id", "total_users", "queued", "message")
BULKY_FIELDS = ("encoding", "encodings", "image_base64", "images_base64", "image1_base64", "image2_base64")


class UnauditedRoute(RuntimeError):
    """A route that may change something is neither in ACTIONS nor in NOT_CHANGES."""


def _request_fields() -> dict[str, Any]:
    """What the client sent, without the bulk: an encoding or a photo becomes a short note."""
    request = bottle.request
    if is_multipart():
        fields: dict[str, Any] = {key: request.forms.getunicode(key) for key in request.forms}
        for key, upload in request.files.items():
            upload.file.seek(0, 2)
            fields[key] = f"<file of {upload.file.tell()} bytes>"
    else:
        try:
            fields = json.loads(request.body.read() or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(fields, dict):
            return {}
    for key in BULKY_FIELDS:
        if fields.get(key) is not None:
            fields[key] = f"<{key} given>"
    return fields


class AuditPlugin:
    """A Bottle plugin: a changing route that answered without error leaves one audit row."""

    name = "facegate-audit"
    api = 2

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        key = (route.method, route.rule)
        if route.method == "GET" or key in NOT_CHANGES:
            return callback
        if key not in ACTIONS:
            raise UnauditedRoute(f"{route.method} {route.rule}: add it to control.audit_api.ACTIONS or NOT_CHANGES")
        action = ACTIONS[key]

        def audited(*args: Any, **kwargs: Any) -> Any:
            answer = callback(*args, **kwargs)
            sent = _request_fields()
            details = {"request": sent}
            if isinstance(answer, dict):
                details["answer"] = {k: answer[k] for k in ANSWER_FIELDS if k in answer}
            request = bottle.request
            # what was changed: the id in the URL, else the new thing's id or name
            target = next(iter(kwargs.values()), None) or sent.get("id") or sent.get("name")
            self.trail.record(AuditEntry(scope=request.environ.get(SCOPE_ENVIRON_KEY, "open"),
                                         client=request.environ.get("REMOTE_ADDR"), action=action,
                                         target=None if target is None else str(target), details=details))
            return answer

        return audited


def install(app: bottle.Bottle, trail: AuditTrail) -> None:
    """Record every change made through `app` and serve `GET /api/audit` (admin)."""
    app.install(AuditPlugin(trail))

    @app.get("/api/audit")
    def audit() -> dict[str, Any]:
        action = bottle.request.query.getunicode("action") or None
        rows = trail.list(check_limit(bottle.request.query.get("limit")), action=action)
        return {"audit": rows, "total": trail.count()}
