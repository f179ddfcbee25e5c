"""Running the service over HTTP: status, health, start and stop, configuration, nodes, dead letters, audit, metrics."""

from __future__ import annotations

import bottle

from control.admin import audit_api, config_api, health_api, metrics, nodes_api, running_api, webhooks_api
from control.service_api import ServiceApi
from facegate.audit import AuditTrail


def install(app: bottle.Bottle, service: ServiceApi, trail: AuditTrail) -> None:
    """Add the administration routes to the API app."""
    running_api.install(app, service)
    health_api.install(app, service)
    config_api.install(app, service)
    nodes_api.install(app, service)
    webhooks_api.install(app, service)
    audit_api.install(app, trail)
    metrics.install(app, service)
