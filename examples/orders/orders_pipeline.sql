-- SQL Application: shop_orders
-- Three-stage order pipeline for velo-tui: check, tier, route.
--
-- @app: shop_orders
-- @description: Check incoming orders, tier them by value and size, and route them
-- @enable_dlq: true
-- @dlq_max_size: 500

-- Stage 1: keep orders that can be fulfilled and price each line.
CREATE STREAM checked_orders AS
SELECT
    order_id,
    customer_id,
    country,
    quantity,
    unit_price,
    ROUND(quantity * unit_price, 2) AS line_total,
    status,
    created_at
FROM shop_orders
WHERE quantity > 0
  AND unit_price > 0
  AND status <> 'cancelled'
EMIT CHANGES
WITH (
    'shop_orders.type' = 'kafka_source',
    'shop_orders.topic.name' = 'shop.orders',
    'shop_orders.partitions' = '3',
    'checked_orders.type' = 'kafka_sink',
    'checked_orders.topic.name' = 'shop.orders.checked'
);

-- Stage 2: tier each order by value and by size.
CREATE STREAM tiered_orders AS
SELECT
    order_id,
    customer_id,
    UPPER(country) AS country,
    quantity,
    line_total,
    CASE
        WHEN line_total >= 2500 THEN 'GOLD'
        WHEN line_total >= 500 THEN 'SILVER'
        ELSE 'BRONZE'
    END AS tier,
    CASE
        WHEN quantity >= 50 THEN 'WHOLESALE'
        WHEN quantity >= 5 THEN 'BUNDLE'
        ELSE 'SINGLE'
    END AS order_type,
    created_at
FROM checked_orders
EMIT CHANGES
WITH (
    'checked_orders.type' = 'kafka_source',
    'checked_orders.topic.name' = 'shop.orders.checked',
    'tiered_orders.type' = 'kafka_sink',
    'tiered_orders.topic.name' = 'shop.orders.tiered'
);

-- Stage 3: pick a route and a handling priority; the order id becomes the message key.
CREATE STREAM routed_orders AS
SELECT
    order_id PRIMARY KEY,
    customer_id,
    country,
    line_total,
    tier,
    order_type,
    tier || '.' || order_type AS route,
    CASE
        WHEN tier = 'GOLD' OR order_type = 'WHOLESALE' THEN 1
        WHEN tier = 'SILVER' THEN 2
        ELSE 3
    END AS priority,
    created_at
FROM tiered_orders
EMIT CHANGES
WITH (
    'tiered_orders.type' = 'kafka_source',
    'tiered_orders.topic.name' = 'shop.orders.tiered',
    'routed_orders.type' = 'kafka_sink',
    'routed_orders.topic.name' = 'shop.orders.routed'
);
