"""Secrets never leave: passwords in URLs and the configured tokens and webhook secret are masked.

Camera URLs usually carry a password (`rtsp://admin:pw@cam/live`). Whatever leaves the service
(API answers, log lines, `/metrics`, webhook payloads) goes through `redact_text` / `mask_url`,
which replace the secret with `***` and keep the rest readable (`rtsp://admin:***@cam/live`).
The API hands the masked form out and `restore_password` puts the stored secret back when a
client sends that masked form (or the URL without its password) back in an update.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, overload

MASK = "***"
SECRET_ENV = ("FACEGATE_API_TOKEN", "FACEGATE_READ_TOKEN", "FACIAL_RECOGNITION_WEBHOOK_SECRET")
MIN_SECRET_LEN = 4  # shorter "secrets" would mask ordinary words in every log line

# scheme://user:PASSWORD@host — the password runs to the last '@' before the path (a raw '@' in it is common)
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"]*:)(?P<secret>[^\s/'\"]*)(?=@)")
# ?password=... and friends, as some HTTP cameras take their credentials
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|pass|pw|token|access_token|api_key|apikey|secret|auth)=)"
                    r"(?P<secret>[^&#\s'\"]*)", re.IGNORECASE)


def _mask_match(match: re.Match[str]) -> str:
    return match.group("head") + (MASK if match.group("secret") else "")


@overload
def mask_url(url: str) -> str: ...
@overload
def mask_url(url: None) -> None: ...
def mask_url(url: str | None) -> str | None:
    """`url` with any password (userinfo or a password-like query parameter) replaced by `***`; non-strings as given."""
    if not isinstance(url, str):
        return url
    return _QUERY.sub(_mask_match, _USERINFO.sub(_mask_match, url))


def configured_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The tokens (comma lists) and the webhook secret set in the environment, longest first."""
    env = os.environ if environ is None else environ
    found = {part.strip() for name in SECRET_ENV for part in env.get(name, "").split(",")}
    return sorted((s for s in found if len(s) >= MIN_SECRET_LEN), key=lambda s: (-len(s), s))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (a log line, a metrics page) with URL passwords and the given secrets masked."""
    masked = mask_url(text)
    for secret in secrets:
        if secret in masked:
            masked = masked.replace(secret, MASK)
    return masked


def redact_json(value: Any) -> Any:
    """A JSON-like value with every string's URL passwords masked (dicts and lists copied, never changed)."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, Mapping):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item) for item in value]
    return value


def _userinfo_password(url: str) -> tuple[str, str | None]:
    """(url without its userinfo password, the password or None)."""
    match = _USERINFO.search(url)
    if match is None:
        return url, None
    return url[:match.start("secret") - 1] + url[match.end("secret"):], match.group("secret")


def restore_password(new_url: Any, stored_url: Any) -> Any:
    """The URL to store when a client sends `new_url` for a camera whose stored URL is `stored_url`.

    A client that only ever saw the masked URL sends it back unchanged, or drops the password
    (`rtsp://admin@cam/live`): both keep the stored password. Any other URL is taken as sent.
    """
    if not isinstance(new_url, str) or not isinstance(stored_url, str):
        return new_url
    if new_url == mask_url(stored_url) and MASK in new_url:
        return stored_url
    bare_stored, password = _userinfo_password(stored_url)
    if password is None:
        return new_url
    bare_new, sent = _userinfo_password(new_url)
    if sent == MASK and bare_new == bare_stored:
        return stored_url
    if sent is None and new_url == bare_stored:
        return stored_url
    return new_url


class RedactingFormatter(logging.Formatter):
    """A log formatter whose every line (message, arguments and traceback alike) has its secrets masked."""

    def __init__(self, fmt: str, datefmt: str | None = None, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt, datefmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record), self.secrets)
