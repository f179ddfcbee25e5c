"""Standard Webhooks signatures: how every delivery is signed, and how a receiver checks one.

A delivery carries `webhook-id` (the event id, the same across retries), `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. A `whsec_` secret carries a
base64 key; any other secret is used as it is. Each endpoint signs with its own secret; the v1
webhook with `FACEGATE_WEBHOOK_SIGNING_SECRET` (pipeline/delivery/webhooks.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # of a secret made for an endpoint
SIGNATURE_TOLERANCE_S = 300
USER_AGENT = "facegate-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret, `whsec_<base64 of 24 random bytes>`."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    """A `whsec_` secret carries a base64 key (Standard Webhooks); any other secret is used as it is."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def sign(secret: str, event_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    digest = hmac.new(_key(secret), f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: str,
    *,
    now: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver does: check one of the `v1` signatures and that the timestamp is recent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    event_id, stamp, signatures = (lowered.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (event_id and stamp.isascii() and stamp.isdigit() and signatures):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return False
    expected = sign(secret, event_id, int(stamp), body)
    return any(hmac.compare_digest(expected, given) for given in signatures.split())


def signed_headers(
    event_id: str, body: str, now: float, signing_key: str | None, bearer: str | None = None
) -> dict[str, str]:
    """The headers of one delivery: JSON, the Standard Webhooks trio (signed when there is a key) and, for the
    seed's route, `Authorization: Bearer`."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now)),
    }
    if signing_key:
        headers["webhook-signature"] = sign(signing_key, event_id, int(now), body)
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return headers
