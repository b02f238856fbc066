-- 0009: a building id belongs to one organization, and every building rollup is keyed by it.
--
-- Until now a building was only an id carried by sensors, and the building rollups were keyed on
-- (building, type, hour): an organization that registered a sensor under another's building id
-- shared its rows (reading, inflating or breaking the other's totals). Now:
--   * `buildings` says which organization owns an id: the first one that registers a sensor in
--     it. Sensors reference (organization, building), so no sensor can sit in another's building.
--   * readings_hourly_building is keyed (organization, building, type, hour), and so are the
--     joins that fill it (migration 0010, which rewrites those functions anyway).
-- Repair of existing rows: each building id goes to the organization whose sensor came first;
-- sensors another organization put there move, with their readings, rollups and alerts, to a new
-- building id of that organization (labelled so that its syndic can find it); 0010 rebuilds every
-- rollup.

CREATE TABLE buildings (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL,
    label            text CHECK (length(label) <= 200),
    timezone         text NOT NULL DEFAULT 'Europe/Brussels' CHECK (length(timezone) <= 64),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);
ALTER TABLE buildings ENABLE ROW LEVEL SECURITY;
ALTER TABLE buildings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON buildings TO koprogo_app
    USING (organization_id = koprogo_current_org()) WITH CHECK (organization_id = koprogo_current_org());
CREATE POLICY system_access ON buildings TO koprogo_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON buildings TO koprogo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON buildings TO koprogo_system;

-- Owners: the organization of each building's first sensor.
INSERT INTO buildings (id, organization_id, created_at)
SELECT DISTINCT ON (building_id) building_id, organization_id, created_at
FROM sensors
ORDER BY building_id, created_at, id;

-- Intruders: (organization, building) pairs where the organization does not own the building.
CREATE TEMPORARY TABLE moved_buildings ON COMMIT DROP AS
SELECT s.organization_id, s.building_id AS old_id, gen_random_uuid() AS new_id
FROM (SELECT DISTINCT organization_id, building_id FROM sensors) s
JOIN buildings b ON b.id = s.building_id AND b.organization_id <> s.organization_id;

INSERT INTO buildings (id, organization_id, label)
SELECT new_id, organization_id, 'moved from ' || old_id FROM moved_buildings;
UPDATE sensors t SET building_id = m.new_id FROM moved_buildings m
WHERE t.organization_id = m.organization_id AND t.building_id = m.old_id;
UPDATE readings t SET building_id = m.new_id FROM moved_buildings m
WHERE t.organization_id = m.organization_id AND t.building_id = m.old_id;
UPDATE readings_hourly t SET building_id = m.new_id FROM moved_buildings m
WHERE t.organization_id = m.organization_id AND t.building_id = m.old_id;
UPDATE alerts t SET building_id = m.new_id FROM moved_buildings m
WHERE t.organization_id = m.organization_id AND t.building_id = m.old_id;

ALTER TABLE sensors ADD CONSTRAINT sensors_building_fk
    FOREIGN KEY (organization_id, building_id) REFERENCES buildings (organization_id, id);

-- No meter or gauge reads beyond ±10^12 (a year of a whole district in Wh is less): such values
-- were an attack (two 1.7e308 made a building's sums overflow). Refused at ingest from now on
-- (value_out_of_range); those already stored are kept as rejections, and their sensors' rollups
-- recomputed without them.
INSERT INTO rejected_messages (organization_id, topic, reason, detail)
SELECT r.organization_id,
       'koprogo/' || r.organization_id || '/' || r.building_id || '/' || s.device_id || '/readings',
       'value_out_of_range',
       format('value %s at %s removed by migration 0009', r.raw_value, r.ts)
FROM readings r JOIN sensors s ON s.id = r.sensor_id
WHERE abs(r.value) > 1e12 OR abs(r.raw_value) > 1e12;
CREATE TEMPORARY TABLE out_of_range_sensors ON COMMIT DROP AS
SELECT DISTINCT sensor_id FROM readings WHERE abs(value) > 1e12 OR abs(raw_value) > 1e12;
DELETE FROM readings WHERE abs(value) > 1e12 OR abs(raw_value) > 1e12;
DELETE FROM readings_hourly WHERE sensor_id IN (SELECT sensor_id FROM out_of_range_sensors);
SELECT koprogo_refresh_hours(array_agg(sensor_id), array_agg(hour))
FROM (SELECT DISTINCT sensor_id, date_trunc('hour', ts) AS hour FROM readings
      WHERE sensor_id IN (SELECT sensor_id FROM out_of_range_sensors)) affected
HAVING count(*) > 0;
ALTER TABLE readings ADD CONSTRAINT readings_value_range
    CHECK (abs(value) <= 1e12 AND abs(raw_value) <= 1e12);

-- Every query by building holds the organization too (the building rollups themselves are keyed
-- by organization in 0010, which rebuilds every rollup).
DROP INDEX readings_hourly_building_idx;
CREATE INDEX readings_hourly_building_idx ON readings_hourly (organization_id, building_id, hour);
DROP INDEX readings_building_ts_idx;
CREATE INDEX readings_building_ts_idx ON readings (organization_id, building_id, ts);

-- Registering a sensor in a building id nobody has claimed claims it for the sensor's
-- organization; in one another organization owns, the foreign key refuses it (and the API says
-- NOT_FOUND, as for a building that does not exist).
CREATE FUNCTION koprogo_claim_building() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO buildings (id, organization_id) VALUES (NEW.building_id, NEW.organization_id)
    ON CONFLICT (id) DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER sensors_claim_building BEFORE INSERT OR UPDATE OF organization_id, building_id
ON sensors FOR EACH ROW EXECUTE FUNCTION koprogo_claim_building();
