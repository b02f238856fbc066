-- 0001: the whole schema of SPEC §5, tenancy (row-level security), and time_bucket.
--
-- Roles: the service connects with DATABASE_URL (the owner, who runs migrations) and then
-- switches each pooled connection to one of two NOLOGIN roles:
--   koprogo_app    the GraphQL API; row-level security restricts it to app.org_id
--   koprogo_system the ingestor, watchdog and notifier; a policy lets it see every organization
-- Neither owns the tables, and FORCE ROW LEVEL SECURITY applies the policies to the owner too,
-- so a forgotten WHERE clause can never leak another organization's rows.

DO $$
BEGIN
    CREATE ROLE koprogo_app NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$
BEGIN
    CREATE ROLE koprogo_system NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- The connecting user must be able to SET ROLE to both (a no-op for superusers).
DO $$
BEGIN
    EXECUTE format('GRANT koprogo_app, koprogo_system TO %I', current_user);
EXCEPTION WHEN OTHERS THEN NULL;  -- superuser, or already granted
END $$;

-- The organization of the current transaction, or NULL when unset: NULL matches no row.
CREATE FUNCTION koprogo_current_org() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('app.org_id', true), '')::uuid
$$;

CREATE TABLE sensors (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id     uuid NOT NULL,
    building_id         uuid NOT NULL,
    unit_id             uuid,
    device_id           text NOT NULL CHECK (length(btrim(device_id)) > 0),
    type                text NOT NULL CHECK (type IN ('COLD_WATER', 'HOT_WATER', 'GAS', 'ELECTRICITY',
                            'COGENERATION', 'HEATING', 'TEMPERATURE', 'HUMIDITY')),
    reading_kind        text NOT NULL CHECK (reading_kind IN ('CUMULATIVE', 'INSTANTANEOUS')),
    manufacturer        text NOT NULL,
    model               text NOT NULL,
    firmware_version    text,
    location            text NOT NULL,
    floor               integer,
    unit_of_measure     text NOT NULL,
    sampling_interval   integer NOT NULL CHECK (sampling_interval BETWEEN 10 AND 86400),
    calibration_factor  double precision NOT NULL DEFAULT 1.0
                            CHECK (calibration_factor > 0 AND calibration_factor < 'Infinity'),
    alert_rules         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status              text NOT NULL DEFAULT 'ACTIVE'
                            CHECK (status IN ('ACTIVE', 'INACTIVE', 'MAINTENANCE', 'FAULTY')),
    last_reading_at     timestamptz,
    last_value          double precision,
    last_battery_level  smallint,
    installed_at        timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, device_id)
);
CREATE INDEX sensors_org_building_idx ON sensors (organization_id, building_id);
CREATE INDEX sensors_org_page_idx ON sensors (organization_id, created_at, id);

CREATE TABLE readings (
    sensor_id        uuid NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    ts               timestamptz NOT NULL,
    organization_id  uuid NOT NULL,
    building_id      uuid NOT NULL,
    unit_id          uuid,
    value            double precision NOT NULL CHECK (value > '-Infinity' AND value < 'Infinity'),
    raw_value        double precision NOT NULL CHECK (raw_value > '-Infinity' AND raw_value < 'Infinity'),
    battery_level    smallint CHECK (battery_level BETWEEN 0 AND 100),
    signal_strength  smallint,
    quality          text NOT NULL CHECK (quality IN ('GOOD', 'WARNING', 'POOR')),
    is_anomaly       boolean NOT NULL DEFAULT false,
    anomaly_reason   text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    -- A redelivered reading is stored once: (sensor, device timestamp) is the identity.
    PRIMARY KEY (sensor_id, ts)
);
CREATE INDEX readings_building_ts_idx ON readings (building_id, ts);

CREATE TABLE alerts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id    uuid NOT NULL,
    building_id        uuid NOT NULL,
    sensor_id          uuid NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    type               text NOT NULL CHECK (type IN ('THRESHOLD_EXCEEDED', 'ANOMALY_DETECTED',
                           'SENSOR_OFFLINE', 'LOW_BATTERY', 'SENSOR_FAULTY', 'LEAK_DETECTED')),
    severity           text NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    status             text NOT NULL DEFAULT 'OPEN'
                           CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')),
    message            text NOT NULL,
    triggered_at       timestamptz NOT NULL DEFAULT now(),
    last_triggered_at  timestamptz NOT NULL DEFAULT now(),
    occurrences        integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    reading_value      double precision,
    threshold_value    double precision,
    email_sent         boolean NOT NULL DEFAULT false,
    sms_sent           boolean NOT NULL DEFAULT false,
    push_sent          boolean NOT NULL DEFAULT false,
    acknowledged_by    uuid,
    acknowledged_at    timestamptz,
    resolved_by        uuid,
    resolved_at        timestamptz,
    resolution_note    text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- At most one unresolved alert per (sensor, type): a repeat bumps it instead.
CREATE UNIQUE INDEX alerts_one_unresolved_idx ON alerts (sensor_id, type) WHERE status <> 'RESOLVED';
CREATE INDEX alerts_org_triggered_idx ON alerts (organization_id, triggered_at DESC, id);
CREATE INDEX alerts_org_building_idx ON alerts (organization_id, building_id);

-- Messages the ingestor refused. organization_id is set only when the topic named a known
-- organization, so a syndic never sees another organization's traffic.
CREATE TABLE rejected_messages (
    id               bigserial PRIMARY KEY,
    organization_id  uuid,
    topic            text NOT NULL,
    reason           text NOT NULL,
    detail           text,
    payload_excerpt  text,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_messages_org_idx ON rejected_messages (organization_id, received_at DESC);

CREATE TABLE manual_readings (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL,
    sensor_id        uuid NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    read_at          timestamptz NOT NULL,
    value            double precision NOT NULL CHECK (value >= 0 AND value < 'Infinity'),
    source           text NOT NULL DEFAULT 'ISTA',
    note             text,
    recorded_by      uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sensor_id, read_at)
);

CREATE TABLE notification_settings (
    organization_id  uuid PRIMARY KEY,
    emails           text[] NOT NULL DEFAULT '{}',
    webhook_url      text,
    webhook_secret   text,
    min_severity     text NOT NULL DEFAULT 'WARNING'
                         CHECK (min_severity IN ('INFO', 'WARNING', 'CRITICAL')),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Tenancy in depth: every tenant table is restricted to the transaction's organization for the
-- API role, and open to the system role.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sensors', 'readings', 'alerts', 'rejected_messages',
                             'manual_readings', 'notification_settings']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO koprogo_app '
                       'USING (organization_id = koprogo_current_org()) '
                       'WITH CHECK (organization_id = koprogo_current_org())', t);
        EXECUTE format('CREATE POLICY system_access ON %I TO koprogo_system '
                       'USING (true) WITH CHECK (true)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO koprogo_app, koprogo_system', t);
    END LOOP;
END $$;
GRANT USAGE ON SEQUENCE rejected_messages_id_seq TO koprogo_app, koprogo_system;
GRANT USAGE ON SCHEMA public TO koprogo_app, koprogo_system;

-- TimescaleDB when available (and not the Apache-only build, which lacks compression and
-- retention policies); otherwise a time_bucket() with the same signature and origin on plain
-- PostgreSQL >= 14, so every query runs unchanged on both.
DO $$
DECLARE
    has_timescale boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
      INTO has_timescale;
    IF has_timescale AND coalesce(current_setting('timescaledb.license', true), 'timescale')
                         <> 'apache' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        PERFORM create_hypertable('readings', 'ts', chunk_time_interval => interval '7 days',
                                  migrate_data => true);
        EXECUTE 'ALTER TABLE readings SET (timescaledb.compress, '
                'timescaledb.compress_segmentby = ''sensor_id'', '
                'timescaledb.compress_orderby = ''ts DESC'')';
        PERFORM add_compression_policy('readings', interval '30 days');
        PERFORM add_retention_policy('readings', interval '2 years');
    ELSE
        -- Not STRICT, so that the planner inlines them into queries: a function call per row
        -- would cost more than the aggregation itself (measured: ~10 us per row).
        -- Months and years: whole months counted from 2000-01-01, as TimescaleDB does.
        -- Anything smaller: date_bin from TimescaleDB's origin 2000-01-03 (a Monday), so weeks
        -- start on Monday.
        CREATE FUNCTION time_bucket(bucket_width interval, ts timestamp) RETURNS timestamp
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
            SELECT CASE
                WHEN date_part('month', bucket_width) = 0 AND date_part('year', bucket_width) = 0
                THEN date_bin(bucket_width, ts, timestamp '2000-01-03 00:00:00')
                ELSE timestamp '2000-01-01 00:00:00' + make_interval(months =>
                    (floor(((date_part('year', ts) - 2000) * 12 + date_part('month', ts) - 1)
                           / (date_part('year', bucket_width) * 12
                              + date_part('month', bucket_width)))
                     * (date_part('year', bucket_width) * 12
                        + date_part('month', bucket_width)))::int)
            END
        $fn$;

        CREATE FUNCTION time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
            SELECT time_bucket(bucket_width, ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        $fn$;

        -- Buckets of local time in the given zone: a local day may last 23 or 25 hours.
        CREATE FUNCTION time_bucket(bucket_width interval, ts timestamptz, timezone text)
        RETURNS timestamptz
        LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
            SELECT time_bucket(bucket_width, ts AT TIME ZONE timezone) AT TIME ZONE timezone
        $fn$;
    END IF;
END $$;
