"""Which cameras a node takes and gives up, decided from what the database says (no I/O here).

Every node runs the same rule on each tick, on its own view (the camera rows, the live leases,
the live nodes and their `max_cameras`):
* it gives up cameras no longer wanted (removed, disabled), and any beyond its `max_cameras`;
* the free cameras (wanted, no live lease) are shared out as water fills vessels: one at a time
  to the least busy node with room (ties to the smaller node id), as many as the nodes have room
  for, oldest cameras first. Every node computes the same split, takes its own share in one tick,
  and tries the cameras in an order of its own (rendezvous hashing), so nodes taking at the same
  moment seldom reach for the same camera; when they do, the lease's conditional upsert decides
  and the loser tries its next one;
* when nothing is free and it carries at least two more than the least busy node with room, it
  hands over one camera it has held for `min_hold_s`, at most one per `min_hold_s`. A difference
  of two is what makes a move even things out: after it the two differ by at most one and neither
  moves again, so cameras never flap back and forth.
Cameras beyond the room of every node stay free and wait: `unassigned`, with `waiting_reason`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeLoad:
    cameras: int
    capacity: int

    @property
    def has_room(self) -> bool:
        return self.cameras < self.capacity


@dataclass(frozen=True)
class ClusterView:
    """What one node sees on one tick."""

    capacity: int  # this node's max_cameras
    mine: dict[str, float]  # camera id -> when this node took it (epoch s), live leases only
    wanted: list[str]  # the enabled cameras, oldest first
    taken: set[str]  # cameras under a live lease of another node
    others: dict[str, NodeLoad] = field(default_factory=dict)  # the other live nodes
    now: float = 0.0
    last_handover: float = 0.0  # when this node last gave a camera away to even out load
    node_id: str = ""  # this node (ties in the split go to the smaller id)


@dataclass(frozen=True)
class Plan:
    take: list[str]  # free cameras to try, in this node's order
    give_up: list[str]
    share: int  # how many of `take` to hold: stop once this many were taken


def shares(loads: dict[str, NodeLoad], free: int) -> dict[str, int]:
    """How many of `free` cameras each node takes: one at a time to the least busy node with room
    (ties to the smaller id), until the cameras or the room run out."""
    counts = {node: load.cameras for node, load in loads.items()}
    given = dict.fromkeys(loads, 0)
    for _ in range(free):
        roomy = [node for node, load in loads.items() if counts[node] < load.capacity]
        if not roomy:
            break
        chosen = min(roomy, key=lambda node: (counts[node], node))
        counts[chosen] += 1
        given[chosen] += 1
    return given


def preference(node_id: str, camera_id: str) -> bytes:
    """This node's rank of a camera (rendezvous hashing): each node its own order, the same every tick."""
    return hashlib.blake2b(f"{node_id}\0{camera_id}".encode(), digest_size=8).digest()


def plan(view: ClusterView, *, min_hold_s: float) -> Plan:
    """What this node does this tick: which free cameras it tries to take, how many, and which it gives up."""
    wanted = set(view.wanted)
    give_up = [c for c in view.mine if c not in wanted]
    kept = sorted((c for c in view.mine if c in wanted), key=lambda c: view.mine[c])  # oldest first
    while len(kept) > view.capacity:
        give_up.append(kept.pop())
    free = [c for c in view.wanted if c not in view.mine and c not in view.taken]
    loads = {**view.others, view.node_id: NodeLoad(len(kept), view.capacity)}
    split = shares(loads, len(free))
    share, placed = split[view.node_id], sum(split.values())
    first = sorted(free[:placed], key=lambda c: preference(view.node_id, c))
    take = [*first, *free[placed:]] if share else []
    roomy = [load.cameras for load in view.others.values() if load.has_room]
    least = min(roomy) if roomy else None
    if not free and least is not None and len(kept) >= least + 2 and view.now - view.last_handover >= min_hold_s:
        settled = [c for c in kept if view.now - view.mine[c] >= min_hold_s]
        if settled:
            give_up.append(settled[-1])  # the newest of those held long enough
    return Plan(take, give_up, share)


def waiting_reason(loads: Iterable[NodeLoad]) -> str:
    """Why an enabled camera has no node, as `/api/cameras` shows it."""
    live = list(loads)
    if not live:
        return "no node is running"
    if any(load.has_room for load in live):
        return "waiting for a node with room to take it (within one tick, 2 s)"
    capacities = {load.capacity for load in live}
    nodes = f"{len(live)} node{'s' if len(live) != 1 else ''}"
    if len(capacities) == 1:
        return f"every node is full: {nodes} x {capacities.pop()}"
    return f"every node is full: {nodes}, {sum(load.capacity for load in live)} cameras in all"
