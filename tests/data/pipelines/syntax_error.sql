-- @app: syntax_error_demo

CREATE STREAM half_written AS
SELECT id, divisor +
FROM items
EMIT CHANGES
WITH (
    'items.type' = 'kafka_source',
    'half_written.type' = 'kafka_sink'
);
