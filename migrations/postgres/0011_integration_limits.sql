-- Each integration's own hard maximum of sends at once and its rate limit (sends started a
-- second); NULL: none of its own (the service's --max-in-flight-per-integration applies).
ALTER TABLE integrations ADD COLUMN max_concurrency BIGINT;
ALTER TABLE integrations ADD COLUMN max_per_second BIGINT;
