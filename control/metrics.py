"""`GET /metrics`: the pipeline's counters in Prometheus text format, read at scrape time.

Nothing is counted twice: the collector turns the shared stats board (written by the stages),
the supervisor's restart and queue figures, the camera states and the webhook outbox into
metric families when Prometheus asks, so scraping costs the pipeline nothing in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from pipeline.stats import LATENCY_BUCKETS_S

CAMERA_STATES = ("connecting", "live", "reconnecting", "failed", "stopped", "ended")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PipelineCollector:
    """A prometheus_client collector over a running `Service`."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        rows = self.service.pipeline.stage_figures()
        labels = ["stage", "kind"]
        counters = {
            "frames": ("frames_out", "Frames a stage process has finished"),
            "faces": ("faces", "Faces a stage process has seen"),
            "encodings": ("encodings", "Face encodings computed (detect) or events written (emit)"),
            "drops": ("drops", "Frames dropped because every ring slot was busy"),
            "lost": ("lost", "Frames whose pixels were gone when a worker came to them"),
            "restarts": ("restarts", "Times the supervisor restarted this stage"),
            "cpu_seconds": ("cpu_s", "CPU time used by the stage process"),
        }
        for metric, (field, doc) in counters.items():
            family = CounterMetricFamily(f"facegate_stage_{metric}", doc, labels=labels)
            for row in rows:
                family.add_metric([row["name"], row["kind"]], float(row[field]))
            yield family
        gauges = {
            "fps": ("fps", "Frames per second over the last two seconds"),
            "ms_p50": ("ms_p50", "Median milliseconds per frame"),
            "ms_p95": ("ms_p95", "95th percentile milliseconds per frame"),
            "queue_depth": ("queue_depth", "Messages waiting for the stage"),
            "queue_high_water": ("queue_hwm", "Most messages ever waiting for the stage"),
            "resident_memory_mb": ("rss_mb", "Resident memory of the stage process"),
            "up": ("alive", "1 while the stage process runs"),
        }
        for metric, (field, doc) in gauges.items():
            family = GaugeMetricFamily(f"facegate_stage_{metric}", doc, labels=labels)
            for row in rows:
                family.add_metric([row["name"], row["kind"]], float(row[field]))
            yield family
        yield from self._latency(rows)
        yield from self._cameras()
        yield from self._webhooks()

    @staticmethod
    def _latency(rows: list[dict[str, Any]]) -> Iterator[Metric]:
        family = HistogramMetricFamily("facegate_latency_seconds",
                                       "From frame capture to the decision leaving match", labels=["stage"])
        for row in rows:
            if row["kind"] != "match":
                continue
            buckets = [(str(bound), float(row[f"lat_le_{bound}"])) for bound in LATENCY_BUCKETS_S]
            buckets.append(("+Inf", float(row["lat_count"])))
            family.add_metric([row["name"]], buckets, float(row["lat_sum"]))
        yield family

    def _cameras(self) -> Iterator[Metric]:
        status = self.service.status()
        fps = GaugeMetricFamily("facegate_camera_fps", "Frames per second read from the camera", labels=["camera"])
        state = GaugeMetricFamily("facegate_camera_state", "1 for the camera's current state",
                                  labels=["camera", "state"])
        for camera in status.get("cameras", []):
            fps.add_metric([camera["id"]], float(camera.get("fps") or 0.0))
            for name in CAMERA_STATES:
                state.add_metric([camera["id"], name], 1.0 if camera.get("state") == name else 0.0)
        yield fps
        yield state
        running = GaugeMetricFamily("facegate_running", "1 while recognition is on")
        running.add_metric([], 1.0 if status.get("running") else 0.0)
        yield running

    def _webhooks(self) -> Iterator[Metric]:
        counts = self.service.store.outbox_counts()
        family = GaugeMetricFamily("facegate_webhook_events", "Webhook outbox rows by delivery status",
                                   labels=["status"])
        for status, count in counts.items():
            family.add_metric([status], float(count))
        yield family
        delivered = CounterMetricFamily("facegate_webhook_delivered", "Webhook events delivered")
        delivered.add_metric([], float(counts.get("delivered", 0)))
        yield delivered
        people = GaugeMetricFamily("facegate_registered_people", "People in the gallery")
        people.add_metric([], float(self.service.store.count_persons()))
        yield people


def render(service: Any) -> bytes:
    """The metrics page for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(service))
    return generate_latest(registry)
