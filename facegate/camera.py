"""A camera of the `cameras` setting: a typed record, checked field by field, JSON only at the edges.

Its fields are declared like the settings (facegate/setting_kinds.py), so the check of a camera
and the OpenAPI schema of a camera body come from the same declaration. The JSON form (the store,
the API) is `{"id", "stream_url", "name", "enabled"}` plus `detect_fps` and `min_face_px` when the
camera has its own, and `ignore_regions` when it ignores some (facegate/regions.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import Field, dataclass
from typing import Any

from facegate.regions import Polygon, Polygons
from facegate.setting_kinds import (
    Flag,
    Identifier,
    Kind,
    Number,
    Schema,
    SettingError,
    Spec,
    StreamUrl,
    Text,
    declare,
    declare_required,
    declared,
    field_schema,
)

DETECT_FPS_MIN = 0.1
DETECT_FPS_MAX = 60.0
# The one camera-id rule (the check, the OpenAPI pattern, the command line and the environment).
CAMERA_ID = Identifier(extra="._-", max_length=64)
STREAM_URL = StreamUrl()
DETECT_FPS = Number(DETECT_FPS_MIN, DETECT_FPS_MAX, zero="every frame")
MIN_FACE_PX = Number(0, 4096, integer=True)


@dataclass(frozen=True)
class Camera:
    """One camera: its id, its stream, its own detect_fps and min_face_px when it has them (None: the global
    ones), and the regions of its frame it ignores."""

    id: str = declare_required(CAMERA_ID, "the camera's id, carried by its events")
    stream_url: str = declare_required(STREAM_URL, "file path, rtsp(s)://, rtmp://, http(s)://, device index")
    name: str | None = declare(None, Text(100, printable=False), "a name for people")
    enabled: bool = declare(True, Flag(), "a disabled camera is kept but not run")
    detect_fps: float | None = declare(None, DETECT_FPS, "its own detections per stream second (null: the global)")
    min_face_px: int | None = declare(None, MIN_FACE_PX, "its own smallest face width in pixels (null: the global)")
    ignore_regions: tuple[Polygon, ...] = declare(
        (),
        Polygons(),
        "polygons of [x, y] points, fractions of the frame; a face whose box centre lies in one is ignored",
    )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Camera:
        """A camera from its stored JSON form (checked when it was stored)."""
        return cls(**{f.name: _load(f, spec, value[f.name]) for f, spec in declared(cls) if f.name in value})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the per-camera settings only when the camera has its own, its regions when it has some."""
        return {
            f.name: spec.kind.dump(getattr(self, f.name))
            for f, spec in declared(Camera)
            if f.name not in LEFT_OUT_UNSET or getattr(self, f.name) not in (None, ())
        }


LEFT_OUT_UNSET = ("detect_fps", "min_face_px", "ignore_regions")  # in the JSON form only when the camera sets them


def _load(item: Field[Any], spec: Spec, value: Any) -> Any:
    """A stored field in its typed form; NULL is the field's default (no regions, the global value)."""
    return item.default if value is None else spec.kind.load(value)


REQUIRED = tuple(f.name for f, _ in declared(Camera) if f.name in ("id", "stream_url"))


def check_camera(value: Any, *, label: str = "a camera's") -> Camera:
    """One entry of `cameras` ({"id", "stream_url", "name"?, "enabled"?, ...}), checked field by field."""
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
            [{"id": f"c{i}", "stream_url": "0"} for i in range(17)],  # any number: more than one node carries
            {},
            None,
        ]
