-- Each integration's recent attempts, kept up to date by the transaction that records them:
-- counts in the current hour's window and the one before, the last success and failure, and
-- the current run of failures (how many, since when).
CREATE TABLE integration_health (
    integration_id       TEXT PRIMARY KEY,
    window_started_at    BIGINT NOT NULL,
    attempts             BIGINT NOT NULL,
    failures             BIGINT NOT NULL,
    previous_attempts    BIGINT NOT NULL DEFAULT 0,
    previous_failures    BIGINT NOT NULL DEFAULT 0,
    last_attempt_at      BIGINT NOT NULL,
    last_success_at      BIGINT,
    last_failure_at      BIGINT,
    last_failure         TEXT,
    consecutive_failures BIGINT NOT NULL,
    failing_since        BIGINT
);
