-- no-transaction
-- Retention deletes the oldest attempts first, in small batches. Built concurrently: on a large
-- delivery log a plain CREATE INDEX would hold up every attempt being recorded while it runs.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_by_started_at ON attempts (started_at);
