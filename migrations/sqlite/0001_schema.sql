-- Timestamps are microseconds since the Unix epoch; flags are 0/1 integers; lists are JSON text.

CREATE TABLE integrations (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    url            TEXT NOT NULL,
    api_key        TEXT NOT NULL,
    auth_header    TEXT NOT NULL,
    auth_prefix    TEXT NOT NULL,
    signing_secret TEXT,
    active         INTEGER NOT NULL,
    deleted        INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE creators (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    ig_username TEXT,
    tt_username TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE media (
    id          TEXT PRIMARY KEY,
    creator_id  TEXT NOT NULL REFERENCES creators (id),
    platform    TEXT NOT NULL,
    post_type   TEXT NOT NULL,
    posted_at   INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL
);
CREATE INDEX media_by_creator ON media (creator_id, id);

-- Posts not yet evaluated. A row is written with its post and deleted in the transaction that
-- evaluates it, so each post is evaluated exactly once whatever order writers commit in.
CREATE TABLE media_inbox (
    media_id TEXT PRIMARY KEY
);

CREATE TABLE rules (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    post_types      TEXT NOT NULL,
    platforms       TEXT,
    count           INTEGER NOT NULL,
    window_days     INTEGER,
    repeatable      INTEGER NOT NULL,
    reward          TEXT NOT NULL,
    integration_ids TEXT,
    active          INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One row per rule and creator: the row every evaluation of that pair locks first.
CREATE TABLE rule_progress (
    rule_id    TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    rewarded   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rule_id, creator_id)
);

-- Qualifying posts not yet counted toward a fulfillment (small: rows leave when counted).
CREATE TABLE rule_posts (
    rule_id    TEXT NOT NULL,
    media_id   TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    posted_at  INTEGER NOT NULL,
    PRIMARY KEY (rule_id, media_id)
);
CREATE INDEX rule_posts_by_creator ON rule_posts (rule_id, creator_id, posted_at);

CREATE TABLE fulfillments (
    id            TEXT PRIMARY KEY,
    rule_id       TEXT NOT NULL,
    creator_id    TEXT NOT NULL,
    discount_code TEXT UNIQUE,
    -- rule:creator for a non-repeatable rule, NULL otherwise: the database refuses a second grant.
    once_key      TEXT UNIQUE,
    payload       TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX fulfillments_by_creator ON fulfillments (creator_id, id);
CREATE INDEX fulfillments_by_rule ON fulfillments (rule_id, id);

-- The posts a fulfillment counted; the key makes a post count at most once per rule.
CREATE TABLE fulfillment_media (
    rule_id        TEXT NOT NULL,
    media_id       TEXT NOT NULL,
    fulfillment_id TEXT NOT NULL,
    PRIMARY KEY (rule_id, media_id)
);

CREATE TABLE deliveries (
    id                   TEXT PRIMARY KEY,
    fulfillment_id       TEXT,
    integration_id       TEXT NOT NULL,
    status               TEXT NOT NULL,
    attempt_count        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER,
    last_response_status INTEGER,
    last_error           TEXT,
    -- Only test sends carry their own body; others send their fulfillment's payload.
    payload              TEXT,
    test                 INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    delivered_at         INTEGER
);
CREATE INDEX deliveries_by_integration ON deliveries (integration_id, id);
CREATE INDEX deliveries_by_fulfillment ON deliveries (fulfillment_id, id);
CREATE INDEX deliveries_by_status ON deliveries (status, id);

-- Pending deliveries only: the dispatcher's claim path stays small however long the log grows.
CREATE TABLE delivery_queue (
    delivery_id    TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL,
    due_at         INTEGER NOT NULL,
    lease_until    INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    -- 1 for a manual retry: one attempt, then the delivery settles.
    single_attempt INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX delivery_queue_due ON delivery_queue (due_at);

CREATE TABLE attempts (
    delivery_id     TEXT NOT NULL,
    number          INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    error           TEXT,
    PRIMARY KEY (delivery_id, number)
);
