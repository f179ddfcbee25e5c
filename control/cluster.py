"""Routes that make any node answer for the whole cluster: the node list, and a camera's pictures
sent on to the node that runs it (a 307 redirect, so the picture never travels twice)."""

from __future__ import annotations

from typing import Any

import bottle


def install(app: bottle.Bottle, service: Any) -> None:
    @app.get("/api/nodes")
    def list_nodes() -> dict[str, Any]:
        nodes = service.nodes()
        return {"nodes": nodes, "total": len(nodes), "alive": sum(1 for n in nodes if n["alive"]),
                "this_node": service.node_id}


def send_to_home(service: Any, camera_id: str) -> None:
    """Redirect to the node that runs the camera, when that is another node (else return)."""
    home = service.camera_home(camera_id)
    if home:
        query = bottle.request.query_string
        bottle.redirect(f"{home}{bottle.request.path}{'?' + query if query else ''}", 307)
