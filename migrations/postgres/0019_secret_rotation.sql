-- Signing-secret rotation: the secret a rotation replaced, still signed with beside the current
-- one until previous_secret_expires_at (µs), and when the last rotation was.
ALTER TABLE integrations ADD COLUMN previous_signing_secret TEXT;
ALTER TABLE integrations ADD COLUMN previous_secret_expires_at BIGINT;
ALTER TABLE integrations ADD COLUMN signing_secret_rotated_at BIGINT;
