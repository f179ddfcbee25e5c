"""A camera of the `cameras` setting: a typed record, checked field by field, JSON only at the edges.

Its fields are declared like the settings (facegate/setting_kinds.py), so the check of a camera
and the OpenAPI schema of a camera body come from the same declaration. The JSON form (the store,
the API) is `{"id", "stream_url", "name", "enabled"}` plus `detect_fps` when the camera has its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from facegate.setting_kinds import (
    Flag,
    Identifier,
    Kind,
    Number,
    Schema,
    SettingError,
    StreamUrl,
    Text,
    declare,
    declare_required,
    declared,
    field_schema,
)

MAX_CAMERAS = 16  # what a node runs at most unless --max-cameras says (a cluster holds any number)
DETECT_FPS_MIN = 0.1
DETECT_FPS_MAX = 60.0
# The one camera-id rule (the check, the OpenAPI pattern, the command line and the environment).
CAMERA_ID = Identifier(extra="._-", max_length=64)
STREAM_URL = StreamUrl()
DETECT_FPS = Number(DETECT_FPS_MIN, DETECT_FPS_MAX, zero="every frame")


@dataclass(frozen=True)
class Camera:
    """One camera: its id, its stream, and its own detect_fps when it has one (None: the global one)."""

    id: str = declare_required(CAMERA_ID, "the camera's id, carried by its events")
    stream_url: str = declare_required(STREAM_URL, "file path, rtsp(s)://, rtmp://, http(s)://, device index")
    name: str | None = declare(None, Text(100, printable=False), "a name for people")
    enabled: bool = declare(True, Flag(), "a disabled camera is kept but not run")
    detect_fps: float | None = declare(None, DETECT_FPS, "its own detections per stream second (null: the global)")

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Camera:
        """A camera from its stored JSON form (checked when it was stored)."""
        return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: detect_fps only when the camera has its own."""
        entry = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.detect_fps is None:
            del entry["detect_fps"]
        return entry


REQUIRED = tuple(f.name for f, _ in declared(Camera) if f.name in ("id", "stream_url"))


def check_camera(value: Any, *, label: str = "a camera's") -> Camera:
    """One entry of `cameras` ({"id", "stream_url", "name"?, "enabled"?, "detect_fps"?}), checked field by field."""
    if not isinstance(value, Mapping):
        raise SettingError("a camera must be a JSON object")
    known = {f.name: spec for f, spec in declared(Camera)}
    unknown = set(value) - set(known)
    if unknown:
        raise SettingError(
            f"unknown camera field{'s' if len(unknown) > 1 else ''} {', '.join(repr(name) for name in sorted(unknown))}"
        )
    if any(name not in value for name in REQUIRED):
        raise SettingError("a camera needs an id and a stream_url")
    nullable = {f.name for f, _ in declared(Camera) if f.default is None}
    checked: dict[str, Any] = {
        name: None
        if value[name] is None and name in nullable
        else known[name].kind.check("camera_id" if name == "id" else f"{label} {name}", value[name])
        for name in value
    }
    return Camera(**checked)


def camera_schema(*, with_id: bool = True) -> Schema:
    """The OpenAPI schema of a camera body (POST /api/cameras; without the id for PUT /api/cameras/<id>)."""
    properties = {f.name: field_schema(f, spec) for f, spec in declared(Camera) if with_id or f.name != "id"}
    schema: Schema = {"type": "object", "properties": properties}
    if with_id:
        schema["required"] = list(REQUIRED)
    return {**schema, "additionalProperties": False}


class CameraList(Kind):
    """The `cameras` setting: any number of cameras with distinct ids (each node runs at most its `max_cameras`,
    the rest wait); JSON text on the command line."""

    python_type = tuple

    def check(self, name: str, value: Any) -> tuple[Camera, ...]:
        if not isinstance(value, list | tuple):
            raise SettingError(f"{name} must be a list")
        cameras = tuple(c if isinstance(c, Camera) else check_camera(c) for c in value)
        ids = [c.id for c in cameras]
        if len(set(ids)) != len(ids):
            raise SettingError("camera ids must be unique")
        return cameras

    def schema(self) -> Schema:
        return {"type": "array", "items": camera_schema()}

    def parse_text(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise SettingError("cameras must be a JSON list") from None

    def takes(self) -> str:
        return "a JSON list"

    def load(self, value: Any) -> tuple[Camera, ...]:
        return tuple(c if isinstance(c, Camera) else Camera.from_dict(c) for c in value or ())

    def dump(self, value: Any) -> list[dict[str, Any]]:
        return [c.to_dict() for c in value]

    def samples(self) -> list[Any]:
        door = {"id": "door", "stream_url": "rtsp://door.local/live"}
        # two cameras of one id pass the schema: PUT /api/config answers them 409, the check refuses them
        return [
            [],
            [door],
            [{**door, "id": "cámara"}],
            [{**door, "detect_fps": 0.05}],
            [{**door, "extra": 1}],
            [{"id": f"c{i}", "stream_url": "0"} for i in range(MAX_CAMERAS + 1)],
            {},
            None,
        ]
