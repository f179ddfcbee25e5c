"""Sightings, negatives and visitors in the store, on SQLite and on a real PostgreSQL (tests/test_store.py's fixtures).

What retention removes, search no longer finds; a visitor keeps only its best faces; deleting a
person takes their negatives and results with them.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from facegate.db.schema import negatives, results, visitor_faces
from facegate.sighting_search import SightingSearch
from facegate.store import Store
from facegate.store_sightings import Sighting
from facegate.store_visitors import VISITOR_FACES_KEPT
from tests.test_store import location, result, store, vector  # noqa: F401  (fixtures)


def test_retention_removes_the_encoding_with_the_result(store: Store) -> None:  # noqa: F811
    face = vector(7)
    store.add_event("evt_old", result("Unknown"), "cam0", None, None, created=1000.0,
                    sighting=Sighting(face, b"jpeg-old"))
    store.add_event("evt_new", result("Unknown"), "cam1", None, None, created=5000.0,
                    sighting=Sighting(face + 0.001, b"jpeg-new"))
    index = SightingSearch(store)
    assert [hit for hit, _ in index.search(face, threshold=0.1)] == [1, 2]
    assert store.prune_results(2000.0) == 1
    found = index.search(face, threshold=0.1)
    assert [store.sightings_by_id([hit])[hit]["event_id"] for hit, _ in found] == ["evt_new"]
    assert store.sighting_jpeg("evt_old") is None and store.sighting_jpeg("evt_new") == b"jpeg-new"
    assert index.search(face, threshold=0.1, camera="cam0") == []
    assert len(index.search(face, threshold=0.1, since=4000.0, until=6000.0)) == 1


def test_a_visitor_keeps_its_best_faces_and_counts_sightings(store: Store) -> None:  # noqa: F811
    visitor = store.create_visitor(100.0)
    for score in range(VISITOR_FACES_KEPT + 3):
        store.offer_visitor_face(visitor, vector(score), None, float(score))
    kept = store._rows(sa.select(visitor_faces.c.score).where(visitor_faces.c.visitor_id == visitor))
    assert sorted(row.score for row in kept) == [3.0, 4.0, 5.0, 6.0, 7.0]
    for n, camera in enumerate(("door", "hall", "door")):
        store.add_event(f"evt_v{n}", result("Unknown"), camera, None, None, created=200.0 + n,
                        sighting=Sighting(vector(n), None, visitor))
    shown = store.get_visitor(visitor)
    assert shown["sightings"] == 3 and shown["cameras"] == ["door", "hall"]
    assert [r["visitor_id"] for r in shown["results"]] == [visitor] * 3


def test_deleting_a_person_takes_their_negatives_and_results(store: Store) -> None:  # noqa: F811
    person = store.register("Ada", [vector(1)])
    store.add_negative(person, vector(2), "evt_x")
    store.add_event("evt_ada", result("Ada"), "cam0", None, None, sighting=Sighting(vector(1)))
    assert set(store.negatives_by_name()) == {"Ada"}
    assert store.delete_person(person)
    assert store.negatives_by_name() == {} and store._rows(sa.select(negatives)) == []
    assert store._rows(sa.select(results).where(results.c.name == "Ada")) == []
    assert np.asarray(store.person_vectors(person)).shape == (0, 128)
