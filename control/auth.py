"""Who may call which route: two scopes of bearer tokens, and short-lived signed URLs for pictures.

`FACEGATE_API_TOKEN` holds the admin tokens (everything), `FACEGATE_READ_TOKEN` the read-only
ones; each is a comma list, so a token can be rotated without downtime (add the new one, move
the clients, drop the old one). Tokens are compared in constant time. Every route needs one of
the right scope (401 without a valid token, 403 with a token of the wrong scope), except
`GET /api/health` (liveness, no personal data), the operator page's static files, and `/metrics`
when `FACEGATE_METRICS_AUTH=open`. The service is closed by default: a start with no admin token
makes one (entry/admin_token.py); only `FACEGATE_AUTH=off` (or an app built with no token at all,
as in-process tests do) leaves every route open, and that is said loudly at every start.

A browser cannot put a header on `<img src=...>`, so the picture routes (snapshot, MJPEG, face
crops) also accept a signed URL that `GET /api/signed-url?path=...` hands out: an HMAC of the
path and an expiry time under a key that lives only in this process, valid for
`FACEGATE_SIGNED_URL_TTL_S` seconds. The token itself never goes into a query string.

Each route declares its scope (`scope=Scope.READ`, control/declaration.py), and a picture route
`signable=True`; building the app fails on a route without a scope, so a new one cannot be forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import bottle

from control.declaration import Doc, Scope, is_signable, scope_of
from control.openapi import NUMBER, STRING, error_answers, json_answer, obj
from control.validation import digits, fail
from facegate.store import iso_now

log = logging.getLogger(__name__)

SCOPE_ENVIRON_KEY = "facegate.scope"  # what the request was allowed as, for the audit trail
SIGNED_URL_ROUTE = "/api/signed-url"
DEFAULT_SIGNED_URL_TTL_S = 300.0


# What GET /api/signed-url signs: a picture route (`signable=True`, matched as Bottle matches it), query kept.
PICTURE_PATH = {
    "type": "string",
    "pattern": r"^/api/(cameras/[^/?]+/(snapshot\.jpg|stream\.mjpg)|unknown/[^/?]+\.jpg)(\?.*)?$",
}
SIGNED_URL_DOC = Doc(
    "getSignedUrl",
    "A short-lived signed URL for a picture route, for <img src> where no header can be sent",
    {
        "200": json_answer(obj({"url": STRING, "expires_at": STRING, "expires_in_s": NUMBER}, ["url", "expires_at"])),
        **error_answers(400),
    },
    parameters=(
        {
            "name": "path",
            "in": "query",
            "required": True,
            "schema": PICTURE_PATH,
            "example": "/api/cameras/cam0/snapshot.jpg",
        },
    ),
)


def token_list(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))


@dataclass(frozen=True)
class AuthConfig:
    """The tokens of each scope and how long a signed URL lives."""

    admin_tokens: tuple[str, ...] = ()
    read_tokens: tuple[str, ...] = ()
    metrics_need_token: bool = False
    signed_url_ttl_s: float = DEFAULT_SIGNED_URL_TTL_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuthConfig:
        env = os.environ if environ is None else environ
        raw_ttl = env.get("FACEGATE_SIGNED_URL_TTL_S", "")
        try:
            ttl = float(raw_ttl) if raw_ttl else DEFAULT_SIGNED_URL_TTL_S
        except ValueError:
            log.warning("ignoring FACEGATE_SIGNED_URL_TTL_S=%r: not a number", raw_ttl)
            ttl = DEFAULT_SIGNED_URL_TTL_S
        metrics = env.get("FACEGATE_METRICS_AUTH", "read").strip().lower()
        if metrics not in ("open", "read"):
            log.warning("ignoring FACEGATE_METRICS_AUTH=%r: use read or open", metrics)
        return cls(
            admin_tokens=token_list(env.get("FACEGATE_API_TOKEN", "")),
            read_tokens=token_list(env.get("FACEGATE_READ_TOKEN", "")),
            metrics_need_token=metrics != "open",
            signed_url_ttl_s=max(1.0, min(ttl, 86400.0)),
        )

    def with_tokens(self, admin: str | None, read: str | None) -> AuthConfig:
        """These comma lists instead of the environment's, where given (None keeps the environment's)."""
        return replace(
            self,
            admin_tokens=self.admin_tokens if admin is None else token_list(admin),
            read_tokens=self.read_tokens if read is None else token_list(read),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.admin_tokens or self.read_tokens)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class TokenChecker:
    """Which scope a bearer token grants, compared in constant time against every configured token."""

    def __init__(self, config: AuthConfig) -> None:
        self._admin = [_digest(t) for t in config.admin_tokens]
        self._read = [_digest(t) for t in config.read_tokens]

    def scope_of(self, authorization: str) -> Scope | None:
        """ADMIN, READ, or None for a missing or unknown token (`authorization` is the whole header)."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = _digest(token.strip())
        is_admin = is_read = False
        for known in self._admin:  # no early exit: every token is compared, whichever matches
            is_admin |= hmac.compare_digest(given, known)
        for known in self._read:
            is_read |= hmac.compare_digest(given, known)
        return Scope.ADMIN if is_admin else Scope.READ if is_read else None


class UrlSigner:
    """HMAC-SHA256 of `path` and an expiry time, under a key made at start (a restart voids old URLs)."""

    def __init__(self, ttl_s: float, key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self._key = key or secrets.token_bytes(32)
        self._clock = clock

    def _mac(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str) -> tuple[str, int]:
        """(the query string `expires=...&signature=...`, expiry as Unix seconds)."""
        expires = int(self._clock() + self.ttl_s + 0.999)
        return urlencode({"expires": expires, "signature": self._mac(path, expires)}), expires

    def verify(self, path: str, expires: str, signature: str) -> bool:
        if not digits(expires) or int(expires) < self._clock():
            return False
        return hmac.compare_digest(self._mac(path, int(expires)), signature)


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_if_open(config: AuthConfig, host: str | None) -> None:
    """Say at start what is protected; shout when no token is set and the port is reachable from elsewhere."""
    if config.read_tokens and not config.admin_tokens:
        log.warning("FACEGATE_READ_TOKEN is set without FACEGATE_API_TOKEN: no one can change anything")
    if config.enabled:
        log.info(
            "API tokens: %d admin, %d read; /metrics %s",
            len(config.admin_tokens),
            len(config.read_tokens),
            "needs a token" if config.metrics_need_token else "is open",
        )
        return
    if host is not None and not _is_loopback(host):
        log.warning("!" * 78)
        log.warning(
            "AUTHENTICATION IS OFF (FACEGATE_AUTH=off) and the API listens on %s: anyone on the network "
            "can read every face, result and camera picture, and change or delete them.",
            host,
        )
        log.warning("Drop FACEGATE_AUTH=off (a token is then made in the data dir), or bind to 127.0.0.1.")
        log.warning("!" * 78)
    else:
        log.warning(
            "AUTHENTICATION IS OFF (FACEGATE_AUTH=off): every route is open to whoever can reach %s",
            host or "this port",
        )


class AuthPlugin:
    """A Bottle plugin: each route checks its caller's scope before it runs."""

    name = "facegate-auth"
    api = 2

    def __init__(self, config: AuthConfig, signer: UrlSigner) -> None:
        self.config, self.signer = config, signer
        self.tokens = TokenChecker(config)

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        needed, signable = scope_of(route), is_signable(route)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            bottle.request.environ[SCOPE_ENVIRON_KEY] = self.admit(needed, signable)
            return callback(*args, **kwargs)

        return guarded

    def admit(self, needed: Scope, signable: bool) -> str:
        """The scope the request runs as ("open", "public", "signed", "read", "admin"); raises 401 or 403."""
        if not self.config.enabled:
            return "open"
        request = bottle.request
        if needed is Scope.PUBLIC or (needed is Scope.METRICS and not self.config.metrics_need_token):
            return "public"
        header = request.get_header("Authorization", "")
        if signable and not header and "signature" in request.query:
            if self.signer.verify(request.path, request.query.get("expires", ""), request.query.get("signature", "")):
                return "signed"
            raise _unauthorized("this signed URL is invalid or has expired; ask GET /api/signed-url for a new one")
        granted = self.tokens.scope_of(header)
        if granted is None:
            raise _unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        if needed is Scope.ADMIN and granted is not Scope.ADMIN:
            raise fail(403, "this token may only read; this route needs an admin token (FACEGATE_API_TOKEN)")
        return granted.value


def _unauthorized(message: str) -> bottle.HTTPError:
    return bottle.HTTPError(401, message, **{"WWW-Authenticate": 'Bearer realm="facegate"'})


def install(
    app: bottle.Bottle, config: AuthConfig, host: str | None = None, signing_key: bytes | None = None
) -> UrlSigner:
    """Guard every route of `app` (install before adding routes) and add `GET /api/signed-url`.

    `signing_key` None: a key made now (a restart voids the URLs); nodes sharing a database pass
    the database's key, so a picture URL signed by one node is good on the node a 307 sends it to."""
    signer = UrlSigner(config.signed_url_ttl_s, signing_key)
    app.install(AuthPlugin(config, signer))
    warn_if_open(config, host)

    @app.get(SIGNED_URL_ROUTE, scope=Scope.READ, doc=SIGNED_URL_DOC)
    def signed_url() -> dict[str, Any]:
        wanted = bottle.request.query.getunicode("path", "")
        path, _, query = wanted.partition("?")
        try:
            route, _args = app.router.match({"REQUEST_METHOD": "GET", "PATH_INFO": path})
        except bottle.HTTPError:
            route = None
        if not path.startswith("/") or route is None or not is_signable(route):
            raise fail(
                400,
                "path must be a picture route: /api/cameras/<id>/snapshot.jpg, "
                "/api/cameras/<id>/stream.mjpg or /api/unknown/<id>.jpg",
            )
        signature, expires = signer.sign(path)
        kept = "&".join(p for p in query.split("&") if p and not p.startswith(("expires=", "signature=")))
        return {
            "url": f"{path}?{kept + '&' if kept else ''}{signature}",
            "expires_at": iso_now(expires),
            "expires_in_s": signer.ttl_s,
        }

    return signer
