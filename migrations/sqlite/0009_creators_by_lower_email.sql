-- The delivery log's email filter ignores case: it looks creators up by LOWER(email).
CREATE INDEX creators_by_lower_email ON creators (LOWER(email));
