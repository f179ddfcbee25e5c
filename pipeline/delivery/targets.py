"""Where one outbox row is posted and how it is signed: the v1 webhook's settings, or its endpoint's row.

The row names its endpoint; the sender looks the endpoint up as it claims the row (an endpoint
changed through the API takes effect with its next delivery). The endpoint `default` is the v1
webhook: `NEXTJS_WEBHOOK_URL`, signed with the signing secret, with the seed's Bearer header, and
never checked for a private address (the operator set it). A stored endpoint is signed with its
own secret, carries no Bearer header, and its host's addresses are checked before each post
unless `webhook_private_ok` is on (facegate/webhook_urls.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from facegate.events import DEFAULT_ENDPOINT
from facegate.store import Store
from facegate.webhook_signing import signed_headers
from facegate.webhook_urls import refused_address


class V1Webhook(Protocol):
    """What a target needs of the v1 webhook's config (pipeline/delivery/webhooks.py's WebhookConfig)."""

    @property
    def url(self) -> str | None: ...
    @property
    def secret(self) -> str | None: ...
    @property
    def signing_key(self) -> str | None: ...


@dataclass(frozen=True)
class Target:
    """One endpoint as a delivery sees it."""

    url: str
    signing_key: str | None
    bearer: str | None = None
    check_address: bool = False  # resolve the host before each post and refuse addresses inside the network

    def headers(self, event_id: str, body: str, now: float) -> dict[str, str]:
        return signed_headers(event_id, body, now, self.signing_key, self.bearer)

    def refused(self) -> str | None:
        """Why this delivery may not be posted (its host resolves inside the network), or None."""
        return refused_address(self.url) if self.check_address else None


def target_of(store: Store, v1: V1Webhook, endpoint_id: str, private_ok: bool) -> Target | None:
    """Where a row of `endpoint_id` goes; None when the endpoint is gone (or the v1 webhook is off here)."""
    if endpoint_id == DEFAULT_ENDPOINT:
        return None if v1.url is None else Target(v1.url, v1.signing_key, v1.secret)
    found = store.endpoints.target(endpoint_id)
    if found is None:
        return None
    url, secret = found
    return Target(url, secret, check_address=not private_ok)
