-- What the console's charts read, kept by the transaction that records attempts, so a chart
-- reads a few rows per minute or hour, never the attempts themselves. Old rows are deleted
-- after two days.
-- Attempts per integration and UTC minute (µs at its start) by outcome: succeeded; failed and
-- to be retried; failed for good.
CREATE TABLE attempt_counts (
    integration_id TEXT   NOT NULL,
    minute_start   BIGINT NOT NULL,
    succeeded      BIGINT NOT NULL,
    retried        BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    PRIMARY KEY (integration_id, minute_start)
);
CREATE INDEX attempt_counts_by_minute ON attempt_counts (minute_start);
-- How long attempts took, per integration and UTC hour: how many took each duration (ms, from
-- 100 ms on rounded up to two significant digits), so percentiles are exact at that resolution.
CREATE TABLE attempt_latency (
    integration_id TEXT   NOT NULL,
    hour_start     BIGINT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    attempts       BIGINT NOT NULL,
    PRIMARY KEY (integration_id, hour_start, duration_ms)
);
CREATE INDEX attempt_latency_by_hour ON attempt_latency (hour_start);
