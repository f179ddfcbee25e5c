"""`GET /api/health`: the liveness route a load balancer or a container's HEALTHCHECK asks, with no token.

It says only whether this node works (`ok`), is still starting its stages (`starting`) or runs
without part of itself (`degraded`: a stage process down and being restarted, the store not
answering, or the node shutting down), plus the version and the node's id: no camera, person or
result, so it is safe to leave anonymous when tokens are set. Anything but `ok` is a 503, which
is what load balancers and orchestrators take as "send no traffic here".
"""

from __future__ import annotations

from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import json_answer, ref
from control.service_api import ServiceApi

HEALTH = ref("Health")


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add `GET /api/health` to the API app (public: it names no camera, person or result)."""

    @app.get(
        "/api/health",
        scope=Scope.PUBLIC,
        doc=Doc(
            "getHealth",
            "Liveness for load balancers and HEALTHCHECK: 503 unless ok; no token",
            {
                "200": json_answer(HEALTH),
                "503": json_answer(HEALTH, "Starting, or degraded (a stage or the store down)"),
            },
        ),
    )
    def health() -> dict[str, Any]:
        status = service.health()
        if status != "ok":
            bottle.response.status = 503
        bottle.response.set_header("Cache-Control", "no-store")
        return {"status": status, "version": service.version, "node": service.node_id}
