-- no-transaction
-- A month's posts, read a chunk of creators at a time (monthly rules). Built concurrently: on a
-- large media table a plain CREATE INDEX would hold up every post being stored while it runs.
CREATE INDEX CONCURRENTLY IF NOT EXISTS media_by_creator_posted ON media (creator_id, posted_at);
