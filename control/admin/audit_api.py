"""`GET /api/audit`: the audit trail of changes made through the API, newest first (recorded by
control/audit_plugin.py)."""

from __future__ import annotations

from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import INTEGER, LIMIT, STRING, error_answers, json_answer, obj, ref
from control.validation import check_limit
from facegate.audit import AuditTrail


def install(app: bottle.Bottle, trail: AuditTrail) -> None:
    """Add the audit listing to the API app (admin only: the trail names who changed what)."""

    @app.get(
        "/api/audit",
        scope=Scope.ADMIN,
        doc=Doc(
            "listAudit",
            "The audit trail of changes, newest first",
            {
                "200": json_answer(
                    obj({"audit": {"type": "array", "items": ref("AuditEntry")}, "total": INTEGER}, ["audit", "total"])
                ),
                **error_answers(400),
            },
            parameters=(LIMIT, {"name": "action", "in": "query", "schema": STRING, "example": "person.delete"}),
        ),
    )
    def audit() -> dict[str, Any]:
        action = bottle.request.query.getunicode("action") or None
        rows = trail.list(check_limit(bottle.request.query.get("limit")), action=action)
        return {"audit": rows, "total": trail.count()}
