-- Creators' profile, which rules will filter on: followers (NULL: unknown) and segments (a
-- JSON array of labels).
ALTER TABLE creators ADD COLUMN followers INTEGER;
ALTER TABLE creators ADD COLUMN segments TEXT NOT NULL DEFAULT '[]';

-- Programs creators sign up for. A deleted program is hidden, not removed: its members (and,
-- later, the events about them) stay readable.
CREATE TABLE programs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    approval   TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per (program, creator): signing up again after REJECTED or REMOVED rewrites it, so
-- two sign-ups at once meet on the primary key and make one member. Each change is one
-- statement in its own transaction, where the event it causes will be written too.
CREATE TABLE members (
    program_id  TEXT NOT NULL REFERENCES programs (id),
    creator_id  TEXT NOT NULL REFERENCES creators (id),
    status      TEXT NOT NULL,
    joined_at   INTEGER NOT NULL,
    approved_at INTEGER,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (program_id, creator_id)
);
CREATE INDEX members_by_status ON members (program_id, status, creator_id);
CREATE INDEX members_by_creator ON members (creator_id, program_id);
