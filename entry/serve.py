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
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from control.service_api import Conflict, ServiceError
from entry.node_agent import NODE_TIMEOUT_S, TICK_S, ClusterAgent, advertised_url
from entry.presence_timer import PresenceTimer
from entry.retention_timer import RetentionTimer
from facegate import __version__, camera_source
from facegate.camera import Camera, check_camera
from facegate.camera_board import STOPPED, ClusterState, ThisNode, board, by_state
from facegate.camera_settings import camera_of, default_camera_id, stored_settings, write_settings
from facegate.procutil import stacks_if_slow, stacks_on_sigusr1
from facegate.settings import PROCESS_ONLY, SettingError, Settings, validate
from facegate.sizing import costed, node_max_cameras
from facegate.store import CameraExists, NodeRow, Store, iso_now
from pipeline import capture
from pipeline.runtime.stats import StageFigures
from pipeline.supervision.runner import Pipeline
from pipeline.view.camera_regions import CameraRegions
from pipeline.view.overlay import draw_faces, shade_regions, to_jpeg

log = logging.getLogger("facegate.service")  # the name operators know
STATUS_LISTED = 20  # cameras GET /api/status lists (the seed's 16 and a few); /api/cameras pages through all
BOOT_WAIT_S = 60.0  # how long a start or add-camera request waits for the stages to be up
SLOW_STOP_S = 8.0  # a stop still going after this writes every thread's stack to the log: before Docker's 10 s kill


class Service:
    def __init__(self, store: Store, settings: Settings, data_dir: str, log_level: str | None = None) -> None:
        self.store = store
        self.version = __version__
        self.started_at = time.time()
        self.workers = settings.workers
        self._pipeline = Pipeline(data_dir, settings, follow_config=True, log_level=log_level)
        self._regions = CameraRegions(store)  # what the snapshots shade
        self.running = False
        self._said: tuple[bool, float] | None = None  # what this node last wrote to `running`, and when
        self.node_id = str(settings.node_id)
        self.max_cameras = node_max_cameras(settings.max_cameras, costed(settings.face_detector, settings.hog_input))
        self.held: set[str] = set()  # the cameras whose lease this node holds: the ones it runs
        self.agent: ClusterAgent | None = None
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._booted = threading.Event()  # stages up and the node in the cluster: the API may answer before
        self.retention = RetentionTimer(store, lambda: self.config().retention_days, settings.retention_every_s)
        self.presence = PresenceTimer(store, lambda: Settings.of(store.config.read()).presence_window_s)

    # --- life cycle -----------------------------------------------------------------------------
    def boot(self, given: dict[str, Any], api_url: str) -> None:
        """Save what the command line set, start the stages, join the cluster, and resume recognition if it was on."""
        runtime = {k: v for k, v in given.items() if k not in PROCESS_ONLY}
        write_settings(self.store, runtime)
        self._pipeline.start()
        node = NodeRow(
            self.node_id, socket.gethostname(), os.getpid(), api_url, self.max_cameras, self.started_at, time.time()
        )
        self.agent = ClusterAgent(
            self.store, node, wanted=lambda: list(self.cameras()), status=self.node_status, apply=self.follow_leases
        )
        self.agent.start()
        self.retention.start()
        self.presence.start()
        log.info("node %s (up to %d cameras)", self.node_id, self.max_cameras)
        self._booted.set()
        resume = self.store.core.get_meta("running") == "1" or "stream_url" in given
        if resume and self.cameras():
            log.info("resuming recognition")
            self.start()

    def shutdown(self) -> None:
        self._closing.set()
        self.retention.stop()
        self.presence.stop()
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
        """The runtime config of the store over the defaults (the cameras from their rows), with this process's
        workers and (masked) database."""
        stored = Settings.of(stored_settings(self.store))
        return replace(stored, workers=self.workers, database_url=self.store.shown_url)

    def camera_list(self) -> list[Camera]:
        """Every camera as stored, oldest first; the default camera (`stream_url`) among them."""
        return [camera_of(row) for row in self.store.cameras.all()]

    def cameras(self) -> dict[str, str]:
        """Camera id → stream URL of every enabled camera."""
        return {c.id: c.stream_url for c in self.camera_list() if c.enabled}

    def _reconcile(self) -> None:
        """Make the running captures match the configured cameras this node holds: one dead camera never
        touches the others. Holding none needs no database (the node agent stops them so when it lost it)."""
        wanted = {c: url for c, url in self.cameras().items() if c in self.held} if self.running and self.held else {}
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
                raise ServiceError('no stream_url is configured: PUT /api/config {"stream_url": ...} first')
            self._say_running(True)
            self._reconcile()
            self._wake_agent()
            log.info("recognition started on %s", ", ".join(f"{c} ({u})" for c, u in cameras.items()))
        self.store.core.after_commit(self._take_leases_now)

    def stop(self) -> None:
        with self._lock:
            self._say_running(False)
            self._reconcile()
            self._wake_agent()
            log.info("recognition stopped")

    def _say_running(self, running: bool) -> None:
        self.running = running
        self._said = (running, time.monotonic())
        self.store.core.set_meta("running", "1" if running else "0")

    def _heard_running(self, read: bool) -> bool:
        """Whether recognition runs, as the agent read it, unless this node wrote the other value moments ago:
        a round that read before that write committed is stale (the round woken after the commit reads it)."""
        if self._said is not None:
            said, at = self._said
            if read == said or time.monotonic() - at > 2 * TICK_S:
                self._said = None
            else:
                return said
        return read

    def follow_leases(self, held: set[str], running: bool) -> None:
        """The cluster agent's word: run these cameras (whether recognition is on is shared by all nodes)."""
        with self._lock:
            running = self._heard_running(running)
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
        sent = {c.id: c.stream_url for c in cleaned.get("cameras") or ()}
        if cleaned.get("stream_url") is not None:
            sent[str(cleaned.get("camera_id") or self.config().camera_id)] = cleaned["stream_url"]
        self._check_sent_sources(sent)
        with self._lock:
            write_settings(self.store, cleaned)
            self._reconcile()
            self._wake_agent()
        log.info("config updated: %s", ", ".join(f"{k}={v}" for k, v in cleaned.items()))
        return self.config()

    def _check_sent_sources(self, sent: Mapping[str, str], stored: Mapping[str, Any] | None = None) -> None:
        """Sources sent through the API (camera id -> URL): files only inside the media dir, except that a
        camera keeps the source it has (`stored`, camera id -> URL, by default read now), since the
        operator's command line may name any file."""
        if stored is None:
            stored = {c.id: c.stream_url for c in self.camera_list()}
        try:
            for camera_id, url in sent.items():
                if url != stored.get(camera_id):
                    camera_source.check_api_source(url, self.store.data_dir)
        except camera_source.SourceError as exc:
            raise SettingError(str(exc)) from None

    # --- cameras (GET/POST /api/cameras, PUT/DELETE /api/cameras/<id>): rows, one write each ---------
    def _cameras_changed(self) -> None:
        with self._lock:
            self._reconcile()
            self._wake_agent()

    def add_camera(self, camera: Mapping[str, Any]) -> Camera:
        """Store a new camera (Conflict when its id is taken); it is placed on a node with room, or waits."""
        entry = check_camera(camera)
        self._check_sent_sources({entry.id: entry.stream_url})
        try:
            self.store.cameras.add(entry.to_dict())
        except CameraExists as exc:
            raise Conflict(str(exc)) from None
        self._cameras_changed()
        self.store.core.after_commit(self._take_leases_now)
        return entry

    def update_camera(self, camera_id: str, changes: Mapping[str, Any]) -> Camera | None:
        """Merge `changes` into the stored camera, checked, in one transaction; None when there is no such camera."""
        if changes.get("detect_fps") is not None and camera_id == default_camera_id(self.store.config.read()):
            raise Conflict(
                "the default camera follows the global detect_fps: "
                'PUT /api/config {"detect_fps": ...} (or add it to cameras)'
            )

        def changed(stored: dict[str, Any]) -> dict[str, Any]:
            entry = check_camera({**Camera.from_dict(stored).to_dict(), **changes, "id": camera_id})
            self._check_sent_sources({camera_id: entry.stream_url}, {camera_id: stored.get("stream_url")})
            return entry.to_dict()

        row = self.store.cameras.update(camera_id, changed)
        if row is None:
            return None
        self._cameras_changed()
        return camera_of(row)

    def delete_camera(self, camera_id: str) -> bool:
        if not self.store.cameras.delete(camera_id):
            return False
        self._cameras_changed()
        return True

    def snapshot(self, camera_id: str) -> bytes | None:
        """The camera's latest frame with faces drawn and its ignored regions shaded, as JPEG; None before its
        first frame."""
        view = self._pipeline.latest_view(camera_id)
        if view is None:
            return None
        frame, result = view
        return to_jpeg(draw_faces(shade_regions(frame, self._regions.of(camera_id)), result))

    def _seen(self, camera_id: str) -> dict[str, Any]:
        """How a camera this node runs is doing: its capture's state and figures."""
        state = self._pipeline.camera_status.get(camera_id)
        return {
            "state": state.state if state else "connecting",
            "error": state.error if state else None,
            "fps": round(self._capture_fps(camera_id), 1),
            "width": state.width if state else 0,
            "height": state.height if state else 0,
        }

    def node_status(self) -> dict[str, Any]:
        """What this node tells the others in its heartbeat: its cameras' states and its stage figures."""
        running = self.running
        return {
            "running": running,
            "version": self.version,
            "workers": self.workers,
            "cameras": {c: self._seen(c) if running else STOPPED for c in sorted(self.held)},
            "stages": self._pipeline.figures_by_kind(),
        }

    def camera_board(self) -> list[dict[str, Any]]:
        """Every camera of the cluster, oldest first: run here, as its node said in its last heartbeat, or waiting."""
        cluster = ClusterState(
            self.store.cameras.all(),
            self.store.cluster.leases(),
            self.store.cluster.nodes(),
            time.time(),
            NODE_TIMEOUT_S,
        )
        here = ThisNode(self.node_id, set(self.held), self.running, self._seen)
        return board(cluster, here, Settings.of(self.store.config.read()))

    def status(self) -> dict[str, Any]:
        """Recognition on or off, the default camera, and the cameras counted by state (the first few listed)."""
        cameras = self.camera_board()
        return {
            "running": self.running,
            "stream_url": self.config().stream_url,
            "cameras": cameras[:STATUS_LISTED],
            "cameras_total": len(cameras),
            "camera_states": by_state(cameras),
            "workers": self.workers,
            "node": self.node_id,
        }

    def _holders(self) -> dict[str, NodeRow]:
        """Camera id -> the live node holding it, other than this one."""
        tables = self.store.cluster
        now = time.time()
        live = {n.node_id: n for n in tables.nodes() if n.node_id != self.node_id and n.alive(now, NODE_TIMEOUT_S)}
        return {
            c: live[lease.node_id] for c, lease in tables.leases().items() if lease.live(now) and lease.node_id in live
        }

    def nodes(self) -> list[dict[str, Any]]:
        """Every node that shares the database: its cameras, capacity and last heartbeat."""
        tables = self.store.cluster
        now = time.time()
        leases = tables.leases()
        listed = []
        for node in tables.nodes():
            held = sorted(c for c, lease in leases.items() if lease.node_id == node.node_id and lease.live(now))
            listed.append(
                {
                    "id": node.node_id,
                    "host": node.host,
                    "pid": node.pid,
                    "api_url": node.api_url,
                    "alive": node.alive(now, NODE_TIMEOUT_S),
                    "cameras": held,
                    "max_cameras": node.max_cameras,
                    "last_heartbeat": iso_now(node.heartbeat_at),
                    "heartbeat_age_s": round(now - node.heartbeat_at, 1),
                    "started_at": iso_now(node.started_at),
                    "this_node": node.node_id == self.node_id,
                    "stages": node.status.get("stages", {}),
                }
            )
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
        return {
            "stages": self._pipeline.figures_by_kind(),
            "processes": [row.shown() for row in self._pipeline.stage_figures()],
            "events": self._pipeline.events,
        }

    def stage_figures(self) -> list[StageFigures]:
        """One row of counters per stage process (for /metrics)."""
        return self._pipeline.stage_figures()

    def gallery_changed(self) -> None:
        """Nothing to push: match re-reads the gallery within half a second of its version moving."""


def serve(
    store: Store,
    settings: Settings,
    given: dict[str, Any],
    *,
    host: str,
    port: int,
    log_level: str | None = None,
    auth_on: bool = True,
    allowed_hosts: str = "",
) -> int:
    """Run until SIGTERM or SIGINT; returns the exit code. Closed unless `auth_on` is false (entry/admin_token.py);
    `allowed_hosts` (a comma list) replaces the default Host names (control/hosts.py)."""
    from control import hosts
    from control.app import make_app
    from control.server import ApiServer
    from entry.admin_token import access, announce

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stacks_on_sigusr1()
    tokens = access(store.data_dir, auth_on)
    names = hosts.parse_hosts(allowed_hosts) or hosts.default_hosts(host, urlsplit(advertised_url(host, port)).hostname)
    service = Service(store, settings, str(store.data_dir), log_level)
    server = None
    try:
        app = make_app(
            service, token=tokens.token, read_token=tokens.read_token, host=host, settings=settings, allowed_hosts=names
        )
        server = ApiServer(app, host, port)
        try:
            server.start()
        except OSError as exc:
            raise SettingError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        if tokens.admin is not None:
            shown = "localhost" if host in hosts.WILDCARDS else f"[{host}]" if ":" in host else host
            announce(tokens.admin, f"http://{shown}:{server.port}/")
        service.boot(given, advertised_url(host, server.port))
        running = (__version__, host, server.port, service.workers, store.data_dir)
        log.info("facegate %s: API on http://%s:%d/api, %d detect workers, data in %s", *running)
        while not stop.wait(0.5):
            pass
    finally:
        with stacks_if_slow(SLOW_STOP_S):  # a stop that hangs says where
            service._closing.set()
            if server is not None:
                log.info("stopping the API server")
                server.stop()
            log.info("stopping the pipeline")
            service.shutdown()
        log.info("stopped")
    return 0
