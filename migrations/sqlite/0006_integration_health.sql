-- Each integration's recent attempts, kept up to date by the transaction that records them:
-- counts in the current hour's window and the one before, the last success and failure, and
-- the current run of failures (how many, since when).
CREATE TABLE integration_health (
    integration_id       TEXT PRIMARY KEY,
    window_started_at    INTEGER NOT NULL,
    attempts             INTEGER NOT NULL,
    failures             INTEGER NOT NULL,
    previous_attempts    INTEGER NOT NULL DEFAULT 0,
    previous_failures    INTEGER NOT NULL DEFAULT 0,
    last_attempt_at      INTEGER NOT NULL,
    last_success_at      INTEGER,
    last_failure_at      INTEGER,
    last_failure         TEXT,
    consecutive_failures INTEGER NOT NULL,
    failing_since        INTEGER
);
