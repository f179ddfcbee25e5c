"""The system of record: persons, encodings, results, the webhook outbox, visitors, runtime config, cameras and nodes.

SQLite in the data dir (WAL, so the emitter writes while the API reads) for one machine, or
PostgreSQL (`FACEGATE_DATABASE_URL`) when several machines share one store. The SQL is written
once with SQLAlchemy Core and runs on both; the schema is brought up to date by the migrations
in `facegate/db` when a store opens. Every process opens its own `Store`, with its own pool.

`Store` only assembles: the core (core.py: engine, transactions, meta, version counters) and
one record class per kind of record, each in its own module and reached as an attribute:
`store.gallery` (people.py), `store.results` (results.py), `store.outbox` (outbox.py),
`store.endpoints` (endpoints.py), `store.unknown` (unknown_faces.py), `store.visitors` (visitors.py),
`store.visits` (visits.py), `store.attendance` (attendance_slots.py), `store.config`
(runtime_config.py), `store.cameras` (cameras.py), `store.cluster` (nodes.py) and `store.retention`
(retention.py).
"""

from __future__ import annotations

from pathlib import Path

from facegate.store.attendance_slots import AttendanceRecords
from facegate.store.cameras import CameraExists, CameraRecords, CameraRow
from facegate.store.core import DB_NAME, StoreCore, StoreError, iso_now, new_event_id
from facegate.store.endpoints import EndpointRecords
from facegate.store.nodes import Lease, NodeRecords, NodeRow
from facegate.store.outbox import OutboxRecords, OutboxStatus
from facegate.store.people import GalleryRecords, NameInUse
from facegate.store.results import ResultRecords, Sighting, SightingRows
from facegate.store.retention import Forgotten, RetentionRecords
from facegate.store.runtime_config import ConfigRecords
from facegate.store.unknown_faces import UnknownFaceRecords
from facegate.store.visitors import VISITOR_FACES_KEPT, VisitorRecords
from facegate.store.visits import VisitRecords

__all__ = [
    "DB_NAME",
    "VISITOR_FACES_KEPT",
    "CameraExists",
    "CameraRow",
    "Forgotten",
    "Lease",
    "NameInUse",
    "NodeRow",
    "OutboxStatus",
    "Sighting",
    "SightingRows",
    "Store",
    "StoreError",
    "iso_now",
    "new_event_id",
]


class Store:
    """The store of one data dir: SQLite there, or the PostgreSQL database of `database_url`.

    `database_url` None reads `FACEGATE_DATABASE_URL`; "" (or unset) is SQLite in the data dir.
    """

    def __init__(self, data_dir: str | Path, database_url: str | None = None) -> None:
        self.core = core = StoreCore(data_dir, database_url)
        self.data_dir, self.url, self.path, self.shown_url = core.data_dir, core.url, core.path, core.shown_url
        self.backend, self.engine = core.backend, core.engine
        self.gallery = GalleryRecords(core)
        self.visitors = VisitorRecords(core)
        self.endpoints = EndpointRecords(core)
        self.outbox = OutboxRecords(core, self.endpoints)
        self.results = ResultRecords(core, self.visitors, self.outbox)
        self.unknown = UnknownFaceRecords(core)
        self.attendance = AttendanceRecords(core)
        self.visits = VisitRecords(core, self.attendance, self.outbox)
        self.config = ConfigRecords(core)
        self.cameras = CameraRecords(core)
        self.cluster = NodeRecords(core)
        self.retention = RetentionRecords(core, UnknownFaceRecords.KEEP_S)

    def describe(self) -> str:
        """Where the data lives, for logs (no password)."""
        return self.core.describe()

    def close(self) -> None:
        """Close every pooled connection."""
        self.core.close()
