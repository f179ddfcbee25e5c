"""Every camera of the cluster with its state, as any node's API shows it: run here, run elsewhere, or waiting.

`GET /api/cameras` pages and filters it, `/api/status` and `/metrics` count it by state. A camera's
state is this node's own view when it runs the camera, the holder's last heartbeat when another
live node does, `unassigned` (with the reason, facegate/placement.py) when it is enabled and no
live node holds it, and `stopped` when it is disabled or recognition is stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from facegate.camera import Camera
from facegate.placement import NodeLoad, waiting_reason
from facegate.settings import PER_CAMERA, Settings
from facegate.store import Lease, NodeRow
from facegate.store.cameras import CameraRow

# what a capture reports (pipeline/capture.py), then the two states of a camera no capture runs
STATES = ("connecting", "live", "reconnecting", "failed", "ended", "stopped", "unassigned")
HEARTBEAT_FIELDS = ("state", "error", "fps", "width", "height")  # what a node tells the others of its cameras
PAGE_DEFAULT = 100  # cameras a page of GET /api/cameras holds unless `limit` says (at most 1000)


@dataclass(frozen=True)
class ThisNode:
    """What the node answering knows itself: the cameras it holds, and how each of them is doing."""

    node_id: str
    held: set[str]
    running: bool
    seen: Callable[[str], dict[str, Any]]  # camera id -> its HEARTBEAT_FIELDS, for a camera this node runs


@dataclass(frozen=True)
class ClusterState:
    """One read of the database: the camera rows, the leases and the nodes, at `now`."""

    rows: list[CameraRow]
    leases: dict[str, Lease]
    nodes: list[NodeRow]
    now: float
    node_timeout_s: float


STOPPED: dict[str, Any] = {"state": "stopped", "error": None, "fps": 0.0, "width": 0, "height": 0}


def board(cluster: ClusterState, here: ThisNode, settings: Settings) -> list[dict[str, Any]]:
    """Every camera, oldest first, with its state, its node (None: no node runs it) and why it waits; its
    per-camera settings as they apply (its own, else the global ones of `settings`) and its ignored regions."""
    live = {n.node_id: n for n in cluster.nodes if n.alive(cluster.now, cluster.node_timeout_s)}
    holders = {
        c: lease.node_id
        for c, lease in cluster.leases.items()
        if lease.live(cluster.now) and lease.node_id in live and lease.node_id != here.node_id
    }
    holders.update(dict.fromkeys(here.held, here.node_id))
    loads = Counter(holders.values())
    reason = waiting_reason(NodeLoad(loads[n], node.max_cameras) for n, node in live.items())
    listed = []
    for row in cluster.rows:
        holder = holders.get(row.id) if row.enabled else None
        if holder == here.node_id:
            seen = here.seen(row.id) if here.running else STOPPED
        elif holder is not None:
            seen = {**STOPPED, **live[holder].status.get("cameras", {}).get(row.id, {})}
        else:
            seen = {**STOPPED, "state": "unassigned" if row.enabled else "stopped"}
        fields = row.fields
        camera = Camera.from_dict(fields)
        listed.append(
            {
                "id": row.id,
                "name": fields["name"],
                "stream_url": fields["stream_url"],
                "enabled": row.enabled,
                **{name: settings.own_or_global(name, camera) for name in PER_CAMERA},
                "ignore_regions": camera.to_dict().get("ignore_regions", []),
                **{k: seen.get(k) for k in HEARTBEAT_FIELDS},
                "node": holder,
                "reason": reason if seen["state"] == "unassigned" else None,
            }
        )
    return listed


def select(
    cameras: Iterable[dict[str, Any]], *, node: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """The cameras on that node and in that state (None: any)."""
    return [c for c in cameras if (node is None or c["node"] == node) and (state is None or c["state"] == state)]


def by_state(cameras: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many cameras are in each state (states with none left out)."""
    counted = Counter(c["state"] for c in cameras)
    return {state: counted[state] for state in STATES if counted[state]}
