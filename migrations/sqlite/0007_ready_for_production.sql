-- payload_format: 'medias' (the seed's body) or 'posts' (LoudCrowd's later one).
-- disabled_reason / disabled_at: set when every attempt failed for longer than --disable-after;
-- cleared when the integration is made active again.
ALTER TABLE integrations ADD COLUMN payload_format TEXT NOT NULL DEFAULT 'medias';
ALTER TABLE integrations ADD COLUMN disabled_reason TEXT;
ALTER TABLE integrations ADD COLUMN disabled_at INTEGER;
-- Retention deletes the oldest attempts first, in small batches.
CREATE INDEX attempts_by_started_at ON attempts (started_at);
