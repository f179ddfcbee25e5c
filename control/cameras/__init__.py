"""Cameras and what they see over HTTP: the camera list and its changes, snapshots and live MJPEG."""

from __future__ import annotations

import bottle

from control.cameras import cameras_api, live_views
from control.service_api import ServiceApi


def install(app: bottle.Bottle, service: ServiceApi, mjpeg_max_s: float) -> None:
    """Add the camera and live-view routes to the API app; an MJPEG view lasts at most `mjpeg_max_s` seconds."""
    cameras_api.install(app, service)
    live_views.install(app, service, mjpeg_max_s)
