-- @app: unknown_column_demo

CREATE STREAM broken_items AS
SELECT id, no_such_field
FROM items
EMIT CHANGES
WITH (
    'items.type' = 'kafka_source',
    'items.topic.name' = 'items_in',
    'broken_items.type' = 'kafka_sink',
    'broken_items.topic.name' = 'items_broken'
);
