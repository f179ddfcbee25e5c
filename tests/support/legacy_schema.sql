-- The store schema of the first release (facegate/store.py before migrations, commit ae2f128),
-- kept verbatim so the tests can build a data dir exactly as that release left it.
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    client_id TEXT,
    image_url TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS persons_name ON persons(name);
CREATE TABLE IF NOT EXISTS encodings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS encodings_person ON encodings(person_id);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    timestamp TEXT NOT NULL,
    name TEXT NOT NULL,
    confidence REAL NOT NULL,
    distance REAL NOT NULL,
    box_top INTEGER NOT NULL, box_right INTEGER NOT NULL,
    box_bottom INTEGER NOT NULL, box_left INTEGER NOT NULL,
    camera_id TEXT,
    stream_url TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_name ON results(name, id);
CREATE INDEX IF NOT EXISTS results_created ON results(created);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created REAL NOT NULL,
    delivered REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS unknown_faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT,
    camera_id TEXT,
    seen_at TEXT NOT NULL,
    created REAL NOT NULL,
    box_top INTEGER, box_right INTEGER, box_bottom INTEGER, box_left INTEGER,
    jpeg BLOB NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
