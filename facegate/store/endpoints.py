"""The store's webhook endpoints: where events go besides the v1 webhook, each with its secret and rules.

Reached as `store.endpoints`. Rows are shared by every node, so an endpoint added through any
node's API is sent events by the emitters of all of them. `matching` is read inside the
transaction that stores an event (store.outbox.enqueue_event), so an event has one outbox row per
endpoint whose rules it matched when it was written. An endpoint's secret is returned by `add` and
by `target` (the sender signs with it), never by the readers the API lists endpoints with.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from facegate.db.schema import config, endpoints, outbox
from facegate.endpoint_rules import DEFAULT_EVENTS, Rules, matches
from facegate.events import DEFAULT_ENDPOINT, OutgoingEvent
from facegate.settings import defaults
from facegate.store.core import StoreCore
from facegate.webhook_signing import new_secret

log = logging.getLogger(__name__)

TIMEZONE_KEY = "timezone"  # the setting the hours filter reads


def _shown(row: sa.Row[Any]) -> dict[str, Any]:
    """An endpoint as the API lists it: everything but its secret."""
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "enabled": bool(row.enabled),
        "events": json.loads(row.events),
        "filter": json.loads(row.filter),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Checked fields as column values (the lists and the filter as JSON)."""
    values = dict(fields)
    for key in ("events", "filter"):
        if key in values:
            values[key] = json.dumps(values[key], separators=(",", ":"))
    return values


def zone_of(db: Connection) -> ZoneInfo:
    """The `timezone` setting as stored (shared by every node), else its default; UTC if it is not a zone."""
    stored = db.execute(sa.select(config.c.value).where(config.c.key == TIMEZONE_KEY)).scalar()
    name = json.loads(stored) if stored is not None else defaults()[TIMEZONE_KEY]
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("timezone %r is not a known zone; webhook hours are read in UTC", name)
        return ZoneInfo("UTC")


class EndpointRecords:
    """Webhook endpoints by id, oldest first; written through the API, read for every event."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def add(self, fields: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """Store a new endpoint from checked fields (facegate/endpoint_rules.py); returns it with its secret, the
        only time the secret is handed out."""
        at = time.time() if now is None else now
        row = {
            "id": f"ep_{secrets.token_hex(6)}",
            "description": "",
            "enabled": True,
            "events": list(DEFAULT_EVENTS),
            "filter": {},
            **fields,
            "secret": fields.get("secret") or new_secret(),
            "created_at": at,
            "updated_at": at,
        }
        with self.core.transaction() as db:
            db.execute(sa.insert(endpoints).values(**_stored(row)))
        return {**self.get(row["id"]), "secret": row["secret"]}

    def all(self) -> list[dict[str, Any]]:
        """Every endpoint, oldest first, without secrets."""
        rows = self.core.rows(sa.select(endpoints).order_by(endpoints.c.created_at, endpoints.c.id))
        return [_shown(row) for row in rows]

    def get(self, endpoint_id: str) -> dict[str, Any]:
        """One endpoint without its secret; KeyError if there is none."""
        rows = self.core.rows(sa.select(endpoints).where(endpoints.c.id == endpoint_id))
        if not rows:
            raise KeyError(endpoint_id)
        return _shown(rows[0])

    def find(self, endpoint_id: str) -> dict[str, Any] | None:
        """One endpoint without its secret, or None."""
        try:
            return self.get(endpoint_id)
        except KeyError:
            return None

    def target(self, endpoint_id: str) -> tuple[str, str] | None:
        """(url, secret) a delivery to this endpoint goes to and is signed with; None if it is gone."""
        rows = self.core.rows(sa.select(endpoints.c.url, endpoints.c.secret).where(endpoints.c.id == endpoint_id))
        return (rows[0].url, rows[0].secret) if rows else None

    def update(self, endpoint_id: str, changes: dict[str, Any], now: float | None = None) -> dict[str, Any] | None:
        """Apply checked changes; the endpoint as it now is (no secret), or None if there is no such endpoint."""
        values = {**_stored(changes), "updated_at": time.time() if now is None else now}
        with self.core.transaction() as db:
            changed = db.execute(sa.update(endpoints).where(endpoints.c.id == endpoint_id).values(**values)).rowcount
        return self.find(endpoint_id) if changed else None

    def delete(self, endpoint_id: str) -> bool:
        """Remove an endpoint and the deliveries still queued for it; False if there was none."""
        with self.core.transaction() as db:
            gone = db.execute(sa.delete(endpoints).where(endpoints.c.id == endpoint_id)).rowcount > 0
            if gone:
                db.execute(sa.delete(outbox).where(outbox.c.endpoint_id == endpoint_id))
        return gone

    def matching(self, db: Connection, event: OutgoingEvent) -> list[str]:
        """The enabled endpoints whose rules `event` matches, read in the event's transaction `db`."""
        rows = db.execute(
            sa.select(endpoints.c.id, endpoints.c.events, endpoints.c.filter)
            .where(endpoints.c.enabled.is_(True))
            .order_by(endpoints.c.created_at, endpoints.c.id)
        ).all()
        if not rows:
            return []
        zone = zone_of(db)
        return [
            row.id
            for row in rows
            if row.id != DEFAULT_ENDPOINT
            and matches(Rules(tuple(json.loads(row.events)), json.loads(row.filter)), event, zone)
        ]

    def any_enabled(self) -> bool:
        """True when at least one stored endpoint is enabled (a node's sender has work to look for)."""
        return bool(self.core.scalar(sa.select(sa.func.count()).where(endpoints.c.enabled.is_(True))))
