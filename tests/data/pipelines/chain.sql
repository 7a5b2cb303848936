-- @app: chain_demo
-- @description: Two statements: the second reads the first one's sink topic

CREATE STREAM valid_orders AS
SELECT order_id, quantity, unit_price, quantity * unit_price AS line_total
FROM orders
WHERE quantity > 0
EMIT CHANGES
WITH (
    'orders.type' = 'kafka_source',
    'orders.topic.name' = 'chain_orders',
    'valid_orders.type' = 'kafka_sink',
    'valid_orders.topic.name' = 'chain_valid'
);

CREATE STREAM tiered_orders AS
SELECT
    order_id,
    line_total,
    CASE WHEN line_total > 1000 THEN 'LARGE' ELSE 'SMALL' END AS tier
FROM valid_orders
EMIT CHANGES
WITH (
    'valid_orders.type' = 'kafka_source',
    'valid_orders.topic.name' = 'chain_valid',
    'tiered_orders.type' = 'kafka_sink',
    'tiered_orders.topic.name' = 'chain_tiered'
);
