"""An event on its way out: what every webhook endpoint's rules are checked against, and the body each is sent.

The emitter makes an `appeared` event of each decision, the presence tracker a `left` event when a
visit ends; both hand an `OutgoingEvent` to `store.outbox.enqueue_event` inside the transaction that
stores the event, which writes one outbox row per endpoint whose rules it matches
(facegate/endpoint_rules.py). The endpoint `default` is the v1 webhook (`NEXTJS_WEBHOOK_URL`): it
takes every `appeared` event and no other, and its body is the v1 payload exactly, without `type`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APPEARED = "appeared"
LEFT = "left"
EVENT_TYPES = (APPEARED, LEFT)  # what an endpoint may ask for
TEST = "test"  # what POST /api/webhooks/endpoints/<id>/test sends, to that endpoint only
DEFAULT_ENDPOINT = "default"  # the id of the v1 webhook as an endpoint
DEFAULT_URL = "http://localhost:3005/api/facial-recognition/webhook"
OFF = {"off", "0", "false", "no"}


@dataclass(frozen=True)
class OutgoingEvent:
    """One event to tell the endpoints about, with the facts their filters read."""

    event_id: str
    type: str  # "appeared" | "left"
    payload: dict[str, Any]  # the JSON body sent, "type" included
    person_id: int | None
    known: bool
    cameras: tuple[str, ...]
    confidence: float | None
    at: float  # epoch seconds of the sighting (the hours filter reads it, in the `timezone` setting)


def default_endpoint_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the v1 webhook goes: `NEXTJS_WEBHOOK_URL` (with its default), None when empty or
    `FACEGATE_WEBHOOKS=off`."""
    env = os.environ if environ is None else environ
    url = env.get("NEXTJS_WEBHOOK_URL", DEFAULT_URL).strip() or None
    if env.get("FACEGATE_WEBHOOKS", "on").strip().lower() in OFF:
        return None
    return url


def body_for(endpoint_id: str, payload: Mapping[str, Any]) -> str:
    """The exact bytes an endpoint is sent (and its signature covers): the payload as compact JSON; for the
    endpoint `default`, the v1 payload without `type`."""
    if endpoint_id == DEFAULT_ENDPOINT:
        payload = {k: v for k, v in payload.items() if k != "type"}
    return json.dumps(payload, separators=(",", ":"))
