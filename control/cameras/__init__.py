"""Cameras and what they see over HTTP: the camera list and its changes, snapshots and live MJPEG."""

from __future__ import annotations

import bottle

from control.cameras import cameras_api, live_views
from control.service_api import ServiceApi


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the camera and live-view routes to the API app."""
    cameras_api.install(app, service)
    live_views.install(app, service)
