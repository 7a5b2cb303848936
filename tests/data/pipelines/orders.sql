-- @app: orders_demo
-- @description: Price orders; the test spec injects every kind of fault

CREATE STREAM priced_orders AS
SELECT
    order_id,
    quantity,
    unit_price,
    quantity * unit_price AS line_total,
    label,
    placed_at
FROM orders
WHERE quantity > 0
EMIT CHANGES
WITH (
    'orders.type' = 'kafka_source',
    'orders.topic.name' = 'orders_in',
    'priced_orders.type' = 'kafka_sink',
    'priced_orders.topic.name' = 'orders_priced'
);
