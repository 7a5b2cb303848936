-- @app: partitioned_demo
-- @description: A source topic with three partitions; each output names where it came from

CREATE STREAM located_events AS
SELECT seq, _partition AS source_partition, _offset AS source_offset
FROM events
EMIT CHANGES
WITH (
    'events.type' = 'kafka_source',
    'events.topic.name' = 'events_in',
    'events.partitions' = '3',
    'located_events.type' = 'kafka_sink',
    'located_events.topic.name' = 'events_located'
);
