-- @app: readings_demo
-- @description: Pass sensor readings through with one computed field

CREATE STREAM readings_out AS
SELECT id, amount, name, amount * 2 AS doubled
FROM readings
EMIT CHANGES
WITH (
    'readings.type' = 'kafka_source',
    'readings.topic.name' = 'readings_in',
    'readings_out.type' = 'kafka_sink',
    'readings_out.topic.name' = 'readings_out'
);
