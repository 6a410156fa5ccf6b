-- Monthly rules (issue 23). `schedule` 'INSTANT' keeps every existing rule as it was; a
-- 'MONTHLY' rule has `tiers` (JSON) instead of count/reward, and may name its own zone.
ALTER TABLE rules ADD COLUMN schedule TEXT NOT NULL DEFAULT 'INSTANT';
ALTER TABLE rules ADD COLUMN tiers TEXT;
ALTER TABLE rules ADD COLUMN time_zone TEXT;
-- The month ('YYYY-MM') the automatic schedule last ran: its own place, a hand run never moves it.
ALTER TABLE rules ADD COLUMN schedule_last_run TEXT;

-- A monthly fulfillment names its month and tier (NULL for instant ones). The index is the
-- exactly-once guarantee: one fulfillment per (rule, creator, month), whoever runs the month.
ALTER TABLE fulfillments ADD COLUMN month TEXT;
ALTER TABLE fulfillments ADD COLUMN tier BIGINT;
CREATE UNIQUE INDEX fulfillments_once_a_month ON fulfillments (rule_id, month, creator_id)
    WHERE month IS NOT NULL;

-- The months run, by the schedule or by hand; the first run of a month writes the row.
CREATE TABLE rule_runs (
    rule_id      TEXT NOT NULL,
    month        TEXT NOT NULL,
    fulfillments BIGINT NOT NULL,
    started_by   TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    PRIMARY KEY (rule_id, month)
);

-- A month's posts, read a chunk of creators at a time.
CREATE INDEX media_by_creator_posted ON media (creator_id, posted_at);
