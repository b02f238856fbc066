-- 0019: who owns which unit (SPEC §12), and an owner sees only their own units.
--
-- The API switches an owner's transactions to koprogo_owner: a member of koprogo_app (same
-- grants, same organization policies) with RESTRICTIVE policies on top, so that a sensor of
-- another unit, and its readings, rollups, manual readings and alerts, are missing for them in
-- the database itself, whatever a resolver forgets. Common sensors (no unit) and building
-- totals (readings_hourly_building) stay visible.

CREATE TABLE unit_owners (
    organization_id  uuid NOT NULL,
    unit_id          uuid NOT NULL,
    user_id          uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, unit_id, user_id)
);
CREATE INDEX unit_owners_user_idx ON unit_owners (organization_id, user_id, unit_id);
ALTER TABLE unit_owners ENABLE ROW LEVEL SECURITY;
ALTER TABLE unit_owners FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON unit_owners TO koprogo_app
    USING (organization_id = koprogo_current_org()) WITH CHECK (organization_id = koprogo_current_org());
CREATE POLICY system_access ON unit_owners TO koprogo_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON unit_owners TO koprogo_app, koprogo_system;

DO $$
BEGIN
    CREATE ROLE koprogo_owner NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
GRANT koprogo_app TO koprogo_owner;
DO $$
BEGIN
    EXECUTE format('GRANT koprogo_owner TO %I', current_user);
EXCEPTION WHEN OTHERS THEN NULL;  -- superuser, or already granted
END $$;

-- The user of the current transaction (an owner's), or NULL when unset: NULL owns nothing.
CREATE FUNCTION koprogo_current_user() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('app.user_id', true), '')::uuid
$$;

CREATE POLICY owner_units ON sensors AS RESTRICTIVE TO koprogo_owner
    USING (unit_id IS NULL OR unit_id IN (
        SELECT unit_id FROM unit_owners
        WHERE organization_id = koprogo_current_org() AND user_id = koprogo_current_user()));

-- What hangs off a sensor follows the sensor's visibility (the policy above applies inside).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['readings', 'readings_hourly', 'manual_readings', 'alerts'] LOOP
        EXECUTE format('CREATE POLICY owner_units ON %I AS RESTRICTIVE TO koprogo_owner '
                       'USING (sensor_id IN (SELECT id FROM sensors))', t);
    END LOOP;
END $$;

-- Raw rejected payloads are the operators' concern, not a co-owner's.
CREATE POLICY owner_units ON rejected_messages AS RESTRICTIVE TO koprogo_owner USING (false);
