"""People and the gallery over HTTP: who is registered, their faces, and who is in a photo."""

from __future__ import annotations

import bottle

from control.facework import FaceWorkPool
from control.people import faces_api, persons_api, recognition_api
from control.request_schema import RequestSchemaPlugin
from control.service_api import ServiceApi


def install(app: bottle.Bottle, service: ServiceApi, pool: FaceWorkPool, schema: RequestSchemaPlugin) -> None:
    """Add the people, faces, recognize and verify routes to the API app."""
    persons_api.install(app, service, pool)
    faces_api.install(app, service, pool)
    recognition_api.install(app, service, pool, schema)
