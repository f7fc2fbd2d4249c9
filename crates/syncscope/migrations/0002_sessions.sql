-- Recording sessions of the inspector's bus, and the records they hold.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT,
    started_at_us INTEGER NOT NULL,
    stopped_at_us INTEGER,
    recorded      INTEGER NOT NULL DEFAULT 0,
    lost          INTEGER NOT NULL DEFAULT 0
);

-- One row per record; `body` is the whole record as JSON (the wire form), the other
-- columns are copies of its fields for filtering.
CREATE TABLE session_events (
    session     INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    at_us       INTEGER NOT NULL,
    socket      TEXT,
    url         TEXT,
    kind        TEXT    NOT NULL,
    event       TEXT,
    origin      TEXT    NOT NULL,
    error       INTEGER NOT NULL,
    latency_us  INTEGER,
    body        TEXT    NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE INDEX session_events_by_socket ON session_events (session, socket, seq);
CREATE INDEX session_events_by_kind ON session_events (session, kind, seq);
