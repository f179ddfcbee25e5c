"""The kinds of value a setting can hold, each knowing its check and its JSON schema.

A setting (facegate/settings.py) or a camera field (facegate/camera.py) is declared once, as a
dataclass field whose metadata holds a `Spec`: its kind, whether it changes live, its command-line
flag and its help. Everything else is derived from that: the value check behind the CLI, the
environment, the store and the API (`check`), the OpenAPI fragment (`schema`), the parse of a
command-line or environment string (`parse_text`). `samples` feeds the test that the check and
the schema agree.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from typing import Any

from facegate import camera_source

Schema = dict[str, Any]


class SettingError(ValueError):
    """A setting's value is not acceptable; the message says why, for a 400 or a CLI error."""


def _plain(number: float) -> float | int:
    """A bound as the schema shows it: 1 rather than 1.0."""
    return int(number) if float(number).is_integer() else number


class Kind:
    """A kind of value. `check` returns the value in its typed form or raises SettingError naming `name`."""

    python_type: type = object

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> Schema:
        raise NotImplementedError

    def parse_text(self, text: str) -> Any:
        """A command-line or environment string before its check (most kinds check strings themselves)."""
        return text

    def load(self, value: Any) -> Any:
        """A stored (JSON) value in its typed form, already checked when it was stored."""
        return value

    def dump(self, value: Any) -> Any:
        """The typed value as JSON (the store, GET /api/config)."""
        return value

    def takes(self) -> str:
        """What values it takes, in a few words (the README's table)."""
        return ""

    def samples(self) -> list[Any]:
        """JSON values at and around the edges of what the kind takes (for the check/schema agreement test)."""
        return [None, "x", 1, True, [], {}]


@dataclass(frozen=True)
class Number(Kind):
    """A number in [low, high] (or (low, high]); `integer` wants a whole one; `zero` names what 0 means when
    0 lies below `low` (detect_fps: 0 detects every frame)."""

    low: float
    high: float
    low_open: bool = False
    integer: bool = False
    zero: str | None = None

    @property
    def python_type(self) -> type:  # type: ignore[override]
        return int if self.integer else float

    def _range(self) -> str:
        text = f"{'(' if self.low_open else '['}{_plain(self.low)}, {_plain(self.high)}]"
        return f"0 ({self.zero}) or in {text}" if self.zero else f"in {text}"

    def check(self, name: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingError(f"{name} must be a number")
        try:
            number = float(value)
        except ValueError:
            raise SettingError(f"{name} must be a number") from None
        if not math.isfinite(number):
            raise SettingError(f"{name} must be a finite number")
        too_low = number <= self.low if self.low_open else number < self.low
        if (too_low and not (self.zero and number == 0)) or number > self.high:
            raise SettingError(f"{name} must be {self._range()}")
        if self.integer:
            if number != int(number):
                raise SettingError(f"{name} must be a whole number")
            return int(number)
        return number

    def takes(self) -> str:
        return self._range().removeprefix("in ") + (", whole" if self.integer else "")

    def schema(self) -> Schema:
        bounded: Schema = {
            "type": "integer" if self.integer else "number",
            "minimum": _plain(self.low),
            "maximum": _plain(self.high),
        }
        if self.low_open:
            bounded["exclusiveMinimum"] = True
        if self.zero:
            return {"anyOf": [{"type": "number", "enum": [0]}, bounded]}
        return bounded

    def samples(self) -> list[Any]:
        step = 1 if self.integer else min(0.01, (self.high - self.low) / 10)
        edges = [
            self.low - step,
            self.low,
            self.low + step,
            (self.low + self.high) / 2,
            self.high - step,
            self.high,
            self.high + step,
            0,
            -1,
        ]
        return [
            *(_plain(e) for e in edges),
            *([] if self.integer else [self.low + step / 2]),
            *([self.low + 0.5] if self.integer else []),
            True,
            None,
        ]


@dataclass(frozen=True)
class Flag(Kind):
    """True or false; the command line and the environment may say 1/0, yes/no, on/off."""

    python_type = bool
    TRUE = ("1", "true", "yes", "on")
    FALSE = ("0", "false", "no", "off")

    def check(self, name: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in self.TRUE + self.FALSE:
            return value.lower() in self.TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise SettingError(f"{name} must be true or false")

    def schema(self) -> Schema:
        return {"type": "boolean"}

    def takes(self) -> str:
        return "true or false"

    def samples(self) -> list[Any]:
        return [True, False, None, [], 2.5]


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few names."""

    options: tuple[str, ...]
    python_type = str

    def check(self, name: str, value: Any) -> str:
        if value not in self.options:
            raise SettingError(f"{name} must be one of {', '.join(self.options)}")
        return str(value)

    def schema(self) -> Schema:
        return {"type": "string", "enum": list(self.options)}

    def takes(self) -> str:
        return ", ".join(self.options)

    def samples(self) -> list[Any]:
        return [*self.options, "nope", "", 1, None]


# Printable text: no control characters (what a name or a path may hold).
CONTROL_FREE = r"[^\x00-\x1f\x7f]"
SOME_TEXT = f"^{CONTROL_FREE}*[^\\s\\x00-\\x1f\\x7f]{CONTROL_FREE}*$"


@dataclass(frozen=True)
class StreamUrl(Kind):
    """A camera source as facegate/camera_source.py reads it: a device index, a file, or a network URL."""

    python_type = str

    def check(self, name: str, value: Any) -> str:
        try:
            return camera_source.checked(value, name)
        except camera_source.SourceError as exc:
            raise SettingError(str(exc)) from None

    def schema(self) -> Schema:
        return camera_source.schema()

    def takes(self) -> str:
        return "a path, a URL or a device index"

    def samples(self) -> list[Any]:
        return [
            "rtsp://cam.local/live",
            "RTSPS://cam.local/live",
            "/videos/clip.mp4",
            "file:///videos/clip.mp4",
            "clip.mp4",
            "file://gopher://127.0.0.1:6379/_INFO",
            "gopher://x/",
            "rtsp://cam/a\nb",
            "http://",
            "0",
            3,
            "",
            " ",
            None,
            True,
        ]


@dataclass(frozen=True)
class Identifier(Kind):
    """An id of 1 to `max_length` ASCII letters, digits and the characters in `extra` (a camera id, a node id)."""

    extra: str  # plain punctuation: no ']', '\\' or '^'
    max_length: int
    python_type = str

    @property
    def characters(self) -> str:
        """The character class's inside: a '-' of `extra` goes last, where it stands for itself."""
        return "A-Za-z0-9" + "".join(sorted(self.extra, key=lambda c: c == "-"))

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(f"[{self.characters}]{{1,{self.max_length}}}", value):
            allowed = ", ".join(f"'{c}'" for c in self.extra)
            raise SettingError(f"{name} must be 1 to {self.max_length} ASCII letters, digits, {allowed}")
        return value

    def schema(self) -> Schema:
        return {"type": "string", "minLength": 1, "maxLength": self.max_length, "pattern": f"^[{self.characters}]+$"}

    def takes(self) -> str:
        return f"1-{self.max_length} of A-Z a-z 0-9 {self.extra}"

    def samples(self) -> list[Any]:
        return [
            "cam0",
            "door.side_2-b",
            "cámara",
            "a b",
            "",
            "x" * self.max_length,
            "x" * (self.max_length + 1),
            "cam\n",
            7,
            None,
        ]


@dataclass(frozen=True)
class Text(Kind):
    """Text of at most `max_length` characters; `printable`: not blank, no control characters (a file path)."""

    max_length: int
    printable: bool = True
    python_type = str

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or len(value) > self.max_length:
            raise SettingError(f"{name} must be a string of at most {self.max_length} characters")
        if self.printable and (not value.strip() or re.search(r"[\x00-\x1f\x7f]", value)):
            raise SettingError(f"{name} must be printable text, not blank")
        return value

    def schema(self) -> Schema:
        if not self.printable:
            return {"type": "string", "maxLength": self.max_length}
        return {"type": "string", "minLength": 1, "maxLength": self.max_length, "pattern": SOME_TEXT}

    def samples(self) -> list[Any]:
        return ["front door", "x" * self.max_length, "x" * (self.max_length + 1), "a\nb", " ", "", 5, None]


@dataclass(frozen=True)
class Checked(Kind):
    """A value with a check of its own (a database URL); `shape` is its schema."""

    checker: Callable[[Any], Any]
    examples: tuple[Any, ...]  # values the check and the schema agree on
    shape: tuple[tuple[str, Any], ...] = (("type", "string"),)
    python_type = str

    def check(self, name: str, value: Any) -> Any:
        return self.checker(value)

    def schema(self) -> Schema:
        return dict(self.shape)

    def samples(self) -> list[Any]:
        return list(self.examples)


class Lifetime(enum.Enum):
    """When a setting takes effect."""

    LIVE = "live"  # PUT /api/config changes it while running; stored, shared by every node
    START = "start"  # read when a process starts; stored, shared by every node
    PROCESS = "process"  # this process's own (command line, environment), never stored


class Cli(enum.Enum):
    """Which commands take a setting as a command-line option."""

    NONE = "none"
    EVERY = "every"  # serve, register and replay
    SERVE = "serve"


@dataclass(frozen=True)
class Spec:
    """Everything about a setting (or a camera field) besides its name, type and default, which its field holds."""

    kind: Kind
    help: str
    lifetime: Lifetime = Lifetime.LIVE
    cli: Cli = Cli.NONE
    per_camera: bool = False  # a camera may carry its own value (facegate/camera.py)
    shown_default: str | None = None  # the default as the README says it, when it is not a constant
    aliases: tuple[str, ...] = ()  # older names PUT /api/config still takes


def declare(default: Any, kind: Kind, help: str, **spec: Any) -> Any:
    """A dataclass field declaring a setting: its default and its Spec (see Spec for the rest)."""
    metadata = {"spec": Spec(kind, help, **spec)}
    if isinstance(default, list | dict):
        raise TypeError("a setting's default must be immutable (use a tuple)")
    return field(default=default, metadata=metadata)


def declare_required(kind: Kind, help: str, **spec: Any) -> Any:
    """A declared field without a default (a camera's id and stream URL)."""
    return field(metadata={"spec": Spec(kind, help, **spec)})


def declared(cls: type) -> tuple[tuple[Field[Any], Spec], ...]:
    """(field, Spec) of every declared field of a dataclass, in order."""
    return tuple((f, f.metadata["spec"]) for f in fields(cls) if "spec" in f.metadata)


def field_schema(item: Field[Any], spec: Spec) -> Schema:
    """A field's OpenAPI schema: its kind's, nullable when None is its default."""
    schema = spec.kind.schema()
    return {**schema, "nullable": True} if item.default is None else schema
