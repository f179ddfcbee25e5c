"""This node's part in the cluster: heartbeat, camera leases, and handing the service its cameras.

One thread in the supervisor. Every `TICK_S` it writes the node's heartbeat (with its cameras'
states and stage figures, which any node's API shows), renews the leases of the cameras it
runs, and applies facegate/placement.py: take free cameras, give up the ones no longer wanted
or to even out the load. Cameras are placed (their leases held) whether or not recognition runs,
so `/api/cameras` shows where each would run and which wait; a camera is run only while
recognition is on and its lease is held. When the database cannot be reached for longer than a
lease lasts, the node stops its cameras, since another node may hold them by then. A single node
on SQLite runs the same code, with itself as the only node.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from facegate.placement import ClusterView, NodeLoad, plan
from facegate.store import NodeRow, Store
from pipeline.transport.shm import pid_alive, remove_leftovers

log = logging.getLogger("facegate.cluster")

TICK_S = 2.0  # heartbeat and lease renewal
LEASE_S = 8.0  # a camera whose node missed four renewals is free
NODE_TIMEOUT_S = LEASE_S  # a node silent this long is not counted when spreading cameras
MIN_HOLD_S = 10.0  # a camera stays at least this long before it is moved to even out load
FORGET_AFTER_S = 3600.0  # rows of nodes silent this long are dropped from /api/nodes


class ClusterAgent:
    """Holds this node's leases; calls `apply(cameras, running)` whenever the set it should run changes."""

    def __init__(
        self,
        store: Store,
        node: NodeRow,
        *,
        wanted: Callable[[], list[str]],
        status: Callable[[], dict[str, Any]],
        apply: Callable[[set[str], bool], None],
    ) -> None:
        self.tables = store.cluster
        self.store = store
        self.node = node
        self.wanted = wanted
        self.status = status
        self.apply = apply
        self.held: dict[str, float] = {}  # camera id -> when taken
        self._ticking = threading.Lock()
        self.running = False
        self._renewed_at = time.time()
        self._last_handover = 0.0
        self._forgot_at = 0.0
        self._db_down = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cluster", daemon=True)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def start(self) -> None:
        self._reap_own_host()
        self.tick()
        self._thread.start()

    def wake(self) -> None:
        """Tick now (a camera was added, recognition started)."""
        self._wake.set()

    def stop(self) -> None:
        """Leave the cluster: the heartbeat row and the leases go, so the other nodes take over at once."""
        self._stop.set()
        self._wake.set()
        self._thread.join(TICK_S * 3)
        try:
            self.tables.forget_node(self.node_id)
        except Exception as exc:  # the database is gone: the leases run out by themselves
            log.warning(
                "could not remove node %s from the database (%s); its leases run out in %.0f s",
                self.node_id,
                _reason(exc),
                LEASE_S,
            )

    def _reap_own_host(self) -> None:
        """Nodes of this host whose process is gone (a killed earlier run): their cameras are free now."""
        try:
            for row in self.tables.nodes():
                if row.host == self.node.host and row.node_id != self.node_id and not pid_alive(row.pid):
                    self.tables.forget_node(row.node_id)
                    log.info("node %s (pid %d on this host) is gone; its cameras are free", row.node_id, row.pid)
        except Exception as exc:
            log.warning("could not check for dead nodes on this host: %s", _reason(exc))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(TICK_S)
            self._wake.clear()
            if not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # the heartbeat must outlive any one round's failure
                    log.exception("cluster round failed; trying again in %.0f s", TICK_S)

    def tick(self) -> None:
        """One round: heartbeat, leases, placement. The loop and a request that wants its effect now (a camera
        added, recognition started) may both call it; they take turns."""
        with self._ticking:
            self._tick_once()

    def _tick_once(self) -> None:
        now = time.time()
        try:
            self._tick(now)
        except Exception as exc:
            if not self._db_down:
                log.warning(
                    "database unreachable (%s); keeping %d cameras while their leases last",
                    _reason(exc),
                    len(self.held),
                )
                self._db_down = True
            if self.held and now - self._renewed_at > LEASE_S:
                log.warning("leases ran out without the database: stopping %s", ", ".join(sorted(self.held)))
                self.held.clear()
                self.apply(set(), self.running)
            return
        if self._db_down:
            log.info("database reachable again")
            self._db_down = False

    def _tick(self, now: float) -> None:
        self.node = NodeRow(**{**self.node.__dict__, "heartbeat_at": now, "status": self.status()})
        self.tables.heartbeat(self.node)
        before = set(self.held)
        kept = self.tables.renew(self.node_id, self.held, now, LEASE_S)
        self._renewed_at = now
        for lost in sorted(set(self.held) - kept):
            log.warning("lease on camera %s was lost (taken by another node)", lost)
            del self.held[lost]
        running = self.store.core.get_meta("running") == "1"
        leases = self.tables.leases()
        live_nodes = [n for n in self.tables.nodes() if n.node_id != self.node_id and n.alive(now, NODE_TIMEOUT_S)]
        others = {
            n.node_id: NodeLoad(
                sum(1 for lease in leases.values() if lease.node_id == n.node_id and lease.live(now)), n.max_cameras
            )
            for n in live_nodes
        }
        taken = {c for c, lease in leases.items() if lease.node_id != self.node_id and lease.live(now)}
        view = ClusterView(
            capacity=self.node.max_cameras,
            mine=dict(self.held),
            wanted=self.wanted(),
            taken=taken,
            others=others,
            now=now,
            last_handover=self._last_handover,
            node_id=self.node_id,
        )
        decided = plan(view, min_hold_s=MIN_HOLD_S)
        if decided.give_up:
            self.tables.release(self.node_id, decided.give_up)
            for camera in decided.give_up:
                self.held.pop(camera, None)
            if any(c in view.wanted for c in decided.give_up):
                self._last_handover = now
            log.info("gave up cameras %s", ", ".join(decided.give_up))
        took: list[str] = []
        for camera in decided.take:
            if len(took) >= decided.share:
                break
            if self.tables.acquire(camera, self.node_id, now, LEASE_S):
                self.held[camera] = now
                took.append(camera)
                log.info("took camera %s", camera)
        if took:  # maybe from a node of this host that was killed: its shared memory is ours to clear
            removed = remove_leftovers()
            if removed:
                log.info("removed %d shared-memory segments of a dead run: %s", len(removed), ", ".join(removed[:5]))
        if now - self._forgot_at > 60.0:
            self._forgot_at = now
            self.tables.forget_dead(now - FORGET_AFTER_S)
        if set(self.held) != before or running != self.running:
            self.running = running
            self.apply(set(self.held), running)


def advertised_url(host: str, port: int) -> str:
    """Where other nodes find this node's API: FACEGATE_ADVERTISE_URL, else this host's name and port."""
    given = os.environ.get("FACEGATE_ADVERTISE_URL", "").strip().rstrip("/")
    if given:
        return given
    shown = host if host not in ("", "0.0.0.0", "::") else socket.gethostname()
    return f"http://{shown}:{port}"


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
