-- @app: kafka_e2e_meters
-- @description: Bill meter readings; the test spec corrupts a fixed share of them

CREATE STREAM billed_readings AS
SELECT
    reading_id,
    meter_id,
    kwh,
    kwh * 0.25 AS cost,
    phase,
    read_at
FROM meter_readings
WHERE kwh > 0
EMIT CHANGES
WITH (
    'meter_readings.type' = 'kafka_source',
    'meter_readings.topic.name' = 'kafka_e2e_meter_readings',
    'billed_readings.type' = 'kafka_sink',
    'billed_readings.topic.name' = 'kafka_e2e_billed_readings'
);
