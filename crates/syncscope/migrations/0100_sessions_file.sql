-- The recorder's sessions move to a file of their own, attached to every pooled
-- connection as `recorder` (src/sessions_db.rs says why and creates the tables there).
-- What an older launch recorded moves with them. Numbered 0100 to stay clear of the
-- migrations other work adds meanwhile.
INSERT OR IGNORE INTO recorder.sessions SELECT * FROM main.sessions;
INSERT OR IGNORE INTO recorder.session_events SELECT * FROM main.session_events;
DROP TABLE main.session_events;
DROP TABLE main.sessions;
