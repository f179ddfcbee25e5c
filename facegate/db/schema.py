"""The tables the store reads and writes, as SQLAlchemy Core objects shared by both backends.

This is the current shape of the schema; how a database gets there is the job of the versioned
migrations in `facegate/db/migrations` (a test checks that the two agree on both backends).
Times the code compares are epoch seconds in double precision; the ISO-8601 texts are what the
API shows.
"""

from __future__ import annotations

import sqlalchemy as sa

# BIGINT keys on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the rowid, and AUTOINCREMENT
# keeps ids from being reused, which "newest first" and the unknown-face trim rely on.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Seconds: sa.Double[float] = sa.Double()

metadata = sa.MetaData()

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text),
    sa.Column("image_url", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("persons_name", "name", unique=True),
    sqlite_autoincrement=True,
)

encodings = sa.Table(
    "encodings",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # 128 float64, little-endian
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("jpeg", sa.LargeBinary),  # the face crop of the photo it came from (0005)
    sa.Index("encodings_person", "person_id"),
    sqlite_autoincrement=True,
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Text, nullable=False, unique=True),
    sa.Column("timestamp", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("confidence", sa.Double, nullable=False),
    sa.Column("distance", sa.Double, nullable=False),
    sa.Column("box_top", sa.Integer, nullable=False),
    sa.Column("box_right", sa.Integer, nullable=False),
    sa.Column("box_bottom", sa.Integer, nullable=False),
    sa.Column("box_left", sa.Integer, nullable=False),
    sa.Column("camera_id", sa.Text),
    sa.Column("stream_url", sa.Text),
    sa.Column("created", Seconds, nullable=False),
    sa.Column("vector", sa.LargeBinary),  # the sighting's encoding, for search by photo and rejects (0005)
    sa.Column("jpeg", sa.LargeBinary),  # its face crop (0005)
    sa.Column("visitor_id", Id),  # the visitor an unknown face belongs to (0005)
    sa.Index("results_name", "name", "id"),
    sa.Index("results_created", "created"),
    sa.Index("results_visitor", "visitor_id"),
    sqlite_autoincrement=True,
)

outbox = sa.Table(
    "outbox",
    metadata,  # one row per event and endpoint it is sent to (0007)
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("endpoint_id", sa.Text, primary_key=True, server_default="default"),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Seconds, nullable=False),
    sa.Column("created", Seconds, nullable=False),
    sa.Column("delivered", Seconds),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_by", sa.Text),  # node id holding the delivery, while claimed_until is ahead
    sa.Column("claimed_until", Seconds),
    sa.Index("outbox_due", "status", "next_attempt_at"),
)

unknown_faces = sa.Table(
    "unknown_faces",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Text),
    sa.Column("camera_id", sa.Text),
    sa.Column("seen_at", sa.Text, nullable=False),
    sa.Column("created", Seconds, nullable=False),
    sa.Column("box_top", sa.Integer),
    sa.Column("box_right", sa.Integer),
    sa.Column("box_bottom", sa.Integer),
    sa.Column("box_left", sa.Integer),
    sa.Column("jpeg", sa.LargeBinary, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)

config = sa.Table(
    "config",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Append-only: triggers (made by migration 0003, per backend) refuse any UPDATE and any DELETE
# of a row younger than a day; facegate/audit.py is the only writer.
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("at", Seconds, nullable=False),
    sa.Column("time", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("client", sa.Text),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text),
    sa.Column("details", sa.Text, nullable=False),  # JSON, secrets masked
    sa.Index("audit_at", "at"),
    sqlite_autoincrement=True,
)

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("node_id", sa.Text, primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("api_url", sa.Text, nullable=False),  # where the other nodes send a camera's snapshot viewers
    sa.Column("max_cameras", sa.Integer, nullable=False),
    sa.Column("started_at", Seconds, nullable=False),
    sa.Column("heartbeat_at", Seconds, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="{}"),  # JSON: its cameras' states, stage figures
)

camera_leases = sa.Table(
    "camera_leases",
    metadata,
    sa.Column("camera_id", sa.Text, primary_key=True),
    sa.Column("node_id", sa.Text, nullable=False),
    sa.Column("lease_until", Seconds, nullable=False),  # the camera is free for any node after this
    sa.Column("acquired_at", Seconds, nullable=False),
)

negatives = sa.Table(
    "negatives",
    metadata,  # "that was not X": encodings of faces wrongly given a person's name (0005)
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("event_id", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("negatives_person", "person_id"),
    sqlite_autoincrement=True,
)

visitors = sa.Table(
    "visitors",
    metadata,  # unknown people followed across tracks, cameras and days (0005)
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("first_seen", Seconds, nullable=False),
    sa.Column("last_seen", Seconds, nullable=False),
    sa.Column("sightings", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cameras", sa.Text, nullable=False, server_default="[]"),  # JSON list of camera ids
    sa.Index("visitors_last_seen", "last_seen"),
    sqlite_autoincrement=True,
)

visitor_faces = sa.Table(
    "visitor_faces",
    metadata,  # a few of a visitor's best encodings and crops (0005)
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("visitor_id", Id, sa.ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("jpeg", sa.LargeBinary),
    sa.Column("score", sa.Double, nullable=False),  # larger is better: face width times sharpness
    sa.Column("created", Seconds, nullable=False),
    sa.Index("visitor_faces_visitor", "visitor_id"),
    sqlite_autoincrement=True,
)

cameras = sa.Table(
    "cameras",
    metadata,  # one row per camera: adds from any node are inserts, the key decides a clash (0006)
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("stream_url", sa.Text, nullable=False),  # as given (with any password); masked on the way out
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("detect_fps", sa.Double),  # its own; NULL: the global detect_fps applies
    sa.Column("min_face_px", sa.Integer),  # its own; NULL: the global min_face_px applies (0008)
    sa.Column("ignore_regions", sa.JSON(none_as_null=True)),  # polygons it ignores; NULL: none (0008)
    sa.Column("created_at", Seconds, nullable=False),  # also the order cameras are listed and placed in
    sa.Column("updated_at", Seconds, nullable=False),
    sa.Index("cameras_created", "created_at", "id"),
)

endpoints = sa.Table(
    "endpoints",
    metadata,  # webhook endpoints with their rules; the v1 webhook (`default`) is not a row (0007)
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("secret", sa.Text, nullable=False),  # keys its signatures; shown once, when it is made
    sa.Column("events", sa.Text, nullable=False),  # JSON list of event types
    sa.Column("filter", sa.Text, nullable=False, server_default="{}"),  # JSON: facegate/endpoint_rules.py
    sa.Column("created_at", Seconds, nullable=False),  # also the order endpoints are listed in
    sa.Column("updated_at", Seconds, nullable=False),
    sa.Index("endpoints_created", "created_at", "id"),
)

visits = sa.Table(
    "visits",
    metadata,  # a person's or visitor's stay: open while seen within presence_window_s; its close is `left` (0009)
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.Text, nullable=False),  # "person:<id>" or "visitor:<id>"
    sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE")),
    sa.Column("visitor_id", Id, sa.ForeignKey("visitors.id", ondelete="CASCADE")),
    sa.Column("first_seen", Seconds, nullable=False),
    sa.Column("last_seen", Seconds, nullable=False),
    sa.Column("camera_id", sa.Text, nullable=False),  # the camera that saw them last
    sa.Column("cameras", sa.Text, nullable=False, server_default="[]"),  # JSON list of camera ids
    sa.Column("sightings", sa.Integer, nullable=False, server_default="0"),
    sa.Column("is_open", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("left_event_id", sa.Text, unique=True),  # the `left` event that closed it
    sa.Column("left_at", Seconds),
    # one open visit per subject, whichever node saw them: a second opener's insert finds the first
    sa.Index(
        "visits_open", "subject", unique=True, sqlite_where=sa.text("is_open"), postgresql_where=sa.text("is_open")
    ),
    sa.Index("visits_subject", "subject", "id"),
    sa.Index("visits_last_seen", "last_seen"),
    sqlite_autoincrement=True,
)

attendance_slots = sa.Table(
    "attendance_slots",
    metadata,  # a person's sightings on a camera in one quarter hour: days in any time zone are whole slots (0009)
    sa.Column("person_id", Id, sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    sa.Column("camera_id", sa.Text, nullable=False),
    sa.Column("slot", Seconds, nullable=False),  # the quarter hour's start, epoch s
    sa.Column("first_seen", Seconds, nullable=False),
    sa.Column("last_seen", Seconds, nullable=False),
    sa.Column("sightings", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("person_id", "camera_id", "slot"),
    sa.Index("attendance_slots_slot", "slot"),
)
