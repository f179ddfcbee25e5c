"""Visitors end to end: a running service, replays of clips built from the shared photos, a webhook receiver.

Barack Obama is registered; Joe Biden (biden.jpg) and Lin-Manuel Miranda (his photo) are strangers.
A stranger who walks out and comes back (a gap longer than the event cooldown) is one visitor with
two sightings; two strangers are two visitors; one who lingers (two tracks within the cooldown) is
one event. What merge and delete leave behind is checked in the database itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from facegate.db.schema import results, unknown_faces, visitor_faces, visitors
from facegate.store import Store
from tests.support.clips import build_clip
from tests.support.scenes import replay_results, service_knowing_obama
from tests.support.service_proc import ServiceProcess
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="module")
def api(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    with service_knowing_obama(faces, tmp_path_factory.mktemp("visitors")) as service:
        yield service


@pytest.fixture(scope="module")
def receiver() -> WebhookReceiver:
    started = WebhookReceiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def clips(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("visitor-clips")
    biden, lin = faces / "biden.jpg", faces / "lin-manuel-miranda.png"
    return {
        # Biden, out for 12 s (longer than the 10 s cooldown), back further away (a 100 px face); then Lin
        "walk": build_clip(
            folder / "walk.mp4",
            [(None, 0.5), (biden, 2.0), (None, 12.0), (biden, 2.0, 100), (None, 1.5), (lin, 2.0), (None, 0.5)],
        ),
        # Biden twice within the cooldown: two tracks, one event
        "linger": build_clip(
            folder / "linger.mp4", [(None, 0.5), (biden, 2.0), (None, 2.0), (biden, 2.0), (None, 0.5)]
        ),
        "alex": build_clip(folder / "alex.mp4", [(None, 0.5), (faces / "alex-lacamoire.png", 2.0), (None, 0.5)]),
    }


def replay(api: ServiceProcess, clip: Path, *, camera: str = "cam0", webhook_url: str | None = None) -> list[dict]:
    env = {"FACEGATE_WEBHOOKS": "on", "NEXTJS_WEBHOOK_URL": webhook_url} if webhook_url else None
    return replay_results(api, clip, camera=camera, env=env)


def in_database(api: ServiceProcess, statement: sa.Select) -> list:
    store = Store(api.data_dir)
    try:
        return store.core.rows(statement)
    finally:
        store.close()


def test_walking_out_and_back_is_one_visitor_and_two_strangers_are_two(
    api: ServiceProcess, clips: dict[str, Path], receiver: WebhookReceiver
) -> None:
    seen = replay(api, clips["walk"], webhook_url=receiver.url)
    assert [r["name"] for r in seen] == ["Unknown"] * 3, seen
    biden, lin = seen[0]["visitor_id"], seen[2]["visitor_id"]
    assert seen[1]["visitor_id"] == biden and lin != biden
    listed = api.get("/api/visitors").json()
    assert listed["total"] == 2 and [v["id"] for v in listed["visitors"]] == [lin, biden]  # newest first
    shown = api.get(f"/api/visitors/{biden}").json()
    assert shown["sightings"] == 2 and shown["cameras"] == ["cam0"]
    assert sorted(r["event_id"] for r in shown["results"]) == sorted(r["event_id"] for r in seen[:2])
    assert 1 <= len(shown["faces"]) <= 5
    crop = api.get(shown["faces"][0]["image"])
    assert crop.headers["Content-Type"] == "image/jpeg" and Image.open(io.BytesIO(crop.content)).size[0] > 0
    assert api.get(shown["results"][0]["image"]).status_code == 200
    assert api.get("/api/visitors?limit=1&offset=1").json()["visitors"][0]["id"] == biden

    # the webhook carries visitor_id beside the seed fields, unchanged
    assert receiver.wait_for(lambda: len(receiver.accepted()) >= 3, 15.0)
    payloads = [d.payload for d in receiver.accepted()]
    assert len(payloads) == 3
    for payload in payloads:
        result = payload["result"]
        assert set(result) == {"timestamp", "name", "confidence", "distance", "box", "visitor_id"}
        assert payload["camera_id"] == "cam0" and result["name"] == "Unknown"
    assert sorted(p["result"]["visitor_id"] for p in payloads) == sorted([biden, biden, lin])

    # /api/unknown keeps working beside the visitors
    unknown = api.get("/api/unknown").json()
    assert unknown["total"] == len(unknown["unknown"]) == len(payloads)  # one kept crop per stranger event


def test_a_stranger_lingering_is_one_event_and_joins_across_cameras(
    api: ServiceProcess, clips: dict[str, Path]
) -> None:
    biden = api.get("/api/visitors").json()["visitors"][-1]
    seen = replay(api, clips["linger"], camera="door")
    assert len(seen) == 1 and seen[0]["visitor_id"] == biden["id"] and seen[0]["camera_id"] == "door"
    shown = api.get(f"/api/visitors/{biden['id']}").json()
    assert shown["sightings"] == biden["sightings"] + 1 and shown["cameras"] == ["cam0", "door"]


def test_register_a_visitor_and_the_replay_names_them(api: ServiceProcess, clips: dict[str, Path]) -> None:
    biden = next(v for v in api.get("/api/visitors").json()["visitors"] if "door" in v["cameras"])
    answer = api.post(f"/api/visitors/{biden['id']}/register", json={"name": "Joe Biden"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["person"]["encodings"] >= 1
    relabelled = api.get("/api/results/Joe%20Biden").json()
    assert relabelled["total"] == biden["sightings"]  # past results carry the name now
    assert api.get(f"/api/visitors/{biden['id']}").status_code == 404
    seen = replay(api, clips["linger"])
    assert [r["name"] for r in seen] == ["Joe Biden"] and "visitor_id" not in seen[0]


def test_merge_and_delete_leave_nothing_behind(api: ServiceProcess, clips: dict[str, Path]) -> None:
    (lin,) = [v["id"] for v in api.get("/api/visitors").json()["visitors"]]  # Biden is a person now
    alex = replay(api, clips["alex"])[0]["visitor_id"]
    assert alex != lin
    merged = api.post("/api/visitors/merge", json={"ids": [alex, lin]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["visitor"]["id"] == lin and merged.json()["visitor"]["sightings"] == 2  # the first seen
    assert api.get(f"/api/visitors/{alex}").status_code == 404
    assert not in_database(api, sa.select(visitor_faces).where(visitor_faces.c.visitor_id == alex))
    assert len(in_database(api, sa.select(results).where(results.c.visitor_id == lin))) == 2
    events = [r.event_id for r in in_database(api, sa.select(results.c.event_id).where(results.c.visitor_id == lin))]

    assert api.delete(f"/api/visitors/{lin}").status_code == 200
    assert not in_database(api, sa.select(visitors).where(visitors.c.id.in_([lin, alex])))
    assert not in_database(api, sa.select(visitor_faces).where(visitor_faces.c.visitor_id.in_([lin, alex])))
    assert not in_database(api, sa.select(results).where(results.c.event_id.in_(events)))
    assert not in_database(api, sa.select(unknown_faces).where(unknown_faces.c.event_id.in_(events)))
    for event_id in events:
        assert api.get(f"/api/results/{event_id}/crop.jpg").status_code == 404
    assert api.delete(f"/api/visitors/{lin}").status_code == 404


def test_bad_visitor_requests(api: ServiceProcess) -> None:
    for body in ({"ids": [1]}, {"ids": "1,2"}, {"ids": [1, True]}, {}, {"ids": [0, 1]}):
        assert api.post("/api/visitors/merge", json=body).status_code == 400, body
    assert api.post("/api/visitors/merge", json={"ids": [999998, 999999]}).status_code == 404
    assert api.post("/api/visitors/999999/register", json={"name": "X"}).status_code == 404
    assert api.post("/api/visitors/1/register", json={}).status_code == 400
    assert api.get("/api/visitors/abc").status_code == 404
    for query in ("limit=0", "limit=abc", "offset=-1"):
        assert api.get(f"/api/visitors?{query}").status_code == 400, query
