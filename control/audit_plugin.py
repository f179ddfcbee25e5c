"""The audit trail's plugin: every successful change made through the API leaves one row.

Each route that may change something declares its action (`action="person.delete"`), and the few
POSTs that change nothing say `action=None` (control/declaration.py); building the app fails on a
changing route that says neither, so a new one cannot slip past the trail (`GET /api/audit`, in
control/admin/audit_api.py, lists the rows). What is recorded: the URL's ids, the request's fields
(encodings and photos summarised, passwords masked) and the answer's ids and message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import bottle

from control.auth import SCOPE_ENVIRON_KEY
from control.declaration import action_of
from control.validation import is_multipart
from facegate.audit import AuditEntry, AuditTrail

ANSWER_FIELDS = ("person_id", "total_users", "queued", "message")
BULKY_FIELDS = ("encoding", "encodings", "image_base64", "images_base64", "image1_base64", "image2_base64")


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
        action = action_of(route)
        if action is None:
            return callback

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
