"""The store on both backends: every test here runs against SQLite and against a real PostgreSQL.

The `store` fixture is parametrized over the two, so one behaviour is asserted once and held by
both. Migrations, concurrent start-up (real processes), outbox claims under concurrency and the
adoption of a data dir written by the first release are covered here too.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from facegate.db import migrate
from facegate.db.schema import metadata
from facegate.store import DB_NAME, Forgotten, NameInUse, Sighting, Store, StoreError
from facegate.store.retention import DAY_S, cutoff

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("sqlite", "postgresql")
HEAD = "0009"


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """(data dir, database URL): "" is SQLite in the data dir, else a fresh PostgreSQL database."""
    url = "" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return tmp_path, url


@pytest.fixture
def store(location: tuple[Path, str]) -> Iterator[Store]:
    opened = Store(*location)
    yield opened
    opened.close()


def vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.1, 128)


def result(name: str, top: int = 10, distance: float = 0.4) -> dict:
    return {
        "timestamp": "2026-11-25T10:00:00.000Z",
        "name": name,
        "confidence": round(1 - distance, 2),
        "distance": distance,
        "box": {"top": top, "right": top + 50, "bottom": top + 60, "left": top - 5},
    }


def add_events(store: Store, count: int, *, created: float = 1000.0, webhooks: bool = True) -> list[str]:
    ids = []
    for i in range(count):
        event_id = f"evt_{i:04d}"
        store.results.add(
            event_id,
            result(f"P{i % 3}", top=i),
            "cam0",
            "rtsp://cam",
            json.dumps({"n": i}) if webhooks else None,
            created=created + i,
        )
        ids.append(event_id)
    return ids


def revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return migrate.current_revision(connection)


# --- persons, encodings, the gallery ------------------------------------------------------------------
def test_the_backend_is_the_one_asked_for(store: Store, location: tuple[Path, str]) -> None:
    data_dir, url = location
    assert store.backend == ("postgresql" if url else "sqlite")
    assert (data_dir / DB_NAME).exists() == (not url)


def test_register_list_and_delete_persons(store: Store) -> None:
    a, b, c = vector(1), vector(2), vector(3)
    ada = store.gallery.register("Ada", [a], client_id="c1", image_url="https://img/ada.jpg")
    assert store.gallery.register("Ada", [b]) == ada  # the same person, a second photo
    bob = store.gallery.register("Bob", [c], client_id="c2")
    assert ada != bob
    people = store.gallery.people()
    assert [(p["id"], p["name"], p["client_id"], p["image_url"], p["encodings"]) for p in people] == [
        (ada, "Ada", "c1", "https://img/ada.jpg", 2),
        (bob, "Bob", "c2", None, 1),
    ]
    assert people[0]["created_at"].endswith("Z")
    store.gallery.register("Ada", [c], client_id="c9")  # a new client id replaces, a missing image_url keeps the old
    ada_now = store.gallery.person(ada)
    assert ada_now["client_id"] == "c9" and ada_now["image_url"] == "https://img/ada.jpg"
    assert store.gallery.person(9999) is None
    assert (store.gallery.count_people(), store.gallery.count_encodings()) == (2, 4)
    assert store.gallery.add_encodings(bob, [a, b]) == 3
    assert store.gallery.add_encodings(9999, [a]) == 0
    assert store.gallery.delete_person(ada) is True
    assert store.gallery.delete_person(ada) is False
    assert [p["name"] for p in store.gallery.people()] == ["Bob"]
    assert (store.gallery.count_people(), store.gallery.count_encodings()) == (1, 3)


def test_bad_encodings_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="128 finite numbers"):
        store.gallery.register("Ada", [[0.1] * 127])
    with pytest.raises(ValueError, match="128 finite numbers"):
        store.gallery.register("Ada", [[float("nan")] * 128])
    with pytest.raises(ValueError, match="at least one"):
        store.gallery.register("Ada", [])
    assert store.gallery.count_people() == 0


def test_gallery_matrix_and_its_version(store: Store) -> None:
    assert store.gallery.all_vectors()[0].shape == (0, 128) and store.gallery.all_vectors()[1] == []
    assert store.gallery.version() == 0
    a, b, c = vector(1), vector(2), vector(3)
    ada = store.gallery.register("Ada", [a, b])
    store.gallery.register("Bob", [c])
    matrix, names = store.gallery.all_vectors()
    assert matrix.dtype == np.float64 and matrix.shape == (3, 128)
    np.testing.assert_array_equal(matrix, np.stack([a, b, c]))  # exact: stored as float64 bytes
    assert names == ["Ada", "Ada", "Bob"]
    assert store.gallery.version() == 2
    store.gallery.add_encodings(ada, [c])
    store.gallery.delete_person(ada)
    assert store.gallery.version() == 4
    assert store.gallery.all_vectors()[1] == ["Bob"]
    store.gallery.delete_person(ada)  # nothing deleted: the version stays
    assert store.gallery.version() == 4


def test_two_nodes_registering_one_new_name_at_once_make_one_person(location: tuple[Path, str]) -> None:
    stores = [Store(*location) for _ in range(4)]
    ids: list[int] = []
    lock = threading.Lock()

    def register(s: Store, seed: int) -> None:
        found = s.gallery.register("Ada", [vector(seed)])
        with lock:
            ids.append(found)

    threads = [threading.Thread(target=register, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert stores[0].gallery.person(ids[0])["encodings"] == 4
    for s in stores:
        s.close()


# --- results --------------------------------------------------------------------------------------------
def test_results_newest_first_by_name_latest_counts(store: Store) -> None:
    assert store.results.latest() is None and store.results.recent() == [] and store.results.count() == 0
    ids = add_events(store, 7)
    newest = store.results.recent()
    assert [r["event_id"] for r in newest] == ids[::-1]
    assert newest[0] == {
        "timestamp": "2026-11-25T10:00:00.000Z",
        "name": "P0",
        "confidence": 0.6,
        "distance": 0.4,
        "box": {"top": 6, "right": 56, "bottom": 66, "left": 1},
        "camera_id": "cam0",
        "event_id": "evt_0006",
    }
    assert [r["event_id"] for r in store.results.recent(limit=2)] == ["evt_0006", "evt_0005"]
    assert [r["event_id"] for r in store.results.recent(name="P1")] == ["evt_0004", "evt_0001"]
    assert store.results.recent(name="nobody") == []
    assert store.results.latest()["event_id"] == "evt_0006"
    assert store.results.count() == 7
    assert store.results.counts_by_name() == {"P0": 3, "P1": 2, "P2": 2}
    store.results.add("evt_0000", result("Someone else"), "cam1", None, None)  # the same event twice: kept once
    assert store.results.count() == 7 and store.results.recent(name="Someone else") == []


def test_retention_forgets_old_results_visitors_unknown_faces_and_their_webhooks(store: Store) -> None:
    now = time.time()
    before = now - 30 * DAY_S
    old_visitor, new_visitor = store.visitors.create(before - DAY_S), store.visitors.create(now - DAY_S)
    for visitor_id, seen in ((old_visitor, before - DAY_S), (new_visitor, now - DAY_S)):
        store.visitors.offer_face(visitor_id, vector(visitor_id), b"crop", 5.0)
        store.results.add(
            f"evt_v{visitor_id}",
            result("Unknown"),
            "cam0",
            None,
            "{}",
            created=seen,
            sighting=Sighting(vector(visitor_id), b"crop", visitor_id),
        )
    add_events(store, 3, created=before - 1.5)  # two before the cut-off, one after
    store.unknown.add("evt_0000", "cam0", now - DAY_S, (1, 2, 3, 4), b"old", vector(1))  # its event is old
    kept_unknown = store.unknown.add("evt_fresh", "cam0", time.time(), (1, 2, 3, 4), b"new", vector(2))
    sightings = store.results.version()

    forgotten = store.retention.forget_before(before, now)
    assert forgotten == Forgotten(results=3, visitors=1, visitor_faces=1, unknown_faces=1, outbox=3)
    assert sorted(r["event_id"] for r in store.results.recent()) == ["evt_0002", f"evt_v{new_visitor}"]
    assert [v["id"] for v in store.visitors.page()[0]] == [new_visitor]
    assert store.visitors.index()[1] == [new_visitor] and store.visitors.face_jpeg(old_visitor, 1) is None
    assert [u["id"] for u in store.unknown.recent()] == [kept_unknown]
    assert store.outbox.get("evt_0000") is None and store.outbox.get(f"evt_v{old_visitor}") is None
    assert store.outbox.get("evt_0002") is not None
    assert store.results.version() > sightings, "search by photo reloads what it holds"
    assert store.retention.forget_before(before, now).total == 0, "a second pass (another node) finds nothing"


def test_retention_zero_keeps_results_but_unknown_faces_still_go_after_their_week(store: Store) -> None:
    now = time.time()
    add_events(store, 1, created=1000.0)
    kept = store.unknown.add("evt_x", "cam0", now, (1, 2, 3, 4), b"new", vector(1))
    with store.engine.begin() as db:  # a week-old one, planted (an add would trim it): an idle system keeps it
        db.execute(
            sa.text(
                "INSERT INTO unknown_faces (event_id, camera_id, seen_at, created, box_top, box_right,"
                " box_bottom, box_left, jpeg, vector) SELECT 'evt_y', camera_id, seen_at, :old, box_top,"
                " box_right, box_bottom, box_left, jpeg, vector FROM unknown_faces LIMIT 1"
            ),
            {"old": now - 8 * DAY_S},
        )
    assert store.retention.forget_before(cutoff(now, 0), now) == Forgotten(unknown_faces=1)
    assert store.results.count() == 1 and [u["id"] for u in store.unknown.recent()] == [kept]


def test_deleting_a_person_or_visitor_takes_their_webhook_rows_delivered_or_not(store: Store) -> None:
    person_id = store.gallery.register("P0", [vector(0)])
    add_events(store, 3)  # P0, P1, P2
    store.outbox.mark_delivered("evt_0000", 1, 1001.0)
    visitor_id = store.visitors.create(1000.0)
    store.results.add(
        "evt_v", result("Unknown"), "cam0", None, "{}", created=1000.0, sighting=Sighting(vector(5), None, visitor_id)
    )
    store.outbox.mark_delivered("evt_v", 1, 1001.0)
    assert store.gallery.delete_person(person_id)
    assert store.outbox.get("evt_0000") is None and store.outbox.get("evt_0001") is not None
    assert store.visitors.delete(visitor_id)
    assert store.outbox.get("evt_v") is None
    assert store.outbox.counts() == {"pending": 2, "retrying": 0, "delivered": 0, "failed": 0}


def test_a_unit_of_work_commits_every_write_together_or_none(store: Store) -> None:
    with pytest.raises(RuntimeError, match="the audit row failed"), store.core.unit_of_work():
        store.gallery.register("Ada", [vector(1)])
        assert store.gallery.person(1)["name"] == "Ada", "the unit reads its own write"
        store.core.after_commit(lambda: pytest.fail("ran after a rollback"))
        raise RuntimeError("the audit row failed")
    assert store.gallery.people() == []
    ran: list[str] = []
    with store.core.unit_of_work() as unit:
        assert not unit.is_open, "nothing written: no connection held"
        person_id = store.gallery.register("Ada", [vector(1)])
        with pytest.raises(NameInUse):  # a failed step inside (a savepoint) leaves the rest of the unit usable
            store.gallery.rename_person(store.gallery.register("Bo", [vector(2)]), "Ada")
        store.core.after_commit(lambda: ran.append("after"))
        assert ran == []
    assert ran == ["after"] and [p["name"] for p in store.gallery.people()] == ["Ada", "Bo"]
    assert store.gallery.person(person_id) is not None


def test_sqlite_overwrites_deleted_faces_and_keeps_its_files_to_the_owner(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    store.gallery.register("Bo", [vector(2)], crops=[b"crop-of-bo" * 50])
    crops = [b"CROP-OF-ADA" * 50, b"CROP-OF-ADA" * 3000]  # one in its row's page, one on overflow pages
    person_id = store.gallery.register("Ada", [vector(1), vector(3)], crops=crops)
    store.core.checkpoint()  # as SQLite does by itself now and then: the crop is in the database file now
    assert store.gallery.delete_person(person_id)
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    parts = [p for p in (tmp_path / "data").iterdir() if p.name.startswith(DB_NAME)]
    assert {p.name for p in parts} >= {DB_NAME, f"{DB_NAME}-wal"}, "checked while open: the WAL is there"
    with store.engine.connect() as connection:  # on by default in some SQLite builds (Debian's), not in all
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    for part in parts:  # while the store is open: closing it would checkpoint anyway
        assert part.stat().st_mode & 0o777 == 0o600, part.name
        assert b"CROP-OF-ADA" not in part.read_bytes(), f"{part.name} keeps a deleted crop"
    store.close()


# --- the outbox -----------------------------------------------------------------------------------------
def test_outbox_due_retry_delivered_failed(store: Store) -> None:
    assert store.outbox.next_due_at() is None
    add_events(store, 3, created=1000.0)
    store.results.add("evt_quiet", result("Q"), "cam0", None, None, created=999.0)  # webhooks off: no row
    assert store.outbox.get("evt_quiet") is None
    assert store.outbox.counts() == {"pending": 3, "retrying": 0, "delivered": 0, "failed": 0}
    assert store.outbox.next_due_at() == 1000.0
    assert store.outbox.due(1001.0) == [
        {"event_id": "evt_0000", "body": '{"n": 0}', "attempts": 0, "created": 1000.0},
        {"event_id": "evt_0001", "body": '{"n": 1}', "attempts": 0, "created": 1001.0},
    ]
    assert [d["event_id"] for d in store.outbox.due(5000.0, limit=1)] == ["evt_0000"]

    store.outbox.mark_retry("evt_0000", 1, 1100.0, "HTTP 500 " + "x" * 600)
    row = store.outbox.get("evt_0000")
    assert (row["status"], row["attempts"], row["next_attempt_at"], len(row["last_error"])) == (
        "retrying",
        1,
        1100.0,
        500,
    )
    assert [d["event_id"] for d in store.outbox.due(1050.0)] == ["evt_0001", "evt_0002"]
    assert [d["event_id"] for d in store.outbox.due(1100.0)] == ["evt_0001", "evt_0002", "evt_0000"]

    store.outbox.mark_delivered("evt_0001", 1, 1001.25)
    store.outbox.mark_delivered("evt_0002", 2, 1012.0)
    store.outbox.mark_failed("evt_0000", 20, "gave up")
    assert store.outbox.counts() == {"pending": 0, "retrying": 0, "delivered": 2, "failed": 1}
    assert store.outbox.due(1e12) == [] and store.outbox.next_due_at() is None
    assert store.outbox.get("evt_0001")["last_error"] is None
    assert store.outbox.latencies() == [10.0, 0.25]  # the latest delivery first
    assert store.outbox.failed() == [
        {"event_id": "evt_0000", "body": '{"n": 0}', "attempts": 20, "created": 1000.0, "last_error": "gave up"}
    ]

    assert store.outbox.retry_failed(now=2000.0) == 1
    assert store.outbox.retry_failed(now=2000.0) == 0
    row = store.outbox.get("evt_0000")
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, 2000.0)
    assert store.outbox.failed() == []


def test_claims_take_due_rows_once_until_the_lease_ends(store: Store) -> None:
    add_events(store, 4, created=1000.0)
    first = store.outbox.claim("node-a", 1002.0, limit=2, lease_s=30.0)
    assert first == [
        {"event_id": "evt_0000", "body": '{"n": 0}', "attempts": 0, "created": 1000.0},
        {"event_id": "evt_0001", "body": '{"n": 1}', "attempts": 0, "created": 1001.0},
    ]
    held = store.outbox.get("evt_0000")
    assert (held["claimed_by"], held["claimed_until"], held["status"]) == ("node-a", 1032.0, "pending")
    # held rows are nobody else's, and not due for a single emitter either
    assert [d["event_id"] for d in store.outbox.claim("node-b", 1002.0, limit=10)] == ["evt_0002"]
    assert store.outbox.claim("node-b", 1010.0, limit=10) == [
        {"event_id": "evt_0003", "body": '{"n": 3}', "attempts": 0, "created": 1003.0}
    ]
    assert store.outbox.due(1010.0) == []
    assert store.outbox.claim("node-c", 1031.0) == []
    # node-a settles one and dies holding the other: once its lease is over, node-c gets that one, same id
    store.outbox.mark_retry("evt_0001", 1, 1040.0, "HTTP 503")
    assert store.outbox.get("evt_0001")["claimed_by"] is None
    again = store.outbox.claim("node-c", 1032.5, lease_s=30.0)
    assert [d["event_id"] for d in again] == ["evt_0000"] and again[0]["body"] == '{"n": 0}'
    assert store.outbox.get("evt_0000")["claimed_by"] == "node-c"
    store.outbox.mark_delivered("evt_0000", 1, 1033.0)
    row = store.outbox.get("evt_0000")
    assert (row["status"], row["claimed_by"], row["claimed_until"]) == ("delivered", None, None)
    assert store.outbox.claim("node-c", 1033.0) == []  # evt_0001 waits for its retry time
    assert [d["event_id"] for d in store.outbox.claim("node-c", 1040.0)] == ["evt_0001"]


def test_concurrent_claimers_never_share_a_row(location: tuple[Path, str]) -> None:
    seed = Store(*location)
    ids = add_events(seed, 150, created=1000.0)
    claimers = [Store(*location) for _ in range(3)]
    taken: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(claimers))

    def claim(node: str, store: Store) -> None:
        mine: list[str] = []
        try:
            start.wait(30)
            for _ in range(400):  # bounded: 150 rows at 4 a claim need far fewer rounds
                got = store.outbox.claim(node, 5000.0, limit=4, lease_s=600.0)
                if not got and not store.outbox.due(5000.0, limit=1):
                    break
                mine.extend(d["event_id"] for d in got)
        except BaseException as exc:
            errors.append(exc)
        taken[node] = mine

    threads = [threading.Thread(target=claim, args=(f"node-{i}", s)) for i, s in enumerate(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    everything = [event_id for mine in taken.values() for event_id in mine]
    assert sorted(everything) == ids  # every row claimed, none twice
    for node, mine in taken.items():  # each row is recorded as held by the node that got it
        assert all(seed.outbox.get(event_id)["claimed_by"] == node for event_id in mine)
    for s in [seed, *claimers]:
        s.close()


# --- unknown faces, config, meta, the old script's files ---------------------------------------------------
def test_unknown_faces_are_kept_listed_and_trimmed(store: Store) -> None:
    now = time.time()
    store.unknown.add("evt_old", "cam0", now - 8 * 86400.0, (1, 2, 3, 4), b"old", vector(0))  # already too old
    assert store.unknown.recent() == []
    store.unknown.KEEP_ROWS = 3
    ids = [
        store.unknown.add(f"evt_{i}", "cam1", now + i, (10 + i, 60, 70, 5), b"jpeg%d" % i, vector(i)) for i in range(5)
    ]
    listed = store.unknown.recent()
    assert [u["id"] for u in listed] == ids[:1:-1]
    assert listed[0] == {
        "id": ids[4],
        "event_id": "evt_4",
        "camera_id": "cam1",
        "seen_at": listed[0]["seen_at"],
        "box": {"top": 14, "right": 60, "bottom": 70, "left": 5},
    }
    assert [u["id"] for u in store.unknown.recent(limit=1)] == [ids[4]]
    face = store.unknown.get(ids[3])
    assert face["jpeg"] == b"jpeg3" and face["camera_id"] == "cam1"
    np.testing.assert_array_equal(face["encoding"], vector(3))
    assert store.unknown.get(ids[0]) is None
    assert store.unknown.delete(ids[3]) is True and store.unknown.delete(ids[3]) is False
    assert [u["id"] for u in store.unknown.recent()] == [ids[4], ids[2]]


def test_config_and_meta_with_versions(store: Store) -> None:
    assert store.config.read() == {} and store.config.version() == 0
    cameras = [{"id": "door", "stream_url": "rtsp://door/live", "name": "Front", "enabled": True}]
    store.config.update({"threshold": 0.55, "cameras": cameras, "stream_url": None, "unknown_events": False})
    store.config.update({"threshold": 0.5})
    store.config.update({})  # nothing to write: no new version
    assert store.config.read() == {"threshold": 0.5, "cameras": cameras, "stream_url": None, "unknown_events": False}
    assert store.config.version() == 2
    assert store.core.get_meta("running") is None and store.core.get_meta("running", "no") == "no"
    store.core.set_meta("running", "1")
    store.core.set_meta("running", "0")
    assert store.core.get_meta("running") == "0"


def test_legacy_files_are_imported_once(store: Store, tmp_path: Path) -> None:
    vectors = np.stack([vector(1), vector(2), vector(3)])
    np.save(tmp_path / "encodings.npy", vectors)
    (tmp_path / "labels.json").write_text(json.dumps(["Ada", "Bob", "Ada"]))
    assert store.gallery.import_legacy(tmp_path / "encodings.npy", tmp_path / "labels.json") == 3
    assert [(p["name"], p["encodings"]) for p in store.gallery.people()] == [("Ada", 2), ("Bob", 1)]
    matrix, names = store.gallery.all_vectors()
    np.testing.assert_array_equal(matrix, vectors[[0, 2, 1]])
    assert names == ["Ada", "Ada", "Bob"]
    assert store.gallery.import_legacy(tmp_path / "encodings.npy", tmp_path / "labels.json") == 0
    assert store.gallery.count_encodings() == 3


def test_mismatched_legacy_files_are_refused(store: Store, tmp_path: Path) -> None:
    np.save(tmp_path / "encodings.npy", np.stack([vector(1), vector(2)]))
    (tmp_path / "labels.json").write_text(json.dumps(["Ada"]))
    with pytest.raises(StoreError, match="do not match"):
        store.gallery.import_legacy(tmp_path / "encodings.npy", tmp_path / "labels.json")
    assert store.gallery.count_people() == 0


# --- migrations ---------------------------------------------------------------------------------------------
def test_migrations_reach_head_and_match_the_schema(store: Store) -> None:
    assert revision(store) == migrate.head_revision() == migrate.HEAD == HEAD
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_migrating_again_is_a_no_op(location: tuple[Path, str]) -> None:
    first = Store(*location)
    person = first.gallery.register("Ada", [vector(1)])
    add_events(first, 2)
    first.close()
    second = Store(*location)
    assert migrate.upgrade(second.engine) is False
    assert revision(second) == HEAD
    assert [p["id"] for p in second.gallery.people()] == [person]
    assert second.results.count() == 2 and second.outbox.counts()["pending"] == 2
    assert second.gallery.register("Bob", [vector(2)]) == person + 1
    second.close()


NODES = 4
OPEN_AT = """
import os, sys, time
from facegate.store import Store
print("ready", flush=True)
deadline = time.monotonic() + 120
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:  # the start line: all open at once
    time.sleep(0.001)
store = Store(sys.argv[1], database_url=sys.argv[2])
store.gallery.register("node-" + sys.argv[4], [[0.01] * 128])
print(store.backend, store.gallery.count_people())
"""


def test_nodes_migrating_at_once_all_start(location: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, url = location
    go = tmp_path / "go"  # created once every process is imported and waiting: they open the store together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT, str(data_dir), url, str(go), str(i)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(NODES)
    ]
    assert [p.stdout.readline().strip() for p in procs] == ["ready"] * NODES  # type: ignore[union-attr]
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * NODES, [err[-2000:] for _, err in outputs]
    backend = "postgresql" if url else "sqlite"
    assert [out.split()[0] for out, _ in outputs] == [backend] * NODES
    store = Store(*location)
    assert revision(store) == HEAD
    assert sorted(p["name"] for p in store.gallery.people()) == [f"node-{i}" for i in range(NODES)]
    store.close()


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not supported"):
        Store(tmp_path, database_url="mysql://u@127.0.0.1/db")
    with pytest.raises(StoreError) as refused:
        Store(tmp_path, database_url="postgresql://u:secret@127.0.0.1:1/db")
    message = str(refused.value)
    assert message.startswith("database postgresql+psycopg://u:***@127.0.0.1:1/db cannot be used: ")
    assert "Connection refused" in message and "secret" not in message


def test_a_data_dir_of_the_first_release_is_adopted_with_its_data(tmp_path: Path) -> None:
    """The first release created its tables with plain SQL and no migration table; build exactly that."""
    db_path = tmp_path / DB_NAME
    old = sqlite3.connect(db_path, isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript((REPO / "tests" / "support" / "legacy_schema.sql").read_text())
    old.execute("INSERT INTO persons(name, client_id, image_url, created_at) VALUES('Lin', 'u-1', NULL, '2026-11-01')")
    old.execute(
        "INSERT INTO encodings(person_id, vector, created_at) VALUES(1, ?, '2026-11-01')", (vector(7).tobytes(),)
    )
    old.execute(
        "INSERT INTO results(event_id, timestamp, name, confidence, distance, box_top, box_right, box_bottom,"
        " box_left, camera_id, stream_url, created) VALUES('evt_old', '2026-11-01T10:00:00.000Z', 'Lin', 0.6,"
        " 0.4, 1, 2, 3, 0, 'cam0', 'rtsp://cam', 1000.0)"
    )
    old.execute(
        "INSERT INTO outbox(event_id, body, status, attempts, next_attempt_at, created)"
        " VALUES('evt_old', '{\"n\": 1}', 'retrying', 3, 1100.0, 1000.0)"
    )
    old.execute("INSERT INTO config(key, value) VALUES('threshold', '0.55')")
    old.execute("INSERT INTO meta(key, value) VALUES('gallery_version', '1'), ('running', '1')")
    persons_sql = old.execute("SELECT sql FROM sqlite_master WHERE name = 'persons'").fetchone()[0]
    old.close()

    store = Store(tmp_path, database_url="")
    assert revision(store) == HEAD
    people = store.gallery.people()
    assert [(p["id"], p["name"], p["client_id"], p["encodings"]) for p in people] == [(1, "Lin", "u-1", 1)]
    np.testing.assert_array_equal(store.gallery.all_vectors()[0], vector(7)[None, :])
    assert [(r["event_id"], r["name"], r["box"]) for r in store.results.recent()] == [
        ("evt_old", "Lin", {"top": 1, "right": 2, "bottom": 3, "left": 0})
    ]
    assert store.config.read() == {"threshold": 0.55}
    assert (store.gallery.version(), store.core.get_meta("running")) == (1, "1")
    assert store.outbox.counts()["retrying"] == 1
    assert [d["event_id"] for d in store.outbox.claim("node-a", 1100.0)] == ["evt_old"]
    assert store.gallery.register("Ada", [vector(8)]) == 2 and store.gallery.version() == 2
    with store.engine.connect() as connection:
        sqlite_sql = sa.text("SELECT sql FROM sqlite_master WHERE name = 'persons'")
        assert connection.execute(sqlite_sql).scalar() == persons_sql  # adopted, not rebuilt
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()
