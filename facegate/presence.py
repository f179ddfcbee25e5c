"""Who is here, as rules: when a sighting counts as presence, when a visit has ended, what `left` says.

The store (facegate/store/visits.py) keeps the visits and the match stage reports the sightings;
both follow the rules written once here, without a database, so they are tested on their own
(tests/unit/test_presence.py). A subject is a person (by id, so a rename keeps their visits) or a
visitor (an unknown face followed across tracks), written "person:<id>" or "visitor:<id>".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from facegate.events import LEFT, OutgoingEvent

REPORT_EVERY_S = 5.0  # a face in view is reported at most this often per camera, when no event says so
REPORTS_PER_WINDOW = 4  # and at least this many times per presence window, so a short window still holds


def person_subject(person_id: int) -> str:
    """The subject key of a person."""
    return f"person:{person_id}"


def visitor_subject(visitor_id: int) -> str:
    """The subject key of a visitor."""
    return f"visitor:{visitor_id}"


def report_every_s(window_s: float) -> float:
    """How often the match stage reports a face that stays in view (without an event) on one camera."""
    return min(REPORT_EVERY_S, window_s / REPORTS_PER_WINDOW)


def is_present(last_seen: float, now: float, window_s: float) -> bool:
    """Seen within the window (a sighting a little ahead of this clock, from another node, counts too)."""
    return now - last_seen <= window_s


def has_left(last_seen: float, now: float, window_s: float) -> bool:
    """Not seen on any camera for longer than the window: the visit is over."""
    return not is_present(last_seen, now, window_s)


def with_camera(cameras: list[str], camera_id: str) -> list[str]:
    """A visit's cameras with one more, in the order they first saw the subject."""
    return cameras if camera_id in cameras else [*cameras, camera_id]


def cameras_of(text: str | None) -> list[str]:
    """A stored JSON list of camera ids."""
    found = json.loads(text or "[]")
    return [str(c) for c in found] if isinstance(found, list) else []


@dataclass(frozen=True)
class ClosedVisit:
    """A visit that just ended: what its `left` event tells."""

    event_id: str
    person_id: int | None
    visitor_id: int | None
    name: str  # the person's name, or "Unknown" for a visitor
    first_seen: str  # ISO-8601 UTC
    last_seen: str
    last_seen_at: float  # epoch s
    camera_id: str  # the camera that saw them last
    cameras: tuple[str, ...]

    def payload(self) -> dict[str, Any]:
        """The `left` webhook body: the seed's shape where it applies (`result` with its timestamp and name,
        `camera_id`), plus `type`, `first_seen`, `last_seen` and `cameras`."""
        subject: dict[str, Any] = (
            {"person_id": self.person_id} if self.person_id is not None else {"visitor_id": self.visitor_id}
        )
        return {
            "type": LEFT,
            "result": {"timestamp": self.last_seen, "name": self.name, **subject},
            "camera_id": self.camera_id,
            "camera_stream_url": None,
            **subject,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "cameras": list(self.cameras),
        }

    def outgoing(self) -> OutgoingEvent:
        """The `left` event the endpoints' rules are checked against (its time: the last sighting)."""
        return OutgoingEvent(
            event_id=self.event_id,
            type=LEFT,
            payload=self.payload(),
            person_id=self.person_id,
            known=self.person_id is not None,
            cameras=self.cameras,
            confidence=None,
            at=self.last_seen_at,
        )
