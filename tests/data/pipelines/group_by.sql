-- @app: group_by_demo

CREATE STREAM item_counts AS
SELECT id, count(*) AS copies
FROM items
GROUP BY id
EMIT CHANGES
WITH (
    'items.type' = 'kafka_source',
    'item_counts.type' = 'kafka_sink'
);
