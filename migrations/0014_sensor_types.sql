-- Sensor types are declared once, in the code (domain/sensors.py, SENSOR_TYPES): every
-- migration run writes them here (migrate.py), and sensors refer to them. Adding a type takes
-- no migration; a sensor of a type the code does not know cannot be stored.
CREATE TABLE sensor_types (name text PRIMARY KEY);

INSERT INTO sensor_types (name)
SELECT unnest(ARRAY['COLD_WATER', 'HOT_WATER', 'GAS', 'ELECTRICITY', 'COGENERATION', 'HEATING',
                    'TEMPERATURE', 'HUMIDITY'])
UNION SELECT DISTINCT type FROM sensors;

ALTER TABLE sensors DROP CONSTRAINT sensors_type_check;
ALTER TABLE sensors ADD CONSTRAINT sensors_type_fk FOREIGN KEY (type) REFERENCES sensor_types (name);

GRANT SELECT ON sensor_types TO koprogo_app, koprogo_system;
