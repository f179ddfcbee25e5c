"""The audit trail's plugin: every successful change made through the API leaves one row, in the change's transaction.

Each route that may change something declares its action (`action="person.delete"`), and the few
POSTs that change nothing say `action=None` (control/declaration.py); building the app fails on a
changing route that says neither, so a new one cannot slip past the trail (`GET /api/audit`, in
control/admin/audit_api.py, lists the rows). Searches by photo, verify and recognize declare an
action too: who looked for a face is the most sensitive read.

The route runs inside a unit of work of the store (facegate/store/unit_of_work.py): its writes and
the audit row commit together, or, when the row cannot be written, nothing is changed and the
client hears 503. The body is parsed before the route runs: one that cannot be parsed is a 400
that changed nothing, and its row says the attempt was refused. What is recorded: the URL's ids,
the request's fields (encodings and photos summarised, passwords masked) and the answer's ids and
message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import bottle
import sqlalchemy as sa

from control.auth import SCOPE_ENVIRON_KEY
from control.declaration import action_of
from control.validation import fail, form_fields, is_multipart, json_body
from facegate.audit import AuditEntry, AuditTrail
from facegate.redact import MASK
from facegate.store.core import StoreCore

log = logging.getLogger(__name__)

ANSWER_FIELDS = ("person_id", "total_users", "queued", "message")
BULKY_FIELDS = ("encoding", "encodings", "image_base64", "images_base64", "image1_base64", "image2_base64")
SECRET_FIELDS = ("secret",)  # a webhook endpoint's signing secret


def _request_fields() -> dict[str, Any]:
    """What the client sent, without the bulk: an encoding or a photo becomes a short note. A body that
    cannot be parsed is a 400 here, before the route changes anything."""
    request = bottle.request
    if is_multipart():
        fields: dict[str, Any] = dict(form_fields())
        for key, upload in request.files.items():
            upload.file.seek(0, 2)
            fields[key] = f"<file of {upload.file.tell()} bytes>"
            upload.file.seek(0)
    else:
        fields = json_body()
    for key in BULKY_FIELDS:
        if fields.get(key) is not None:
            fields[key] = f"<{key} given>"
    for key in SECRET_FIELDS:
        if fields.get(key) is not None:
            fields[key] = MASK
    return fields


class AuditPlugin:
    """A Bottle plugin: a changing route that answered without error leaves one audit row, committed with its
    change in one transaction of `core`'s database."""

    name = "facegate-audit"
    api = 2

    def __init__(self, trail: AuditTrail, core: StoreCore) -> None:
        self.trail = trail
        self.core = core

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        action = action_of(route)
        if action is None:
            return callback

        def entry(target: Any, details: dict[str, Any]) -> AuditEntry:
            environ = bottle.request.environ
            return AuditEntry(
                scope=environ.get(SCOPE_ENVIRON_KEY, "open"),
                client=environ.get("REMOTE_ADDR"),
                action=action,
                target=None if target is None else str(target),
                details=details,
            )

        def audited(*args: Any, **kwargs: Any) -> Any:
            try:
                sent = _request_fields()
            except bottle.HTTPError as refused:  # nothing runs; the attempt is on the trail
                self._write(
                    entry(
                        next(iter(kwargs.values()), None),
                        {"refused": {"status": refused.status_code, "error": refused.body}},
                    )
                )
                raise
            with self.core.unit_of_work() as unit:
                answer = callback(*args, **kwargs)
                details = {"request": sent}
                if isinstance(answer, dict):
                    details["answer"] = {k: answer[k] for k in ANSWER_FIELDS if k in answer}
                # what was changed: the id in the URL, else the new thing's id or name
                target = next(iter(kwargs.values()), None) or sent.get("id") or sent.get("name")
                self._write(entry(target, details), unit.connection())
            return answer

        return audited

    def _write(self, entry: AuditEntry, connection: sa.Connection | None = None) -> None:
        """Append the row (in the change's transaction, when given); a 503 when it cannot be written."""
        try:
            self.trail.record(entry, connection)
        except sa.exc.SQLAlchemyError:
            log.exception("the audit row of %s cannot be written; nothing is changed", entry.action)
            raise fail(503, "the audit trail cannot be written, so nothing was changed") from None
