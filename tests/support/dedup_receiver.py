"""A webhook receiver on 127.0.0.1 as a careful production one is: it drops a `webhook-id` it already
took, refuses the first attempts of each event, and records whether two posts of one event ever
overlapped in time (what claims must prevent)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.webhook_receiver import close, free_port, serve


class DedupReceiver:
    def __init__(self, refuse_first: int = 1, delay_s: float = 0.0) -> None:
        self.port = free_port()
        self.refuse_first = refuse_first  # 503 to this many attempts of each webhook-id
        self.delay_s = delay_s
        self.attempts: Counter[str] = Counter()
        self.taken: dict[str, int] = {}  # webhook-id -> times accepted (2xx) before being a duplicate
        self.duplicates: Counter[str] = Counter()  # posts of an id already taken (answered 200, dropped)
        self.in_flight: Counter[str] = Counter()
        self.overlaps: list[str] = []  # ids posted while another post of the same id was still open
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/facial-recognition/webhook"

    def start(self) -> DedupReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event_id = self.headers.get("webhook-id", "")
                with receiver._lock:
                    if receiver.in_flight[event_id]:
                        receiver.overlaps.append(event_id)
                    receiver.in_flight[event_id] += 1
                    receiver.attempts[event_id] += 1
                    refuse = receiver.attempts[event_id] <= receiver.refuse_first
                try:
                    if receiver.delay_s:
                        time.sleep(receiver.delay_s)
                    with receiver._lock:
                        if not refuse:
                            if event_id in receiver.taken:
                                receiver.duplicates[event_id] += 1
                            else:
                                receiver.taken[event_id] = 1
                    self.send_response(503 if refuse else 200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass
                finally:
                    with receiver._lock:
                        receiver.in_flight[event_id] -= 1

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve(self.port, Handler)
        return self

    def stop(self) -> None:
        close(self._server)
        self._server = None

    def taken_ids(self) -> set[str]:
        with self._lock:
            return set(self.taken)
