-- Posts carry the platform's own id and what they show (NULL: unknown). One post per
-- (platform, external_id): a retried request or a poller seeing a post twice meets this index,
-- and the writer answers with the post already stored. Posts without an id are not indexed.
ALTER TABLE media ADD COLUMN external_id TEXT;
ALTER TABLE media ADD COLUMN media_type TEXT;
CREATE UNIQUE INDEX media_by_external_id ON media (platform, external_id)
    WHERE external_id IS NOT NULL;
