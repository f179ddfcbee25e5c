"""Webhook delivery from the durable outbox: at least once, signed, never in the pipeline's way.

The emitter writes each event and its outbox row in one transaction; `WebhookSender` then
posts due rows from a few threads of its own. A failed attempt is retried with exponential
backoff and jitter; after `max_attempts` or `max_age_s` the row becomes a dead letter that the
API lists and can put back in line. A delivery carries the Standard Webhooks headers
(`webhook-id` stays the same across retries, so a receiver can drop duplicates) and, for the
seed's Next.js route, `Authorization: Bearer <FACIAL_RECOGNITION_WEBHOOK_SECRET>`.

The signature is keyed with `FACEGATE_WEBHOOK_SIGNING_SECRET` (`whsec_...`), which never travels.
Keyed with the Bearer secret instead (when only that one is set), it proves nothing: anyone who
reads one request has the key, so the emitter says so when it starts (`warn_if_forgeable`).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests
from sqlalchemy.exc import DBAPIError

from facegate.events import APPEARED, DEFAULT_ENDPOINT, body_for, default_endpoint_url
from facegate.records import Result, webhook_payload
from facegate.redact import redact
from facegate.store import OutboxStatus, Store
from facegate.webhook_signing import sign as sign
from facegate.webhook_signing import signed_headers
from facegate.webhook_signing import verify as verify
from pipeline.delivery.targets import Target, target_of

log = logging.getLogger(__name__)

BEARER_ENV = "FACIAL_RECOGNITION_WEBHOOK_SECRET"
SIGNING_ENV = "FACEGATE_WEBHOOK_SIGNING_SECRET"


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how events are delivered; `url` None means webhooks are off."""

    url: str | None
    secret: str | None = None  # sent as `Authorization: Bearer`, as the seed's Next.js route expects
    signing_secret: str | None = None  # keys the signature; never sent
    timeout_s: float = 5.0
    max_attempts: int = 20
    max_age_s: float = 86400.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 600.0
    concurrency: int = 4
    claim_s: float = 30.0  # a node holds a row this long per attempt; if it dies, another node retries after

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookConfig:
        """Read the v1 webhook variables plus `FACEGATE_WEBHOOK_*` tuning; bad numbers keep the defaults."""
        env = os.environ if environ is None else environ
        config = cls(
            url=default_endpoint_url(env),
            secret=env.get(BEARER_ENV) or None,
            signing_secret=env.get(SIGNING_ENV) or None,
        )
        numbers: dict[str, Any] = {}
        for field, kind in (
            ("timeout_s", float),
            ("max_attempts", int),
            ("max_age_s", float),
            ("backoff_base_s", float),
            ("backoff_cap_s", float),
            ("concurrency", int),
            ("claim_s", float),
        ):
            raw = env.get(f"FACEGATE_WEBHOOK_{field.upper()}")
            if raw is None:
                continue
            try:
                value = kind(raw)
            except ValueError:
                log.warning("ignoring FACEGATE_WEBHOOK_%s=%r: not a number", field.upper(), raw)
                continue
            if value > 0:
                numbers[field] = value
        config = replace(config, **numbers)
        return replace(config, claim_s=max(config.claim_s, 2.0 * config.timeout_s))  # never ends mid-attempt

    @property
    def signing_key(self) -> str | None:
        """The secret signatures are keyed with: the signing secret, else (forgeable) the Bearer secret."""
        return self.signing_secret or self.secret

    @property
    def forgeable(self) -> bool:
        """True when the signing key is the secret every request carries in clear."""
        return self.signing_key is not None and self.signing_key == self.secret


def warn_if_forgeable(config: WebhookConfig) -> None:
    """Log (the emitter, as it starts) that signatures keyed with the Bearer secret prove nothing."""
    if config.url and config.forgeable:
        log.warning(
            "webhook signatures are keyed with %s, which every delivery carries in clear as its Bearer "
            "header: anyone who reads one request can forge signed events. Set a separate signing secret "
            "here and in the receiver, e.g. %s=whsec_$(openssl rand -base64 24), and verify with that one",
            BEARER_ENV,
            SIGNING_ENV,
        )


def appeared_payload(result: Result, camera_id: str | None, stream_url: str | None) -> dict[str, Any]:
    """An `appeared` event's payload: the v1 webhook payload plus `"type": "appeared"`.

    `camera_stream_url` keeps its place but never its password (`rtsp://admin:***@cam/live`).
    """
    return {**redact(webhook_payload(result, camera_id, stream_url)), "type": APPEARED}


def webhook_body(result: Result, camera_id: str | None, stream_url: str | None) -> str:
    """The v1 webhook's body, serialised once so that the signature covers the exact bytes sent."""
    return body_for(DEFAULT_ENDPOINT, appeared_payload(result, camera_id, stream_url))


def delivery_headers(config: WebhookConfig, event_id: str, body: str, now: float) -> dict[str, str]:
    """The v1 webhook's headers: signed with its signing key, with the seed's Bearer secret."""
    return signed_headers(event_id, body, now, config.signing_key, config.secret)


def backoff_s(attempts: int, config: WebhookConfig, rng: random.Random | None = None) -> float:
    """Seconds before attempt `attempts + 1`: doubling from the base up to the cap, jittered into [d/2, d]."""
    delay = min(config.backoff_cap_s, config.backoff_base_s * 2.0 ** max(attempts - 1, 0))
    return delay / 2.0 + (rng or random).uniform(0.0, delay / 2.0)


@dataclass
class Outcome:
    event_id: str
    endpoint_id: str
    ok: bool
    error: str
    attempts: int
    created: float


class WebhookSender:
    """Delivers due outbox rows from `concurrency` threads; `wake()` after writing a new row.

    Every node of a cluster runs one on the shared outbox: it claims each row before posting it
    (`store.outbox.claim`), so no two nodes post one event to one endpoint at once, and a row whose
    node died mid-delivery is claimed again by another once `claim_s` is over, with the same
    `webhook-id`. A row goes to its endpoint (pipeline/delivery/targets.py); a node whose v1 webhook
    is off (`config.url` None) leaves the v1 webhook's rows to the nodes that have it.
    """

    def __init__(
        self,
        store_factory: Callable[[], Store],
        config: WebhookConfig,
        node_id: str = "local",
        *,
        private_ok: bool = False,
    ) -> None:
        self.config = config
        self.node_id = node_id
        self.private_ok = private_ok
        self._without = () if config.url else (DEFAULT_ENDPOINT,)
        self.store_factory = store_factory
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._jobs: queue.Queue[tuple[dict[str, Any], Target] | None] = queue.Queue()
        self._done: queue.Queue[Outcome] = queue.Queue()
        self._inflight: set[tuple[str, str]] = set()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Event()
        # attempts made, by the status each left its row in
        self.counts = dict.fromkeys((OutboxStatus.DELIVERED, OutboxStatus.RETRYING, OutboxStatus.FAILED), 0)

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._threads = [threading.Thread(target=self._dispatch, name="webhook-dispatch", daemon=True)]
        self._threads += [
            threading.Thread(target=self._post_loop, name=f"webhook-{n}", daemon=True)
            for n in range(self.config.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is due now or in flight (end of a replay); False if time ran out."""
        self.wake()
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop posting; rows still pending stay in the outbox for the next start."""
        self._stopping.set()
        self._wake.set()
        for _ in range(self.config.concurrency):
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- the dispatcher: the only thread that reads and writes the outbox ------------------------------
    def _dispatch(self) -> None:
        store = self.store_factory()
        outage = False
        try:
            while not self._stopping.is_set():
                try:
                    self._dispatch_once(store)
                except DBAPIError as exc:  # the database restarts or is unreachable: wait for it, lose nothing
                    if not outage:
                        log.warning("webhook outbox unreachable (%s); retrying every second", _reason(exc))
                    outage = True
                    self._stopping.wait(1.0)
                    continue
                if outage:
                    log.info("webhook outbox reachable again")
                    outage = False
            self._record_outcomes(store)
        except Exception:
            log.exception("webhook dispatcher failed; pending events stay in the outbox")
        finally:
            store.close()

    def _left_alone(self) -> tuple[str, ...]:
        """The endpoints whose rows this node does not claim now: the v1 webhook's when it is off here, and any
        endpoint holding all threads but one (so a slow receiver never holds up the other endpoints)."""
        most = max(1, self.config.concurrency - 1)
        held = Counter(endpoint_id for _, endpoint_id in self._inflight)
        return self._without + tuple(e for e, n in held.items() if n >= most and e not in self._without)

    def _dispatch_once(self, store: Store) -> None:
        self._record_outcomes(store)
        while len(self._inflight) < self.config.concurrency:  # one row at a time: each claim sees what is held
            claimed = store.outbox.claim(
                self.node_id, time.time(), limit=1, lease_s=self.config.claim_s, without=self._left_alone()
            )
            if not claimed:
                break
            row = claimed[0]
            endpoint_id = row.setdefault("endpoint_id", DEFAULT_ENDPOINT)  # the v1 webhook's rows do not say
            target = target_of(store, self.config, endpoint_id, self.private_ok)
            if target is None:  # deleted since the row was written: nothing to post to
                mine = {"node_id": self.node_id, "endpoint_id": endpoint_id}
                store.outbox.mark_failed(row["event_id"], int(row["attempts"]), "the endpoint is gone", **mine)
                continue
            self._inflight.add((row["event_id"], endpoint_id))
            self._jobs.put((row, target))
        following = store.outbox.next_due_at(self._left_alone())
        if not self._inflight and self._done.empty() and (following is None or following > time.time()):
            self._idle.set()
        wait = 1.0
        if following is not None and len(self._inflight) < self.config.concurrency:
            wait = min(wait, max(0.0, following - time.time()))
        self._wake.wait(wait)
        self._wake.clear()

    def _record_outcomes(self, store: Store) -> None:
        while True:
            try:
                outcome = self._done.get_nowait()
            except queue.Empty:
                return
            try:
                self._record_outcome(store, outcome)
            except DBAPIError:
                self._done.put(outcome)  # settled once the database answers again
                raise
            self._inflight.discard((outcome.event_id, outcome.endpoint_id))

    def _record_outcome(self, store: Store, outcome: Outcome) -> None:
        """Write an attempt's outcome to its outbox row (only while this node's claim stands) and count it."""
        now = time.time()
        mine = {"node_id": self.node_id, "endpoint_id": outcome.endpoint_id}
        if outcome.ok:
            status = OutboxStatus.DELIVERED
            store.outbox.mark_delivered(outcome.event_id, outcome.attempts, now, **mine)
            log.info("webhook %s delivered (attempt %d)", outcome.event_id, outcome.attempts)
        elif outcome.attempts >= self.config.max_attempts or now - outcome.created >= self.config.max_age_s:
            status = OutboxStatus.FAILED
            store.outbox.mark_failed(outcome.event_id, outcome.attempts, outcome.error, **mine)
            log.warning("webhook %s gave up after %d attempts: %s", outcome.event_id, outcome.attempts, outcome.error)
        else:
            status = OutboxStatus.RETRYING
            delay = backoff_s(outcome.attempts, self.config)
            store.outbox.mark_retry(outcome.event_id, outcome.attempts, now + delay, outcome.error, **mine)
            log.info(
                "webhook %s attempt %d failed (%s); next in %.1f s",
                outcome.event_id,
                outcome.attempts,
                outcome.error,
                delay,
            )
        self.counts[status] += 1

    # --- the posting threads: HTTP only ----------------------------------------------------------------
    def _post_loop(self) -> None:
        session = requests.Session()
        try:
            while True:
                job = self._jobs.get()
                if job is None or self._stopping.is_set():
                    return
                row, target = job
                ok, error = self._post(session, target, row["event_id"], row["body"])
                attempts, created = int(row["attempts"]) + 1, float(row["created"])
                self._done.put(Outcome(row["event_id"], row["endpoint_id"], ok, error, attempts, created))
                self._wake.set()
        finally:
            session.close()

    def _post(self, session: requests.Session, target: Target, event_id: str, body: str) -> tuple[bool, str]:
        refused = target.refused()
        if refused is not None:
            return False, refused
        headers = target.headers(event_id, body, time.time())
        try:
            response = session.post(
                target.url,
                data=body.encode(),
                headers=headers,
                timeout=self.config.timeout_s,
                allow_redirects=False,
            )
        except requests.Timeout:
            return False, f"no answer within {self.config.timeout_s:g} s"
        except requests.RequestException as exc:
            return False, f"{type(exc).__name__}: {str(exc)[:200]}"
        if 200 <= response.status_code < 300:
            return True, ""
        return False, f"HTTP {response.status_code}"


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
