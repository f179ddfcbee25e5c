"""A small MJPEG-over-HTTP camera on 127.0.0.1 for tests: serves a video's frames in a loop.

It can be stopped and started again on the same port, as a camera that reboots would.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

BOUNDARY = "facegateframe"


def load_jpegs(video: Path, limit: int = 300) -> list[bytes]:
    """The video's frames as JPEG bytes (decoded once, served many times)."""
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    return frames


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MjpegCamera:
    """`start()` / `stop()` an MJPEG stream at http://127.0.0.1:<port>/stream.mjpg at `fps`."""

    def __init__(self, jpegs: list[bytes], port: int | None = None, fps: float = 30.0) -> None:
        self.jpegs, self.fps = jpegs, fps
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.served = 0
        self._server: ThreadingHTTPServer | None = None
        self._running = threading.Event()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                index = 0
                next_at = time.monotonic()
                try:
                    while camera._running.is_set():
                        jpeg = camera.jpegs[index % len(camera.jpegs)]
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                            + jpeg
                            + b"\r\n"
                        )
                        camera.served += 1
                        index += 1
                        next_at += 1.0 / camera.fps
                        time.sleep(max(0.0, next_at - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

        return Handler

    def start(self) -> MjpegCamera:
        self._running.set()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        server.allow_reuse_address = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listening socket and cut every open stream, like a camera losing power."""
        self._running.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
