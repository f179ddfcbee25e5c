"""PostgreSQL LISTEN in a thread of its own: a NOTIFY from any node sets `changed` at once.

The store NOTIFYs `facegate_<counter>` in the transaction that moves a version counter (the
gallery's, the config's). A listener is only a shortcut: whoever waits on it still polls the
counter as the fallback, and every (re)connection sets `changed` too, since a notification sent
while the connection was down is gone.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

RECONNECT_S = 1.0


def conninfo(url: URL) -> str:
    """The SQLAlchemy URL as libpq takes it."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    def __init__(self, url: URL, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.changed = threading.Event()
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    conninfo(self.url), autocommit=True, connect_timeout=5, application_name="facegate-listen"
                ) as connection:
                    connection.execute(f'LISTEN "{self.channel}"')
                    self.connected = True
                    self.changed.set()
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            self.changed.set()
            except psycopg.Error as exc:
                if self.connected:
                    log.warning(
                        "LISTEN %s lost (%s); polling until it is back", self.channel, " ".join(str(exc).split())[:200]
                    )
                self.connected = False
                self._stop.wait(RECONNECT_S)
