"""Secrets never leave: camera passwords, secret URL parameters, tokens and webhook secrets are masked.

Camera URLs carry passwords (`rtsp://admin:pw@cam/live`, `http://cam/snap.cgi?loginpas=pw`), and a
password may hold any character, quotes included. A pattern that guesses where a password ends
leaks the rest, so URLs are *parsed*: the userinfo password ends at the `@` before the host, and
every query or fragment parameter whose name looks like a secret (`SECRET_WORDS`) is masked
whatever its value holds. Each secret found that way, each one this process has read in a
camera URL (`learn`), and the configured tokens are then replaced wherever they appear in the
same answer, log line, metrics page or audit entry, in the forms they take there (as sent,
JSON- or repr-escaped, percent-encoded or decoded).

`redact` is the one function everything that leaves goes through (API answers, logs, `/metrics`,
audit rows, webhook payloads). `restore_password` puts the stored secret back when a client sends
the masked URL (or the URL without its password) back in an update.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, overload
from urllib.parse import quote, unquote

MASK = "***"
SECRET_ENV = (
    "FACEGATE_API_TOKEN",
    "FACEGATE_READ_TOKEN",
    "FACIAL_RECOGNITION_WEBHOOK_SECRET",
    "FACEGATE_WEBHOOK_SIGNING_SECRET",
)
# a parameter is secret when its name (any case) holds one of these
SECRET_WORDS = (
    "password",
    "passwd",
    "pass",
    "pwd",
    "pw",
    "loginpas",
    "key",
    "token",
    "secret",
    "auth",
    "signature",
    "sig",
)
MIN_SECRET_LEN = 4  # replaced anywhere only from this length: shorter ones would mask ordinary words
MAX_LEARNED = 1024

_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_URL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://\S+")
_HOST_AFTER_AT = re.compile(r"@[A-Za-z0-9.\-\[\]:]+(?=[/?#]|$)")
_TEXT_VALUE_END = re.compile(r"[\"'\\<>]")  # in free text a parameter's value ends at a quote as well
_learned: set[str] = set()


def is_secret_name(name: str) -> bool:
    """True for a parameter name that looks like it carries a secret (`pwd`, `loginPas`, `api_key`, ...)."""
    lowered = unquote(name).lower()
    return any(word in lowered for word in SECRET_WORDS)


def _userinfo_end(rest: str) -> int:
    """In what follows `scheme://`, the index of the `@` ending the userinfo, or -1 if there is none."""
    end = min([rest.find(ch) for ch in "/?#" if ch in rest] or [len(rest)])
    at = rest.rfind("@", 0, end)
    if at >= 0:
        return at
    colon = rest.find(":", 0, end)
    if colon < 0 or rest[colon + 1 : end].isdigit():
        return -1  # no userinfo, or host:port
    after = _HOST_AFTER_AT.search(rest, end)  # a password holding a raw '/', '?' or '#'
    return after.start() if after else -1


def _mask_params(text: str, found: list[str], in_text: bool) -> str:
    """`a=1&pwd=x` with every secret-named value masked (and added to `found`)."""
    out: list[str] = []
    secret_open = False
    for part in text.split("&"):
        name, eq, value = part.partition("=")
        if not eq and secret_open:
            found[-1] += "&" + part  # a raw '&' inside the secret: no parameter has no '='
            continue
        secret_open = bool(eq) and is_secret_name(name) and bool(value)
        if not secret_open:
            out.append(part)
            continue
        tail = ""
        cut = _TEXT_VALUE_END.search(value) if in_text else None
        if cut is not None:
            value, tail = value[: cut.start()], value[cut.start() :]
            secret_open = False
        if value:
            found.append(value)
        out.append(f"{name}={MASK if value else ''}{tail}")
    return "&".join(out)


def _mask_one_url(url: str, found: list[str], in_text: bool = False) -> str:
    """`url` (a whole URL) with its password and secret parameters masked; each secret is added to `found`."""
    start = _URL_START.match(url)
    if start is None:
        return url
    head, rest = url[: start.end()], url[start.end() :]
    at = _userinfo_end(rest)
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        if colon and password:
            found.append(password)
            head += f"{user}:{MASK}"
        else:
            head += rest[:at]
        rest = rest[at:]
    before, hashmark, fragment = rest.partition("#")
    path, qmark, query = before.partition("?")
    return head + path + qmark + _mask_params(query, found, in_text) + hashmark + _mask_params(fragment, found, in_text)


def _mask_string(text: str, found: list[str]) -> str:
    """A string that is one URL, or free text with URLs in it, with their secrets masked."""
    if _URL_START.match(text) and not any(ch.isspace() for ch in text):
        return _mask_one_url(text, found)
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: _mask_one_url(m.group(0), found, in_text=True), text)


def url_secrets(url: str) -> list[str]:
    """The password and the secret parameter values of one URL."""
    found: list[str] = []
    _mask_one_url(url, found)
    return found


def learn(url: object) -> None:
    """Remember the secrets of a camera URL this process has read, so they are masked wherever they turn up."""
    if isinstance(url, str) and len(_learned) < MAX_LEARNED:
        _learned.update(s for s in url_secrets(url) if len(s) >= MIN_SECRET_LEN)


def configured_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The tokens (comma lists) and the webhook secrets set in the environment, longest first."""
    env = os.environ if environ is None else environ
    found = {part.strip() for name in SECRET_ENV for part in env.get(name, "").split(",")}
    return sorted((s for s in found if len(s) >= MIN_SECRET_LEN), key=lambda s: (-len(s), s))


def _forms(secret: str) -> set[str]:
    """A secret as it may be written: as is, JSON- or repr-escaped, percent-encoded or decoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        unquote(secret),
    }


def _replacer(secrets: Iterable[str]) -> Callable[[str], str]:
    words = {form for secret in secrets if len(secret) >= MIN_SECRET_LEN for form in _forms(secret)}
    ordered = sorted((w for w in words if len(w) >= MIN_SECRET_LEN), key=len, reverse=True)
    if not ordered:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(word) for word in ordered))
    return lambda text: pattern.sub(MASK, text)


def _walk(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {key: _walk(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, change) for item in value]
    return value


@overload
def redact(value: str, secrets: Iterable[str] = ()) -> str: ...
@overload
def redact(value: Any, secrets: Iterable[str] = ()) -> Any: ...
def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` (a string, or a JSON-like dict/list, copied) with every secret masked.

    The secrets known beforehand (each one `learn`ed, the configured tokens, `secrets`) are replaced
    first, whole, before any parsing could cut one short; then each string that is a URL, and each URL
    inside free text, is parsed and its password and secret parameters masked; then every secret found
    that way is replaced wherever else it appears in `value`.
    """
    known = _replacer([*_learned, *configured_secrets(), *secrets])
    found: list[str] = []
    masked = _walk(value, lambda text: _mask_string(known(text), found))
    return _walk(masked, _replacer(found))


def mask_url(url: Any) -> Any:
    """`url` with its password and secret parameters replaced by `***`; non-strings as given."""
    return _mask_one_url(url, []) if isinstance(url, str) else url


def _userinfo_password(url: str) -> tuple[str, str | None]:
    """(url without its userinfo password, the password or None)."""
    start = _URL_START.match(url)
    if start is None:
        return url, None
    rest = url[start.end() :]
    at = _userinfo_end(rest)
    user, colon, password = rest[: max(at, 0)].partition(":")
    if at < 0 or not colon:
        return url, None
    return url[: start.end()] + user + rest[at:], password


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
    """A log formatter whose every line (message, arguments and traceback alike) goes through `redact`."""

    def __init__(self, fmt: str, datefmt: str | None = None, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt, datefmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)
