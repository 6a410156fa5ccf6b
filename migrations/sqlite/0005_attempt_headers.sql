-- The headers each attempt was sent with (a JSON object; the API key masked to its hint), so the
-- delivery log shows exactly what the receiver got. NULL for attempts logged before.
ALTER TABLE attempts ADD COLUMN request_headers TEXT;
