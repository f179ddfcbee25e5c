"""Checks for what clients send: every fault becomes a 400 that names it, and nothing is stored."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import bottle

from facegate.records import ENCODING_SIZE, person_name

MAX_TEXT = 2048
MAX_BODY_BYTES = 10 * 1024 * 1024  # a 7 MB photo, base64-encoded, still fits
MAX_LIMIT = 1000
# what parsing a client's JSON may raise: not JSON, not UTF-8, or nested deeper than the parser recurses
JSON_ERRORS = (ValueError, UnicodeDecodeError, RecursionError)
MAX_OFFSET = 10**9


def fail(status: int, message: str) -> bottle.HTTPError:
    """An error for the JSON error handler: `{"error": message}` with that status."""
    return bottle.HTTPError(status, message)


def check_name(value: Any) -> str:
    """A person's name (facegate/records.py says what one may be), else a 400 saying why not."""
    try:
        return person_name(value)
    except ValueError as exc:
        raise fail(400, str(exc)) from None


def check_encoding(value: Any) -> list[float]:
    """128 finite numbers, as face_recognition computes them."""
    if not isinstance(value, list):
        raise fail(400, f"encoding must be a list of {ENCODING_SIZE} numbers")
    if len(value) != ENCODING_SIZE:
        raise fail(400, f"encoding must have {ENCODING_SIZE} numbers, not {len(value)}")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        raise fail(400, "encoding must hold only numbers")
    try:
        numbers = [float(v) for v in value]
    except OverflowError:
        raise fail(400, "encoding must not hold NaN or infinity") from None
    if not all(math.isfinite(v) for v in numbers):
        raise fail(400, "encoding must not hold NaN or infinity")
    return numbers


def optional_text(body: dict[str, Any], *keys: str) -> str | None:
    """The first of `keys` present (e.g. client_id or clientId), as a bounded string or None; all are checked."""
    present = [(key, body[key]) for key in keys if body.get(key) is not None]
    for key, value in present:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise fail(400, f"{key} must be a string of at most {MAX_TEXT} characters")
    return present[0][1] if present else None


def digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only (`str.isdigit` also takes '²' and '٣', which `int` refuses)."""
    return text.isascii() and text.isdigit()


def check_limit(text: str | None, default: int = 100) -> int:
    """The `limit` query parameter: absent is `default`; anything but an integer in range (an empty one too,
    as the document has it) is a 400."""
    if text is None:
        return default
    if not digits(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise fail(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def check_id(text: str, what: str = "person") -> int:
    if text.isdigit() and not text.isascii():
        raise fail(400, f"a {what} id is written with the digits 0-9")
    if not digits(text) or len(text) > 12:
        raise fail(404, f"no {what} {text!r}")
    return int(text)


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, whatever its Content-Type says; 400 otherwise."""
    raw = bottle.request.body.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise fail(413, f"body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except JSON_ERRORS:
        raise fail(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise fail(400, "body must be a JSON object")
    return body


def is_multipart() -> bool:
    content_type: str = bottle.request.content_type
    return content_type.lower().startswith("multipart/form-data")


def _multipart(part: str) -> Any:
    """`bottle.request.forms` or `.files`; a body Bottle cannot parse (e.g. a control character in a
    field's header) is a 400, not a crash."""
    try:
        return getattr(bottle.request, part)
    except ValueError:
        raise fail(400, "the multipart body is malformed") from None


def form_fields() -> dict[str, str]:
    """The text fields of a multipart body."""
    forms = _multipart("forms")
    return {key: forms.getunicode(key) for key in forms}


def decode_base64_image(value: Any, field: str = "image_base64") -> bytes:
    """A photo sent as plain base64 or a data: URL, in the JSON field `field`."""
    if not isinstance(value, str) or not value:
        raise fail(400, f"{field} must be a base64 string")
    text = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise fail(400, f"{field} is not valid base64") from None


def sent_image(body: dict[str, Any]) -> bytes | None:
    """The bytes of a multipart `image` field, else of the body's `image_base64`; None if neither was sent."""
    image = uploaded_image()
    if image is None and body.get("image_base64") is not None:
        image = decode_base64_image(body["image_base64"])
    return image


def uploaded_image() -> bytes | None:
    """The bytes of a multipart `image` field, or None if none was sent."""
    if is_multipart():
        form_fields()  # parses the body, or answers 400 if it cannot be parsed
        upload = bottle.request.files.get("image")
        if upload is None:
            return None
        return upload_bytes(upload, "image")
    return None


def upload_bytes(upload: bottle.FileUpload, field: str) -> bytes:
    """The bytes of one uploaded file; 413 when it is larger than a body may be."""
    data: bytes = upload.file.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise fail(413, f"{field} is too large")
    return data


def uploaded_files() -> list[tuple[str, bytes]]:
    """(file name, bytes) of every file of a multipart body, in the order sent; [] for any other body."""
    if not is_multipart():
        return []
    files = []
    for field, upload in _multipart("files").allitems():
        files.append((upload.raw_filename or field, upload_bytes(upload, field)))
    return files


def error_with(status: int, message: str, **details: Any) -> bottle.HTTPResponse:
    """An error that carries more than its message (e.g. an answer per file): `{"error": message, **details}`."""
    return bottle.HTTPResponse(
        json.dumps({"error": message, **details}), status, headers={"Content-Type": "application/json"}
    )


def check_offset(text: str | None) -> int:
    """`?offset=`: rows of a list to skip, 0 when absent (an empty one is a 400, as the document has it)."""
    if text is None:
        return 0
    if not text.isascii() or not text.isdigit() or int(text) > MAX_OFFSET:
        raise fail(400, f"offset must be a whole number from 0 to {MAX_OFFSET}")
    return int(text)
