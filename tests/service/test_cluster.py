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
import requests
import sqlalchemy as sa

from facegate.db.schema import outbox
from facegate.store import Store
from tests.support.dedup_receiver import DedupReceiver
from tests.support.pgserver import PostgresServer
from tests.support.service_proc import TEST_TOKEN, ServiceProcess, children, poll_until
from tests.support.webhook_receiver import free_port

LIN = "Lin-Manuel Miranda"
CLIP_FRAMES = 275
pytestmark = pytest.mark.slow

WEBHOOK_ENV = {
    "FACEGATE_WEBHOOKS": "on",
    "FACEGATE_WEBHOOK_TIMEOUT_S": "2",
    "FACEGATE_WEBHOOK_CLAIM_S": "4",
    "FACEGATE_WEBHOOK_BACKOFF_BASE_S": "0.5",
    "FACEGATE_WEBHOOK_BACKOFF_CAP_S": "2",
}


class Cluster:
    """The nodes of one test; every one is stopped (or killed) at the end."""

    def __init__(self, root: Path, url: str, env: dict[str, str] | None = None) -> None:
        self.root, self.url, self.env = root, url, env or {}
        self.nodes: dict[str, ServiceProcess] = {}

    def start(
        self,
        name: str,
        max_cameras: int = 4,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        token: str | None = TEST_TOKEN,
    ) -> ServiceProcess:
        node = ServiceProcess(
            self.root / name,
            "--database-url",
            self.url,
            "--node-id",
            name,
            "--workers",
            "1",
            "--max-cameras",
            str(max_cameras),
            env={**self.env, **(env or {})},
            port=port,
            token=token,
        )
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
    """The nodes send their webhooks to a real receiver (a test may set another one before starting nodes)."""
    receiver = DedupReceiver(refuse_first=0).start()
    made = Cluster(tmp_path, pg_url, {**WEBHOOK_ENV, "NEXTJS_WEBHOOK_URL": receiver.url})
    try:
        yield made
    finally:
        made.close()
        receiver.stop()


def _register_lin(node: ServiceProcess, faces: Path) -> None:
    photo = (faces / "lin-manuel-miranda.png").read_bytes()
    answer = node.post(
        "/api/register", data={"name": LIN}, files={"image": ("lin.png", photo, "image/png")}, timeout=120
    )  # a photo waits its turn in the pool on a busy machine
    assert answer.status_code == 200, answer.text


def _open_webhooks(store: Store) -> set[str]:
    """Events whose webhook is not through yet (pending, retrying, or held by a node's claim)."""
    rows = store.core.rows(sa.select(outbox.c.event_id).where(outbox.c.status.in_(("pending", "retrying"))))
    return {row.event_id for row in rows}


def frames_matched(node: ServiceProcess, camera_id: str) -> int:
    """Frames the node's capture of `camera_id` has read (0 when it runs no such capture)."""
    rows = node.get("/api/stats").json()["pipeline"]["processes"]
    return next((int(r["frames_out"]) for r in rows if r["name"] == f"capture {camera_id}"), 0)


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def test_cameras_split_and_a_killed_nodes_cameras_and_webhooks_move(
    cluster: Cluster, pg_url: str, faces: Path, clip: Path
) -> None:
    receiver = DedupReceiver(refuse_first=2, delay_s=0.3).start()
    cluster.env = {**WEBHOOK_ENV, "NEXTJS_WEBHOOK_URL": receiver.url}
    try:
        a, b = cluster.start("node-a", max_cameras=2), cluster.start("node-b", max_cameras=2)
        _register_lin(a, faces)
        cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
        # a long cooldown: a camera that moves must not announce Lin again on the next node
        assert a.put("/api/config", json={"cameras": cameras, "event_cooldown_s": 120}).status_code == 200
        assert b.post("/api/start").json()["running"] is True  # started through the other node: shared

        split = poll_until(
            lambda: (lambda held: held if sorted(held.values()) == ["node-a", "node-b"] else None)(
                cluster.leases("node-a")
            ),
            60.0,
        )
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
        assert poll_until(
            lambda: {r["camera_id"] for r in b.get(f"/api/results/{LIN}").json()["results"]} == {"door", "hall"}, 120.0
        ), cluster.logs()
        # a picture of a camera on the other node: sent there
        moved = b.get(f"/api/cameras/{on_a}/snapshot.jpg", allow_redirects=False)
        assert moved.status_code == 307 and moved.headers["Location"] == f"{a.url}/api/cameras/{on_a}/snapshot.jpg"
        followed = requests.get(moved.headers["Location"], headers=b.headers(), timeout=30)  # one token for the nodes
        assert followed.content[:2] == b"\xff\xd8", (followed.status_code, followed.text[:300])

        reader = Store(cluster.root / "reader", database_url=pg_url)
        assert poll_until(lambda: _open_webhooks(reader), 60.0), cluster.logs()  # some not through yet
        a.kill()  # SIGKILL: no goodbye, its leases and webhook claims run out
        stranded = _open_webhooks(reader)
        try:
            # B takes the camera once its lease runs out (how fast: `python -m bench.cross_node`)
            assert poll_until(lambda: cluster.leases("node-b").get(on_a) == "node-b", 90.0, 0.2), cluster.logs()

            def all_live_on_b() -> bool:
                cameras = b.get("/api/status").json()["cameras"]
                return all(c["state"] == "live" and c["node"] == "node-b" for c in cameras)

            assert poll_until(all_live_on_b, 90.0), cluster.logs()
            # a loop and a half of the clip through B's match: Lin was in front of the moved camera again
            taken_at = frames_matched(b, on_a)
            assert poll_until(lambda: frames_matched(b, on_a) >= taken_at + CLIP_FRAMES * 3 // 2, 180.0), cluster.logs()
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


def test_new_cameras_are_picked_up_and_a_joining_node_evens_out_without_flapping(cluster: Cluster, faces: Path) -> None:
    # streams that never open (no such file in the media dir): leases and placement need no working camera
    cameras = [{"id": f"cam{i}", "stream_url": str(faces / f"missing{i}.mp4")} for i in range(1, 4)]
    a = cluster.start("node-a", max_cameras=3)
    assert a.put("/api/config", json={"cameras": cameras}).status_code == 200
    assert a.post("/api/start").status_code == 200
    assert poll_until(lambda: cluster.leases("node-a") == {f"cam{i}": "node-a" for i in range(1, 4)}, 60.0)

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
    assert poll_until(lambda: "cam4" in cluster.leases("node-a"), 60.0, 0.1), cluster.logs()
    assert sorted(cluster.leases("node-a").values()) == ["node-a", "node-a", "node-b", "node-b"]


def test_a_person_registered_on_one_node_is_used_by_the_other_and_deleted_everywhere(
    cluster: Cluster, faces: Path, clip: Path, pg_url: str
) -> None:
    a, b = cluster.start("node-a", max_cameras=1), cluster.start("node-b", max_cameras=1)
    cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
    assert a.put("/api/config", json={"cameras": cameras, "event_cooldown_s": 1}).status_code == 200
    assert a.post("/api/start").status_code == 200
    held = poll_until(
        lambda: (lambda h: h if sorted(h.values()) == ["node-a", "node-b"] else None)(cluster.leases("node-a")), 60.0
    )
    assert held, cluster.logs()
    on_b = next(c for c, n in held.items() if n == "node-b")
    on_a = next(c for c, n in held.items() if n == "node-a")
    assert poll_until(lambda: any(r["camera_id"] == on_b for r in b.get("/api/results").json()["results"]), 120.0)

    _register_lin(a, faces)  # on A; B's match hears it (NOTIFY) and names Lin on its camera
    assert poll_until(
        lambda: any(r["camera_id"] == on_b for r in a.get(f"/api/results/{LIN}").json()["results"]), 120.0
    ), cluster.logs()
    assert "gallery changed: 1 encodings of 1 people" in b.log()

    person = b.get("/api/persons").json()["persons"][0]
    with_lin = {node: node.gallery_in_use() for node in (a, b)}
    assert b.delete(f"/api/persons/{person['id']}").status_code == 200  # on B; A stops naming Lin too
    applied_at = max(node.gallery_newer_than(version) for node, version in with_lin.items())
    reader = Store(cluster.root / "reader", database_url=pg_url)
    try:

        def unknown_on_both_after() -> bool:
            return {
                r["camera_id"]
                for r in reader.results.recent(500)
                if r["name"] == "Unknown" and _seconds(r["timestamp"]) > applied_at
            } == {on_a, on_b}

        assert poll_until(unknown_on_both_after, 120.0), cluster.logs()
        late = [r for r in reader.results.recent(1000, name=LIN) if _seconds(r["timestamp"]) > applied_at]
        assert late == []  # nobody is named Lin once both nodes' match stages have the new gallery
    finally:
        reader.close()


def test_a_database_restart_loses_nothing(
    cluster: Cluster, postgres: PostgresServer, faces: Path, clip: Path, pg_url: str
) -> None:
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
            return found.status_code == 200 and {
                r["camera_id"] for r in found.json()["results"] if _seconds(r["timestamp"]) > restarted_at
            } == {"door", "hall"}

        assert poll_until(fresh_results_from_both, 120.0), cluster.logs()
        assert all(n["alive"] for n in b.get("/api/nodes").json()["nodes"])
        assert b.post("/api/stop").status_code == 200
        # node a hears the stop on its agent's next tick: until then it may still decide events
        assert poll_until(lambda: not any(n.get("/api/status").json()["running"] for n in (a, b)), 60.0)
        reader = Store(cluster.root / "reader", database_url=pg_url)
        try:

            def decided() -> int:
                return sum(node.get("/api/stats").json()["pipeline"]["events"] for node in (a, b))

            # every event decided is stored, outage or not: the counts meet once the last events are written,
            # and stay met
            assert poll_until(lambda: reader.results.count() == decided(), 60.0), (reader.results.count(), decided())
            for _ in range(3):
                time.sleep(1.0)
                assert reader.results.count() == decided()
            assert poll_until(lambda: reader.outbox.counts()["delivered"] == decided(), 60.0), reader.outbox.counts()
            assert receiver.taken_ids() == {r["event_id"] for r in reader.results.recent(1000)}
        finally:
            reader.close()
        assert "database unreachable" in a.log() + b.log()
    finally:
        receiver.stop()


def test_a_database_outage_longer_than_a_lease_stops_the_cameras_then_each_has_one_owner_again(
    cluster: Cluster, postgres: PostgresServer, clip: Path
) -> None:
    a, b = cluster.start("node-a", max_cameras=2), cluster.start("node-b", max_cameras=2)
    cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
    assert a.put("/api/config", json={"cameras": cameras}).status_code == 200
    assert a.post("/api/start").status_code == 200
    assert poll_until(lambda: sorted(cluster.leases("node-a")) == ["door", "hall"], 60.0), cluster.logs()
    assert poll_until(lambda: sorted(_capturing(a) + _capturing(b)) == ["door", "hall"], 90.0), cluster.logs()
    assert poll_until(lambda: [n["alive"] for n in a.get("/api/nodes").json()["nodes"]] == [True, True], 60.0)

    postgres.pause()
    down_at = time.monotonic()
    try:
        # every node stops its cameras once their leases run out without the database
        assert poll_until(lambda: not _capturing(a) and not _capturing(b), 90.0), cluster.logs()
        assert "leases ran out without the database: stopping" in a.log() + b.log()
        while time.monotonic() - down_at < 12.0:  # an outage of 12 s all told, longer than the 8 s lease
            assert not _capturing(a) and not _capturing(b)
            time.sleep(0.5)
    finally:
        postgres.resume()

    def one_owner_each() -> bool:
        held = cluster.leases("node-a")
        running = sorted(_capturing(a) + _capturing(b))
        return (
            sorted(held) == ["door", "hall"]
            and running == ["door", "hall"]
            and all(c in _capturing(cluster.nodes[n]) for c, n in held.items())
        )

    assert poll_until(one_owner_each, 120.0), (cluster.leases("node-a"), cluster.logs())
    for _ in range(6):  # and it stays that way: no camera runs on both nodes
        assert sorted(_capturing(a) + _capturing(b)) == ["door", "hall"]
        time.sleep(0.5)


def _capturing(node: ServiceProcess) -> list[str]:
    """The cameras whose capture processes run under the node's supervisor."""
    return [
        cmd.split("facegate: capture ", 1)[1].strip()
        for cmd in children(node.pid).values()
        if cmd.startswith("facegate: capture ")
    ]


def test_a_node_that_stops_cleanly_hands_its_cameras_over_at_once(cluster: Cluster, faces: Path) -> None:
    cameras = [{"id": "cam1", "stream_url": str(faces / "missing1.mp4")}]
    a = cluster.start("node-a", max_cameras=1)
    cluster.start("node-b", max_cameras=1)
    assert a.put("/api/config", json={"cameras": cameras}).status_code == 200
    assert a.post("/api/start").status_code == 200
    holder = poll_until(lambda: cluster.leases("node-a").get("cam1"), 60.0)
    assert holder in ("node-a", "node-b")
    other = "node-b" if holder == "node-a" else "node-a"
    assert cluster.nodes[holder].stop(signal.SIGTERM, timeout=60) == 0
    assert poll_until(lambda: cluster.leases(other).get("cam1") == other, 60.0, 0.2)
    # gone from the list as it stopped (a killed node stays listed, not alive, long after its lease ran out)
    assert poll_until(
        lambda: [n["id"] for n in cluster.nodes[other].get("/api/nodes").json()["nodes"]] == [other], 30.0, 0.2
    )


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
            result = {
                "timestamp": "2026-11-26T00:00:00.000Z",
                "name": "Ada",
                "confidence": 0.6,
                "distance": 0.4,
                "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
            }
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
        # the work was shared (how evenly depends on which sender wakes first: a busy machine may leave one out)
        assert len(senders) >= 2, senders
    finally:
        receiver.stop()


READ_TOKEN, ADMIN_TOKEN = "cluster-read-token", "cluster-admin-token"
MJPEG_MAX_CLIENTS = 4  # viewers of one node's MJPEG streams at once (README)


def _stream(node: ServiceProcess, camera_id: str, **kwargs: object) -> requests.Response:
    return requests.get(
        f"{node.url}/api/cameras/{camera_id}/stream.mjpg?fps=2",
        stream=True,
        timeout=(10, 20),
        headers={"Authorization": f"Bearer {READ_TOKEN}"},
        **kwargs,
    )  # type: ignore[arg-type]


def _ends(response: requests.Response, within_s: float) -> bool:
    """True once the server ends the stream, read for at most `within_s` seconds."""
    deadline = time.monotonic() + within_s
    return all(time.monotonic() <= deadline for _ in response.iter_content(16384))


def test_pictures_go_to_the_advertised_node_metrics_need_a_token_and_viewers_are_bounded(
    cluster: Cluster, clip: Path
) -> None:
    ports = {name: free_port() for name in ("node-a", "node-b")}
    for name, port in ports.items():
        cluster.start(
            name,
            max_cameras=1,
            port=port,
            token=ADMIN_TOKEN,
            env={
                "FACEGATE_READ_TOKEN": READ_TOKEN,
                "FACEGATE_METRICS_AUTH": "read",
                "FACEGATE_ADVERTISE_URL": f"http://localhost:{port}/",
            },
        )  # not the host name a node would pick
    a = cluster.nodes["node-a"]
    assert a.put("/api/config", json={"cameras": [{"id": "door", "stream_url": str(clip)}]}).status_code == 200
    assert a.post("/api/start").status_code == 200
    holder = poll_until(lambda: cluster.leases("node-a").get("door"), 60.0)
    assert holder, cluster.logs()
    home, other = cluster.nodes[holder], cluster.nodes["node-b" if holder == "node-a" else "node-a"]
    assert poll_until(
        lambda: any(c["id"] == "door" and c["state"] == "live" for c in home.get("/api/status").json()["cameras"]), 90.0
    ), cluster.logs()

    # the node without the camera sends picture requests to the one with it, at its advertised URL
    moved = _stream(other, "door", allow_redirects=False)
    assert moved.status_code == 307, moved.text
    assert moved.headers["Location"] == f"http://localhost:{ports[holder]}/api/cameras/door/stream.mjpg?fps=2"
    snapshot = other.get("/api/cameras/door/snapshot.jpg", token=READ_TOKEN, allow_redirects=False)
    assert snapshot.headers["Location"] == f"http://localhost:{ports[holder]}/api/cameras/door/snapshot.jpg"

    # FACEGATE_METRICS_AUTH=read: /metrics wants the read token (or an admin one)
    assert home.get("/metrics", token="").status_code == 401
    metrics = home.get("/metrics", token=READ_TOKEN)
    assert metrics.status_code == 200 and 'facegate_camera_state{camera="door",state="live"} 1.0' in metrics.text

    # at most four viewers at once; a fifth is a 503 until one leaves
    viewers = [_stream(home, "door") for _ in range(MJPEG_MAX_CLIENTS)]
    try:
        assert [v.status_code for v in viewers] == [200] * MJPEG_MAX_CLIENTS
        fifth = _stream(home, "door")
        assert fifth.status_code == 503 and fifth.json()["error"]  # a 5xx names no cause (control/errors.py)
        viewers.pop().close()

        def admitted() -> requests.Response | None:
            again = _stream(home, "door")
            if again.status_code == 200:
                return again
            again.close()
            return None

        replacement = poll_until(admitted, 30.0)
        assert replacement is not None, "a viewer left, and still no room for another"
        viewers.append(replacement)
        # the camera removed: every open stream ends
        assert a.delete("/api/cameras/door").status_code == 200
        assert all(_ends(viewer, 30.0) for viewer in viewers), "a stream outlived its camera"
    finally:
        for viewer in viewers:
            viewer.close()
