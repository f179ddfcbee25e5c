"""`GET /api/nodes`: any node answers for the whole cluster, listing the nodes that share the database."""

from __future__ import annotations

from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import INTEGER, STRING, json_answer, obj, ref
from control.service_api import ServiceApi

NODES = obj(
    {"nodes": {"type": "array", "items": ref("Node")}, "total": INTEGER, "alive": INTEGER, "this_node": STRING},
    ["nodes", "this_node"],
)


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the node list to the API app."""

    @app.get(
        "/api/nodes",
        scope=Scope.READ,
        doc=Doc(
            "listNodes",
            "The nodes sharing the database: their cameras, capacity and last heartbeat",
            {"200": json_answer(NODES)},
        ),
    )
    def list_nodes() -> dict[str, Any]:
        nodes = service.nodes()
        return {
            "nodes": nodes,
            "total": len(nodes),
            "alive": sum(1 for n in nodes if n["alive"]),
            "this_node": service.node_id,
        }
