"""Emit: make decisions durable and tell the world.

Every event is written to the store (result and webhook outbox row in one transaction) before
any delivery is tried; the webhook sender then works from the outbox in its own threads, so a
slow or dead receiver never holds up this loop or the pipeline behind it. The sightings the match
stage reports extend the visits that presence and attendance read (facegate/store/visits.py). A
replay's trace (one JSON line per frame) is written here too.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import IO

from facegate.db.outage import patiently
from facegate.enrollment import crop_quality
from facegate.events import APPEARED, OutgoingEvent
from facegate.records import UNKNOWN, box_dict
from facegate.redact import redact
from facegate.store import Sighting, Store
from pipeline.delivery.webhooks import WebhookConfig, WebhookSender, appeared_payload, warn_if_forgeable
from pipeline.runtime.stage_context import EmitOptions, StageContext, receive
from pipeline.transport.messages import (
    EndOfStream,
    Event,
    FrameResult,
    ReplayDone,
    ResultBatch,
    Seen,
    Stop,
    UnknownFace,
)

log = logging.getLogger(__name__)

REPLAY_DRAIN_S = 10.0  # how long the end of a replay waits for its webhooks to go out


def trace_line(result: FrameResult) -> str:
    faces = [
        {"box": box_dict(f.box), "name": f.name, "distance": f.distance, "track": f.track_id} for f in result.faces
    ]
    record = {"frame": result.seq, "pts": round(result.pts, 4), "detected": result.detected, "faces": faces}
    if result.lost:
        record["lost"] = True
    return json.dumps(record, separators=(",", ":"))


class Emitter:
    def __init__(self, ctx: StageContext) -> None:
        assert isinstance(ctx.options, EmitOptions)
        self.ctx = ctx
        self.stop, self.meter = ctx.begin()
        self.store = Store(ctx.data_dir)
        self.webhooks = WebhookConfig.from_env()
        self.sender: WebhookSender | None = None
        if ctx.options.deliver:  # the endpoints are shared rows: any node may have to deliver to them
            self.sender = WebhookSender(
                lambda: Store(ctx.data_dir),
                self.webhooks,
                ctx.settings.node_id or "local",
                private_ok=ctx.settings.webhook_private_ok,
            )
            self.sender.start()
            if self.webhooks.url:
                log.info("webhooks go to %s%s", self.webhooks.url, " (signed)" if self.webhooks.signing_key else "")
                warn_if_forgeable(self.webhooks)
        trace = ctx.options.trace
        self.trace: IO[str] | None = Path(trace).open("w", encoding="utf-8") if trace else None
        self.meter.mark_ready()

    def keep_unknown(self, face: UnknownFace) -> None:
        patiently(
            lambda: self.store.unknown.add(
                face.event_id, face.camera_id, face.captured_at, face.box, face.jpeg, face.encoding
            ),
            what="keeping an unknown face",
            stopping=lambda: bool(self.stop),
        )

    def seen(self, sighting: Seen) -> None:
        """A sighting for presence: the subject's visit extended (or opened) and their attendance counted."""
        patiently(
            lambda: self.store.visits.seen(
                sighting.camera_id,
                sighting.at,
                sighting.window_s,
                name=sighting.name,
                visitor_id=sighting.visitor_id,
            ),
            what="noting a sighting",
            stopping=lambda: bool(self.stop),
        )

    def outgoing(self, event: Event) -> OutgoingEvent:
        """The `appeared` event the endpoints' rules are checked against."""
        name = event.result["name"]
        known = name != UNKNOWN
        return OutgoingEvent(
            event_id=event.event_id,
            type=APPEARED,
            payload=appeared_payload(event.result, event.camera_id, event.stream_url),
            person_id=self.store.gallery.id_of(name) if known else None,
            known=known,
            cameras=(event.camera_id,),
            confidence=event.result["confidence"],
            at=event.captured_at,
        )

    def record(self, event: Event) -> None:
        stream_url = redact(event.stream_url)
        sighting = Sighting(event.encoding, event.crop, event.visitor_id)
        patiently(
            lambda: self.store.results.add(
                event.event_id,
                event.result,
                event.camera_id,
                stream_url,
                None,
                sighting=sighting,
                outgoing=self.outgoing(event) if self.sender else None,
            ),
            what=f"writing event {event.event_id}",
            stopping=lambda: bool(self.stop),
        )
        visitor_id, encoding = event.visitor_id, event.encoding
        if visitor_id is not None and encoding is not None:
            box = event.result["box"]
            patiently(
                lambda: self.store.visitors.offer_face(
                    visitor_id, encoding, event.crop, crop_quality(event.crop, box["right"] - box["left"])
                ),
                what=f"keeping a face of visitor {visitor_id}",
                stopping=lambda: bool(self.stop),
            )
        self.meter.add("encodings")  # the emitter's "encodings" column counts events written
        log.info(
            "event %s: %s on %s (distance %.3f)",
            event.event_id,
            event.result["name"],
            event.camera_id,
            event.result["distance"],
        )
        if self.sender is not None:
            self.sender.wake()

    def frame(self, result: FrameResult) -> None:
        started = time.perf_counter()
        self.meter.add("frames_in")
        self.meter.add("faces", len(result.faces))
        if self.trace is not None:
            self.trace.write(trace_line(result) + "\n")
        self.meter.frame_done((time.perf_counter() - started) * 1000.0)

    def run(self) -> None:
        while not self.stop:
            msg = receive(self.ctx.inbox, self.stop, self.meter)
            if msg is None:
                continue
            if isinstance(msg, ResultBatch):
                for result in msg.results:
                    self.frame(result)
            elif isinstance(msg, Event):
                self.record(msg)
            elif isinstance(msg, UnknownFace):
                self.keep_unknown(msg)
            elif isinstance(msg, Seen):
                self.seen(msg)
            elif isinstance(msg, EndOfStream):
                finished_at = time.monotonic()
                if self.trace is not None:
                    self.trace.flush()
                if self.sender is not None and not self.sender.drain(REPLAY_DRAIN_S):
                    log.warning("webhooks still pending after the replay; they stay in the outbox")
                self.ctx.outbox.put(ReplayDone(msg.camera_id, msg.frames, finished_at))
            elif isinstance(msg, Stop):
                break
        self.close()

    def close(self) -> None:
        if self.trace is not None:
            self.trace.close()
        if self.sender is not None:
            self.sender.stop(timeout=3.0)
        self.meter.publish()
        self.store.close()


def run(ctx: StageContext) -> None:
    """Process entry point."""
    Emitter(ctx).run()
