"""Several nodes, one PostgreSQL database, end to end.

Real `supervisor.py` processes on 127.0.0.1, each with its own port and data dir, against a fresh
database on the session's throwaway PostgreSQL server; the real clip as the cameras; webhooks to
a real receiver on loopback that drops duplicates and refuses first attempts.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from facegate.db.schema import outbox
from facegate.store import Store
from tests.support.dedup_receiver import DedupReceiver
from tests.support.pgserver import PostgresServer
from tests.support.service_proc import ServiceProcess, poll_until

LIN = "Lin-Manuel Miranda"
pytestmark = pytest.mark.slow

WEBHOOK_ENV = {"FACEGATE_WEBHOOKS": "on", "FACEGATE_WEBHOOK_TIMEOUT_S": "2", "FACEGATE_WEBHOOK_CLAIM_S": "4",
               "FACEGATE_WEBHOOK_BACKOFF_BASE_S": "0.5", "FACEGATE_WEBHOOK_BACKOFF_CAP_S": "2"}


class Cluster:
    """The nodes of one test; every one is stopped (or killed) at the end."""

    def __init__(self, root: Path, url: str, env: dict[str, str] | None = None) -> None:
        self.root, self.url, self.env = root, url, env or {}
        self.nodes: dict[str, ServiceProcess] = {}

    def start(self, name: str, max_cameras: int = 4) -> ServiceProcess:
        node = ServiceProcess(self.root / name, "--database-url", self.url, "--node-id", name, "--workers", "1",
                              "--max-cameras", str(max_cameras), env=self.env)
        self.nodes[name] = node
        return node.start(timeout=120)

    def leases(self, via: str) -> dict[str, str]:
        """Camera id -> node id, as any node's /api/nodes shows it (alive nodes only)."""
        listed = self.nodes[via].get("/api/nodes").json()["nodes"]
        return {camera: n["id"] for n in listed if n["alive"] for camera in n["cameras"]}

    def close(self) -> None:
        running = [n for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]
        for node in running:  # all at once: they stop in parallel
            node.proc.send_signal(signal.SIGTERM)
        for node in running:
            node.stop(signal.SIGTERM, timeout=60)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{node.log()[-2500:]}" for name, node in self.nodes.items())


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, pg_url)
    yield made
    made.close()


def _register_lin(node: ServiceProcess, faces: Path) -> None:
    photo = (faces / "lin-manuel-miranda.png").read_bytes()
    answer = node.post("/api/register", data={"name": LIN}, files={"image": ("lin.png", photo, "image/png")})
    assert answer.status_code == 200, answer.text


def _open_webhooks(store: Store) -> set[str]:
    """Events whose webhook is not through yet (pending, retrying, or held by a node's claim)."""
    rows = store.core.rows(sa.select(outbox.c.event_id).where(outbox.c.status.in_(("pending", "retrying"))))
    return {row.event_id for row in rows}


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def test_cameras_split_and_a_killed_nodes_cameras_and_webhooks_move(cluster: Cluster, pg_url: str, faces: Path,
                                                                    clip: Path) -> None:
    receiver = DedupReceiver(refuse_first=2, delay_s=0.3).start()
    cluster.env = {**WEBHOOK_ENV, "NEXTJS_WEBHOOK_URL": receiver.url}
    try:
        a, b = cluster.start("node-a", max_cameras=2), cluster.start("node-b", max_cameras=2)
        _register_lin(a, faces)
        cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
        # a long cooldown: a camera that moves must not announce Lin again on the next node
        assert a.put("/api/config", json={"cameras": cameras, "event_cooldown_s": 120}).status_code == 200
        assert b.post("/api/start").json()["running"] is True  # started through the other node: shared

        split = poll_until(lambda: (lambda held: held if sorted(held.values()) == ["node-a", "node-b"] else None)(
            cluster.leases("node-a")), 60.0)
        assert split, cluster.logs()
        listed = {n["id"]: n for n in b.get("/api/nodes").json()["nodes"]}
        assert sorted(listed) == ["node-a", "node-b"] and all(n["max_cameras"] == 2 for n in listed.values())
        assert listed["node-b"]["this_node"] and listed["node-a"]["api_url"] == a.url
        assert b.get("/api/status").json()["node"] == "node-b"
        assert 'facegate_node_info{node="node-a"} 1.0' in a.get("/metrics").text
        on_a = next(c for c, n in split.items() if n == "node-a")

        # both cameras live, as either node tells it; Lin named on both (the gallery is one)
        def both_live() -> bool:
            states = {c["id"]: (c["state"], c["node"]) for c in b.get("/api/status").json()["cameras"]}
            return states == {c: ("live", n) for c, n in split.items()}

        assert poll_until(both_live, 90.0), (b.get("/api/status").json(), cluster.logs())
        assert poll_until(lambda: {r["camera_id"] for r in b.get(f"/api/results/{LIN}").json()["results"]}
                          == {"door", "hall"}, 120.0), cluster.logs()
        # a picture of a camera on the other node: sent there
        moved = b.get(f"/api/cameras/{on_a}/snapshot.jpg", allow_redirects=False)
        assert moved.status_code == 307 and moved.headers["Location"] == f"{a.url}/api/cameras/{on_a}/snapshot.jpg"
        assert b.get(f"/api/cameras/{on_a}/snapshot.jpg").content[:2] == b"\xff\xd8"

        reader = Store(cluster.root / "reader", database_url=pg_url)
        assert poll_until(lambda: _open_webhooks(reader), 60.0), cluster.logs()  # some not through yet
        a.kill()  # SIGKILL: no goodbye, its leases and webhook claims run out
        stranded = _open_webhooks(reader)
        try:
            # the bound: the camera is B's within 15 s of the kill (its lease ran out, B took it)
            assert poll_until(lambda: cluster.leases("node-b").get(on_a) == "node-b", 15.0, 0.2), cluster.logs()

            def all_live_on_b() -> bool:
                cameras = b.get("/api/status").json()["cameras"]
                return all(c["state"] == "live" and c["node"] == "node-b" for c in cameras)

            assert poll_until(all_live_on_b, 90.0), cluster.logs()
            time.sleep(15.0)  # over a loop and a half of the 9 s clip on B: Lin is in front of the moved camera again
            dead = next(n for n in b.get("/api/nodes").json()["nodes"] if n["id"] == "node-a")
            assert dead["alive"] is False and dead["cameras"] == []

            # stop, let every webhook go out, then: each event arrived, none twice at once
            assert b.post("/api/stop").json()["running"] is False

            def drained() -> bool:
                counts = reader.outbox.counts()
                return counts["pending"] == counts["retrying"] == 0

            assert poll_until(drained, 120.0), (reader.outbox.counts(), cluster.logs())
            ids = {r["event_id"] for r in reader.results.recent(1000)}
            assert ids and receiver.taken_ids() == ids and stranded <= ids
            assert receiver.overlaps == []
            assert reader.outbox.counts()["failed"] == 0
            # the cooldown held across the move: Lin at most once per camera in 120 s
            lin = reader.results.recent(1000, name=LIN)
            assert sorted(r["camera_id"] for r in lin) == ["door", "hall"], lin
        finally:
            reader.close()
        log_b = b.log()
        assert f"took camera {on_a}" in log_b and f"cooldown carried over for {LIN}" in log_b
    finally:
        receiver.stop()


def test_new_cameras_are_picked_up_and_a_joining_node_evens_out_without_flapping(cluster: Cluster,
                                                                                 faces: Path) -> None:
    # streams that never open (no such file in the media dir): leases and placement need no working camera
    cameras = [{"id": f"cam{i}", "stream_url": str(faces / f"missing{i}.mp4")} for i in range(1, 4)]
    a = cluster.start("node-a", max_cameras=3)
    assert a.put("/api/config", json={"cameras": cameras}).status_code == 200
    assert a.post("/api/start").status_code == 200
    assert poll_until(lambda: cluster.leases("node-a") == {f"cam{i}": "node-a" for i in range(1, 4)}, 15.0)

    b = cluster.start("node-b", max_cameras=3)
    history: list[dict[str, str]] = []

    def settled() -> bool:
        held = cluster.leases("node-b")
        if not history or history[-1] != held:
            history.append(held)
        return sorted(held.values()) == ["node-a", "node-a", "node-b"]

    assert poll_until(settled, 40.0, 0.5), (history, cluster.logs())
    for _ in range(30):  # 15 s more (over a hold time): nothing moves back
        settled()
        time.sleep(0.5)
    assert sorted(history[-1].values()) == ["node-a", "node-a", "node-b"]
    moves = {c: len({h.get(c) for h in history if h.get(c)}) for c in history[-1]}
    assert sorted(moves.values()) == [1, 1, 2], history  # exactly one camera changed node, once

    added = b.post("/api/cameras", json={"id": "cam4", "stream_url": str(faces / "missing4.mp4")})
    assert added.status_code == 201, added.text
    assert poll_until(lambda: "cam4" in cluster.leases("node-a"), 5.0, 0.1), cluster.logs()  # the bound
    assert sorted(cluster.leases("node-a").values()) == ["node-a", "node-a", "node-b", "node-b"]


def test_a_person_registered_on_one_node_is_used_by_the_other_and_deleted_everywhere(
        cluster: Cluster, faces: Path, clip: Path, pg_url: str) -> None:
    a, b = cluster.start("node-a", max_cameras=1), cluster.start("node-b", max_cameras=1)
    cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
    assert a.put("/api/config", json={"cameras": cameras, "event_cooldown_s": 1}).status_code == 200
    assert a.post("/api/start").status_code == 200
    held = poll_until(lambda: (lambda h: h if sorted(h.values()) == ["node-a", "node-b"] else None)(
        cluster.leases("node-a")), 60.0)
    assert held, cluster.logs()
    on_b = next(c for c, n in held.items() if n == "node-b")
    on_a = next(c for c, n in held.items() if n == "node-a")
    assert poll_until(lambda: any(r["camera_id"] == on_b for r in b.get("/api/results").json()["results"]), 120.0)

    _register_lin(a, faces)  # on A; B's match hears it (NOTIFY) and names Lin on its camera
    assert poll_until(lambda: any(r["camera_id"] == on_b for r in a.get(f"/api/results/{LIN}").json()["results"]),
                      120.0), cluster.logs()
    assert "gallery changed: 1 encodings of 1 people" in b.log()

    person = b.get("/api/persons").json()["persons"][0]
    assert b.delete(f"/api/persons/{person['id']}").status_code == 200  # on B; A stops naming Lin
    deleted_at = time.time()
    reader = Store(cluster.root / "reader", database_url=pg_url)
    try:
        def unknown_on_a_after() -> bool:
            return any(r["camera_id"] == on_a and r["name"] == "Unknown" and _seconds(r["timestamp"]) > deleted_at + 1
                       for r in reader.results.recent(500))

        assert poll_until(unknown_on_a_after, 120.0), cluster.logs()
        late = [r for r in reader.results.recent(1000, name=LIN) if _seconds(r["timestamp"]) > deleted_at + 1.0]
        assert late == []  # nobody is named Lin from one second after the delete on
    finally:
        reader.close()


def test_a_database_restart_loses_nothing(cluster: Cluster, postgres: PostgresServer, faces: Path, clip: Path,
                                          pg_url: str) -> None:
    receiver = DedupReceiver(refuse_first=0).start()
    cluster.env = {**WEBHOOK_ENV, "NEXTJS_WEBHOOK_URL": receiver.url}
    try:
        a, b = cluster.start("node-a", max_cameras=1), cluster.start("node-b", max_cameras=1)
        _register_lin(a, faces)
        cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
        assert a.put("/api/config", json={"cameras": cameras, "event_cooldown_s": 2}).status_code == 200
        assert a.post("/api/start").status_code == 200
        assert poll_until(lambda: len(a.get("/api/results").json()["results"]) >= 4, 120.0), cluster.logs()

        postgres.pause()
        time.sleep(4.0)  # the nodes keep recognizing while the database is away
        postgres.resume()
        restarted_at = time.time()

        def fresh_results_from_both() -> bool:
            found = a.get("/api/results?limit=200")
            return found.status_code == 200 and {r["camera_id"] for r in found.json()["results"]
                                                 if _seconds(r["timestamp"]) > restarted_at} == {"door", "hall"}

        assert poll_until(fresh_results_from_both, 120.0), cluster.logs()
        assert all(n["alive"] for n in b.get("/api/nodes").json()["nodes"])
        assert b.post("/api/stop").status_code == 200
        time.sleep(3.0)  # the last events reach the store
        decided = sum(node.get("/api/stats").json()["pipeline"]["events"] for node in (a, b))
        reader = Store(cluster.root / "reader", database_url=pg_url)
        try:
            assert reader.results.count() == decided  # every event decided is stored, outage or not
            assert poll_until(lambda: reader.outbox.counts()["delivered"] == decided, 60.0), reader.outbox.counts()
            assert receiver.taken_ids() == {r["event_id"] for r in reader.results.recent(1000)}
        finally:
            reader.close()
        assert "database unreachable" in a.log() + b.log()
    finally:
        receiver.stop()


def test_a_node_that_stops_cleanly_hands_its_cameras_over_at_once(cluster: Cluster, faces: Path) -> None:
    cameras = [{"id": "cam1", "stream_url": str(faces / "missing1.mp4")}]
    a = cluster.start("node-a", max_cameras=1)
    cluster.start("node-b", max_cameras=1)
    assert a.put("/api/config", json={"cameras": cameras}).status_code == 200
    assert a.post("/api/start").status_code == 200
    holder = poll_until(lambda: cluster.leases("node-a").get("cam1"), 15.0)
    assert holder in ("node-a", "node-b")
    other = "node-b" if holder == "node-a" else "node-a"
    assert cluster.nodes[holder].stop(signal.SIGTERM, timeout=60) == 0
    assert poll_until(lambda: cluster.leases(other).get("cam1") == other, 6.0, 0.2)
    assert [n["id"] for n in cluster.nodes[other].get("/api/nodes").json()["nodes"]] == [other]


def test_200_events_are_delivered_by_three_nodes_each_once_at_a_time(cluster: Cluster, pg_url: str) -> None:
    """The three nodes' webhook senders share one outbox; 200 events written to it (as the emit stages
    write them) against a receiver that refuses every first attempt."""
    receiver = DedupReceiver(refuse_first=1, delay_s=0.05).start()
    cluster.env = {**WEBHOOK_ENV, "NEXTJS_WEBHOOK_URL": receiver.url}
    try:
        for name in ("node-a", "node-b", "node-c"):
            cluster.start(name)
        writer = Store(cluster.root / "writer", database_url=pg_url)
        try:
            result = {"timestamp": "2026-11-26T00:00:00.000Z", "name": "Ada", "confidence": 0.6, "distance": 0.4,
                      "box": {"top": 1, "right": 2, "bottom": 3, "left": 0}}
            ids = {f"evt_load_{i:03d}" for i in range(200)}
            for event_id in sorted(ids):
                writer.results.add(event_id, result, "door", "rtsp://door", f'{{"result":{{"id":"{event_id}"}}}}')
            assert poll_until(lambda: writer.outbox.counts()["delivered"] == 200, 120.0), writer.outbox.counts()
            assert writer.outbox.counts() == {"pending": 0, "retrying": 0, "delivered": 200, "failed": 0}
        finally:
            writer.close()
        assert receiver.taken_ids() == ids  # all arrived
        assert receiver.overlaps == []  # none posted twice at the same moment
        assert all(receiver.attempts[i] == 2 for i in ids)  # refused once, then taken once: nobody posted twice
        senders = {name for name, node in cluster.nodes.items() if "webhook evt_load_" in node.log()}
        assert senders == {"node-a", "node-b", "node-c"}  # the work was shared
    finally:
        receiver.stop()
