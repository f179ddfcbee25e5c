"""`supervisor.py` serving: the pipeline, the REST API, and the state that must survive a restart.

`Service` is what the Bottle app drives (see control/service.py for the interface). Whether
recognition was running is kept in the store, so a restart of the service resumes it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from control.service import ServiceError

from facegate import __version__
from facegate.settings import SettingError, defaults, validate
from facegate.store import Store
from pipeline.runner import Pipeline

log = logging.getLogger(__name__)


class Service:
    def __init__(self, store: Store, settings: dict[str, Any], data_dir: str, log_level: str | None = None) -> None:
        self.store = store
        self.version = __version__
        self.started_at = time.time()
        self.workers = int(settings["workers"])
        self.pipeline = Pipeline(data_dir, settings, follow_config=True, log_level=log_level)
        self.running = False
        self._lock = threading.RLock()

    # --- life cycle -----------------------------------------------------------------------------
    def boot(self, given: dict[str, Any]) -> None:
        """Save what the command line set, start the stages, and resume recognition if it was on."""
        runtime = {k: v for k, v in given.items() if k != "workers"}
        self.store.set_config(runtime)
        self.pipeline.start()
        resume = self.store.get_meta("running") == "1" or "stream_url" in given
        if resume and self.config().get("stream_url"):
            log.info("resuming recognition")
            self.start()

    def shutdown(self) -> None:
        self.pipeline.shutdown()

    # --- the interface the API uses -------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        effective = defaults()
        effective.update(self.store.get_config())
        effective["workers"] = self.workers
        return effective

    def cameras(self) -> dict[str, str]:
        """Camera id → stream URL of every enabled camera (the default one from `stream_url`)."""
        config = self.config()
        found: dict[str, str] = {}
        if config.get("stream_url"):
            found[str(config["camera_id"])] = str(config["stream_url"])
        return found

    def start(self) -> None:
        with self._lock:
            cameras = self.cameras()
            if not cameras:
                raise ServiceError("no stream_url is configured: PUT /api/config {\"stream_url\": ...} first")
            running = set(self.pipeline.cameras())
            for camera_id, url in cameras.items():
                if camera_id not in running:
                    self.pipeline.add_camera(camera_id, url)
            self.running = True
            self.store.set_meta("running", "1")
            log.info("recognition started on %s", ", ".join(f"{c} ({u})" for c, u in cameras.items()))

    def stop(self) -> None:
        with self._lock:
            for camera_id in self.pipeline.cameras():
                self.pipeline.remove_camera(camera_id)
            self.running = False
            self.store.set_meta("running", "0")
            log.info("recognition stopped")

    def update_config(self, updates: dict[str, Any]) -> dict[str, Any]:
        cleaned = validate(updates, runtime_only=True)
        with self._lock:
            before = self.cameras()
            self.store.set_config(cleaned)
            after = self.cameras()
            if self.running and before != after:
                for camera_id, url in before.items():
                    if after.get(camera_id) != url:
                        self.pipeline.remove_camera(camera_id)
                for camera_id, url in after.items():
                    if before.get(camera_id) != url:
                        self.pipeline.add_camera(camera_id, url)
        log.info("config updated: %s", ", ".join(f"{k}={v}" for k, v in cleaned.items()))
        return self.config()

    def status(self) -> dict[str, Any]:
        config = self.config()
        cameras = []
        for camera_id, url in self.cameras().items():
            state = self.pipeline.camera_status.get(camera_id)
            fps = self._capture_fps(camera_id)
            cameras.append({
                "id": camera_id, "stream_url": url,
                "state": (state.state if state else "connecting") if self.running else "stopped",
                "error": state.error if state else None, "fps": round(fps, 1),
                "width": state.width if state else 0, "height": state.height if state else 0,
            })
        return {"running": self.running, "stream_url": config.get("stream_url"), "cameras": cameras,
                "workers": self.workers}

    def _capture_fps(self, camera_id: str) -> float:
        for row in self.pipeline.stage_figures():
            if row["name"] == f"capture {camera_id}":
                return float(row["fps"])
        return 0.0

    def stats(self) -> dict[str, Any]:
        return {"stages": self.pipeline.figures_by_kind(), "processes": [
            {k: row[k] for k in ("name", "kind", "pid", "alive", "frames_in", "frames_out", "fps", "ms_p50",
                                 "ms_p95", "faces", "encodings", "drops", "lost", "queue_depth", "queue_hwm",
                                 "restarts", "cpu_s", "rss_mb")}
            for row in self.pipeline.stage_figures()
        ], "events": self.pipeline.events}

    def gallery_changed(self) -> None:
        """Nothing to push: match re-reads the gallery within half a second of its version moving."""


def serve(store: Store, settings: dict[str, Any], given: dict[str, Any], *, host: str, port: int,
          log_level: str | None = None) -> int:
    """Run until SIGTERM or SIGINT; returns the exit code."""
    from control.app import make_app
    from control.server import ApiServer

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service = Service(store, settings, str(store.data_dir), log_level)
    server = None
    try:
        server = ApiServer(make_app(service), host, port)
        try:
            server.start()
        except OSError as exc:
            raise SettingError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        service.boot(given)
        log.info("facegate %s: API on http://%s:%d/api, %d detect workers, data in %s", __version__, host,
                 server.port, service.workers, store.data_dir)
        while not stop.wait(0.5):
            pass
    finally:
        if server is not None:
            server.stop()
        service.shutdown()
        log.info("stopped")
    return 0
