-- LoudCrowd's Media Type filter on rules: '[]' counts posts of any media type, as before.
ALTER TABLE rules ADD COLUMN media_types TEXT NOT NULL DEFAULT '[]';
