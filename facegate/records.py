"""The shapes facegate shows the outside world, each built in one place.

A result is what the Next.js side already parses (the old Flask script's shape): REST answers,
the store's rows and the webhook all carry it; the webhook wraps it with the camera. The API's
OpenAPI description (control/openapi.py) documents the same fields.
"""

from __future__ import annotations

from typing import Any

ENCODING_SIZE = 128  # numbers in one face encoding (dlib's face descriptor)

Box = tuple[int, int, int, int]  # top, right, bottom, left in full-frame pixels


def box_dict(box: Box) -> dict[str, int]:
    top, right, bottom, left = box
    return {"top": top, "right": right, "bottom": bottom, "left": left}


def result_dict(timestamp: str, name: str, distance: float, box: Box) -> dict[str, Any]:
    """`{"timestamp", "name", "confidence": round(1 - distance, 2), "distance": round(distance, 3), "box"}`."""
    distance = float(distance)
    return {"timestamp": timestamp, "name": name, "confidence": round(1.0 - distance, 2),
            "distance": round(distance, 3), "box": box_dict(box)}


def webhook_payload(result: dict[str, Any], camera_id: str | None, stream_url: str | None) -> dict[str, Any]:
    """What `NEXTJS_WEBHOOK_URL` receives for one event."""
    return {"result": result, "camera_id": camera_id, "camera_stream_url": stream_url}
