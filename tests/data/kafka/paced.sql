-- @app: kafka_e2e_paced
-- @description: Meter readings produced slowly, so a run lasts long enough to lose its broker midway

CREATE STREAM paced_readings AS
SELECT reading_id, meter_id, kwh
FROM meter_readings
EMIT CHANGES
WITH (
    'meter_readings.type' = 'kafka_source',
    'meter_readings.topic.name' = 'kafka_e2e_paced_readings',
    'paced_readings.type' = 'kafka_sink',
    'paced_readings.topic.name' = 'kafka_e2e_paced_output'
);
