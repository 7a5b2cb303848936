-- @app: missing_config_demo

CREATE STREAM copied_items AS
SELECT id
FROM items
EMIT CHANGES
WITH (
    'items.type' = 'kafka_source',
    'items.config_file' = 'configs/absent_source.yaml',
    'copied_items.type' = 'kafka_sink'
);
