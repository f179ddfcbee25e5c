"""Nodes, camera leases, claim settling and the cooldown read-back, on SQLite and a real PostgreSQL;
and the placement rule (facegate/placement.py) on made-up cluster views."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from control.auth import UrlSigner
from facegate.placement import ClusterView, NodeLoad, Plan, plan, shares, waiting_reason
from facegate.store import NodeRow, Store
from tests.service.test_store import BACKENDS, add_events, result


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = "" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened = Store(tmp_path, database_url=url)
    yield opened
    opened.close()


def node(node_id: str, heartbeat_at: float, **status: object) -> NodeRow:
    return NodeRow(node_id, "host-1", 4242, f"http://{node_id}:5001", 3, 1000.0, heartbeat_at, dict(status))


def test_heartbeats_refresh_one_row_per_node(store: Store) -> None:
    tables = store.cluster
    tables.heartbeat(node("a", 1000.0))
    tables.heartbeat(node("b", 1001.0))
    tables.heartbeat(node("a", 1004.0, cameras={"cam0": {"state": "live"}}))
    rows = {n.node_id: n for n in tables.nodes()}
    assert sorted(rows) == ["a", "b"]
    assert rows["a"].heartbeat_at == 1004.0 and rows["a"].started_at == 1000.0
    assert rows["a"].status == {"cameras": {"cam0": {"state": "live"}}}
    assert rows["a"].alive(1010.0, 8.0) and not rows["b"].alive(1010.0, 8.0)
    assert tables.forget_dead(older_than=1002.0) == 1
    assert [n.node_id for n in tables.nodes()] == ["a"]


def test_a_lease_is_held_by_one_node_until_it_runs_out(store: Store) -> None:
    tables = store.cluster
    assert tables.acquire("cam0", "a", 1000.0, 8.0) is True
    assert tables.acquire("cam0", "b", 1005.0, 8.0) is False  # a's lease runs to 1008
    assert tables.acquire("cam0", "a", 1005.0, 8.0) is True  # taking one's own again is a renewal
    assert tables.renew("a", ["cam0", "cam9"], 1010.0, 8.0) == {"cam0"}  # cam9 was never a's
    assert tables.leases()["cam0"].lease_until == 1018.0
    # a stops renewing (it died): after 1018 the camera is b's, and a's late renewal finds it lost
    assert tables.acquire("cam0", "b", 1018.5, 8.0) is True
    assert tables.renew("a", ["cam0"], 1019.0, 8.0) == set()
    lease = tables.leases()["cam0"]
    assert (lease.node_id, lease.acquired_at, lease.lease_until) == ("b", 1018.5, 1026.5)
    tables.release("a", ["cam0"])  # not a's: nothing happens
    assert tables.leases()["cam0"].node_id == "b"
    tables.release("b", ["cam0"])
    assert tables.leases() == {}


def test_racing_nodes_never_both_take_a_camera(store: Store, tmp_path: Path) -> None:
    url = "" if store.backend == "sqlite" else store.url.render_as_string(hide_password=False)
    stores = [Store(tmp_path, database_url=url) for _ in range(4)]
    won: list[str] = []
    start = threading.Barrier(len(stores))

    def take(name: str, own: Store) -> None:
        start.wait(30)
        for camera in range(20):
            if own.cluster.acquire(f"cam{camera}", name, 1000.0, 8.0):
                won.append(f"cam{camera}")

    threads = [threading.Thread(target=take, args=(f"n{i}", s)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for own in stores:
        own.close()
    assert sorted(won) == sorted(f"cam{c}" for c in range(20))  # each camera won exactly once


def test_forgetting_a_node_frees_its_cameras(store: Store) -> None:
    tables = store.cluster
    tables.heartbeat(node("a", 1000.0))
    tables.acquire("cam0", "a", 1000.0, 8.0)
    tables.acquire("cam1", "b", 1000.0, 8.0)
    tables.forget_node("a")
    assert list(tables.leases()) == ["cam1"] and tables.nodes() == []


def test_an_outcome_from_a_node_whose_claim_was_taken_over_is_ignored(store: Store) -> None:
    add_events(store, 1, created=1000.0)
    assert [d["event_id"] for d in store.outbox.claim("a", 1001.0, lease_s=10.0)] == ["evt_0000"]
    assert store.outbox.next_due_at() == 1011.0  # the claim's end, not the past retry time
    assert [d["event_id"] for d in store.outbox.claim("b", 1012.0, lease_s=10.0)] == ["evt_0000"]
    assert store.outbox.mark_retry("evt_0000", 1, 1020.0, "late", node_id="a") is False
    assert store.outbox.mark_delivered("evt_0000", 1, 1013.0, node_id="b") is True
    row = store.outbox.get("evt_0000")
    assert (row["status"], row["claimed_by"], row["last_error"]) == ("delivered", None, None)


def test_last_events_give_the_cooldown_to_the_next_node(store: Store) -> None:
    store.results.add("e1", result("Ada"), "door", None, None, created=1000.0)
    store.results.add("e2", result("Ada"), "door", None, None, created=1004.0)
    store.results.add("e3", result("Bob"), "door", None, None, created=990.0)
    store.results.add("e4", result("Cy"), "hall", None, None, created=1005.0)
    assert store.results.last_events("door", since=995.0) == {"Ada": 1004.0}


# --- the placement rule -------------------------------------------------------------------------------------
def view(
    mine: dict[str, float],
    wanted: list[str],
    others: dict[str, tuple[int, int]],
    *,
    taken: set[str] = frozenset(),
    capacity: int = 4,
    now: float = 100.0,
    last_handover: float = 0.0,
    node_id: str = "a",
) -> ClusterView:
    return ClusterView(
        capacity=capacity,
        mine=mine,
        wanted=wanted,
        taken=set(taken),
        others={n: NodeLoad(*load) for n, load in others.items()},
        now=now,
        last_handover=last_handover,
        node_id=node_id,
    )


def taking(decided: Plan) -> set[str]:
    """The cameras a node holds after its tick when every one it tries is free."""
    return set(decided.take[: decided.share])


def test_free_cameras_go_to_the_least_busy_node() -> None:
    cams = ["c1", "c2", "c3", "c4"]
    # alone: it takes all, up to its capacity, the oldest first
    assert taking(plan(view({}, cams, {}, capacity=3), min_hold_s=10)) == {"c1", "c2", "c3"}
    # another node carries none: take half and leave the rest for it
    assert plan(view({}, cams, {"b": (0, 4)}), min_hold_s=10).share == 2
    # the other node is full: its load does not hold this one back
    assert taking(plan(view({}, cams, {"b": (4, 4)}), min_hold_s=10)) == set(cams)
    # taken cameras are not free
    assert taking(plan(view({}, cams, {"b": (2, 4)}, taken={"c1", "c2"}), min_hold_s=10)) == {"c3", "c4"}


def test_a_burst_of_cameras_is_split_in_one_tick_and_the_rest_wait() -> None:
    cams = [f"cam{i}" for i in range(48)]
    for nodes in (("a", "b"), ("a", "b", "c")):
        plans = {
            n: plan(view({}, cams, {o: (0, 16) for o in nodes if o != n}, capacity=16, node_id=n), min_hold_s=10)
            for n in nodes
        }
        assert [p.share for p in plans.values()] == [16] * len(nodes)
        oldest = set(cams[: 16 * len(nodes)])
        assert all(set(p.take[: 16 * len(nodes)]) == oldest for p in plans.values())  # the newest wait
        assert len({tuple(p.take[:16]) for p in plans.values()}) == len(nodes)  # each node its own order
    # one node of three killed: its 16 go to the two others as room allows (they have 4 each)
    left = plan(
        view({c: 1.0 for c in cams[:12]}, cams, {"c": (12, 16)}, taken=set(cams[12:24]), capacity=16, node_id="a"),
        min_hold_s=10,
    )
    assert left.share == 4 and set(left.take[:24]) == set(cams[24:48])
    assert shares({"a": NodeLoad(3, 4), "b": NodeLoad(1, 2), "c": NodeLoad(0, 0)}, 5) == {"a": 1, "b": 1, "c": 0}


def test_why_a_camera_waits() -> None:
    assert waiting_reason([NodeLoad(16, 16), NodeLoad(16, 16)]) == "every node is full: 2 nodes x 16"
    assert waiting_reason([NodeLoad(16, 16)]) == "every node is full: 1 node x 16"
    assert waiting_reason([NodeLoad(4, 4), NodeLoad(2, 2)]) == "every node is full: 2 nodes, 6 cameras in all"
    assert waiting_reason([]) == "no node is running"
    assert waiting_reason([NodeLoad(3, 4)]).startswith("waiting for a node with room")


def test_unwanted_and_excess_cameras_are_given_up() -> None:
    decided = plan(view({"c1": 1.0, "c2": 2.0, "c3": 3.0}, ["c1", "c3"], {}, capacity=1), min_hold_s=10)
    assert decided.give_up == ["c2", "c3"] and decided.take == []
    assert plan(view({"c1": 1.0}, [], {}), min_hold_s=10).give_up == ["c1"]  # removed or disabled


def test_a_new_node_gets_cameras_from_the_busiest_without_flapping() -> None:
    held = {"c1": 10.0, "c2": 20.0, "c3": 30.0}
    wanted = ["c1", "c2", "c3"]
    # busy node (3) vs a newcomer (0): give up the newest camera held long enough, one per min_hold_s
    assert plan(view(held, wanted, {"new": (0, 4)}, taken=set()), min_hold_s=10).give_up == ["c3"]
    assert plan(view(held, wanted, {"new": (0, 4)}, last_handover=95.0), min_hold_s=10).give_up == []
    assert plan(view(held, wanted, {"new": (0, 4)}, now=35.0), min_hold_s=10).give_up == ["c2"]  # c3 too new
    # 2 against 1: moving one would only swap the counts, so nothing moves
    assert plan(view({"c1": 10.0, "c2": 20.0}, wanted, {"b": (1, 4)}, taken={"c3"}), min_hold_s=10).give_up == []
    # the newcomer's side: it takes what was given up, and the giver does not take it back
    assert plan(view({}, wanted, {"old": (2, 4)}, taken={"c1", "c2"}), min_hold_s=10).take == ["c3"]
    assert plan(view({"c1": 10.0, "c2": 20.0}, wanted, {"new": (0, 4)}, taken=set()), min_hold_s=10).take == []


def test_nodes_sharing_a_database_sign_picture_urls_with_one_key(store: Store, tmp_path: Path) -> None:
    """A picture URL one node signs is good on the node its 307 leads to: the key is the database's."""
    url = "" if store.backend == "sqlite" else store.url.render_as_string(hide_password=False)
    other = Store(tmp_path, database_url=url)
    try:
        key = store.core.shared_secret("url_signing_key")
        assert len(bytes.fromhex(key)) == 32
        assert other.core.shared_secret("url_signing_key") == key  # made once, by whichever asked first
        assert store.core.shared_secret("another_key") != key
        query, _ = UrlSigner(300, bytes.fromhex(key)).sign("/api/cameras/door/snapshot.jpg")
        fields = dict(part.split("=", 1) for part in query.split("&"))
        on_other_node = UrlSigner(300, bytes.fromhex(other.core.shared_secret("url_signing_key")))
        assert on_other_node.verify("/api/cameras/door/snapshot.jpg", fields["expires"], fields["signature"])
        assert not UrlSigner(300).verify("/api/cameras/door/snapshot.jpg", fields["expires"], fields["signature"])
    finally:
        other.close()
