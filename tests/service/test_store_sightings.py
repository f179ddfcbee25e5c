"""Sightings, negatives and visitors in the store, on SQLite and on a real PostgreSQL (test_store.py's fixtures).

What retention removes, search no longer finds; a visitor keeps only its best faces; deleting a
person takes their negatives and results with them.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from facegate.db.schema import negatives, results, visitor_faces
from facegate.sighting_search import SightingSearch
from facegate.store import VISITOR_FACES_KEPT, Sighting, Store
from tests.service.test_store import location, result, store, vector  # noqa: F401  (fixtures)


def test_retention_removes_the_encoding_with_the_result(store: Store) -> None:  # noqa: F811
    face = vector(7)
    store.results.add(
        "evt_old", result("Unknown"), "cam0", None, None, created=1000.0, sighting=Sighting(face, b"jpeg-old")
    )
    store.results.add(
        "evt_new", result("Unknown"), "cam1", None, None, created=5000.0, sighting=Sighting(face + 0.001, b"jpeg-new")
    )
    index = SightingSearch(store)
    assert [hit for hit, _ in index.search(face, threshold=0.1)] == [1, 2]
    assert store.retention.forget_before(2000.0, 6000.0).results == 1
    found = index.search(face, threshold=0.1)
    assert [store.results.by_id([hit])[hit]["event_id"] for hit, _ in found] == ["evt_new"]
    assert store.results.crop("evt_old") is None and store.results.crop("evt_new") == b"jpeg-new"
    assert index.search(face, threshold=0.1, camera="cam0") == []
    assert len(index.search(face, threshold=0.1, since=4000.0, until=6000.0)) == 1


def test_a_visitor_keeps_its_best_faces_and_counts_sightings(store: Store) -> None:  # noqa: F811
    visitor = store.visitors.create(100.0)
    for score in range(VISITOR_FACES_KEPT + 3):
        store.visitors.offer_face(visitor, vector(score), None, float(score))
    kept = store.core.rows(sa.select(visitor_faces.c.score).where(visitor_faces.c.visitor_id == visitor))
    assert sorted(row.score for row in kept) == [3.0, 4.0, 5.0, 6.0, 7.0]
    for n, camera in enumerate(("door", "hall", "door")):
        store.results.add(
            f"evt_v{n}",
            result("Unknown"),
            camera,
            None,
            None,
            created=200.0 + n,
            sighting=Sighting(vector(n), None, visitor),
        )
    shown = store.visitors.get(visitor)
    assert shown["sightings"] == 3 and shown["cameras"] == ["door", "hall"]
    assert [r["visitor_id"] for r in shown["results"]] == [visitor] * 3


def test_deleting_a_person_takes_their_negatives_and_results(store: Store) -> None:  # noqa: F811
    person = store.gallery.register("Ada", [vector(1)])
    store.gallery.add_negative(person, vector(2), "evt_x")
    store.results.add("evt_ada", result("Ada"), "cam0", None, None, sighting=Sighting(vector(1)))
    assert set(store.gallery.negatives_by_name()) == {"Ada"}
    assert store.gallery.delete_person(person)
    assert store.gallery.negatives_by_name() == {} and store.core.rows(sa.select(negatives)) == []
    assert store.core.rows(sa.select(results).where(results.c.name == "Ada")) == []
    assert np.asarray(store.gallery.person_vectors(person)).shape == (0, 128)
