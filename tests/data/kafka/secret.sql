-- @app: kafka_e2e_secrets
-- @description: Meter readings through client configs that hold SASL and SSL passwords

CREATE STREAM metered_readings AS
SELECT reading_id, meter_id, kwh
FROM secret_readings
EMIT CHANGES
WITH (
    'secret_readings.type' = 'kafka_source',
    'secret_readings.topic.name' = 'kafka_e2e_secret_readings',
    'secret_readings.config_file' = 'secret_source.yaml',
    'metered_readings.type' = 'kafka_sink',
    'metered_readings.topic.name' = 'kafka_e2e_metered_readings',
    'metered_readings.config_file' = 'secret_sink.yaml'
);
