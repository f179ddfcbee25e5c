"""The results over HTTP, as the v1 API served them: the latest results, those of one name, the newest, counts.

The JSON of each answer is the v1 API's (a result is facegate/records.py's `result_dict`); `/api/stats`
adds webhook delivery and the pipeline's figures to its counts by name.
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import INTEGER, LIMIT, error_answers, json_answer, obj, ref
from control.service_api import ServiceApi
from control.validation import check_limit

RESULTS = obj({"results": {"type": "array", "items": ref("Result")}, "total": INTEGER}, ["results", "total"])
STATS = obj(
    {
        "total_detections": INTEGER,
        "recognized": {"type": "object", "additionalProperties": INTEGER},
        "unknown_count": INTEGER,
        "last_detection": {**ref("Result"), "nullable": True},
        "webhooks": {"type": "object"},
        "pipeline": {"type": "object"},
    },
    ["total_detections", "recognized", "unknown_count"],
)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 of sorted durations in seconds, as milliseconds (0 for none)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0}
    return {
        "p50": round(values[len(values) // 2] * 1000.0, 1),
        "p95": round(values[min(len(values) - 1, int(len(values) * 0.95))] * 1000.0, 1),
    }


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the result routes to the API app."""
    store = service.store

    @app.get(
        "/api/results",
        scope=Scope.READ,
        doc=Doc(
            "listResults",
            "Latest results, newest first",
            {"200": json_answer(RESULTS), **error_answers(400)},
            parameters=(LIMIT,),
        ),
    )
    def results() -> dict[str, Any]:
        found = store.results.recent(check_limit(bottle.request.query.get("limit")))
        return {"results": found, "total": store.results.count()}

    @app.get(
        "/api/results/<name>",
        scope=Scope.READ,
        doc=Doc(
            "listResultsForName",
            "Latest results for one name",
            {"200": json_answer(RESULTS), **error_answers(400)},
            parameters=(LIMIT,),
        ),
    )
    def results_for(name: str) -> dict[str, Any]:
        found = store.results.recent(check_limit(bottle.request.query.get("limit")), name=name)
        return {"results": found, "total": store.results.count(name), "name": name}

    @app.get(
        "/api/latest",
        scope=Scope.READ,
        doc=Doc("getLatest", "The newest result, or null", {"200": json_answer({**ref("Result"), "nullable": True})}),
    )
    def latest() -> str:
        bottle.response.content_type = "application/json"
        return json.dumps(store.results.latest())

    @app.get(
        "/api/stats",
        scope=Scope.READ,
        doc=Doc("getStats", "Detections by name, webhook delivery and pipeline figures", {"200": json_answer(STATS)}),
    )
    def stats() -> dict[str, Any]:
        counts = store.results.counts_by_name()
        unknown = counts.pop("Unknown", 0)
        outbox = store.outbox.counts()
        latencies = sorted(store.outbox.latencies())
        return {
            "total_detections": sum(counts.values()) + unknown,
            "recognized": counts,
            "unknown_count": unknown,
            "last_detection": store.results.latest(),
            "webhooks": {**outbox, "latency_ms": percentiles(latencies)},
            "pipeline": service.stats(),
            "nodes": {node["id"]: node["stages"] for node in service.nodes() if node["alive"]},
        }
