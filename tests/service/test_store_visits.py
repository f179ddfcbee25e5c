"""Visits, presence and attendance slots in the store, on SQLite and on a real PostgreSQL (test_store.py's fixtures).

A sighting opens or extends its subject's one open visit; a visit not seen for the window is closed
once, with its `left` event, however many closers race; presence reads the newest visit of each
subject; retention and deleting a person take their visits and slots.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from facegate.db.schema import attendance_slots, outbox, visits
from facegate.store import Store
from tests.service.test_store import location, store, vector  # noqa: F401  (fixtures)

WINDOW = 60.0


def test_sightings_open_one_visit_and_extend_it_across_cameras(store: Store) -> None:  # noqa: F811
    ada = store.gallery.register("Ada", [vector(1)])
    for at, camera in ((1000.0, "door"), (1010.0, "hall"), (1005.0, "door")):
        assert store.visits.seen(camera, at, WINDOW, name="Ada") == []
    [visit] = store.visits.recent()
    assert visit["person_id"] == ada and visit["open"] and visit["sightings"] == 3
    assert visit["cameras"] == ["door", "hall"] and visit["camera_id"] == "hall"  # the latest sighting's camera
    assert visit["first_seen"].endswith("16:40.000Z") and visit["last_seen"].endswith("16:50.000Z")
    present = store.visits.presence(WINDOW, now=1030.0)
    assert present["people"] == [
        {"person_id": ada, "name": "Ada", "camera_id": "hall", "last_seen": visit["last_seen"], "present": True}
    ]
    assert store.visits.presence(WINDOW, now=1100.0) == {"people": [], "visitors": []}
    everyone = store.visits.presence(WINDOW, now=1100.0, everyone=True)
    assert [p["present"] for p in everyone["people"]] == [False]


def test_a_stale_visit_closes_once_with_its_left_event(store: Store) -> None:  # noqa: F811
    store.gallery.register("Ada", [vector(1)])
    visitor = store.visitors.create(1000.0)
    store.visits.seen("door", 1000.0, WINDOW, name="Ada")
    store.visits.seen("hall", 1020.0, WINDOW, name="Ada")
    store.visits.seen("door", 1030.0, WINDOW, visitor_id=visitor)
    assert store.visits.close_stale(WINDOW, now=1079.0) == []  # Ada seen 59 s ago: still here
    [left] = store.visits.close_stale(WINDOW, now=1081.0)
    assert (left.name, left.cameras, left.camera_id) == ("Ada", ("door", "hall"), "hall")
    payload = left.payload()
    assert payload["type"] == "left" and payload["result"]["name"] == "Ada"
    assert payload["first_seen"].endswith("16:40.000Z") and payload["last_seen"].endswith("17:00.000Z")
    assert store.visits.close_stale(WINDOW, now=1085.0) == []  # closed once
    [stranger] = store.visits.close_stale(WINDOW, now=1095.0)
    assert stranger.visitor_id == visitor and stranger.payload()["result"]["name"] == "Unknown"
    assert {v["left_event_id"] for v in store.visits.recent()} == {left.event_id, stranger.event_id}
    store.visits.seen("door", 1200.0, WINDOW, name="Ada")  # back: a new visit
    assert [v["open"] for v in store.visits.recent()][:1] == [True] and len(store.visits.recent()) == 3


def test_a_left_event_goes_to_the_endpoints_asking_for_it_never_to_the_seeds(store: Store) -> None:  # noqa: F811
    leaving = store.endpoints.add({"url": "https://hooks.example/left", "events": ["left"]})["id"]
    store.endpoints.add({"url": "https://hooks.example/appeared", "events": ["appeared"]})
    store.gallery.register("Ada", [vector(1)])
    store.visits.seen("door", 1000.0, WINDOW, name="Ada")
    [left] = store.visits.close_stale(WINDOW, now=1100.0)
    rows = store.core.rows(sa.select(outbox.c.endpoint_id, outbox.c.body).where(outbox.c.event_id == left.event_id))
    assert [row.endpoint_id for row in rows] == [leaving]  # not `default` (the seed's), not the appeared-only one
    assert '"type":"left"' in rows[0].body and '"first_seen"' in rows[0].body
    assert store.gallery.delete_person(left.person_id)  # their left events' webhooks go with them
    assert store.core.rows(sa.select(outbox.c.event_id).where(outbox.c.event_id == left.event_id)) == []


def test_a_sighting_after_the_window_closes_the_old_visit_first(store: Store) -> None:  # noqa: F811
    store.gallery.register("Ada", [vector(1)])
    store.visits.seen("door", 1000.0, WINDOW, name="Ada")
    [left] = store.visits.seen("door", 1100.0, WINDOW, name="Ada")  # no closer ran meanwhile
    assert left.last_seen.endswith("16:40.000Z")
    assert [v["open"] for v in store.visits.recent()] == [True, False]


def test_unknown_names_and_gone_visitors_are_passed_over(store: Store) -> None:  # noqa: F811
    assert store.visits.seen("door", 1000.0, WINDOW, name="Nobody") == []
    assert store.visits.seen("door", 1000.0, WINDOW, visitor_id=12345) == []
    assert store.visits.recent() == []


def test_closers_racing_on_two_connections_close_each_visit_once(location: tuple[Path, str]) -> None:  # noqa: F811
    first, second = Store(*location), Store(*location)
    try:
        for n in range(20):
            first.gallery.register(f"P{n}", [vector(n)])
            first.visits.seen("door", 1000.0 + n, WINDOW, name=f"P{n}")
        closed: list[list] = [[], []]

        def close(index: int, store: Store) -> None:
            closed[index] = store.visits.close_stale(WINDOW, now=2000.0)

        threads = [threading.Thread(target=close, args=(i, s)) for i, s in enumerate((first, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        events = [c.event_id for c in closed[0] + closed[1]]
        assert len(events) == 20 and len(set(events)) == 20
        assert {c.name for c in closed[0] + closed[1]} == {f"P{n}" for n in range(20)}
    finally:
        first.close()
        second.close()


def test_attendance_slots_count_and_retention_and_person_deletion_remove_them(store: Store) -> None:  # noqa: F811
    ada = store.gallery.register("Ada", [vector(1)])
    bob = store.gallery.register("Bob", [vector(2)])
    for at in (1000.0, 1001.0, 1950.0):
        store.visits.seen("door", at, WINDOW, name="Ada")
    store.visits.seen("door", 5000.0, WINDOW, name="Bob")
    slots = store.attendance.slots(0.0, 10_000.0, ada)
    assert [(s.slot, s.first_seen, s.last_seen, s.sightings) for s in sorted(slots, key=lambda s: s.slot)] == [
        (900.0, 1000.0, 1001.0, 2),
        (1800.0, 1950.0, 1950.0, 1),
    ]
    forgotten = store.retention.forget_before(3000.0, 6000.0)
    assert forgotten.visits == 2 and forgotten.attendance_slots == 2  # Ada came twice
    assert store.gallery.delete_person(bob)
    assert store.core.count(visits) == 0 and store.core.count(attendance_slots) == 0
    assert store.core.rows(sa.select(visits.c.id)) == []


def test_nodes_seeing_one_person_at_once_share_one_open_visit(location: tuple[Path, str]) -> None:  # noqa: F811
    stores = [Store(*location) for _ in range(4)]
    try:
        stores[0].gallery.register("Ada", [vector(1)])
        barrier = threading.Barrier(len(stores))

        def sight(index: int, store: Store) -> None:
            barrier.wait(10)
            for n in range(5):
                store.visits.seen(f"cam{index}", 1000.0 + n, WINDOW, name="Ada")

        threads = [threading.Thread(target=sight, args=(i, s)) for i, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        [visit] = stores[0].visits.recent()
        assert visit["open"] and visit["sightings"] == 20
        assert sorted(visit["cameras"]) == ["cam0", "cam1", "cam2", "cam3"]
    finally:
        for store in stores:
            store.close()
