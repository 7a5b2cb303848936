-- @app: semantics_demo
-- @description: Integer division, concatenation and a cast over item records

CREATE STREAM priced_items AS
SELECT
    id,
    100 / divisor AS ratio,
    label || '-x' AS tagged,
    CAST(code AS INTEGER) AS code_number
FROM items
EMIT CHANGES
WITH (
    'items.type' = 'kafka_source',
    'items.topic.name' = 'items_in',
    'priced_items.type' = 'kafka_sink',
    'priced_items.topic.name' = 'items_out'
);
