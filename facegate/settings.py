"""Runtime settings: each declared once, as a field of `Settings`, with its default, kind and help.

The same declaration serves the command line (entry/cli.py makes the options), the environment
(`FACEGATE_<NAME>`), the store (persisted runtime config), `PUT /api/config` and its OpenAPI
schema (control/openapi.py), and the README's table (entry/options_table.py), so a value is
checked the same way whichever door it came through. A new setting is one more field below;
tests/unit/test_settings_declared.py holds the check, the type, the schema and the option together.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, replace
from typing import Any

from facegate.camera import CAMERA_ID, DETECT_FPS, MIN_FACE_PX, STREAM_URL, Camera, CameraList
from facegate.setting_kinds import (
    Checked,
    Choice,
    Cli,
    Flag,
    Identifier,
    Lifetime,
    Number,
    Schema,
    Spec,
    Text,
    declare,
    declared,
    field_schema,
)
from facegate.setting_kinds import SettingError as SettingError  # raised by validate; importers know it from here

DETECTORS = ("hog", "cnn", "blazeface")  # the names pipeline/detectors builds
HOG_INPUTS = ("grey", "colour")  # what the pipeline's HOG looks at, the default first (dlib_locator.py)
ENCODERS = ("numpy", "onnx")  # the paths facegate/encoder.py runs the encoding network on
DEFAULT_ENCODER = "onnx"  # chosen from bench.encoder (see the README, "The encoding network")
DEFAULT_DETECT_FPS = 5.0  # chosen from bench.time_to_name (see the README, "Carrying more cameras")
DEFAULT_VISITOR_THRESHOLD = 0.5  # chosen from bench.visitor_threshold (see the README, "Visitors")
ENV_PREFIX = "FACEGATE_"


def check_timezone(value: Any) -> str:
    """An IANA time zone name zoneinfo knows ("UTC", "Europe/Paris"): attendance days, the hours of a filter."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not 1 <= len(value) <= TIMEZONE_MAX:
        raise SettingError(f"timezone must be an IANA time zone name of at most {TIMEZONE_MAX} characters")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SettingError(f"timezone {value!r} is not a known IANA time zone") from None
    return value


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


START, PROCESS = Lifetime.START, Lifetime.PROCESS
TIMEZONE_MAX = 64
TIMEZONE_EXAMPLES = ("UTC", "Europe/Paris", "America/New_York")
DATABASE_URL_EXAMPLES = ("postgresql://facegate:secret@db.local/facegate", None, 5)


@dataclass(frozen=True)
class Settings:
    """The effective settings of a run: one declared field per setting (default, kind, help, where it applies)."""

    stream_url: str | None = declare(
        None,
        STREAM_URL,
        "the default camera: a file path (through the API only"
        " in FACEGATE_MEDIA_DIR), rtsp(s)://, rtmp://, http(s)://, or a device index",
        cli=Cli.SERVE,
    )
    camera_id: str = declare("cam0", CAMERA_ID, "id of that camera; events carry it", cli=Cli.SERVE)
    cameras: tuple[Camera, ...] = declare(
        (),
        CameraList(),
        "more cameras: [{id, stream_url, name, enabled, detect_fps, min_face_px, ignore_regions}]"
        " (usually through POST /api/cameras)",
    )
    threshold: float = declare(
        0.6, Number(0.0, 1.0, low_open=True), "the largest face distance that still names a person", cli=Cli.EVERY
    )
    downscale: float = declare(
        0.5, Number(0.05, 1.0, low_open=True), "frames are shrunk by this before faces are located", cli=Cli.EVERY
    )
    model: str = declare(
        "hog",
        Choice(("hog", "cnn")),
        "dlib's locator for registered photos, and for the pipeline while `detector` is `hog`",
        cli=Cli.EVERY,
        aliases=("encoding_model", "detection_model"),
    )
    detector: str = declare(
        "hog",
        Choice(DETECTORS),
        'the pipeline\'s face locator (`blazeface` is 4-5x faster, see "Carrying more cameras")',
        cli=Cli.EVERY,
    )
    hog_input: str = declare(
        HOG_INPUTS[0],
        Choice(HOG_INPUTS),
        "what the pipeline's HOG looks at: the frame in `grey` (a fifth less CPU; on the clip every face `colour`"
        ' finds, and some more) or in `colour`, as the old script did (see "Carrying more cameras")',
        cli=Cli.EVERY,
    )
    detector_model: str | None = declare(
        None,
        Text(4096),
        "a BlazeFace `.tflite` file; missing or unreadable, the start fails with one line",
        lifetime=START,
        cli=Cli.EVERY,
        shown_default="the wheel's",
    )
    encoder: str = declare(
        DEFAULT_ENCODER,
        Choice(ENCODERS),
        "what runs the face encoding network: `onnx` (onnxruntime, ~1.6x faster; numpy, with a warning, when"
        ' onnxruntime is missing) or `numpy`: the same encodings (see "The encoding network")',
        lifetime=START,
        cli=Cli.EVERY,
    )
    detect_fps: float = declare(
        DEFAULT_DETECT_FPS,
        DETECT_FPS,
        "detections per stream second per camera at most;"
        " `0` detects every frame. A camera in `cameras` may set its own",
        cli=Cli.EVERY,
        per_camera=True,
    )
    motion_threshold: int = declare(
        25,
        Number(1, 254, integer=True),
        "grey levels a pixel of the small motion copy must change by to count as moved",
    )
    motion_min_area: int = declare(
        12, Number(1, 2000, integer=True), "moved pixels of the 160x90 motion copy a region needs to count as motion"
    )
    upsample: int = declare(1, Number(0, 3, integer=True), "times dlib upsamples the image to find small faces")
    workers: int = declare(
        max(1, os.cpu_count() or 1),
        Number(1, 64, integer=True),
        "detection processes",
        lifetime=PROCESS,
        cli=Cli.EVERY,
        shown_default="number of cores",
    )
    database_url: str | None = declare(
        None,
        Checked(check_database_url, DATABASE_URL_EXAMPLES),
        "`postgresql://user:password@host/db` keeps the whole store in PostgreSQL instead (see Storage)",
        lifetime=PROCESS,
        cli=Cli.EVERY,
    )
    node_id: str | None = declare(
        None,
        Identifier(extra="-_.:", max_length=128),
        "this node's id among the nodes sharing a database (see Several machines)",
        lifetime=PROCESS,
        cli=Cli.SERVE,
        shown_default="host name + pid",
    )
    max_cameras: int | None = declare(
        None,
        Number(0, 512, integer=True),
        "cameras this node takes at most (0: none, a node that only answers the API)",
        lifetime=PROCESS,
        cli=Cli.SERVE,
        shown_default="sized from this machine's cores and memory (see Sizing)",
    )
    recheck_s: float = declare(
        1.0, Number(0.0, 3600.0), "a named track is encoded again after this; twice as long after each that agrees"
    )
    recheck_max_s: float = declare(
        8.0, Number(0.0, 3600.0), "the longest wait between two encodings of a track (`recheck_s` doubled up to this)"
    )
    unknown_recheck_s: float = declare(0.2, Number(0.0, 3600.0), "an unnamed track is encoded again at most this often")
    event_cooldown_s: float = declare(
        10.0, Number(0.0, 86400.0), "a person makes a new event on a camera only after this long"
    )
    unknown_events: bool = declare(True, Flag(), "unknown faces make events too")
    visitor_threshold: float = declare(
        DEFAULT_VISITOR_THRESHOLD,
        Number(0.0, 1.0, low_open=True),
        "largest face distance at which an unknown face joins an earlier visitor"
        ' (stricter than threshold, see "Visitors")',
    )
    min_face_px: int = declare(
        0,
        MIN_FACE_PX,
        "faces narrower than this (full-frame pixels) are not encoded, nor accepted by enrollment;"
        " a camera may set its own",
        per_camera=True,
    )
    presence_window_s: float = declare(
        120.0,
        Number(5.0, 86400.0),
        "a person or visitor seen within this long is present; unseen this long on every camera, they have left",
    )
    timezone: str = declare(
        "UTC",
        Checked(
            check_timezone,
            TIMEZONE_EXAMPLES,
            (("type", "string"), ("minLength", 1), ("maxLength", TIMEZONE_MAX)),
        ),
        "IANA time zone of attendance days and of webhook endpoints' `hours` (e.g. `Europe/Paris`)",
    )
    retention_days: int = declare(
        30,
        Number(0, 3650, integer=True),
        "results (with their encodings and crops),"
        " webhook rows, unknown faces and visitors unseen for this many days are"
        " forgotten (0 keeps them)",
    )
    retention_every_s: float = declare(
        3600.0,
        Number(0.1, 3600.0),
        "how often the serving process applies retention_days (idle or not; an hour at most)",
        lifetime=PROCESS,
    )
    mjpeg_max_s: float = declare(
        3600.0, Number(1.0, 86400.0), "an MJPEG view ends after this long (the client reconnects)", lifetime=PROCESS
    )
    audit_retention_days: int = declare(
        365,
        Number(0, 36500, integer=True),
        "audit rows older than this are pruned (0 keeps them; rows younger than a day never go)",
    )
    api_face_workers: int = declare(
        1,
        Number(1, 64, integer=True),
        "processes running face detection for API uploads (at a lower priority than the cameras)",
        lifetime=START,
    )
    api_face_queue: int = declare(
        2,
        Number(0, 1000, integer=True),
        "API uploads that may wait for a face worker; more are answered 429 with Retry-After",
        lifetime=START,
    )
    webhook_private_ok: bool = declare(
        False,
        Flag(),
        "webhook endpoints may be on private, loopback or link-local addresses (the v1 webhook always may)",
        lifetime=PROCESS,
    )
    max_image_pixels: int = declare(
        16_000_000,
        Number(1, 40_000_000, integer=True),
        "uploaded photos with more pixels are refused (400) before they are decoded",
        lifetime=START,
    )

    @classmethod
    def of(cls, values: Settings | Mapping[str, Any]) -> Settings:
        """Checked values (from `validate`, the store or the defaults) over the defaults; unknown keys are left out."""
        if isinstance(values, Settings):
            return values
        return cls(**_loaded(values))

    def updated(self, values: Mapping[str, Any]) -> Settings:
        """A copy with checked `values` applied (e.g. the runtime config after a PUT /api/config)."""
        return replace(self, **_loaded(values))

    def as_dict(self) -> dict[str, Any]:
        """Every setting as JSON (GET /api/config): the cameras as their JSON objects."""
        return {f.name: spec.kind.dump(getattr(self, f.name)) for f, spec in SETTINGS}

    @property
    def face_detector(self) -> str:
        """The pipeline's locator: `detector`, or the older `model` (cnn) while `detector` is left at hog."""
        return self.model if self.detector == "hog" else self.detector

    def camera(self, camera_id: str) -> Camera | None:
        """The camera of that id in `cameras`, if any."""
        return next((c for c in self.cameras if c.id == camera_id), None)

    def detect_fps_for(self, camera_id: str) -> float:
        """A camera's own `detect_fps` when it has one in `cameras`, else the global one."""
        return float(self.own_or_global("detect_fps", self.camera(camera_id)))

    def own_or_global(self, name: str, camera: Camera | None) -> Any:
        """A per-camera setting (PER_CAMERA) for `camera`: its own value when it has one, else the global one."""
        own = getattr(camera, name) if camera is not None else None
        return getattr(self, name) if own is None else own


# Every setting: its field (name, type, default) and its Spec (kind, help, lifetime, option), in order.
SETTINGS: tuple[tuple[Field[Any], Spec], ...] = declared(Settings)
BY_NAME: dict[str, tuple[Field[Any], Spec]] = {f.name: (f, spec) for f, spec in SETTINGS}
ALIASES: dict[str, str] = {alias: f.name for f, spec in SETTINGS for alias in spec.aliases}
# Start-only settings of one process, never written to the store's shared config: another node has
# its own, and a database URL carries a password.
PROCESS_ONLY = tuple(f.name for f, spec in SETTINGS if spec.lifetime is Lifetime.PROCESS)
LIVE = tuple(f.name for f, spec in SETTINGS if spec.lifetime is Lifetime.LIVE)
PER_CAMERA = tuple(f.name for f, spec in SETTINGS if spec.per_camera)  # a camera may carry its own value


def _loaded(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: BY_NAME[k][1].kind.load(v) for k, v in values.items() if k in BY_NAME}


def defaults() -> dict[str, Any]:
    """Every setting's default, typed."""
    return {f.name: f.default for f, _ in SETTINGS}


def env_name(name: str) -> str:
    """The environment variable of a setting: FACEGATE_<NAME>."""
    return f"{ENV_PREFIX}{name.upper()}"


def validate(updates: Mapping[str, Any], *, runtime_only: bool = False) -> dict[str, Any]:
    """Check every key and value; return the cleaned values, typed, or raise SettingError naming the first fault."""
    if not isinstance(updates, Mapping):
        raise SettingError("config must be a JSON object")
    cleaned: dict[str, Any] = {}
    for key, value in updates.items():
        found = BY_NAME.get(key)
        if found is None:
            raise SettingError(f"unknown setting {key!r}")
        item, spec = found
        if runtime_only and spec.lifetime is not Lifetime.LIVE:
            raise SettingError(f"{key} can only be changed at start (command line or {env_name(key)})")
        if value is None and item.default is None:
            cleaned[key] = None
            continue
        cleaned[key] = spec.kind.check(key, value)
    return cleaned


def as_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Checked values as JSON (to store them): the cameras as their JSON objects."""
    return {k: BY_NAME[k][1].kind.dump(v) for k, v in values.items()}


def from_text(name: str, text: str) -> Any:
    """A setting given as text (command line, environment), checked; blank means unset where the default is None."""
    item, spec = BY_NAME[name]
    if item.default is None and not text.strip():
        return None
    return validate({name: spec.kind.parse_text(text)})[name]


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings given as FACEGATE_<NAME> environment variables, checked."""
    env = os.environ if environ is None else environ
    return {f.name: from_text(f.name, env[env_name(f.name)]) for f, _ in SETTINGS if env_name(f.name) in env}


def config_schema() -> Schema:
    """The OpenAPI schema of PUT /api/config: every live setting (and its older names), with its bounds."""
    properties = {}
    for item, spec in SETTINGS:
        if spec.lifetime is Lifetime.LIVE:
            for name in (item.name, *spec.aliases):
                properties[name] = field_schema(item, spec)
    return {"type": "object", "properties": properties, "additionalProperties": False, "minProperties": 1}


def shown_default(item: Field[Any], spec: Spec) -> str:
    """A setting's default as the README and --help show it."""
    if spec.shown_default is not None:
        return spec.shown_default
    default = item.default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return json.dumps([c.to_dict() for c in default])
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)
