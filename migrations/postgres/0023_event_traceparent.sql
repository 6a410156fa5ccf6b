-- OpenTelemetry (issue 25): the W3C traceparent of the span that wrote an event other than an
-- instant reward (a post.tagged's evaluation), so that its retries, claimed later by any
-- instance, join the post's trace. NULL when tracing was off. Rewards keep theirs with their
-- fulfillment (0022); a monthly reward's names its month run.
ALTER TABLE events ADD COLUMN traceparent TEXT;
