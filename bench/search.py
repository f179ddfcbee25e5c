"""Search by photo over 100,000 stored sightings: the time of one search, cold and warm.

`python -m bench.search` fills a SQLite store (in a temporary data dir) with SIGHTINGS results,
each with an encoding: PEOPLE synthetic people (a centre plus noise of about the spread of one
person's sightings) and the rest strangers, random encodings of face_recognition's scale. It
then times what `POST /api/search` does after the face is encoded:
`SightingSearch.search` (catch up with the store, one matrix-vector product, the filters) and
reading the matching rows back (`Store.results.by_id`). The first search loads every encoding
(cold); the next QUERIES are warm. Target: at most 200 ms per search at 100,000 sightings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import numpy as np
import sqlalchemy as sa

from facegate.db.schema import results
from facegate.sighting_search import SightingSearch
from facegate.store import Store, iso_now

SIGHTINGS = 100_000
PEOPLE = 50
QUERIES = 50
THRESHOLD = 0.6
TARGET_MS = 200.0
CHUNK = 5_000


def fill(store: Store, count: int, rng: np.random.Generator) -> np.ndarray:
    """Write `count` results with encodings; returns the PEOPLE centres (each seen count / (2 PEOPLE) times)."""
    centres = rng.normal(0.0, 0.09, (PEOPLE, 128))
    seen_per_person = count // (2 * PEOPLE)
    vectors = rng.normal(0.0, 0.09, (count, 128))  # strangers: ~1.4 from anyone
    for person in range(PEOPLE):
        rows = slice(person * seen_per_person, (person + 1) * seen_per_person)
        vectors[rows] = centres[person] + rng.normal(0.0, 0.025, (seen_per_person, 128))  # ~0.4 from the centre
    started = time.time() - 30 * 86400.0
    for first in range(0, count, CHUNK):
        batch = [
            {
                "event_id": f"evt_bench_{i}",
                "timestamp": iso_now(started + i),
                "name": "Unknown",
                "confidence": 0.5,
                "distance": 0.5,
                "box_top": 10,
                "box_right": 60,
                "box_bottom": 70,
                "box_left": 0,
                "camera_id": f"cam{i % 4}",
                "stream_url": None,
                "created": started + i,
                "vector": vectors[i].astype(np.float64).tobytes(),
                "jpeg": None,
                "visitor_id": None,
            }
            for i in range(first, min(first + CHUNK, count))
        ]
        with store.core.transaction() as db:
            db.execute(sa.insert(results), batch)
    return centres


def one_search(store: Store, index: SightingSearch, query: np.ndarray) -> tuple[float, int]:
    started = time.perf_counter()
    hits = index.search(query, threshold=THRESHOLD, limit=100)
    store.results.by_id([hit for hit, _ in hits])
    return (time.perf_counter() - started) * 1000.0, len(hits)


def measure(sightings: int = SIGHTINGS, queries: int = QUERIES) -> dict[str, Any]:
    rng = np.random.default_rng(15)
    with tempfile.TemporaryDirectory(prefix="facegate-bench-search-") as tmp:
        store = Store(tmp, "")
        try:
            started = time.perf_counter()
            centres = fill(store, sightings, rng)
            fill_s = time.perf_counter() - started
            index = SightingSearch(store)
            asked = [centres[i % PEOPLE] + rng.normal(0.0, 0.025, 128) for i in range(queries + 1)]
            cold_ms, _ = one_search(store, index, asked[0])
            warm = [one_search(store, index, query) for query in asked[1:]]
        finally:
            store.close()
    times = sorted(ms for ms, _ in warm)
    return {
        "sightings": sightings,
        "fill_s": round(fill_s, 1),
        "cold_ms": round(cold_ms, 1),
        "warm_ms_p50": round(statistics.median(times), 2),
        "warm_ms_p95": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
        "hits_per_search": round(statistics.mean(n for _, n in warm), 1),
        "target_ms": TARGET_MS,
        "met": times[min(len(times) - 1, int(len(times) * 0.95))] <= TARGET_MS,
    }


def markdown(result: dict[str, Any]) -> str:
    return (
        "| figure | value | target |\n|---|---|---|\n"
        f"| search by photo over {result['sightings']:,} sightings, warm p50 / p95 | "
        f"{result['warm_ms_p50']} / {result['warm_ms_p95']} ms ({result['hits_per_search']} hits each) | "
        f"<= {result['target_ms']:g} ms |\n"
        f"| the first search (loads every encoding) | {result['cold_ms']} ms | |\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=SIGHTINGS)
    args = parser.parse_args()
    result = measure(args.sightings)
    print(markdown(result))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
