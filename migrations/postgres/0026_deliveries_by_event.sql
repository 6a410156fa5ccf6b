-- no-transaction
-- The delivery log's email filter finds events' deliveries too (a sign-up, a sale): by their
-- event, through this index. Partial: a reward's delivery (no event id) costs it nothing. Built
-- concurrently, so deliveries keep being written meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_by_event ON deliveries (event_id, id)
    WHERE event_id IS NOT NULL;
