-- Models are JSON objects per (collection url, id); the change log backs `subscribe since`.
CREATE TABLE models (
    collection  TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_seq INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX models_by_creation ON models (collection, created_seq);

-- AUTOINCREMENT: a seq is never handed out twice, even after the log is pruned.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    op         TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX changes_by_collection ON changes (collection, seq);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('pruned_through', 0);
