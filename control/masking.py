"""Camera passwords in and out of the API: masked in every answer, kept when an update leaves them out.

Answers go through `RedactPlugin`, so no route can hand out a stream URL's password whatever it
returns (status, config, cameras, dead-letter webhook bodies, camera errors). A client that
edits a camera only ever saw `rtsp://admin:***@cam/live`; when it sends that back (or the URL
without a password), `keep_camera_password` / `keep_config_passwords` put the stored one back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bottle

from control.service_api import ServiceApi
from facegate.redact import redact, restore_password


class RedactPlugin:
    """A Bottle plugin: a route's dict or list answer leaves with every URL password masked."""

    name = "facegate-redact"
    api = 2

    def apply(self, callback: Callable[..., Any], _route: bottle.Route) -> Callable[..., Any]:
        def masked(*args: Any, **kwargs: Any) -> Any:
            answer = callback(*args, **kwargs)
            return redact(answer) if isinstance(answer, dict | list) else answer

        return masked


def _stored_camera_urls(service: ServiceApi) -> dict[str, str]:
    return {c.id: c.stream_url for c in service.camera_list()}


def keep_camera_password(service: ServiceApi, camera_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` for PUT /api/cameras/<id>, with the stored password back in a masked or password-less URL."""
    if "stream_url" not in changes:
        return changes
    stored = _stored_camera_urls(service).get(camera_id)
    return {**changes, "stream_url": restore_password(changes["stream_url"], stored)}


def keep_config_passwords(service: ServiceApi, updates: dict[str, Any]) -> dict[str, Any]:
    """`updates` for PUT /api/config, with stored passwords back in `stream_url` and in each of `cameras`."""
    kept = dict(updates)
    if "stream_url" in kept:
        kept["stream_url"] = restore_password(kept["stream_url"], service.config().stream_url)
    if isinstance(kept.get("cameras"), list):
        stored = _stored_camera_urls(service)
        kept["cameras"] = [
            {**c, "stream_url": restore_password(c.get("stream_url"), stored.get(c.get("id", "")))}
            if isinstance(c, dict) and "stream_url" in c
            else c
            for c in kept["cameras"]
        ]
    return kept
