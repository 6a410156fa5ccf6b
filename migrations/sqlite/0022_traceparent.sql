-- OpenTelemetry (issue 25): the W3C traceparent of the evaluation that granted a reward, written
-- only while tracing is on, so that its deliveries' attempts (claimed later, by any instance)
-- join the post's trace. NULL when tracing was off.
ALTER TABLE fulfillments ADD COLUMN traceparent TEXT;
