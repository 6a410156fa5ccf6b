-- Bumped in the transaction of every change to rules or integrations: an evaluation reads it and
-- keeps using its copy of the active rules and integrations while it has not moved.
CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);
