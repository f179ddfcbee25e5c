"""Running the service over HTTP: status, health, start and stop, configuration, nodes, webhook endpoints and dead
letters, audit, metrics."""

from __future__ import annotations

import bottle

from control.admin import (
    audit_api,
    config_api,
    endpoints_api,
    health_api,
    metrics,
    nodes_api,
    running_api,
    webhooks_api,
)
from control.service_api import ServiceApi
from facegate.audit import AuditTrail


def install(app: bottle.Bottle, service: ServiceApi, trail: AuditTrail, *, webhook_private_ok: bool = False) -> None:
    """Add the administration routes to the API app (`webhook_private_ok`: the setting, as this process started)."""
    running_api.install(app, service)
    health_api.install(app, service)
    config_api.install(app, service)
    nodes_api.install(app, service)
    webhooks_api.install(app, service)
    endpoints_api.install(app, service, webhook_private_ok)
    audit_api.install(app, trail)
    metrics.install(app, service)
