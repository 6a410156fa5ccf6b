-- The running instances, each with the key of the session-level advisory lock it holds while
-- it lives. An instance whose lock is free is dead: any other frees its leases at once rather
-- than waiting for them to run out. SQLite keeps the same as lock files beside the database.
CREATE TABLE instances (
    owner      TEXT   PRIMARY KEY,
    lock_key   BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
