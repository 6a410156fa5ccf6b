-- The delivery log's status filter without an index on `deliveries.status`, which every result
-- would move (a delete and an insert per attempt): pending deliveries are the queue's, failed
-- ones are listed here, and the rest succeeded.
CREATE TABLE failed_deliveries (
    delivery_id TEXT PRIMARY KEY
);
INSERT INTO failed_deliveries (delivery_id) SELECT id FROM deliveries WHERE status = 'failed';
DROP INDEX deliveries_by_status;
