-- 0018: distribution keys of a building (SPEC §12: tantièmes, quotités): named, per building,
-- each unit's positive share. Every key and share holds the organization with the building.
CREATE TABLE allocation_keys (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL,
    building_id      uuid NOT NULL,
    name             text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, building_id, name),
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, building_id) REFERENCES buildings (organization_id, id)
        ON DELETE CASCADE
);
CREATE TABLE allocation_shares (
    organization_id  uuid NOT NULL,
    key_id           uuid NOT NULL,
    unit_id          uuid NOT NULL,
    share            numeric(20, 6) NOT NULL CHECK (share > 0),
    PRIMARY KEY (organization_id, key_id, unit_id),
    FOREIGN KEY (organization_id, key_id) REFERENCES allocation_keys (organization_id, id)
        ON DELETE CASCADE
);
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['allocation_keys', 'allocation_shares'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO koprogo_app '
                       'USING (organization_id = koprogo_current_org()) '
                       'WITH CHECK (organization_id = koprogo_current_org())', t);
        EXECUTE format('CREATE POLICY system_access ON %I TO koprogo_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO koprogo_app, koprogo_system', t);
    END LOOP;
END $$;
