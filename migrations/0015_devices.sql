-- 0015: devices as they really are (SPEC §11), new sensor types' alerts, and ingest credentials.

-- A sensor bound to what a device or gateway publishes: its integration, the id the integration
-- gives the device, where its value is in the decoded JSON, and the scale to the sensor's unit.
ALTER TABLE sensors
    ADD COLUMN integration text NOT NULL DEFAULT 'KOPROGO'
        CHECK (integration IN ('KOPROGO', 'SHELLY', 'TASMOTA', 'ZIGBEE2MQTT', 'WMBUSMETERS',
                               'TTN', 'CHIRPSTACK')),
    ADD COLUMN external_id text CHECK (length(external_id) BETWEEN 1 AND 128),
    ADD COLUMN metric text CHECK (length(metric) BETWEEN 1 AND 300),
    ADD COLUMN unit_scale double precision NOT NULL DEFAULT 1
        CHECK (unit_scale > 0 AND unit_scale <= 1e6),
    ADD CONSTRAINT sensors_binding_check CHECK (
        CASE WHEN integration = 'KOPROGO' THEN external_id IS NULL AND metric IS NULL
             ELSE external_id IS NOT NULL AND metric IS NOT NULL END);
-- One sensor per measurement of a device; the ingestor finds a device's sensors by this key
-- (every key holding a building holds its organization).
CREATE UNIQUE INDEX sensors_binding_key
    ON sensors (organization_id, building_id, integration, external_id, metric)
    WHERE integration <> 'KOPROGO';

-- INTRUSION sensors alert while their building is armed: by hand, or by a weekly schedule
-- ([{"days": [1..7], "from": "HH:MM", "to": "HH:MM"}], local time; "to" before "from": overnight).
ALTER TABLE buildings
    ADD COLUMN armed boolean NOT NULL DEFAULT false,
    ADD COLUMN arm_schedule jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(arm_schedule) = 'array' AND jsonb_array_length(arm_schedule) <= 50);

ALTER TABLE alerts DROP CONSTRAINT alerts_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_type_check CHECK (type IN (
    'THRESHOLD_EXCEEDED', 'ANOMALY_DETECTED', 'SENSOR_OFFLINE', 'LOW_BATTERY', 'SENSOR_FAULTY',
    'LEAK_DETECTED', 'INTRUSION_DETECTED'));

-- Credentials a building's devices and gateways publish with (MQTT) or post with (HTTP).
-- Secrets are shown once and kept only as hashes: the MQTT password salted (SHA-256 of
-- salt || password, as EMQX's PostgreSQL authentication reads it), the HTTP token as SHA-256
-- (it is 32 random bytes: nothing to guess).
CREATE TABLE ingest_credentials (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id     uuid NOT NULL,
    building_id         uuid NOT NULL,
    name                text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    mqtt_username       text NOT NULL UNIQUE,
    mqtt_password_hash  text NOT NULL,
    mqtt_password_salt  text NOT NULL,
    http_token_hash     bytea NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    FOREIGN KEY (organization_id, building_id) REFERENCES buildings (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX ingest_credentials_building ON ingest_credentials (organization_id, building_id);
ALTER TABLE ingest_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ingest_credentials TO koprogo_app
    USING (organization_id = koprogo_current_org()) WITH CHECK (organization_id = koprogo_current_org());
CREATE POLICY system_access ON ingest_credentials TO koprogo_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON ingest_credentials TO koprogo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ingest_credentials TO koprogo_system;
