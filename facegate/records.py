"""The shapes facegate shows the outside world, each built in one place.

A result is the v1 API's result, the shape the Next.js side parses (DESIGN.md, "REST API"): REST answers,
the store's rows and the webhook all carry it; the webhook wraps it with the camera. The API's
OpenAPI description (control/openapi.py) documents the same fields.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

ENCODING_SIZE = 128  # numbers in one face encoding (dlib's face descriptor)
UNKNOWN = "Unknown"  # the name a result carries for a face no one in the gallery matches; no person may take it
MAX_NAME = 100

Box = tuple[int, int, int, int]  # top, right, bottom, left in full-frame pixels


def person_name(value: Any) -> str:
    """A person's name as stored (stripped), or ValueError saying why it cannot be one (API and CLI alike)."""
    if not isinstance(value, str):
        raise ValueError("name must be a string")
    if len(value) > MAX_NAME:
        raise ValueError(f"name must be at most {MAX_NAME} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("name must not contain control characters")
    name = value.strip()
    if not name:
        raise ValueError("name must not be empty")
    if name.casefold() == UNKNOWN.casefold():
        raise ValueError(f"{UNKNOWN!r} is reserved for faces no one matches; choose another name")
    return name


class BoxDict(TypedDict):
    """A box as JSON, in full-frame pixels."""

    top: int
    right: int
    bottom: int
    left: int


class Result(TypedDict):
    """A result as JSON: `result_dict`'s fields, plus where it was seen once it is an event."""

    timestamp: str
    name: str
    confidence: float
    distance: float
    box: BoxDict
    camera_id: NotRequired[str | None]
    event_id: NotRequired[str]
    visitor_id: NotRequired[int]


def box_dict(box: Box) -> BoxDict:
    top, right, bottom, left = box
    return {"top": top, "right": right, "bottom": bottom, "left": left}


def result_dict(timestamp: str, name: str, distance: float, box: Box) -> Result:
    """`{"timestamp", "name", "confidence": round(1 - distance, 2), "distance": round(distance, 3), "box"}`."""
    distance = float(distance)
    return {
        "timestamp": timestamp,
        "name": name,
        "confidence": round(1.0 - distance, 2),
        "distance": round(distance, 3),
        "box": box_dict(box),
    }


def webhook_payload(result: Result, camera_id: str | None, stream_url: str | None) -> dict[str, Any]:
    """What `NEXTJS_WEBHOOK_URL` receives for one event."""
    return {"result": result, "camera_id": camera_id, "camera_stream_url": stream_url}
