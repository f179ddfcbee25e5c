"""Which cameras a node takes and gives up, decided from what the database says (no I/O here).

Every node runs the same rule on each tick, on its own view:
* it gives up cameras no longer wanted (removed, disabled, recognition stopped), and any beyond
  its `max_cameras`;
* it takes a free camera (no live lease) only while it carries no more than the least busy other
  live node with room, so new cameras spread out instead of piling onto the fastest node;
* when nothing is free and it carries at least two more than the least busy node with room, it
  hands over one camera it has held for `min_hold_s`, at most one per `min_hold_s`. A difference
  of two is what makes a move even things out: after it the two differ by at most one and neither
  moves again, so cameras never flap back and forth.
"""

from __future__ import annotations

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
    wanted: list[str]  # cameras that should run, in config order ([] while recognition is stopped)
    taken: set[str]  # cameras under a live lease of another node
    others: dict[str, NodeLoad] = field(default_factory=dict)  # the other live nodes
    now: float = 0.0
    last_handover: float = 0.0  # when this node last gave a camera away to even out load


@dataclass(frozen=True)
class Plan:
    take: list[str]
    give_up: list[str]


def plan(view: ClusterView, *, min_hold_s: float) -> Plan:
    wanted = set(view.wanted)
    give_up = [c for c in view.mine if c not in wanted]
    kept = sorted((c for c in view.mine if c in wanted), key=lambda c: view.mine[c])  # oldest first
    while len(kept) > view.capacity:
        give_up.append(kept.pop())
    roomy = [load.cameras for load in view.others.values() if load.has_room]
    least = min(roomy) if roomy else None
    count = len(kept)
    free = [c for c in view.wanted if c not in view.mine and c not in view.taken]
    take = []
    for camera in free:
        if count >= view.capacity or (least is not None and count > least):
            break
        take.append(camera)
        count += 1
    if not free and least is not None and count >= least + 2 and view.now - view.last_handover >= min_hold_s:
        settled = [c for c in kept if view.now - view.mine[c] >= min_hold_s]
        if settled:
            give_up.append(settled[-1])  # the newest of those held long enough
    return Plan(take, give_up)
