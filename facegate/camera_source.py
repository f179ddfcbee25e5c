"""Camera sources the operator meant: a device index, a video file, or an rtsp/rtsps/rtmp/http(s) stream.

A `stream_url` reaches FFmpeg, which knows dozens of protocols (gopher, tcp, file, concat...), so a
string that merely *looks* like a camera could make the service talk to anything on its network.
`parse` is the one reading of a source: the scheme is checked after any `file://` prefix, no URL
may hold a control character, and a network source names one of `NETWORK_SCHEMES` and a host.
`Source.ffmpeg_options` is the capture's FFmpeg whitelist: only the protocols that scheme needs, so
no nested protocol (an HLS playlist pointing at `file:`, say) can be reached either.

Files are for the operator's own command line (`replay`, `--stream-url`); through the API a file
must lie inside the media dir (`FACEGATE_MEDIA_DIR`, default `<data dir>/media`), resolved, so
neither `..` nor a symlink leads out of it (`check_api_source`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from facegate import redact

FILE_PREFIX = "file://"
MAX_LENGTH = 2048
MEDIA_DIR_ENV = "FACEGATE_MEDIA_DIR"
# OpenCV hands this variable's `key;value|key;value` pairs to FFmpeg at every open of a capture
FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# scheme -> the FFmpeg protocols a stream of that scheme opens (its own and the ones under it)
NETWORK_SCHEMES: dict[str, tuple[str, ...]] = {
    "rtsp": ("rtsp", "rtp", "udp", "tcp"),
    "rtsps": ("rtsps", "rtsp", "rtp", "udp", "tcp", "tls"),
    "rtmp": ("rtmp", "tcp"),
    "http": ("http", "tcp"),
    "https": ("https", "http", "tls", "tcp"),
}
FILE_PROTOCOLS = ("file",)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SourceError(ValueError):
    """A camera source that is not acceptable; the message says why (never echoing the source)."""


@dataclass(frozen=True)
class Source:
    """One parsed camera source: `kind` is device, file or network; `target` what the capture opens."""

    kind: str
    target: str
    scheme: str = ""

    @property
    def protocols(self) -> tuple[str, ...]:
        return NETWORK_SCHEMES.get(self.scheme, ()) if self.kind == "network" else FILE_PROTOCOLS

    def ffmpeg_options(self, rtsp_transport: str = "tcp", extra: str | None = None) -> str:
        """The value of OPENCV_FFMPEG_CAPTURE_OPTIONS for this source (`key;value|key;value`): an RTSP
        stream's transport, then `extra` (the operator's own options), then the protocol whitelist, last
        so that nothing before it widens it."""
        options = [f"rtsp_transport;{rtsp_transport}"] if self.scheme in ("rtsp", "rtsps") else []
        return "|".join([*options, *([extra] if extra else []), f"protocol_whitelist;{','.join(self.protocols)}"])


def _text(value: object, name: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise SourceError(f"{name} must be a string")
    if _CONTROL.search(str(value)):
        raise SourceError(f"{name} contains control characters")
    text = str(value).strip()
    if not text:
        raise SourceError(f"{name} must not be empty")
    if len(text) > MAX_LENGTH:
        raise SourceError(f"{name} is too long")
    return text


def parse(value: object, name: str = "stream_url") -> Source:
    """The source `value` names, or SourceError saying why it is refused (`name`: the field, for the message)."""
    text = _text(value, name)
    if text.isascii() and text.isdigit():
        return Source("device", text)
    if text.startswith(FILE_PREFIX):
        path = text[len(FILE_PREFIX) :]
        if _SCHEME.match(path) or not path.startswith("/"):
            raise SourceError(f"a file:// {name} must be followed by an absolute path (file:///videos/door.mp4)")
        return Source("file", path)
    scheme = _SCHEME.match(text)
    if scheme is None:
        return Source("file", text)
    kind = scheme.group(1).lower()
    if kind not in NETWORK_SCHEMES:
        raise SourceError(
            f"{name} scheme {kind!r} is not supported (use {', '.join(NETWORK_SCHEMES)}, "
            "file://, a file path or a device index)"
        )
    if any(ch.isspace() for ch in text):
        raise SourceError(f"{name} must not contain spaces in a URL (write them as %20)")
    try:
        host, _ = urlsplit(text).hostname, urlsplit(text).port
    except ValueError:
        raise SourceError(f"{name} is not a valid URL (its host or port cannot be read)") from None
    if not text[scheme.end() :].startswith("//") or not host:
        raise SourceError(f"a {kind}:// {name} must name a host")
    redact.learn(text)  # its password is masked wherever it turns up in this process from now on
    return Source("network", text, kind)


def checked(value: object, name: str = "stream_url") -> str:
    """`value` as stored in the settings (stripped), once `parse` accepts it."""
    parse(value, name)
    return _text(value, name)


def _any_case(word: str) -> str:
    return "".join(f"[{ch.upper()}{ch.lower()}]" if ch.isalpha() else re.escape(ch) for ch in word)


def schema() -> dict[str, object]:
    """The OpenAPI schema of a source, what `parse` takes: a network URL naming a host, `file://` and an
    absolute path, or a path that does not start like a scheme (a device index is one); or an integer index.
    What it cannot say: a valid port, and that the API takes files only inside the media dir."""
    bad = "\\x00-\\x1f\\x7f-\\x9f"
    schemes = "|".join(_any_case(s) for s in sorted(NETWORK_SCHEMES, key=len, reverse=True))
    network = f"(?:{schemes})://[^\\s/{bad}][^\\s{bad}]*"
    path = f"(?:file:///|[^A-Za-z\\s{bad}]|[A-Za-z][A-Za-z0-9+.\\-]*(?:[^A-Za-z0-9+.\\-:{bad}]|$))[^{bad}]*"
    return {
        "anyOf": [
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_LENGTH,
                "pattern": f"^ *(?:{network}|{path}) *$",
                "description": f"a device index, an {', '.join(NETWORK_SCHEMES)} URL, or a file path (through the "
                f"API only inside the media dir, {MEDIA_DIR_ENV})",
            },
            {"type": "integer", "minimum": 0, "description": "a device index"},
        ]
    }


def media_dir(data_dir: str | Path, environ: dict[str, str] | None = None) -> Path:
    """Where API-added file cameras may read from: FACEGATE_MEDIA_DIR, else `<data dir>/media`; resolved."""
    env = os.environ if environ is None else environ
    given = env.get(MEDIA_DIR_ENV, "").strip()
    return (Path(given) if given else Path(data_dir) / "media").expanduser().resolve()


def check_api_source(value: object, data_dir: str | Path) -> None:
    """Refuse (SourceError) a source sent through the API that is a file outside the media dir."""
    source = parse(value)
    if source.kind != "file":
        return
    allowed = media_dir(data_dir)
    if not Path(source.target).is_absolute():
        raise SourceError(
            f"a file camera added through the API needs an absolute path inside the media dir "
            f"({MEDIA_DIR_ENV}, here {allowed})"
        )
    resolved = Path(os.path.realpath(source.target))
    if not resolved.is_relative_to(allowed):
        raise SourceError(
            f"a file camera added through the API must lie inside the media dir ({MEDIA_DIR_ENV}, here {allowed})"
        )
