-- @app: kafka_e2e_partitioned
-- @description: A source topic with three partitions; each output record names the partition and offset it came from

CREATE STREAM located_readings AS
SELECT
    seq,
    device,
    _partition AS source_partition,
    _offset AS source_offset
FROM device_events
EMIT CHANGES
WITH (
    'device_events.type' = 'kafka_source',
    'device_events.topic.name' = 'kafka_e2e_device_events',
    'device_events.partitions' = '3',
    'located_readings.type' = 'kafka_sink',
    'located_readings.topic.name' = 'kafka_e2e_located_readings'
);
