-- @app: clicks_demo
-- @description: A source without a schema; `referrer` appears only in later records

CREATE STREAM clicks_out AS
SELECT id, referrer
FROM clicks
EMIT CHANGES
WITH (
    'clicks.type' = 'kafka_source',
    'clicks.topic.name' = 'clicks_in',
    'clicks_out.type' = 'kafka_sink',
    'clicks_out.topic.name' = 'clicks_out'
);
