"""The store's cluster rows: the nodes sharing one database, and which of them holds each camera.

Reached as `store.cluster`. A node is one `supervisor.py`. It keeps its row in `nodes` fresh
(the heartbeat, with a JSON summary of its cameras and stages that any node's API can show) and
holds each camera it processes by a lease in `camera_leases` that it renews; a lease that ran
out (the node stopped renewing: it died, or lost the database for too long) is free for any
node. Taking a lease is one conditional upsert, so two nodes racing for a camera cannot both
win. Times are epoch seconds from the nodes' clocks (keep them in sync with NTP).

Which cameras to take or give up is decided in facegate/placement.py; entry/node_agent.py runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from facegate.db.schema import camera_leases, nodes
from facegate.store.core import StoreCore


@dataclass(frozen=True)
class NodeRow:
    """One node as the database knows it; `status` is what it last said about its cameras and stages."""

    node_id: str
    host: str
    pid: int
    api_url: str
    max_cameras: int
    started_at: float
    heartbeat_at: float
    status: dict[str, Any] = field(default_factory=dict)

    def alive(self, now: float, timeout_s: float) -> bool:
        return now - self.heartbeat_at <= timeout_s


@dataclass(frozen=True)
class Lease:
    camera_id: str
    node_id: str
    lease_until: float
    acquired_at: float

    def live(self, now: float) -> bool:
        return self.lease_until > now


class NodeRecords:
    """Heartbeats and camera leases, on either backend."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    # --- nodes ---------------------------------------------------------------------------------
    def heartbeat(self, node: NodeRow) -> None:
        """Write the node's row (insert or refresh)."""
        values = {
            "node_id": node.node_id,
            "host": node.host,
            "pid": node.pid,
            "api_url": node.api_url,
            "max_cameras": node.max_cameras,
            "started_at": node.started_at,
            "heartbeat_at": node.heartbeat_at,
            "status": json.dumps(node.status, separators=(",", ":")),
        }
        statement = self.core.insert(nodes).values(**values)
        changed = {k: statement.excluded[k] for k in values if k not in ("node_id", "started_at")}
        with self.core.transaction() as db:
            db.execute(statement.on_conflict_do_update(index_elements=["node_id"], set_=changed))

    def nodes(self) -> list[NodeRow]:
        """Every node with a row, alive or not, by id."""
        rows = self.core.rows(sa.select(nodes).order_by(nodes.c.node_id))
        return [
            NodeRow(
                r.node_id,
                r.host,
                r.pid,
                r.api_url,
                r.max_cameras,
                r.started_at,
                r.heartbeat_at,
                json.loads(r.status or "{}"),
            )
            for r in rows
        ]

    def forget_node(self, node_id: str) -> None:
        """A node that stops cleanly: its row and its leases go, so others take its cameras at once."""
        with self.core.transaction() as db:
            db.execute(sa.delete(camera_leases).where(camera_leases.c.node_id == node_id))
            db.execute(sa.delete(nodes).where(nodes.c.node_id == node_id))

    def forget_dead(self, older_than: float) -> int:
        """Drop the rows of nodes silent since `older_than` (their leases ran out long ago)."""
        with self.core.transaction() as db:
            return db.execute(sa.delete(nodes).where(nodes.c.heartbeat_at < older_than)).rowcount

    # --- leases --------------------------------------------------------------------------------
    def leases(self) -> dict[str, Lease]:
        """Camera id -> its lease, live or run out."""
        rows = self.core.rows(sa.select(camera_leases))
        return {r.camera_id: Lease(r.camera_id, r.node_id, r.lease_until, r.acquired_at) for r in rows}

    def acquire(self, camera_id: str, node_id: str, now: float, ttl_s: float) -> bool:
        """Take the camera until `now + ttl_s` if no live lease of another node holds it; True if taken."""
        statement = self.core.insert(camera_leases).values(
            camera_id=camera_id, node_id=node_id, lease_until=now + ttl_s, acquired_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["camera_id"],
            set_={"node_id": node_id, "lease_until": now + ttl_s, "acquired_at": now},
            where=sa.or_(camera_leases.c.lease_until <= now, camera_leases.c.node_id == node_id),
        ).returning(camera_leases.c.node_id)
        with self.core.transaction() as db:
            return db.execute(statement).scalar() == node_id

    def renew(self, node_id: str, camera_ids: Iterable[str], now: float, ttl_s: float) -> set[str]:
        """Push the node's leases on these cameras to `now + ttl_s`; returns the ones it still holds
        (a lease that ran out and was taken by another node is lost)."""
        wanted = list(camera_ids)
        if not wanted:
            return set()
        with self.core.transaction() as db:
            kept = db.execute(
                sa.update(camera_leases)
                .where(camera_leases.c.node_id == node_id, camera_leases.c.camera_id.in_(wanted))
                .values(lease_until=now + ttl_s)
                .returning(camera_leases.c.camera_id)
            ).scalars()
            return set(kept)

    def release(self, node_id: str, camera_ids: Iterable[str]) -> None:
        """Give cameras up (removed from the config, or moved to a less busy node)."""
        wanted = list(camera_ids)
        if not wanted:
            return
        with self.core.transaction() as db:
            db.execute(
                sa.delete(camera_leases).where(
                    camera_leases.c.node_id == node_id, camera_leases.c.camera_id.in_(wanted)
                )
            )
