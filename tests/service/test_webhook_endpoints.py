"""Webhook endpoints with rules, end to end: a running service, a clip replayed into it, real receivers.

Lin-Manuel Miranda and Alex Lacamoire are registered; a clip built from the shared photos shows Lin,
then Joe Biden (a stranger). Each endpoint has a receiver of its own on 127.0.0.1 (allowed by
FACEGATE_WEBHOOK_PRIVATE_OK=1), and the v1 webhook (`NEXTJS_WEBHOOK_URL`) one more. What each
receiver got is compared with the rules of its endpoint, and each signature checked with that
endpoint's secret alone.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from facegate.db.schema import outbox
from facegate.events import OutgoingEvent
from facegate.store import Store
from facegate.webhook_signing import verify
from pipeline.delivery.webhooks import WebhookConfig, WebhookSender
from tests.support.clips import build_clip
from tests.support.scenes import replay_results
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import WebhookReceiver

LIN = "Lin-Manuel Miranda"
BEARER = "bearer-for-the-seed-route"
SIGNING = "whsec_" + base64.b64encode(b"the-v1-webhook-signing-key-32byt").decode()
V1_KEYS = {"result", "camera_id", "camera_stream_url"}


@pytest.fixture(scope="module")
def v1() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def _env(v1: WebhookReceiver) -> dict[str, str]:
    return {
        "FACEGATE_WEBHOOKS": "on",
        "NEXTJS_WEBHOOK_URL": v1.url,
        "FACIAL_RECOGNITION_WEBHOOK_SECRET": BEARER,
        "FACEGATE_WEBHOOK_SIGNING_SECRET": SIGNING,
        "FACEGATE_WEBHOOK_PRIVATE_OK": "1",
    }


@pytest.fixture(scope="module")
def api(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory, v1: WebhookReceiver) -> Iterator[ServiceProcess]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("endpoints"))
    with ServiceProcess(data_dir, env=_env(v1)).serving() as service:
        yield service


@pytest.fixture
def receivers(api: ServiceProcess) -> Iterator[list[WebhookReceiver]]:
    """Four receivers; the endpoints a test made are removed after it, however it ended."""
    started = [WebhookReceiver().start() for _ in range(4)]
    yield started
    for endpoint in _listed(api).values():
        if not endpoint["builtin"]:
            api.delete(f"/api/webhooks/endpoints/{endpoint['id']}")
    for receiver in started:
        receiver.stop()


def _add(api: ServiceProcess, **fields: object) -> dict:
    answer = api.post("/api/webhooks/endpoints", json=fields)
    assert answer.status_code == 201, answer.text
    return answer.json()["endpoint"]


def _listed(api: ServiceProcess) -> dict[str, dict]:
    return {e["id"]: e for e in api.get("/api/webhooks/endpoints").json()["endpoints"]}


def _error(answer, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text)
    return answer.json()["error"]


def _drained(api: ServiceProcess) -> bool:
    return all(e["deliveries"]["pending"] == 0 for e in _listed(api).values())


def test_an_endpoint_is_added_listed_changed_and_removed_and_its_secret_shown_once(api: ServiceProcess) -> None:
    made = _add(api, url="https://hooks.example.com/in", description="alerts", filter={"unknown": True})
    assert made["secret"].startswith("whsec_") and len(base64.b64decode(made["secret"][6:])) == 24
    assert (made["events"], made["filter"], made["enabled"], made["builtin"]) == (
        ["appeared"],
        {"unknown": True},
        True,
        False,
    )
    assert made["deliveries"] == {"delivered": 0, "pending": 0, "failed": 0}
    chosen = _add(api, url="https://hooks.example.com/two", secret="my-own-secret-of-some-length")
    assert chosen["secret"] == "my-own-secret-of-some-length"
    listed = _listed(api)
    assert listed["default"]["builtin"] and listed["default"]["events"] == ["appeared"]
    assert {made["id"], chosen["id"]} <= set(listed)
    one = api.get(f"/api/webhooks/endpoints/{made['id']}").json()["endpoint"]
    assert one == {k: v for k, v in made.items() if k != "secret"} == listed[made["id"]]
    changed = api.put(f"/api/webhooks/endpoints/{made['id']}", json={"enabled": False, "secret": "x" * 20})
    assert changed.status_code == 200 and changed.json()["endpoint"]["enabled"] is False
    every_answer = json.dumps([api.get("/api/webhooks/endpoints").json(), changed.json(), one])
    for secret in (made["secret"], chosen["secret"], "x" * 20):
        assert secret not in every_answer, "a secret is shown only in the answer that made it"
    audit = json.dumps(api.get("/api/audit?limit=1000").json())
    assert "webhook_endpoint.add" in audit and "webhook_endpoint.update" in audit
    assert chosen["secret"] not in audit and "x" * 20 not in audit and made["secret"] not in audit
    assert "default" in _error(api.put("/api/webhooks/endpoints/default", json={"enabled": False}), 409)
    _error(api.delete("/api/webhooks/endpoints/default"), 409)
    for endpoint in (made, chosen):
        assert api.delete(f"/api/webhooks/endpoints/{endpoint['id']}").status_code == 200
        _error(api.get(f"/api/webhooks/endpoints/{endpoint['id']}"), 404)
        _error(api.delete(f"/api/webhooks/endpoints/{endpoint['id']}"), 404)
        _error(api.post(f"/api/webhooks/endpoints/{endpoint['id']}/test"), 404)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"url": "https://a.example/", "filter": {"hours": {"from": "25:00", "to": "06:00"}}}, "filter.hours.from"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "ftp://files.example.com/in"}, "url"),
        ({"url": "https://a.example/", "events": ["appeared", "sneezed"]}, "events"),
        ({"url": "https://a.example/", "filter": {"min_confidence": 2}}, "filter.min_confidence"),
        ({"url": "https://a.example/", "filter": {"known": False, "unknown": False}}, "filter.known"),
        ({"url": "https://a.example/", "secret": "short"}, "secret"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api: ServiceProcess, body: dict, named: str) -> None:
    before = _listed(api)
    assert named in _error(api.post("/api/webhooks/endpoints", json=body), 400)
    assert _listed(api) == before


def test_private_addresses_only_with_the_setting(gallery_dir: Path, tmp_path: Path) -> None:
    """Without FACEGATE_WEBHOOK_PRIVATE_OK a loopback URL is refused when written, and an endpoint that got
    into the store anyway is not posted to: its host's address is checked before each delivery."""
    data_dir = copy_gallery(gallery_dir, tmp_path / "data")
    with WebhookReceiver() as receiver, ServiceProcess(data_dir).serving() as service:
        for url in (receiver.url, "http://localhost:9/x", "http://169.254.169.254/latest/meta-data"):
            assert "FACEGATE_WEBHOOK_PRIVATE_OK" in _error(
                service.post("/api/webhooks/endpoints", json={"url": url}), 400
            )
        store = Store(data_dir)
        sneaked = store.endpoints.add({"url": receiver.url})["id"]
        store.close()
        assert service.post(f"/api/webhooks/endpoints/{sneaked}/test").status_code == 202
        tried = service.wait_for(
            lambda: _listed(service)[sneaked]["deliveries"]["pending"] == 1 and _retried(data_dir), 30.0
        )
        assert tried, service.log()[-2000:]
        assert receiver.deliveries == []


def _retried(data_dir: Path) -> bool:
    store = Store(data_dir)
    try:
        return any("private or loopback" in (row["last_error"] or "") for row in _rows(store))
    finally:
        store.close()


def _rows(store: Store) -> list[dict]:
    return [dict(r._mapping) for r in store.core.rows(outbox.select())]


def test_a_test_event_is_signed_with_the_endpoints_own_secret(
    api: ServiceProcess, receivers: list[WebhookReceiver]
) -> None:
    first, second = (_add(api, url=r.url) for r in receivers[:2])
    for endpoint in (first, second):
        answer = api.post(f"/api/webhooks/endpoints/{endpoint['id']}/test")
        assert answer.status_code == 202, answer.text
    assert api.wait_for(lambda: all(r.accepted() for r in receivers[:2]), 30.0), api.log()[-2000:]
    for receiver, endpoint, other in ((receivers[0], first, second), (receivers[1], second, first)):
        [delivery] = receiver.accepted()
        assert delivery.payload["type"] == "test" and delivery.payload["endpoint_id"] == endpoint["id"]
        assert verify(endpoint["secret"], delivery.headers, delivery.body)
        assert not verify(other["secret"], delivery.headers, delivery.body)
        assert "authorization" not in delivery.headers, "the seed's Bearer secret goes to the v1 webhook only"
    assert api.wait_for(lambda: _listed(api)[first["id"]]["deliveries"]["delivered"] == 1, 10.0)
    metrics = api.get("/metrics").text
    assert f'facegate_webhook_endpoint_deliveries{{endpoint="{first["id"]}",status="delivered"}} 1.0' in metrics
    assert f'facegate_webhook_endpoint_deliveries{{endpoint="{second["id"]}",status="failed"}} 0.0' in metrics


@pytest.fixture(scope="module")
def lin_then_stranger(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("endpoint-clips")
    scene = [(None, 0.5), (faces / "lin-manuel-miranda.png", 2.0), (None, 1.0), (faces / "biden.jpg", 2.0), (None, 0.5)]
    return build_clip(folder / "lin_then_stranger.mp4", scene)


def _hours_not_now() -> dict[str, str]:
    """An hour of the day that is not now, in UTC (the `timezone` setting's default)."""
    now = datetime.now(UTC)
    return {"from": (now + timedelta(hours=2)).strftime("%H:%M"), "to": (now + timedelta(hours=3)).strftime("%H:%M")}


def test_each_endpoint_receives_what_its_rules_ask_for(
    api: ServiceProcess, v1: WebhookReceiver, receivers: list[WebhookReceiver], lin_then_stranger: Path
) -> None:
    strangers_rx, night_rx, everyone_rx, lin_rx = receivers
    lin_id = next(p["id"] for p in api.get("/api/persons").json()["persons"] if p["name"] == LIN)
    strangers = _add(api, url=strangers_rx.url, filter={"unknown": True})
    night = _add(api, url=night_rx.url, filter={"hours": _hours_not_now()})
    everyone = _add(api, url=everyone_rx.url, events=["appeared", "left"], secret="a-secret-chosen-by-the-client")
    lin_only = _add(api, url=lin_rx.url, filter={"persons": [lin_id], "cameras": ["cam0"], "min_confidence": 0.3})
    v1_before = len(v1.deliveries)

    added = replay_results(api, lin_then_stranger, env=_env(v1))
    lin_events = {r["event_id"] for r in added if r["name"] == LIN}
    stranger_events = {r["event_id"] for r in added if r["name"] == "Unknown"}
    assert lin_events and stranger_events and lin_events | stranger_events == {r["event_id"] for r in added}, added
    everything = lin_events | stranger_events
    assert api.wait_for(lambda: everyone_rx.accepted_ids() == everything and _drained(api), 60.0), api.log()[-3000:]

    assert strangers_rx.accepted_ids() == stranger_events, "the unknown-only endpoint: the stranger, never Lin"
    assert all(d.payload["result"]["name"] == "Unknown" for d in strangers_rx.deliveries)
    assert night_rx.deliveries == [], "an hours filter that excludes now receives nothing"
    assert lin_rx.accepted_ids() == lin_events
    counts = _listed(api)
    assert counts[night["id"]]["deliveries"] == {"delivered": 0, "pending": 0, "failed": 0}
    assert counts[strangers["id"]]["deliveries"]["delivered"] == len(stranger_events)
    for receiver, endpoint in ((strangers_rx, strangers), (everyone_rx, everyone), (lin_rx, lin_only)):
        for delivery in receiver.accepted():
            assert delivery.payload["type"] == "appeared" and set(delivery.payload) == V1_KEYS | {"type"}
            assert verify(endpoint["secret"], delivery.headers, delivery.body), endpoint["id"]
            assert not verify(SIGNING, delivery.headers, delivery.body)
            assert "authorization" not in delivery.headers

    # the v1 webhook gets exactly what it always got: every event, the v1 payload, Bearer, its own signature
    seen_by_v1 = v1.deliveries[v1_before:]
    assert {d.headers["webhook-id"] for d in seen_by_v1 if d.answered == 200} == everything
    for delivery in seen_by_v1:
        assert set(delivery.payload) == V1_KEYS
        assert delivery.headers["authorization"] == f"Bearer {BEARER}"
        assert verify(SIGNING, delivery.headers, delivery.body)
        assert not verify(everyone["secret"], delivery.headers, delivery.body)


def test_a_slow_endpoint_never_holds_up_another(tmp_path: Path) -> None:
    """Six deliveries to a receiver that does not answer, then one to another: the other's goes out at once,
    since one endpoint holds at most all the sender's threads but one."""
    store = Store(tmp_path)
    with WebhookReceiver() as slow, WebhookReceiver() as fast:
        slow.hold.set()
        slow_id, fast_id = (store.endpoints.add({"url": r.url})["id"] for r in (slow, fast))
        now = time.time()
        with store.core.transaction() as db:
            for n in range(6):
                store.outbox.enqueue(db, f"evt_slow_{n}", "{}", now - 10 + n, slow_id)
            store.outbox.enqueue(db, "evt_fast", "{}", now, fast_id)
        sender = WebhookSender(lambda: Store(tmp_path), WebhookConfig(url=None, timeout_s=60.0), private_ok=True)
        sender.start()
        try:
            assert fast.wait_for(lambda: fast.accepted_ids() == {"evt_fast"}, 20.0), "held up by the slow receiver"
            assert len(slow.deliveries) == sender.config.concurrency - 1
        finally:
            slow.release.set()
            sender.stop()
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_event_gets_a_row_per_matching_endpoint_in_its_own_transaction(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The fan-out on both backends: the rows are written with the event or not at all; the v1 webhook takes
    `appeared` events only, with its v1 body; hours are read in the stored `timezone`."""
    store = Store(tmp_path, "" if backend == "sqlite" else request.getfixturevalue("pg_url"))

    def add(**fields: object) -> str:
        return store.endpoints.add({"url": "https://hooks.example.com/in", **fields})["id"]

    strangers, everyone = add(filter={"unknown": True}), add(events=["appeared", "left"])
    add(enabled=False)
    leaving = add(events=["left"])
    now = time.time()
    tokyo = datetime.fromtimestamp(now, ZoneInfo("Asia/Tokyo"))
    in_tokyo_now = add(filter={"hours": {"from": f"{tokyo:%H}:00", "to": f"{(tokyo + timedelta(hours=1)):%H}:00"}})
    store.config.update({"timezone": "Asia/Tokyo"})
    lin = OutgoingEvent(
        "evt_lin", "appeared", {"result": {"name": LIN}, "type": "appeared"}, 1, True, ("cam0",), 0.6, now
    )
    with store.core.transaction() as db:
        assert store.outbox.enqueue_event(db, lin, now, default_endpoint=True) == ["default", everyone, in_tokyo_now]
        stranger = replace(lin, event_id="evt_stranger", person_id=None, known=False)
        assert store.outbox.enqueue_event(db, stranger, now, default_endpoint=False) == [
            strangers,
            everyone,
            in_tokyo_now,
        ]
        left = replace(lin, event_id="evt_left", type="left", confidence=None)
        assert store.outbox.enqueue_event(db, left, now, default_endpoint=True) == [everyone, leaving]
    with pytest.raises(RuntimeError), store.core.transaction() as db:
        store.outbox.enqueue_event(db, replace(lin, event_id="evt_undone"), now, default_endpoint=True)
        raise RuntimeError("the event's transaction fails: its rows go with it")
    rows = {(r["event_id"], r["endpoint_id"]): r for r in _rows(store)}
    assert len(rows) == 8 and not any(event == "evt_undone" for event, _ in rows)
    assert json.loads(rows["evt_lin", "default"]["body"]) == {"result": {"name": LIN}}
    assert json.loads(rows["evt_lin", everyone]["body"]) == lin.payload
    assert store.outbox.counts_by_endpoint()[everyone]["pending"] == 3
    assert store.endpoints.delete(everyone) and everyone not in store.outbox.counts_by_endpoint()
    store.close()
