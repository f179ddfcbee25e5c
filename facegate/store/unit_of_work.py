"""A unit of work: every write a piece of code makes through one store commits together, or none does.

The API opens one around each request that changes something (control/audit_plugin.py), so the
change and its audit row are one transaction: the audit row cannot be skipped, and a change whose
row cannot be written is rolled back. Inside a unit, `StoreCore.transaction()` joins the unit's
connection (a savepoint per call, so a record class that catches its own error keeps the rest),
and reads made after the first write see it. The connection is opened at the first write, so a
request that only reads holds no lock. Work that must see the change committed (waking the
cluster agent, checkpointing SQLite's WAL) is deferred with `after_commit`.

The unit lives in a context variable: only the thread (or task) that opened it joins it; the
other threads of the process (the cluster agent, the retention timer) keep their own transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from sqlalchemy.engine import Connection, Engine, RootTransaction

log = logging.getLogger(__name__)

_CURRENT: ContextVar[UnitOfWork | None] = ContextVar("facegate_unit_of_work", default=None)


class UnitOfWork:
    """One transaction on `writer` (an engine with write=True), begun at the first write."""

    def __init__(self, writer: Engine) -> None:
        self.writer = writer
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._after: list[Callable[[], Any]] = []

    @property
    def is_open(self) -> bool:
        """True once something wrote (or `connection()` was asked for)."""
        return self._connection is not None

    def connection(self) -> Connection:
        """The unit's connection, its transaction begun (on SQLite: the write lock taken)."""
        if self._connection is None:
            self._connection = self.writer.connect()
            self._transaction = self._connection.begin()
        return self._connection

    def after_commit(self, work: Callable[[], Any]) -> None:
        """Run `work` once the unit has committed (never, if it rolls back)."""
        self._after.append(work)

    def finish(self, commit: bool) -> None:
        """Commit (or roll back) and close; after a commit, run the deferred work."""
        connection, transaction, self._connection, self._transaction = self._connection, self._transaction, None, None
        after, self._after = self._after, []
        if connection is not None and transaction is not None:
            try:
                if commit:
                    transaction.commit()
                else:
                    transaction.rollback()
            finally:
                connection.close()
        if commit:
            for work in after:
                try:
                    work()
                except Exception:  # the change stands; what follows it is best effort
                    log.exception("work after a commit failed")


def current_unit(writer: Engine) -> UnitOfWork | None:
    """The unit this thread opened on `writer`'s database, if any."""
    unit = _CURRENT.get()
    return unit if unit is not None and unit.writer is writer else None


def enter_unit(unit: UnitOfWork) -> Any:
    """Make `unit` this thread's; returns the token `leave_unit` takes."""
    return _CURRENT.set(unit)


def leave_unit(token: Any) -> None:
    """Forget the unit `enter_unit` set."""
    _CURRENT.reset(token)
