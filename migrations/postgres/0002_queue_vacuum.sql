-- The queue tables see an insert, an update and a delete per row: vacuum them early and often,
-- so dead rows do not pile up in the claim path.
ALTER TABLE delivery_queue SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,
                                autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE media_inbox SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,
                             autovacuum_vacuum_cost_delay = 0);
-- Room on each page lets a lease update stay on its page (a HOT update, no new index entries).
ALTER TABLE delivery_queue SET (fillfactor = 70);
