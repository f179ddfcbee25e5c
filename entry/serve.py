"""`supervisor.py` serving: the pipeline, the REST API, and the state that must survive a restart.

`Service` is what the Bottle app drives (see control/service_api.py for the interface). Whether
recognition was running is kept in the store, so a restart of the service resumes it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from control.service_api import Conflict, ServiceError
from entry.node_agent import NODE_TIMEOUT_S, ClusterAgent, advertised_url
from entry.retention_timer import RetentionTimer
from facegate import __version__
from facegate.camera import Camera, check_camera
from facegate.settings import PROCESS_ONLY, SettingError, Settings, as_json, validate
from facegate.store import NodeRow, Store, iso_now
from pipeline import capture
from pipeline.runtime.stats import StageFigures
from pipeline.supervision.runner import Pipeline
from pipeline.view.overlay import draw_faces, to_jpeg

log = logging.getLogger("facegate.service")  # the name operators know
BOOT_WAIT_S = 60.0  # how long a start or add-camera request waits for the stages to be up

PROCESS_FIELDS = ("name", "kind", "pid", "alive", "frames_in", "frames_out", "fps", "ms_p50", "ms_p95", "faces",
                  "encodings", "drops", "lost", "queue_depth", "queue_hwm", "restarts", "cpu_s", "rss_mb")


class Service:
    def __init__(self, store: Store, settings: Settings, data_dir: str, log_level: str | None = None) -> None:
        self.store = store
        self.version = __version__
        self.started_at = time.time()
        self.workers = settings.workers
        self._pipeline = Pipeline(data_dir, settings, follow_config=True, log_level=log_level)
        self.running = False
        self.node_id = str(settings.node_id)
        self.max_cameras = settings.max_cameras
        self.held: set[str] = set()  # the cameras whose lease this node holds: the ones it runs
        self.agent: ClusterAgent | None = None
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._booted = threading.Event()  # stages up and the node in the cluster: the API may answer before
        self.retention = RetentionTimer(store, lambda: self.config().retention_days, settings.retention_every_s)

    # --- life cycle -----------------------------------------------------------------------------
    def boot(self, given: dict[str, Any], api_url: str) -> None:
        """Save what the command line set, start the stages, join the cluster, and resume recognition if it was on."""
        runtime = {k: v for k, v in given.items() if k not in PROCESS_ONLY}
        self.store.config.update(as_json(runtime))
        self._pipeline.start()
        node = NodeRow(self.node_id, socket.gethostname(), os.getpid(), api_url, self.max_cameras,
                       self.started_at, time.time())
        self.agent = ClusterAgent(self.store, node, wanted=lambda: list(self.cameras()), status=self.node_status,
                                  apply=self.follow_leases)
        self.agent.start()
        self.retention.start()
        log.info("node %s (up to %d cameras)", self.node_id, self.max_cameras)
        self._booted.set()
        resume = self.store.core.get_meta("running") == "1" or "stream_url" in given
        if resume and self.config().stream_url:
            log.info("resuming recognition")
            self.start()

    def shutdown(self) -> None:
        self._closing.set()
        self.retention.stop()
        self._pipeline.shutdown()
        if self.agent is not None:
            self.agent.stop()  # after the captures stopped: then another node may take the cameras

    def health(self) -> str:
        """`starting` until the stages are up and the node joined, `degraded` while a stage process is down, the
        store does not answer or the node shuts down, else `ok` (GET /api/health)."""
        if not self._booted.is_set():
            return "starting"
        if self._closing.is_set() or not all(row.alive for row in self._pipeline.stage_figures()):
            return "degraded"
        try:
            with self.store.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return "degraded"
        return "ok"

    def is_closing(self) -> bool:
        """True once shutdown began: long-lived responses (MJPEG) end so the server can stop."""
        return self._closing.is_set()

    # --- the interface the API uses -------------------------------------------------------------
    def config(self) -> Settings:
        """The runtime config of the store over the defaults, with this process's workers and (masked) database."""
        return replace(Settings.of(self.store.config.read()), workers=self.workers, database_url=self.store.shown_url)

    def camera_list(self) -> list[Camera]:
        """Every configured camera: the default one (from `stream_url`) first, then the `cameras` list."""
        config = self.config()
        default = _default_camera(config)
        return [*([default] if default is not None else []), *config.cameras]

    def cameras(self) -> dict[str, str]:
        """Camera id → stream URL of every enabled camera."""
        return {c.id: c.stream_url for c in self.camera_list() if c.enabled}

    def _reconcile(self) -> None:
        """Make the running captures match the configured cameras this node holds: one dead camera never
        touches the others."""
        wanted = {c: url for c, url in self.cameras().items() if c in self.held} if self.running else {}
        current = self._pipeline.cameras()
        for camera_id, url in current.items():
            if wanted.get(camera_id) != url:
                self._pipeline.remove_camera(camera_id)
        for camera_id, url in wanted.items():
            if current.get(camera_id) != url:
                self._pipeline.add_camera(camera_id, url)

    def start(self) -> None:
        with self._lock:
            cameras = self.cameras()
            if not cameras:
                raise ServiceError("no stream_url is configured: PUT /api/config {\"stream_url\": ...} first")
            self.running = True
            self.store.core.set_meta("running", "1")
            self._reconcile()
            self._wake_agent()
            log.info("recognition started on %s", ", ".join(f"{c} ({u})" for c, u in cameras.items()))
        self.store.core.after_commit(self._take_leases_now)

    def stop(self) -> None:
        with self._lock:
            self.running = False
            self.store.core.set_meta("running", "0")
            self._reconcile()
            self._wake_agent()
            log.info("recognition stopped")

    def follow_leases(self, held: set[str], running: bool) -> None:
        """The cluster agent's word: run these cameras (whether recognition is on is shared by all nodes)."""
        with self._lock:
            if running != self.running:
                log.info("recognition %s by another node", "started" if running else "stopped")
            self.held, self.running = set(held), running
            self._reconcile()

    def _wake_agent(self) -> None:
        """Have the cluster agent tick, once this request's change is committed (it reads it on its own
        connection)."""
        if self.agent is not None:
            self.store.core.after_commit(self.agent.wake)

    def _take_leases_now(self) -> None:
        """Take the leases now, so a request that started recognition or added a camera answers with the camera
        already connecting. Called without the service's lock (the agent's tick takes it, through apply) and
        after the request's change committed (the tick reads it, and writes on its own connection).
        A request that came while the service was still starting waits for that first (bounded)."""
        if not self._booted.wait(BOOT_WAIT_S):
            return
        if self.agent is not None:
            self.agent.tick()

    def update_config(self, updates: Mapping[str, Any]) -> Settings:
        cleaned = validate(updates, runtime_only=True)
        with self._lock:
            self.store.config.update(as_json(cleaned))
            self._reconcile()
            self._wake_agent()
        log.info("config updated: %s", ", ".join(f"{k}={v}" for k, v in cleaned.items()))
        return self.config()

    # --- cameras (GET/POST /api/cameras, PUT/DELETE /api/cameras/<id>) ---------------------------
    def _save_cameras(self, cameras: Sequence[Camera]) -> None:
        with self._lock:
            self.store.config.update(as_json(validate({"cameras": list(cameras)})))
            self._reconcile()
            self._wake_agent()

    def add_camera(self, camera: Mapping[str, Any]) -> Camera:
        entry = check_camera(camera)
        with self._lock:
            if any(c.id == entry.id for c in self.camera_list()):
                raise Conflict(f"camera {entry.id!r} exists already")
            self._save_cameras([*self.config().cameras, entry])
        self.store.core.after_commit(self._take_leases_now)
        return entry

    def update_camera(self, camera_id: str, changes: Mapping[str, Any]) -> Camera | None:
        with self._lock:
            config = self.config()
            current = next((c for c in self.camera_list() if c.id == camera_id), None)
            if current is None:
                return None
            entry = check_camera({**current.to_dict(), **changes, "id": camera_id})
            if current == _default_camera(config) and changes.get("detect_fps") is not None:
                raise SettingError("the default camera follows the global detect_fps: "
                                   "PUT /api/config {\"detect_fps\": ...} (or add it to cameras)")
            if current == _default_camera(config):
                self.update_config({"stream_url": entry.stream_url})
                return entry
            self._save_cameras([entry if c.id == camera_id else c for c in config.cameras])
        return entry

    def delete_camera(self, camera_id: str) -> bool:
        with self._lock:
            config = self.config()
            current = next((c for c in self.camera_list() if c.id == camera_id), None)
            if current is None:
                return False
            if current == _default_camera(config):
                self.store.config.update({"stream_url": None})
                self._reconcile()
                self._wake_agent()
            else:
                self._save_cameras([c for c in config.cameras if c.id != camera_id])
        return True

    def snapshot(self, camera_id: str) -> bytes | None:
        """The camera's latest frame with faces drawn, as JPEG; None before its first frame."""
        view = self._pipeline.latest_view(camera_id)
        if view is None:
            return None
        frame, result = view
        return to_jpeg(draw_faces(frame, result))

    def _camera_state(self, camera: Camera, default_fps: float) -> dict[str, Any]:
        """A camera as this node sees it (stopped unless this node runs it)."""
        camera_id = camera.id
        state = self._pipeline.camera_status.get(camera_id)
        active = self.running and camera.enabled and camera_id in self.held
        return {
            "id": camera_id, "name": camera.name, "stream_url": camera.stream_url, "enabled": camera.enabled,
            "detect_fps": default_fps if camera.detect_fps is None else camera.detect_fps,  # its own, else the global
            "state": (state.state if state else "connecting") if active else "stopped",
            "error": state.error if state and active else None,
            "fps": round(self._capture_fps(camera_id), 1) if active else 0.0,
            "width": state.width if state else 0, "height": state.height if state else 0,
            "node": self.node_id if active else None,
        }

    def node_status(self) -> dict[str, Any]:
        """What this node tells the others in its heartbeat: its cameras' states and its stage figures."""
        config = self.config()
        mine = [self._camera_state(c, config.detect_fps) for c in self.camera_list() if c.id in self.held]
        return {"running": self.running, "version": self.version, "workers": self.workers,
                "cameras": {c["id"]: {k: c[k] for k in ("state", "error", "fps", "width", "height")} for c in mine},
                "stages": self._pipeline.figures_by_kind()}

    def _holders(self) -> dict[str, NodeRow]:
        """Camera id -> the live node holding it, other than this one."""
        tables = self.store.cluster
        now = time.time()
        live = {n.node_id: n for n in tables.nodes() if n.node_id != self.node_id and n.alive(now, NODE_TIMEOUT_S)}
        return {c: live[lease.node_id] for c, lease in tables.leases().items()
                if lease.live(now) and lease.node_id in live}

    def status(self) -> dict[str, Any]:
        """Every camera of the cluster: run here, or as its node said in its last heartbeat."""
        config = self.config()
        holders = self._holders()
        cameras = []
        for camera in self.camera_list():
            entry = self._camera_state(camera, config.detect_fps)
            holder = holders.get(camera.id)
            if holder is not None and camera.id not in self.held:
                entry.update(holder.status.get("cameras", {}).get(camera.id, {}), node=holder.node_id)
            cameras.append(entry)
        return {"running": self.running, "stream_url": config.stream_url, "cameras": cameras,
                "workers": self.workers, "node": self.node_id}

    def nodes(self) -> list[dict[str, Any]]:
        """Every node that shares the database: its cameras, capacity and last heartbeat."""
        tables = self.store.cluster
        now = time.time()
        leases = tables.leases()
        listed = []
        for node in tables.nodes():
            held = sorted(c for c, lease in leases.items() if lease.node_id == node.node_id and lease.live(now))
            listed.append({
                "id": node.node_id, "host": node.host, "pid": node.pid, "api_url": node.api_url,
                "alive": node.alive(now, NODE_TIMEOUT_S), "cameras": held, "max_cameras": node.max_cameras,
                "last_heartbeat": iso_now(node.heartbeat_at), "heartbeat_age_s": round(now - node.heartbeat_at, 1),
                "started_at": iso_now(node.started_at), "this_node": node.node_id == self.node_id,
                "stages": node.status.get("stages", {}),
            })
        return listed

    def camera_home(self, camera_id: str) -> str | None:
        """The API URL of the other node that runs this camera; None when it is this one (or none)."""
        if camera_id in self.held:
            return None
        holder = self._holders().get(camera_id)
        return holder.api_url if holder is not None else None

    def _capture_fps(self, camera_id: str) -> float:
        for row in self._pipeline.stage_figures():
            if row.name == capture.stage_name(camera_id):
                return row.fps
        return 0.0

    def stats(self) -> dict[str, Any]:
        return {"stages": self._pipeline.figures_by_kind(), "processes": [
            {k: getattr(row, k) for k in PROCESS_FIELDS}
            for row in self._pipeline.stage_figures()
        ], "events": self._pipeline.events}

    def stage_figures(self) -> list[StageFigures]:
        """One row of counters per stage process (for /metrics)."""
        return self._pipeline.stage_figures()

    def gallery_changed(self) -> None:
        """Nothing to push: match re-reads the gallery within half a second of its version moving."""


def _default_camera(config: Settings) -> Camera | None:
    """The camera `stream_url` names (as `camera_id`), unless `cameras` holds one of that id."""
    if not config.stream_url or config.camera(config.camera_id) is not None:
        return None
    return Camera(config.camera_id, config.stream_url)


def serve(store: Store, settings: Settings, given: dict[str, Any], *, host: str, port: int,
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
        server = ApiServer(make_app(service, host=host, settings=settings), host, port)
        try:
            server.start()
        except OSError as exc:
            raise SettingError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        service.boot(given, advertised_url(host, server.port))
        log.info("facegate %s: API on http://%s:%d/api, %d detect workers, data in %s", __version__, host,
                 server.port, service.workers, store.data_dir)
        while not stop.wait(0.5):
            pass
    finally:
        service._closing.set()
        if server is not None:
            server.stop()
        service.shutdown()
        log.info("stopped")
    return 0
