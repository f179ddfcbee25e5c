"""Presence, leaving and attendance end to end: a real supervisor, the real clip, Lin-Manuel Miranda registered.

The event cooldown is an hour, so after Lin's one event only the match stage's quiet sightings keep
him present; the presence window is a few seconds, so once his camera is gone he leaves, with a
`left` event the seed's webhook (a real receiver) never sees. His day shows in the attendance, as
JSON and as CSV, in the `timezone` setting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from facegate.db.schema import outbox
from facegate.store import Store
from tests.support.service_proc import ServiceProcess, poll_until
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import WebhookReceiver

LIN = "Lin-Manuel Miranda"
WINDOW_S = 6.0
TIMEZONE = "America/New_York"
LEAVING_ENDPOINT = "ep_leaving"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """A real receiver as the seed's webhook (NEXTJS_WEBHOOK_URL)."""
    with WebhookReceiver() as hooks:
        yield hooks


@pytest.fixture(scope="module")
def leaving() -> Iterator[WebhookReceiver]:
    """A real receiver on an endpoint that asks for `left` events only."""
    with WebhookReceiver() as hooks:
        yield hooks


@pytest.fixture(scope="module")
def svc(
    gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver, leaving: WebhookReceiver
) -> Iterator[Any]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("presence"))
    store = Store(data_dir)
    store.config.update({"presence_window_s": WINDOW_S, "event_cooldown_s": 3600.0, "timezone": TIMEZONE})
    store.endpoints.add({"url": leaving.url, "events": ["left"], "description": "who left", "id": LEAVING_ENDPOINT})
    store.close()
    env = {"FACEGATE_WEBHOOKS": "on", "NEXTJS_WEBHOOK_URL": receiver.url, "FACEGATE_WEBHOOK_PRIVATE_OK": "1"}
    service = ServiceProcess(data_dir, env=env)
    with service.serving(timeout=120):
        yield service


def wait(condition: Any, timeout: float, what: str, svc: ServiceProcess) -> Any:
    found = poll_until(condition, timeout, 0.25)
    assert found, f"timed out after {timeout:.0f} s waiting for {what}\n{svc.log()[-4000:]}"
    return found


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def lin_present(svc: ServiceProcess, everyone: bool = False) -> dict[str, Any] | None:
    people = svc.get(f"/api/presence?all={'true' if everyone else 'false'}").json()["people"]
    return next((p for p in people if p["name"] == LIN), None)


def lin_visits(svc: ServiceProcess) -> list[dict[str, Any]]:
    return [v for v in svc.get("/api/visits").json()["visits"] if v["name"] == LIN]


def test_lin_is_present_leaves_and_attends(
    svc: ServiceProcess, clip: Path, receiver: WebhookReceiver, leaving: WebhookReceiver
) -> None:
    added = svc.post("/api/cameras", json={"id": "door", "stream_url": str(clip)})
    assert added.status_code == 201, added.text
    assert svc.post("/api/start").status_code == 200
    seen = wait(lambda: lin_present(svc), 90, "Lin present", svc)
    assert seen["camera_id"] == "door" and seen["present"] is True
    answer = svc.get("/api/presence").json()
    assert answer["window_s"] == WINDOW_S and isinstance(answer["visitors"], list)
    # an hour's cooldown: one event, yet his last sighting moves on (the match stage's quiet reports)
    later = wait(
        lambda: (p := lin_present(svc)) and seconds(p["last_seen"]) >= seconds(seen["last_seen"]) + 3 and p,
        30,
        "Lin's last sighting to move on",
        svc,
    )
    assert later["present"] and len(svc.get(f"/api/results/{LIN}").json()["results"]) == 1

    assert svc.delete("/api/cameras/door").status_code == 200
    left = wait(lambda: [v for v in lin_visits(svc) if not v["open"]], WINDOW_S + 40, "Lin's visit to end", svc)[0]
    assert left["left_event_id"].startswith("evt_") and left["cameras"] == ["door"] and left["camera_id"] == "door"
    assert seconds(left["first_seen"]) <= seconds(seen["last_seen"]) < seconds(left["last_seen"])
    assert seconds(left["left_at"]) - seconds(left["last_seen"]) >= WINDOW_S
    assert lin_present(svc) is None
    gone = lin_present(svc, everyone=True)
    assert gone is not None and gone["present"] is False and gone["last_seen"] == left["last_seen"]
    # the endpoint asking for `left` got exactly Lin's leaving, under the visit's event id
    assert leaving.wait_for(lambda: leaving.accepted(), 30), svc.log()[-3000:]
    [told] = leaving.accepted()
    # the seed's webhook got Lin's appearance and nothing of his leaving: no row of the outbox for it either
    assert receiver.wait_for(lambda: any(d.payload["result"]["name"] == LIN for d in receiver.accepted()), 30)
    assert not [d for d in receiver.deliveries if d.payload.get("type") == "left" or "first_seen" in d.payload]
    reader = Store(svc.data_dir)
    try:
        rows = reader.core.rows(sa.select(outbox.c.endpoint_id).where(outbox.c.event_id == left["left_event_id"]))
    finally:
        reader.close()
    assert [row.endpoint_id for row in rows] == [LEAVING_ENDPOINT]
    assert told.headers["webhook-id"] == left["left_event_id"]
    assert told.payload["type"] == "left" and told.payload["result"]["name"] == LIN
    assert (told.payload["first_seen"], told.payload["last_seen"]) == (left["first_seen"], left["last_seen"])
    assert told.payload["cameras"] == ["door"] and told.payload["camera_id"] == "door"

    today = datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    days = svc.get(f"/api/attendance?from={today}&to={today}").json()
    assert days["timezone"] == TIMEZONE and days["from"] == today
    [row] = [d for d in days["days"] if d["name"] == LIN]
    assert row["date"] == today and row["cameras"] == ["door"] and row["sightings"] >= 2
    assert row["first_seen"].endswith(("-05:00", "-04:00")) and row["first_seen"] <= row["last_seen"]
    assert abs(datetime.fromisoformat(row["last_seen"]).timestamp() - seconds(left["last_seen"])) < 1.0
    for asked in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        got = svc.get(f"/api/attendance?from={today}&to={today}&person_id={row['person_id']}", **asked)
        assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(got.text)))
        assert table[0] == ["date", "person_id", "name", "first_seen", "last_seen", "sightings", "cameras"]
        assert table[1:] == [
            [today, str(row["person_id"]), LIN, row["first_seen"], row["last_seen"], str(row["sightings"]), "door"]
        ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2026-01-01&to=2027-01-02", "to"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-01-01", "to"),
        ("from=2026-01-01&to=2026-01-02&format=xml", "format"),
        ("from=2026-01-01&to=2026-01-02&person_id=x", "person_id"),
    ],
)
def test_bad_attendance_queries_are_400_naming_the_field(svc: ServiceProcess, query: str, field: str) -> None:
    answer = svc.get(f"/api/attendance?{query}")
    assert answer.status_code == 400 and answer.json()["error"].startswith(field), answer.text


def test_an_unknown_timezone_or_window_is_refused(svc: ServiceProcess) -> None:
    for body, field in (({"timezone": "Mars/Olympus"}, "timezone"), ({"presence_window_s": 1}, "presence_window_s")):
        answer = svc.put("/api/config", json=body)
        assert answer.status_code == 400 and field in answer.json()["error"], answer.text
    assert svc.get("/api/presence?all=maybe").status_code == 400
    assert requests.get(svc.url + "/api/presence", timeout=10).status_code == 401  # scope read
