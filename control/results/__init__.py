"""What the cameras saw, over HTTP: results, stored sightings and search, unknown faces, visitors, presence."""

from __future__ import annotations

import bottle

from control.facework import FaceWorkPool
from control.results import presence_api, results_api, sightings_api, unknown_api, visitors_api
from control.service_api import ServiceApi


def install(app: bottle.Bottle, service: ServiceApi, pool: FaceWorkPool) -> None:
    """Add the result, sighting, unknown-face, visitor, presence and attendance routes to the API app."""
    results_api.install(app, service)
    sightings_api.install(app, service, pool)
    unknown_api.install(app, service)
    visitors_api.install(app, service)
    presence_api.install(app, service)
