"""The API on waitress, a threaded production WSGI server, started and stopped from the supervisor."""

from __future__ import annotations

import logging
import threading
from typing import Any

from waitress.server import create_server

from control.validation import MAX_BODY_BYTES

log = logging.getLogger(__name__)


class ApiServer:
    """`start()` binds (so a busy port fails at once) and serves in a thread; `stop()` closes every connection."""

    def __init__(self, app: Any, host: str, port: int, threads: int = 8) -> None:
        self.app, self.host, self.requested_port, self.threads = app, host, port, threads
        self._server: Any = None  # waitress's stubs leave out its effective_port and socket map, used below
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port) if self._server is not None else self.requested_port

    def start(self) -> None:
        self._server = create_server(
            self.app,
            host=self.host,
            port=self.requested_port,
            threads=self.threads,
            ident="facegate",
            max_request_body_size=4 * MAX_BODY_BYTES,
            channel_timeout=60,
            clear_untrusted_proxy_headers=True,
        )
        self._thread = threading.Thread(target=self._serve, name="api-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            pass  # closed under it by stop()

    def stop(self, timeout: float = 5.0) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
        logging.getLogger("waitress").setLevel(logging.ERROR)
        for channel in list(server._map.values()):
            channel.handle_close()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        close = getattr(self.app, "close", None)
        if close is not None:
            close()  # the app's resources: its face-detection processes, the audit trail
