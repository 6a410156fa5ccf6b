-- Event types (issue 24). Every webhook names its type; an integration receives the types it
-- subscribes to, by default the two reward types, so existing integrations are unchanged.
ALTER TABLE integrations ADD COLUMN event_types TEXT NOT NULL DEFAULT '["reward.instant","reward.monthly"]';

-- Every event, written in the transaction that causes it. A reward's id is its fulfillment's
-- and its body is the fulfillment's payload (body NULL); other events keep their rendered body.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    body       TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_by_creator ON events (creator_id, id);
CREATE INDEX events_by_type ON events (event_type, id);
-- Rewards granted before events existed are events too (a monthly one names its month, 0018).
INSERT INTO events (id, event_type, creator_id, body, created_at)
    SELECT id, CASE WHEN month IS NULL THEN 'reward.instant' ELSE 'reward.monthly' END,
           creator_id, NULL, created_at
    FROM fulfillments;

-- Each delivery names its event's type and, for events other than rewards, its event (a
-- reward's delivery names its fulfillment, whose id is its event's). Test sends: the type sent.
ALTER TABLE deliveries ADD COLUMN event_type TEXT NOT NULL DEFAULT 'reward.instant';
ALTER TABLE deliveries ADD COLUMN event_id TEXT;

-- Sales of creators' storefronts: one per order id, whoever sends it twice. The amount is an
-- exact decimal with two places, as text ("12.50").
CREATE TABLE sales (
    id         TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    order_id   TEXT NOT NULL UNIQUE,
    amount     TEXT NOT NULL,
    currency   TEXT NOT NULL,
    sold_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX sales_by_creator ON sales (creator_id, id);
