-- LoudCrowd's rule options. Each NULL (segments '[]') leaves a rule as it behaved before them.
ALTER TABLE rules ADD COLUMN program_id TEXT;
ALTER TABLE rules ADD COLUMN buffer_days BIGINT;
ALTER TABLE rules ADD COLUMN fulfillment_limit BIGINT;
ALTER TABLE rules ADD COLUMN timeframe_days BIGINT;
ALTER TABLE rules ADD COLUMN segments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rules ADD COLUMN min_followers BIGINT;
-- Deleting a program looks for the live rules that name it.
CREATE INDEX rules_by_program ON rules (program_id) WHERE program_id IS NOT NULL;

-- The Buffer Limit runs on from the last post a reward counted (posted_at, µs), per pair.
ALTER TABLE rule_progress ADD COLUMN last_counted_at BIGINT;
