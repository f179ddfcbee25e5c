"""Presence and attendance across two nodes on one PostgreSQL database (test_cluster.py's nodes), end to end.

Each node runs one of two cameras on the real clip, so Lin-Manuel Miranda is seen by both nodes at
once: his sightings make one visit with both cameras, it ends once with one `left` event, and the
two nodes answer presence and attendance alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from facegate.db.schema import outbox
from facegate.store import Store
from tests.service.test_cluster import LIN, Cluster, _register_lin, cluster  # noqa: F401  (fixture)
from tests.support.service_proc import poll_until

WINDOW_S = 15.0
pytestmark = pytest.mark.slow


def lin_visits(node: object) -> list[dict]:
    return [v for v in node.get("/api/visits").json()["visits"] if v["name"] == LIN]  # type: ignore[attr-defined]


def test_two_nodes_make_one_visit_one_left_and_agree(
    cluster: Cluster,  # noqa: F811
    faces: Path,
    clip: Path,
    pg_url: str,
) -> None:
    reader = Store(cluster.root / "reader", database_url=pg_url)
    try:
        asking = reader.endpoints.add({"url": "https://hooks.invalid/left", "events": ["left"]})["id"]
        a, b = cluster.start("node-a", max_cameras=1), cluster.start("node-b", max_cameras=1)
        _register_lin(a, faces)
        cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
        config = {"cameras": cameras, "event_cooldown_s": 3600, "presence_window_s": WINDOW_S}
        assert a.put("/api/config", json=config).status_code == 200
        assert a.post("/api/start").status_code == 200
        held = poll_until(lambda: sorted(cluster.leases("node-a").values()) == ["node-a", "node-b"], 60.0)
        assert held, cluster.logs()
        both = poll_until(lambda: [v for v in lin_visits(b) if sorted(v["cameras"]) == ["door", "hall"]], 120.0)
        assert both and both[0]["open"], cluster.logs()
        present = {node.url: [p["name"] for p in node.get("/api/presence").json()["people"]] for node in (a, b)}
        assert list(present.values()) == [[LIN], [LIN]]

        assert b.post("/api/stop").status_code == 200
        ended = poll_until(lambda: [v for v in lin_visits(a) if not v["open"]], WINDOW_S + 60.0)
        assert ended, cluster.logs()
        [visit] = lin_visits(a)  # one visit for both nodes' sightings, ended once
        assert sorted(visit["cameras"]) == ["door", "hall"] and visit["left_event_id"]
        rows = reader.core.rows(sa.select(outbox.c.event_id).where(outbox.c.endpoint_id == asking))
        assert [row.event_id for row in rows] == [visit["left_event_id"]]  # one `left`, not one per node

        everyone = [node.get("/api/presence?all=true").json() for node in (a, b)]
        assert everyone[0] == everyone[1]
        [lin] = [p for p in everyone[0]["people"] if p["name"] == LIN]
        assert lin["present"] is False and lin["last_seen"] == visit["last_seen"]
        today = datetime.now(UTC).date().isoformat()
        days = [node.get(f"/api/attendance?from={today}&to={today}").json() for node in (a, b)]
        assert days[0] == days[1]
        [row] = days[0]["days"]
        assert row["name"] == LIN and row["cameras"] == ["door", "hall"] and row["sightings"] >= 2
        csvs = [node.get(f"/api/attendance?from={today}&to={today}&format=csv").text for node in (a, b)]
        assert csvs[0] == csvs[1] and LIN in csvs[0]
    finally:
        reader.close()
