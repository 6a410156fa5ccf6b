-- no-transaction
-- The delivery log's email filter ignores case: it looks creators up by LOWER(email). Built
-- concurrently, so creators can still be added while it is built on a large table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS creators_by_lower_email ON creators (LOWER(email));
