"""A real HTTP webhook receiver on 127.0.0.1 for the tests: it records, refuses, stalls or goes away."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_MAX_S = 120.0


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str
    answered: int
    at: float = field(default_factory=time.monotonic)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:port in a thread of its own (the port can be reused at once)."""
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def close(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


class WebhookReceiver:
    """Answers `status` (after `delay_s`) to every POST and keeps what it was sent; start/stop keep the port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.status = 200
        self.delay_s = 0.0
        self.refuse_first = 0  # answer 500 to this many requests before `status`
        self.location: str | None = None  # sent as Location (with a 3xx status: a redirect)
        self.hold = threading.Event()  # while set, every request waits (at most HOLD_MAX_S) for `release`
        self.release = threading.Event()
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/facial-recognition/webhook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver._lock:
                    status = receiver.status
                    if receiver.refuse_first > 0:
                        receiver.refuse_first -= 1
                        status = 500
                    receiver.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body, status))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if receiver.hold.is_set():
                    receiver.release.wait(HOLD_MAX_S)
                try:
                    self.send_response(status)
                    if receiver.location is not None:
                        self.send_header("Location", receiver.location)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve(self.port, Handler)
        return self

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        close(self._server)
        self._server = None

    def accepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if 200 <= d.answered < 300]

    def accepted_ids(self) -> set[str]:
        return {d.headers.get("webhook-id", "") for d in self.accepted()}

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return bool(predicate())
