"""Every listing's `total` counts all the rows, not the page: checked with more rows than a page holds.

The rows are written into the store before a real supervisor starts on it, so the counts are known.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.store import Store, iso_now, new_event_id
from tests.support.service_proc import ServiceProcess

NAMED = {"Ada Lovelace": 7, "Grace Hopper": 3}
UNKNOWN_PAGE = 200  # GET /api/unknown lists the newest 200 kept faces
UNKNOWN = UNKNOWN_PAGE + 3
VISITORS = 4


def _plant(data_dir: Path) -> None:
    store = Store(data_dir)
    now = time.time()
    for name, count in NAMED.items():
        for i in range(count):
            result = {
                "timestamp": iso_now(now - i),
                "name": name,
                "confidence": 0.6,
                "distance": 0.4,
                "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
            }
            store.results.add(new_event_id(), result, "door", "file:///door.mp4", None)
    for i in range(UNKNOWN):
        store.unknown.add(new_event_id(), "door", now - i, (1, 2, 3, 0), b"\xff\xd8 not shown here", [0.01] * 128)
    for i in range(VISITORS):
        store.visitors.create(now - i)
    store.close()


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    data_dir = tmp_path_factory.mktemp("totals")
    _plant(data_dir)
    with ServiceProcess(data_dir).serving() as service:
        yield service


def test_results_total_counts_every_result_and_every_result_of_a_name(svc: ServiceProcess) -> None:
    page = svc.get("/api/results?limit=2").json()
    assert len(page["results"]) == 2 and page["total"] == sum(NAMED.values())
    for name, count in NAMED.items():
        mine = svc.get(f"/api/results/{name}?limit=2").json()
        assert [r["name"] for r in mine["results"]] == [name, name] and mine["total"] == count
    assert svc.get("/api/results/Nobody?limit=2").json()["total"] == 0


def test_unknown_total_counts_every_kept_face(svc: ServiceProcess) -> None:
    listing = svc.get("/api/unknown").json()
    assert len(listing["unknown"]) == UNKNOWN_PAGE and listing["total"] == UNKNOWN


def test_visitors_total_counts_every_visitor(svc: ServiceProcess) -> None:
    page = svc.get("/api/visitors?limit=1&offset=1").json()
    assert len(page["visitors"]) == 1 and page["total"] == VISITORS
