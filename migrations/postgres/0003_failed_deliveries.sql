-- The delivery log's status filter without an index on `deliveries.status`: pending deliveries
-- are the queue's, failed ones are listed here, and the rest succeeded. With no index on any
-- column a result changes, and room left on each page, a result's update stays on its page
-- (a HOT update: no new index entries) instead of adding four.
CREATE TABLE failed_deliveries (
    delivery_id TEXT PRIMARY KEY
);
INSERT INTO failed_deliveries (delivery_id) SELECT id FROM deliveries WHERE status = 'failed';
DROP INDEX deliveries_by_status;
ALTER TABLE deliveries SET (fillfactor = 70);
