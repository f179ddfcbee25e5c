"""Webhook dead letters over HTTP: the deliveries that gave up, and sending them again."""

from __future__ import annotations

import json
from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import BOOLEAN, INTEGER, LIMIT, STRING, error_answers, json_answer, obj
from control.service_api import ServiceApi
from control.validation import check_limit


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the dead-letter routes to the API app."""
    store = service.store

    @app.get(
        "/api/webhooks/failed",
        scope=Scope.ADMIN,
        doc=Doc(
            "listFailedWebhooks",
            "Webhook deliveries that gave up (dead letters)",
            {
                "200": json_answer(
                    obj(
                        {"failed": {"type": "array", "items": {"type": "object"}}, "total": INTEGER},
                        ["failed", "total"],
                    )
                ),
                **error_answers(400),
            },
            parameters=(LIMIT,),
        ),
    )
    def failed_webhooks() -> dict[str, Any]:
        rows = store.outbox.failed(check_limit(bottle.request.query.get("limit")))
        for row in rows:
            row["body"] = json.loads(row["body"])
        return {"failed": rows, "total": store.outbox.counts()["failed"]}

    @app.post(
        "/api/webhooks/retry",
        scope=Scope.ADMIN,
        action="webhooks.retry",
        doc=Doc(
            "retryWebhooks",
            "Send the dead letters again",
            {
                "200": json_answer(
                    obj({"success": BOOLEAN, "message": STRING, "queued": INTEGER}, ["success", "queued"])
                ),
                **error_answers(401),
            },
        ),
    )
    def retry_webhooks() -> dict[str, Any]:
        count = store.outbox.retry_failed()
        return {"success": True, "message": f"{count} failed deliveries queued again", "queued": count}
