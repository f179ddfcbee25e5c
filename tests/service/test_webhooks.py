"""Webhooks: signed, at least once, events not frames, and never in the pipeline's way.

The sender tests use the real sender, a real SQLite outbox and a real HTTP receiver on
127.0.0.1; the replay tests push the real clip through the real pipeline into that receiver.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.traces import read_trace
from facegate.db.schema import outbox
from facegate.store import Store, new_event_id
from pipeline.delivery.webhooks import (
    WebhookConfig,
    WebhookSender,
    backoff_s,
    delivery_headers,
    sign,
    verify,
    warn_if_forgeable,
    webhook_body,
)
from tests.support import leaks
from tests.support.supervisor_cli import REPO, cli, copy_gallery
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "whsec_" + base64.b64encode(b"facegate-test-secret-32-bytes-ok").decode()
SIGNING = "whsec_" + base64.b64encode(b"facegate-signing-key-never-sent!").decode()
RESULT = {
    "timestamp": "2026-11-25T10:00:00.000000",
    "name": "Lin-Manuel Miranda",
    "confidence": 0.55,
    "distance": 0.45,
    "box": {"top": 10, "right": 90, "bottom": 80, "left": 20},
}


# --- signing and configuration -----------------------------------------------------------------------
def test_signature_follows_standard_webhooks() -> None:
    body = webhook_body(RESULT, "cam0", "rtsp://camera/1")
    now = int(time.time())
    signature = sign(SECRET, "evt_1", now, body)
    assert signature.startswith("v1,")
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify(SECRET, headers, body)
    assert not verify(SECRET, headers, body.replace("Lin", "Lyn"))
    assert not verify(SECRET, {**headers, "webhook-id": "evt_2"}, body)
    assert not verify(SECRET, {**headers, "webhook-timestamp": str(now - 3600)}, body, now=now)
    assert verify("plain-secret", {**headers, "webhook-signature": sign("plain-secret", "evt_1", now, body)}, body)


def test_body_is_the_old_scripts_payload() -> None:
    assert json.loads(webhook_body(RESULT, None, "0")) == {
        "result": RESULT,
        "camera_id": None,
        "camera_stream_url": "0",
    }


def test_config_from_environment() -> None:
    default = WebhookConfig.from_env({})
    assert default.url == "http://localhost:3005/api/facial-recognition/webhook"
    assert (default.timeout_s, default.max_attempts, default.max_age_s) == (5.0, 20, 86400.0)
    assert WebhookConfig.from_env({"NEXTJS_WEBHOOK_URL": ""}).url is None
    assert WebhookConfig.from_env({"FACEGATE_WEBHOOKS": "off"}).url is None
    tuned = WebhookConfig.from_env(
        {
            "FACIAL_RECOGNITION_WEBHOOK_SECRET": "s",
            "FACEGATE_WEBHOOK_TIMEOUT_S": "1.5",
            "FACEGATE_WEBHOOK_MAX_ATTEMPTS": "nope",
        }
    )
    assert (tuned.secret, tuned.timeout_s, tuned.max_attempts) == ("s", 1.5, 20)


def test_the_signing_secret_signs_and_the_bearer_secret_travels(caplog: pytest.LogCaptureFixture) -> None:
    both = WebhookConfig.from_env(
        {"FACIAL_RECOGNITION_WEBHOOK_SECRET": SECRET, "FACEGATE_WEBHOOK_SIGNING_SECRET": SIGNING}
    )
    assert (both.secret, both.signing_key, both.forgeable) == (SECRET, SIGNING, False)
    body = webhook_body(RESULT, "cam0", "0")
    headers = delivery_headers(both, "evt_1", body, time.time())
    assert headers["Authorization"] == f"Bearer {SECRET}" and SIGNING not in json.dumps(headers)
    assert verify(SIGNING, headers, body)
    assert not verify(SECRET, headers, body), "what a reader of the request sees verifies nothing"
    legacy = WebhookConfig.from_env({"FACIAL_RECOGNITION_WEBHOOK_SECRET": SECRET})
    assert legacy.forgeable and verify(SECRET, delivery_headers(legacy, "evt_1", body, time.time()), body)
    only_signing = WebhookConfig.from_env({"FACEGATE_WEBHOOK_SIGNING_SECRET": SIGNING})
    unsent = delivery_headers(only_signing, "evt_1", body, time.time())
    assert "Authorization" not in unsent and verify(SIGNING, unsent, body)
    with caplog.at_level("WARNING", logger="pipeline.delivery.webhooks"):
        for config in (both, only_signing, WebhookConfig(url=None, secret=SECRET), WebhookConfig(url="http://x/")):
            warn_if_forgeable(config)
        assert not caplog.records
        warn_if_forgeable(legacy)
    [warning] = caplog.records
    assert "can forge" in warning.getMessage() and "FACEGATE_WEBHOOK_SIGNING_SECRET=whsec_" in warning.getMessage()


def test_backoff_doubles_from_one_second_up_to_ten_minutes_with_jitter() -> None:
    config = WebhookConfig(url="http://127.0.0.1:9/")
    first = [backoff_s(1, config) for _ in range(50)]
    assert all(0.5 <= d <= 1.0 for d in first) and len(set(first)) > 1
    assert all(4.0 <= backoff_s(4, config) <= 8.0 for _ in range(50))
    assert all(300.0 <= backoff_s(19, config) <= 600.0 for _ in range(50))


# --- the sender against a real receiver ---------------------------------------------------------------
def _config(receiver: WebhookReceiver, **changes: object) -> WebhookConfig:
    base = {"url": receiver.url, "secret": SECRET, "timeout_s": 1.0, "backoff_base_s": 0.05, "backoff_cap_s": 0.4}
    return WebhookConfig(**{**base, **changes})  # type: ignore[arg-type]


@contextmanager
def running_sender(data_dir: Path, config: WebhookConfig) -> Iterator[WebhookSender]:
    """A started sender on `data_dir`'s outbox, stopped however the test ends."""
    sender = WebhookSender(lambda: Store(data_dir), config)
    sender.start()
    try:
        yield sender
    finally:
        sender.stop()


def _add_events(store: Store, count: int) -> list[str]:
    ids = []
    for n in range(count):
        event_id = new_event_id()
        result = {**RESULT, "name": f"person {n}"}
        store.results.add(event_id, result, "cam0", "rtsp://cam", webhook_body(result, "cam0", "rtsp://cam"))
        ids.append(event_id)
    return ids


def _attempts(store: Store) -> dict[str, int]:
    """Event id -> delivery attempts so far, from the outbox."""
    return {row.event_id: row.attempts for row in store.core.rows(sa.select(outbox.c.event_id, outbox.c.attempts))}


@pytest.fixture()
def receiver() -> WebhookReceiver:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def test_refused_then_unreachable_then_accepting_loses_nothing(tmp_path: Path, receiver: WebhookReceiver) -> None:
    store = Store(tmp_path)
    receiver.status = 500
    with running_sender(tmp_path, _config(receiver)) as sender:
        ids = _add_events(store, 5)
        sender.wake()
        assert receiver.wait_for(lambda: len(receiver.deliveries) >= 12, 15.0), "the receiver saw no retries"
        receiver.stop()  # then unreachable for a while: every event tried again against the closed port
        refused = list(receiver.deliveries)
        tried = _attempts(store)
        assert receiver.wait_for(lambda: all(n > tried[i] for i, n in _attempts(store).items()), 30.0), (
            "no attempt while the receiver was away"
        )
        assert store.outbox.counts()["delivered"] == 0
        assert store.outbox.counts()["retrying"] == 5
        receiver.status = 200
        receiver.start()
        assert receiver.wait_for(lambda: receiver.accepted_ids() >= set(ids), 20.0)
        assert receiver.wait_for(lambda: store.outbox.counts()["delivered"] == 5, 5.0)
    assert all(d.answered == 500 for d in refused)
    assert {d.headers["webhook-id"] for d in refused} <= set(ids), "retries reuse the event id"
    assert len(receiver.accepted()) == 5
    for delivery in receiver.accepted():
        assert delivery.headers["authorization"] == f"Bearer {SECRET}"
        assert verify(SECRET, delivery.headers, delivery.body)
    assert store.outbox.counts() == {"pending": 0, "retrying": 0, "delivered": 5, "failed": 0}


def test_gives_up_into_dead_letters_and_retries_them_on_request(tmp_path: Path, receiver: WebhookReceiver) -> None:
    store = Store(tmp_path)
    receiver.status = 503
    with running_sender(tmp_path, _config(receiver, max_attempts=3)) as sender:
        ids = _add_events(store, 2)
        sender.wake()
        assert receiver.wait_for(lambda: store.outbox.counts()["failed"] == 2, 15.0)
        assert len(receiver.deliveries) == 6
        failed = store.outbox.failed()
        assert {f["event_id"] for f in failed} == set(ids)
        assert all(f["attempts"] == 3 and f["last_error"] == "HTTP 503" for f in failed)
        receiver.status = 204
        assert store.outbox.retry_failed() == 2
        sender.wake()
        assert receiver.wait_for(lambda: store.outbox.counts()["delivered"] == 2, 10.0)
    assert receiver.accepted_ids() == set(ids)


def test_a_slow_receiver_times_out_and_is_retried(tmp_path: Path, receiver: WebhookReceiver) -> None:
    store = Store(tmp_path)
    receiver.delay_s = 1.5
    with running_sender(tmp_path, _config(receiver, timeout_s=0.5)) as sender:
        [event_id] = _add_events(store, 1)
        sender.wake()
        assert receiver.wait_for(lambda: len(receiver.deliveries) >= 2, 10.0)
        row = store.outbox.get(event_id)
        assert row["status"] == "retrying" and "0.5 s" in row["last_error"]
        receiver.delay_s = 0.0
        assert receiver.wait_for(lambda: store.outbox.counts()["delivered"] == 1, 10.0)
    assert {d.headers["webhook-id"] for d in receiver.deliveries} == {event_id}


# --- end to end: the real pipeline into the receiver -----------------------------------------------------
def _replay(data_dir: Path, clip: Path, receiver: WebhookReceiver, **env: str) -> dict:
    done = cli(
        "--data-dir",
        str(data_dir),
        "replay",
        str(clip),
        "--json",
        "--no-progress",
        env={
            "FACEGATE_WEBHOOKS": "on",
            "NEXTJS_WEBHOOK_URL": receiver.url,
            "FACIAL_RECOGNITION_WEBHOOK_SECRET": SECRET,
            **env,
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_replay_posts_a_handful_of_signed_events(
    gallery_dir: Path, clip: Path, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    data_dir = copy_gallery(gallery_dir, tmp_path / "data")
    report = _replay(data_dir, clip, receiver)
    assert report["frames"] == 275
    deliveries = receiver.accepted()
    lin = [d for d in deliveries if d.payload["result"]["name"] == "Lin-Manuel Miranda"]
    # the 9.2 s clip, a 10 s cooldown in stream time: one event for Lin, whoever else is seen
    assert len(lin) == 1, f"{len(lin)} events for one person in a 9-second clip"
    assert len(deliveries) == report["events"]
    stored = {r["event_id"]: r for r in Store(data_dir).results.recent(limit=100)}
    for delivery in deliveries:
        body = delivery.payload
        assert set(body) == {"result", "camera_id", "camera_stream_url"}
        assert body["camera_id"] == "cam0"
        assert body["camera_stream_url"] == str(clip.resolve())
        result = body["result"]
        seed = {"timestamp", "name", "confidence", "distance", "box"}  # the old script's fields, unchanged
        assert set(result) == (seed | {"visitor_id"} if result["name"] == "Unknown" else seed)
        assert result["confidence"] == round(1 - result["distance"], 2)
        assert 0 <= result["box"]["left"] < result["box"]["right"] <= 640
        assert 0 <= result["box"]["top"] < result["box"]["bottom"] <= 360
        assert delivery.headers["content-type"] == "application/json"
        assert delivery.headers["authorization"] == f"Bearer {SECRET}"
        assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 120
        assert verify(SECRET, delivery.headers, delivery.body)
        event_id = delivery.headers["webhook-id"]
        assert stored[event_id]["name"] == result["name"], "each webhook is an event in the store"
    assert Store(data_dir).outbox.counts()["delivered"] == len(deliveries)


def test_a_replay_signs_with_the_signing_secret_and_warns_only_without_one(
    gallery_dir: Path, clip: Path, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The real pipeline into a receiver on loopback: each delivery verifies with the signing secret only;
    the Bearer header is the seed's secret; a run with the Bearer secret alone says, once, that it is forgeable."""
    env = {"FACEGATE_WEBHOOKS": "on", "NEXTJS_WEBHOOK_URL": receiver.url, "FACIAL_RECOGNITION_WEBHOOK_SECRET": SECRET}
    runs = {}
    for name, extra in (("signed", {"FACEGATE_WEBHOOK_SIGNING_SECRET": SIGNING}), ("legacy", {})):
        data_dir = copy_gallery(gallery_dir, tmp_path / name)
        runs[name] = cli(
            "--data-dir", str(data_dir), "replay", str(clip), "--json", "--no-progress", env={**env, **extra}
        )
        assert runs[name].returncode == 0, runs[name].stderr[-2000:]
        if name == "signed":
            signed = receiver.accepted()
            receiver.deliveries.clear()
    assert signed and len(signed) == json.loads(runs["signed"].stdout)["events"]
    for delivery in signed:
        assert delivery.headers["authorization"] == f"Bearer {SECRET}"
        assert verify(SIGNING, delivery.headers, delivery.body)
        assert not verify(SECRET, delivery.headers, delivery.body)
        assert SIGNING not in json.dumps(delivery.headers) + delivery.body
    legacy = receiver.accepted()
    assert legacy and all(verify(SECRET, d.headers, d.body) for d in legacy)
    assert "can forge" not in runs["signed"].stderr
    assert runs["legacy"].stderr.count("can forge") == 1, runs["legacy"].stderr[-2000:]


def test_a_receiver_that_hangs_does_not_hold_up_the_pipeline(
    gallery_dir: Path, clip: Path, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """Every frame goes through while the receiver holds the first event's request unanswered.

    A sender in the pipeline's path would stop the frames at the first event until the receiver
    answers (it does not, until the test lets it). How fast frames go meanwhile is `make bench`'s.
    """
    data_dir = copy_gallery(gallery_dir, tmp_path / "data")
    trace = tmp_path / "trace.jsonl"
    receiver.hold.set()
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "FACEGATE_WEBHOOKS": "on",
        "NEXTJS_WEBHOOK_URL": receiver.url,
        "FACIAL_RECOGNITION_WEBHOOK_SECRET": SECRET,
        "FACEGATE_WEBHOOK_TIMEOUT_S": "100",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "supervisor.py",
            "--data-dir",
            str(data_dir),
            "replay",
            str(clip),
            "--json",
            "--no-progress",
            "--trace",
            str(trace),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    leaks.record(proc.pid)
    try:
        assert receiver.wait_for(lambda: receiver.deliveries, 120.0), "no event reached the receiver"
        assert receiver.wait_for(lambda: _lines(trace) == 275, 120.0), f"frames stopped at {_lines(trace)}"
        assert not receiver.release.is_set(), "the receiver was still hanging"
        first_named = next(
            line["frame"] for line in read_trace(trace) if any(f["name"] != "Unknown" for f in line["faces"])
        )
        # every frame after the first event (at or before Lin is first named, frame 82 or so) went through
        # while the receiver held the request
        assert 275 - 1 - first_named >= 150, first_named
        receiver.release.set()
        out, err = proc.communicate(timeout=120)
    finally:
        receiver.release.set()
        if proc.poll() is None:
            proc.terminate()  # a SIGKILL would leave its segments behind
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    report = json.loads(out)
    assert report["frames"] == 275 and report["drops"] == 0 and report["lost"] == 0
    counts = Store(data_dir).outbox.counts()
    assert counts["failed"] == 0
    assert counts["delivered"] + counts["retrying"] + counts["pending"] == report["events"]


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


# --- giving up, redirects, and the wait between attempts -------------------------------------------------
def test_an_event_older_than_max_age_is_given_up_long_before_max_attempts(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    store = Store(tmp_path)
    receiver.status = 500
    with running_sender(tmp_path, _config(receiver, max_age_s=1.5, max_attempts=1000)) as sender:
        added_at = time.monotonic()  # the event is created after this
        [event] = _add_events(store, 1)
        sender.wake()
        assert receiver.wait_for(lambda: store.outbox.counts()["failed"] == 1, 60.0), store.outbox.counts()
    [failed] = store.outbox.failed()
    assert failed["event_id"] == event and 2 <= failed["attempts"] < 1000 and failed["last_error"] == "HTTP 500"
    arrivals = [d.at for d in receiver.deliveries]
    assert len(arrivals) == failed["attempts"]
    # the last attempt went out once the event was max_age_s old (less the time its answer took to be noted)
    assert arrivals[-1] - added_at >= 1.5 - 0.5, "given up before the event was max_age_s old"


def test_a_redirect_is_not_followed(tmp_path: Path, receiver: WebhookReceiver) -> None:
    store = Store(tmp_path)
    with WebhookReceiver() as elsewhere:
        receiver.status, receiver.location = 307, elsewhere.url
        with running_sender(tmp_path, _config(receiver, max_attempts=2)) as sender:
            _add_events(store, 1)
            sender.wake()
            assert receiver.wait_for(lambda: store.outbox.counts()["failed"] == 1, 30.0), store.outbox.counts()
        assert elsewhere.deliveries == [], "the sender went where the redirect pointed"
    assert len(receiver.deliveries) == 2 and store.outbox.failed()[0]["last_error"] == "HTTP 307"


def test_attempts_are_spaced_by_at_least_half_the_documented_backoff(tmp_path: Path, receiver: WebhookReceiver) -> None:
    """README: the wait doubles from the base up to the cap, jittered into [d/2, d]; measured at the receiver."""
    store = Store(tmp_path)
    receiver.status = 500
    base, cap, attempts = 0.2, 1.0, 6
    with running_sender(
        tmp_path, _config(receiver, max_attempts=attempts, backoff_base_s=base, backoff_cap_s=cap)
    ) as sender:
        _add_events(store, 1)
        sender.wake()
        assert receiver.wait_for(lambda: store.outbox.counts()["failed"] == 1, 60.0), store.outbox.counts()
    arrivals = [d.at for d in receiver.deliveries]
    assert len(arrivals) == attempts
    for attempt, (before, after) in enumerate(pairwise(arrivals), start=1):
        documented = min(cap, base * 2 ** (attempt - 1))
        assert after - before >= documented / 2 - 0.01, (attempt, after - before, documented)
