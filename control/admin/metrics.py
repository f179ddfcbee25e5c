"""`GET /metrics`: the pipeline's counters in Prometheus text format, read at scrape time.

Nothing is counted twice: the collector turns the shared stats board (written by the stages),
the supervisor's restart and queue figures, the camera states and the webhook outbox into
metric families when Prometheus asks, so scraping costs the pipeline nothing in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import bottle
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from control.admin.endpoints_api import listed_endpoints
from control.declaration import Doc, Scope
from control.openapi import STRING
from facegate.camera_board import STATES, by_state
from facegate.redact import redact
from pipeline.runtime.stage_kind import StageKind
from pipeline.runtime.stats import LATENCY_BUCKETS_S, StageFigures

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# metric name (after facegate_stage_) -> (kind of metric, StageFigures field, help)
STAGE_METRICS: dict[str, tuple[type, str, str]] = {
    "frames": (CounterMetricFamily, "frames_out", "Frames a stage process has finished"),
    "faces": (CounterMetricFamily, "faces", "Faces a stage process has seen"),
    "encodings": (CounterMetricFamily, "encodings", "Face encodings computed (detect) or events written (emit)"),
    "drops": (CounterMetricFamily, "drops", "Frames dropped because every ring slot was busy"),
    "shed": (CounterMetricFamily, "shed", "Frames sent on undetected because detection was backed up"),
    "lost": (CounterMetricFamily, "lost", "Frames whose pixels were gone when a worker came to them"),
    "restarts": (CounterMetricFamily, "restarts", "Times the supervisor restarted this stage"),
    "cpu_seconds": (CounterMetricFamily, "cpu_s", "CPU time used by the stage process"),
    "fps": (GaugeMetricFamily, "fps", "Frames per second over the last two seconds"),
    "ms_p50": (GaugeMetricFamily, "ms_p50", "Median milliseconds per frame"),
    "ms_p95": (GaugeMetricFamily, "ms_p95", "95th percentile milliseconds per frame"),
    "queue_depth": (GaugeMetricFamily, "queue_depth", "Messages waiting for the stage"),
    "queue_high_water": (GaugeMetricFamily, "queue_hwm", "Most messages ever waiting for the stage"),
    "resident_memory_mb": (GaugeMetricFamily, "rss_mb", "Resident memory of the stage process"),
    "up": (GaugeMetricFamily, "alive", "1 while the stage process runs"),
}


class PipelineCollector:
    """A prometheus_client collector over a running `Service`."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        rows = self.service.stage_figures()
        for metric, (family_type, field, doc) in STAGE_METRICS.items():
            family = family_type(f"facegate_stage_{metric}", doc, labels=["stage", "kind"])
            for row in rows:
                family.add_metric([row.name, row.kind], float(getattr(row, field)))
            yield family
        yield from self._latency(rows)
        yield from self._cameras()
        yield from self._webhooks()

    @staticmethod
    def _latency(rows: list[StageFigures]) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "facegate_latency_seconds", "From frame capture to the decision leaving match", labels=["stage"]
        )
        for row in rows:
            if row.kind != StageKind.MATCH:
                continue
            buckets = [(str(bound), count) for bound, count in zip(LATENCY_BUCKETS_S, row.latency_le, strict=True)]
            buckets.append(("+Inf", row.lat_count))
            family.add_metric([row.name], buckets, row.lat_sum)
        yield family

    def _cameras(self) -> Iterator[Metric]:
        status = self.service.status()
        cameras = redact(self.service.camera_board())  # masked before their URLs become labels
        counted = GaugeMetricFamily(
            "facegate_cameras",
            "Cameras of the cluster by state (unassigned: waiting for a node with room)",
            labels=["state"],
        )
        counts = by_state(cameras)
        for name in STATES:
            counted.add_metric([name], float(counts.get(name, 0)))
        yield counted
        fps = GaugeMetricFamily("facegate_camera_fps", "Frames per second read from the camera", labels=["camera"])
        state = GaugeMetricFamily(
            "facegate_camera_state", "1 for the camera's current state", labels=["camera", "state"]
        )
        info = GaugeMetricFamily(
            "facegate_camera_info",
            "Each configured camera, with its stream URL (no password)",
            labels=["camera", "stream_url"],
        )
        for camera in cameras:
            fps.add_metric([camera["id"]], float(camera.get("fps") or 0.0))
            info.add_metric([camera["id"], str(camera.get("stream_url") or "")], 1.0)
            for name in STATES:
                state.add_metric([camera["id"], name], 1.0 if camera.get("state") == name else 0.0)
        yield fps
        yield state
        yield info
        node = GaugeMetricFamily("facegate_node_info", "The node answering this scrape", labels=["node"])
        node.add_metric([str(status.get("node"))], 1.0)
        yield node
        running = GaugeMetricFamily("facegate_running", "1 while recognition is on")
        running.add_metric([], 1.0 if status.get("running") else 0.0)
        yield running

    def _webhooks(self) -> Iterator[Metric]:
        counts = self.service.store.outbox.counts()
        family = GaugeMetricFamily(
            "facegate_webhook_events", "Webhook outbox rows by delivery status", labels=["status"]
        )
        for status, count in counts.items():
            family.add_metric([status], float(count))
        yield family
        delivered = CounterMetricFamily("facegate_webhook_delivered", "Webhook events delivered")
        delivered.add_metric([], float(counts.get("delivered", 0)))
        yield delivered
        per_endpoint = GaugeMetricFamily(
            "facegate_webhook_endpoint_deliveries",
            "Webhook deliveries by endpoint: delivered, pending (retries included) and failed",
            labels=["endpoint", "status"],
        )
        for endpoint in listed_endpoints(self.service.store):
            for status, count in endpoint["deliveries"].items():
                per_endpoint.add_metric([endpoint["id"], status], float(count))
        yield per_endpoint
        people = GaugeMetricFamily("facegate_registered_people", "People in the gallery")
        people.add_metric([], float(self.service.store.gallery.count_people()))
        yield people


def render(service: Any) -> bytes:
    """The metrics page for one scrape; no label ever carries a camera password or a secret."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(service))
    return redact(generate_latest(registry).decode()).encode()


def install(app: bottle.Bottle, service: Any) -> None:
    """Add `GET /metrics`: open, or read scope when FACEGATE_METRICS_AUTH=read (control/auth.py)."""

    @app.get(
        "/metrics",
        scope=Scope.METRICS,
        doc=Doc(
            "getMetrics",
            "Prometheus metrics",
            {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": STRING}}}},
        ),
    )
    def prometheus() -> bytes:
        bottle.response.content_type = CONTENT_TYPE
        return render(service)
