"""Riding out a database that is briefly gone (a PostgreSQL restart or failover) without losing work.

The pool replaces dead connections on their next use (`pool_pre_ping`); what a stage was doing
when the database went away is retried here, once a second, with one log line for the outage
and one for its end, instead of the stage dying with what it held.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
log = logging.getLogger(__name__)


def patiently(action: Callable[[], T], *, what: str, stopping: Callable[[], bool], pause_s: float = 1.0) -> T | None:
    """`action()`, retried while the database cannot be reached; None only if `stopping()` said so first."""
    failed_since = None
    while True:
        try:
            done = action()
        except DBAPIError as exc:
            if failed_since is None:
                failed_since = time.monotonic()
                log.warning(
                    "database unreachable while %s (%s); retrying every %g s",
                    what,
                    " ".join(str(exc.orig or exc).split())[:200],
                    pause_s,
                )
            if stopping():
                log.error("stopping while the database is unreachable: %s was not done", what)
                return None
            time.sleep(pause_s)
            continue
        if failed_since is not None:
            log.info("database reachable again: %s done after %.1f s", what, time.monotonic() - failed_since)
        return done
