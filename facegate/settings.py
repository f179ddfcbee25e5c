"""Runtime settings: their defaults, their validation, and where they come from.

One table of settings serves the CLI, the environment (`FACEGATE_*`), the store (persisted
runtime config) and `PUT /api/config`, so a value is checked the same way whichever door it
came through. The checked values travel as `Settings`, a typed record the stages read.

A new setting is declared twice, side by side at the bottom of this file: a row of SETTINGS
(default, check, help) and a field of `Settings` (its type); a test keeps the two in step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from facegate import camera_source


class SettingError(ValueError):
    """A setting's value is not acceptable; the message says why, for a 400 or a CLI error."""


def check_stream_url(value: Any) -> str:
    """A device index, a file, or an rtsp/rtsps/rtmp/http(s) URL, as facegate/camera_source.py reads it."""
    try:
        return camera_source.checked(value)
    except camera_source.SourceError as exc:
        raise SettingError(str(exc)) from None


def _number(name: str, low: float, high: float, *, low_open: bool = False, integer: bool = False):
    def check(value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingError(f"{name} must be a number")
        try:
            number = float(value)
        except ValueError:
            raise SettingError(f"{name} must be a number") from None
        if not math.isfinite(number):
            raise SettingError(f"{name} must be a finite number")
        too_low = number <= low if low_open else number < low
        if too_low or number > high:
            bracket = "(" if low_open else "["
            raise SettingError(f"{name} must be in {bracket}{low:g}, {high:g}]")
        if integer:
            if number != int(number):
                raise SettingError(f"{name} must be a whole number")
            return int(number)
        return number

    return check


def _boolean(name: str):
    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise SettingError(f"{name} must be true or false")

    return check


def _choice(name: str, options: tuple[str, ...]):
    def check(value: Any) -> str:
        if value not in options:
            raise SettingError(f"{name} must be one of {', '.join(options)}")
        return value

    return check


def _camera_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise SettingError("camera_id must be a string of 1 to 64 characters")
    if not all(ch.isalnum() or ch in "-_." for ch in value):
        raise SettingError("camera_id may hold only letters, digits, '-', '_' and '.'")
    return value


MAX_CAMERAS = 16
DETECTORS = ("hog", "cnn", "blazeface")  # the names pipeline/detectors builds
DEFAULT_DETECT_FPS = 5.0  # chosen from bench.time_to_name (see the README, "Carrying more cameras")
DEFAULT_VISITOR_THRESHOLD = 0.5  # chosen from bench.visitor_threshold (see the README, "Visitors")


DETECT_FPS_MAX = 60.0


def _detect_fps(name: str):
    """Detections per stream second at most, 0.1 to 60; 0 detects every frame (no rate limit, no motion gating)."""
    inner = _number(name, 0.0, DETECT_FPS_MAX)

    def check(value: Any) -> float:
        number = float(inner(value))
        if 0.0 < number < 0.1:
            raise SettingError(f"{name} must be 0 (every frame) or in [0.1, {DETECT_FPS_MAX:g}]")
        return number

    return check


def _optional_path(name: str):
    def check(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > 4096 or any(ch in value for ch in "\n\r\0"):
            raise SettingError(f"{name} must be a file path")
        return value

    return check


def check_database_url(value: Any) -> str | None:
    """postgresql://... (the store in PostgreSQL) or empty/None (SQLite in the data dir)."""
    from facegate.db.engine import parse_url  # SQLAlchemy only when a URL is given

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise SettingError("database_url must be a postgresql:// URL")
    try:
        parse_url(value.strip())
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    return value.strip()


def check_node_id(value: Any) -> str | None:
    """A node's name in the cluster: 1 to 128 letters, digits, '-', '_', '.' or ':'; None picks host-pid."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 128 or not all(ch.isalnum() or ch in "-_.:" for ch in value):
        raise SettingError("node_id must be 1 to 128 letters, digits, '-', '_', '.' or ':'")
    return value


def check_camera(value: Any) -> dict[str, Any]:
    """One entry of `cameras`: {"id", "stream_url", "name"?, "enabled"?, "detect_fps"?}; a camera's
    `detect_fps` overrides the global one (absent or null: the global one applies)."""
    if not isinstance(value, Mapping):
        raise SettingError("a camera must be a JSON object")
    unknown = set(value) - {"id", "stream_url", "name", "enabled", "detect_fps"}
    if unknown:
        raise SettingError(f"unknown camera field {sorted(unknown)[0]!r}")
    if "id" not in value or "stream_url" not in value:
        raise SettingError("a camera needs an id and a stream_url")
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 100):
        raise SettingError("a camera's name must be a string of at most 100 characters")
    entry = {"id": _camera_id(value["id"]), "stream_url": check_stream_url(value["stream_url"]), "name": name,
             "enabled": _boolean("enabled")(value.get("enabled", True))}
    if value.get("detect_fps") is not None:
        entry["detect_fps"] = _detect_fps("a camera's detect_fps")(value["detect_fps"])
    return entry


def check_cameras(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise SettingError("cameras must be a list")
    if len(value) > MAX_CAMERAS:
        raise SettingError(f"at most {MAX_CAMERAS} cameras")
    cameras = [check_camera(v) for v in value]
    ids = [c["id"] for c in cameras]
    if len(set(ids)) != len(ids):
        raise SettingError("camera ids must be unique")
    return cameras


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    check: Callable[[Any], Any]
    runtime: bool  # changeable while running through PUT /api/config
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("stream_url", None, check_stream_url, True, "camera: file path, rtsp://, http(s)://, device index"),
    Setting("camera_id", "cam0", _camera_id, True, "id of the default camera, carried by events"),
    Setting("cameras", [], check_cameras, True, "more cameras: [{id, stream_url, name, enabled}]"),
    Setting("threshold", 0.6, _number("threshold", 0.0, 1.0, low_open=True), True,
            "largest face distance that still names a person"),
    Setting("downscale", 0.5, _number("downscale", 0.05, 1.0, low_open=True), True,
            "frames are shrunk by this factor before face location"),
    Setting("model", "hog", _choice("model", ("hog", "cnn")), True,
            "dlib face locator for photos, and for the pipeline while detector is hog"),
    Setting("detector", "hog", _choice("detector", DETECTORS), True,
            "face locator of the pipeline: hog, cnn or blazeface (faster, see the README)"),
    Setting("detector_model", None, _optional_path("detector_model"), False,
            "a BlazeFace .tflite file instead of the one its wheel ships"),
    Setting("detect_fps", DEFAULT_DETECT_FPS, _detect_fps("detect_fps"), True,
            "detections per stream second per camera at most (0: every frame); a camera may set its own"),
    Setting("motion_threshold", 25, _number("motion_threshold", 1, 254, integer=True), True,
            "grey levels (0-255) a pixel of the small motion copy must change by to count as moved"),
    Setting("motion_min_area", 12, _number("motion_min_area", 1, 2000, integer=True), True,
            "moved pixels of the 90-line motion copy a region needs to count as motion"),
    Setting("upsample", 1, _number("upsample", 0, 3, integer=True), True,
            "times dlib upsamples the image to find small faces"),
    Setting("workers", max(1, os.cpu_count() or 1), _number("workers", 1, 64, integer=True), False,
            "detection worker processes"),
    Setting("database_url", None, check_database_url, False,
            "postgresql://user:password@host/db keeps the store in PostgreSQL (unset: SQLite in the data dir)"),
    Setting("node_id", None, check_node_id, False,
            "this node's id among the nodes sharing one database (default: host name and pid)"),
    Setting("max_cameras", MAX_CAMERAS, _number("max_cameras", 0, 64, integer=True), False,
            "cameras this node takes at most when several nodes share the cameras"),
    Setting("recheck_s", 1.0, _number("recheck_s", 0.0, 3600.0), True,
            "a named track is encoded again at most this often"),
    Setting("unknown_recheck_s", 0.2, _number("unknown_recheck_s", 0.0, 3600.0), True,
            "an unnamed track is encoded again at most this often"),
    Setting("event_cooldown_s", 10.0, _number("event_cooldown_s", 0.0, 86400.0), True,
            "a person makes a new event on a camera only after this long"),
    Setting("unknown_events", True, _boolean("unknown_events"), True, "unknown faces make events too"),
    Setting("visitor_threshold", DEFAULT_VISITOR_THRESHOLD, _number("visitor_threshold", 0.0, 1.0, low_open=True),
            True, "largest face distance at which an unknown face joins an earlier visitor (stricter than threshold)"),
    Setting("min_face_px", 0, _number("min_face_px", 0, 4096, integer=True), True,
            "faces narrower than this (full-frame pixels) are not encoded"),
    Setting("retention_days", 30, _number("retention_days", 0, 3650, integer=True), True,
            "results older than this are pruned (0 keeps them)"),
    Setting("audit_retention_days", 365, _number("audit_retention_days", 0, 36500, integer=True), True,
            "audit rows older than this are pruned (0 keeps them; rows younger than a day never go)"),
    Setting("api_face_workers", 1, _number("api_face_workers", 1, 64, integer=True), False,
            "processes running face detection for API uploads (at a lower priority than the cameras)"),
    Setting("api_face_queue", 2, _number("api_face_queue", 0, 1000, integer=True), False,
            "API uploads that may wait for a face worker; more are answered 429 with Retry-After"),
    Setting("max_image_pixels", 16_000_000, _number("max_image_pixels", 1, 40_000_000, integer=True), False,
            "uploaded photos with more pixels are refused (400) before they are decoded"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

# Start-only settings of one process, never written to the store's shared config: another node has
# its own, and a database URL carries a password.
PROCESS_ONLY = ("workers", "database_url", "node_id", "max_cameras")


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The effective settings of a run, one field per row of SETTINGS, in the same order."""

    stream_url: str | None
    camera_id: str
    cameras: list[dict[str, Any]]
    threshold: float
    downscale: float
    model: str
    detector: str
    detector_model: str | None
    detect_fps: float
    motion_threshold: int
    motion_min_area: int
    upsample: int
    workers: int
    database_url: str | None
    node_id: str | None
    max_cameras: int
    recheck_s: float
    unknown_recheck_s: float
    event_cooldown_s: float
    unknown_events: bool
    visitor_threshold: float
    min_face_px: int
    retention_days: int
    audit_retention_days: int
    api_face_workers: int
    api_face_queue: int
    max_image_pixels: int

    @classmethod
    def of(cls, values: Settings | Mapping[str, Any]) -> Settings:
        """Checked values (from `validate`, the store or the defaults) over the defaults; unknown keys are left out."""
        if isinstance(values, Settings):
            return values
        return cls(**{**defaults(), **{k: v for k, v in values.items() if k in BY_NAME}})

    def updated(self, values: Mapping[str, Any]) -> Settings:
        """A copy with checked `values` applied (e.g. the runtime config after a PUT /api/config)."""
        return replace(self, **{k: v for k, v in values.items() if k in BY_NAME})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def face_detector(self) -> str:
        """The pipeline's locator: `detector`, or the older `model` (cnn) while `detector` is left at hog."""
        return self.model if self.detector == "hog" else self.detector

    def detect_fps_for(self, camera_id: str) -> float:
        """A camera's own `detect_fps` when it has one in `cameras`, else the global one."""
        for camera in self.cameras:
            if camera.get("id") == camera_id and camera.get("detect_fps") is not None:
                return float(camera["detect_fps"])
        return float(self.detect_fps)


def setting_names() -> tuple[list[str], list[str]]:
    """(the rows of SETTINGS, the fields of Settings): the same names in the same order."""
    return [s.name for s in SETTINGS], [f.name for f in fields(Settings)]


def validate(updates: Mapping[str, Any], *, runtime_only: bool = False) -> dict[str, Any]:
    """Check every key and value; return the cleaned values or raise SettingError naming the first fault."""
    if not isinstance(updates, Mapping):
        raise SettingError("config must be a JSON object")
    cleaned: dict[str, Any] = {}
    for key, value in updates.items():
        setting = BY_NAME.get(key)
        if setting is None:
            raise SettingError(f"unknown setting {key!r}")
        if runtime_only and not setting.runtime:
            raise SettingError(f"{key} can only be changed at start (command line or FACEGATE_{key.upper()})")
        if value is None and setting.default is None:
            cleaned[key] = None
            continue
        cleaned[key] = setting.check(value)
    return cleaned


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings given as FACEGATE_<NAME> environment variables."""
    env = os.environ if environ is None else environ
    found = {s.name: env[f"FACEGATE_{s.name.upper()}"] for s in SETTINGS if f"FACEGATE_{s.name.upper()}" in env}
    return validate(found)
