"""Webhook endpoints over HTTP: list them with their delivery counts, add, change, remove, and send a test.

An endpoint's fields are checked by facegate/endpoint_rules.py (its URL by facegate/webhook_urls.py);
a body the OpenAPI schema refuses is explained in those checks' words, naming the field. The secret
is handed out once, in the answer that creates the endpoint; the audit trail masks it
(control/audit_plugin.py). The v1 webhook (`NEXTJS_WEBHOOK_URL`) is listed as the endpoint
`default`: it is set by the environment, so it can be tested but not changed or removed here.
"""

from __future__ import annotations

import time
from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    error_answers,
    json_answer,
    json_request,
    links_to,
    obj,
)
from control.service_api import Conflict, ServiceApi
from control.validation import fail, json_body
from facegate.endpoint_rules import (
    FIELDS,
    FILTER_FIELDS,
    HOUR,
    MAX_DESCRIPTION,
    MAX_LISTED,
    SECRET_TEXT,
    clean_endpoint,
)
from facegate.events import APPEARED, DEFAULT_ENDPOINT, EVENT_TYPES, TEST, default_endpoint_url
from facegate.store import OutboxStatus, Store
from facegate.webhook_urls import MAX_URL

ENDPOINT_OPS = ("getWebhookEndpoint", "updateWebhookEndpoint", "deleteWebhookEndpoint", "testWebhookEndpoint")
OPEN = (OutboxStatus.PENDING, OutboxStatus.RETRYING)

HHMM = {"type": "string", "pattern": f"^{HOUR.pattern}$"}
FILTER = {
    "type": "object",
    "properties": {
        "persons": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": MAX_LISTED},
        "known": BOOLEAN,
        "unknown": BOOLEAN,
        "cameras": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 128},
            "maxItems": MAX_LISTED,
        },
        "hours": {**obj({"from": HHMM, "to": HHMM}, ["from", "to"]), "additionalProperties": False},
        "min_confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "additionalProperties": False,
    "not": {  # both kinds left out would send nothing
        "properties": {"known": {"enum": [False]}, "unknown": {"enum": [False]}},
        "required": ["known", "unknown"],
    },
    "description": f"every part given must hold for an event to be sent: {', '.join(FILTER_FIELDS)}",
}
FIELD_SCHEMAS: dict[str, Any] = {
    "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"},
    "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
    "enabled": BOOLEAN,
    "secret": {"type": "string", "pattern": f"^{SECRET_TEXT.pattern}$"},
    "events": {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}, "minItems": 1},
    "filter": FILTER,
}
NEW_ENDPOINT = {**obj(FIELD_SCHEMAS, ["url"]), "additionalProperties": False}
ENDPOINT_CHANGE = {**obj(FIELD_SCHEMAS), "additionalProperties": False, "minProperties": 1}
COUNTS = obj({"delivered": INTEGER, "pending": INTEGER, "failed": INTEGER}, ["delivered", "pending", "failed"])
ENDPOINT = obj(
    {
        "id": STRING,
        "url": STRING,
        "description": STRING,
        "enabled": BOOLEAN,
        "events": {"type": "array", "items": STRING},
        "filter": {"type": "object"},
        "builtin": BOOLEAN,
        "created_at": {**NUMBER, "nullable": True},
        "updated_at": {**NUMBER, "nullable": True},
        "deliveries": COUNTS,
    },
    ["id", "url", "enabled", "events", "filter", "builtin", "deliveries"],
)
CREATED = obj({**ENDPOINT["properties"], "secret": STRING}, [*ENDPOINT["required"], "secret"])
assert set(FIELD_SCHEMAS) == set(FIELDS), "every field of an endpoint has its schema"


def _counts(found: dict[str, int] | None) -> dict[str, int]:
    found = found or {}
    return {
        "delivered": found.get(OutboxStatus.DELIVERED, 0),
        "pending": sum(found.get(status, 0) for status in OPEN),
        "failed": found.get(OutboxStatus.FAILED, 0),
    }


def listed_endpoints(store: Store) -> list[dict[str, Any]]:
    """Every endpoint with its delivery counts: the v1 webhook first (when it is on here), then the stored ones."""
    counts = store.outbox.counts_by_endpoint()
    found = [{**e, "builtin": False} for e in store.endpoints.all()]
    url = default_endpoint_url()
    if url is not None:
        v1 = {
            "id": DEFAULT_ENDPOINT,
            "url": url,
            "description": "the v1 webhook (NEXTJS_WEBHOOK_URL)",
            "enabled": True,
            "events": [APPEARED],
            "filter": {},
            "builtin": True,
            "created_at": None,
            "updated_at": None,
        }
        found.insert(0, v1)
    return [{**e, "deliveries": _counts(counts.get(e["id"]))} for e in found]


def _one(store: Store, endpoint_id: str) -> dict[str, Any]:
    found = next((e for e in listed_endpoints(store) if e["id"] == endpoint_id), None)
    if found is None:
        raise fail(404, f"no webhook endpoint {endpoint_id!r}")
    return found


def _stored_only(endpoint_id: str) -> None:
    if endpoint_id == DEFAULT_ENDPOINT:
        raise Conflict("the endpoint default is the v1 webhook, set by NEXTJS_WEBHOOK_URL; it cannot be changed here")


def install(app: bottle.Bottle, service: ServiceApi, private_ok: bool) -> None:
    """Add the webhook endpoint routes; `private_ok`: endpoints may be on private or loopback addresses."""
    store = service.store

    def check_new(body: dict[str, Any]) -> dict[str, Any]:
        return clean_endpoint(body, private_ok=private_ok)

    def check_change(body: dict[str, Any]) -> dict[str, Any]:
        return clean_endpoint(body, private_ok=private_ok, partial=True)

    @app.get(
        "/api/webhooks/endpoints",
        scope=Scope.READ,
        doc=Doc(
            "listWebhookEndpoints",
            "Webhook endpoints with their rules and delivery counts (the v1 webhook is `default`)",
            {
                "200": json_answer(
                    obj({"endpoints": {"type": "array", "items": ENDPOINT}, "total": INTEGER}, ["endpoints", "total"])
                )
            },
        ),
    )
    def list_endpoints() -> dict[str, Any]:
        found = listed_endpoints(store)
        return {"endpoints": found, "total": len(found)}

    @app.post(
        "/api/webhooks/endpoints",
        scope=Scope.ADMIN,
        action="webhook_endpoint.add",
        explain=check_new,
        doc=Doc(
            "addWebhookEndpoint",
            "Add a webhook endpoint; its secret (made when not given) is in this answer and never again",
            {
                "201": json_answer(
                    obj({"success": BOOLEAN, "endpoint": CREATED}, ["success", "endpoint"]),
                    "Created",
                    links=links_to("endpoint_id", "$response.body#/endpoint/id", *ENDPOINT_OPS),
                ),
                **error_answers(400, 401, 413),
            },
            body=json_request(NEW_ENDPOINT),
        ),
    )
    def add_endpoint() -> dict[str, Any]:
        added = store.endpoints.add(check_new(json_body()))
        bottle.response.status = 201
        return {"success": True, "endpoint": {**_one(store, added["id"]), "secret": added["secret"]}}

    @app.get(
        "/api/webhooks/endpoints/<endpoint_id>",
        scope=Scope.READ,
        doc=Doc(
            "getWebhookEndpoint",
            "One webhook endpoint with its delivery counts",
            {"200": json_answer(obj({"endpoint": ENDPOINT}, ["endpoint"])), **error_answers(401, 404)},
        ),
    )
    def get_endpoint(endpoint_id: str) -> dict[str, Any]:
        return {"endpoint": _one(store, endpoint_id)}

    @app.put(
        "/api/webhooks/endpoints/<endpoint_id>",
        scope=Scope.ADMIN,
        action="webhook_endpoint.update",
        explain=check_change,
        doc=Doc(
            "updateWebhookEndpoint",
            "Change a webhook endpoint (the fields given; a new secret replaces the old one)",
            {
                "200": json_answer(obj({"success": BOOLEAN, "endpoint": ENDPOINT}, ["success", "endpoint"])),
                **error_answers(400, 401, 404, 409, 413),
            },
            body=json_request(ENDPOINT_CHANGE),
        ),
    )
    def update_endpoint(endpoint_id: str) -> dict[str, Any]:
        _stored_only(endpoint_id)
        if store.endpoints.update(endpoint_id, check_change(json_body())) is None:
            raise fail(404, f"no webhook endpoint {endpoint_id!r}")
        return {"success": True, "endpoint": _one(store, endpoint_id)}

    @app.delete(
        "/api/webhooks/endpoints/<endpoint_id>",
        scope=Scope.ADMIN,
        action="webhook_endpoint.delete",
        doc=Doc(
            "deleteWebhookEndpoint",
            "Remove a webhook endpoint and the deliveries still queued for it",
            {
                "200": json_answer(obj({"success": BOOLEAN, "message": STRING}, ["success"])),
                **error_answers(401, 404, 409),
            },
        ),
    )
    def delete_endpoint(endpoint_id: str) -> dict[str, Any]:
        _stored_only(endpoint_id)
        if not store.endpoints.delete(endpoint_id):
            raise fail(404, f"no webhook endpoint {endpoint_id!r}")
        return {"success": True, "message": f"webhook endpoint {endpoint_id} removed"}

    @app.post(
        "/api/webhooks/endpoints/<endpoint_id>/test",
        scope=Scope.ADMIN,
        action="webhook_endpoint.test",
        doc=Doc(
            "testWebhookEndpoint",
            f'Send the endpoint a signed test event (`"type": "{TEST}"`), delivered and retried like any other',
            {
                "202": json_answer(
                    obj({"success": BOOLEAN, "event_id": STRING, "message": STRING}, ["success", "event_id"]),
                    "Queued",
                ),
                **error_answers(401, 404),
            },
        ),
    )
    def test_endpoint(endpoint_id: str) -> dict[str, Any]:
        _one(store, endpoint_id)
        event_id = store.outbox.enqueue_test(endpoint_id, time.time())
        bottle.response.status = 202
        return {"success": True, "event_id": event_id, "message": f"test event {event_id} queued for {endpoint_id}"}
