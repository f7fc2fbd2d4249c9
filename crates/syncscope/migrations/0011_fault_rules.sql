-- Fault rules (crate::faults), kept so that they survive a restart. `spec` is the
-- rule's FaultSpec as JSON (the control API's shape); ids give the order they are
-- tried in. Numbered after the issue that added it, clear of the 000x of others.
CREATE TABLE fault_rules (
    id      INTEGER PRIMARY KEY,
    enabled INTEGER NOT NULL,
    fired   INTEGER NOT NULL DEFAULT 0,
    matched INTEGER NOT NULL DEFAULT 0,
    spec    TEXT    NOT NULL
);
