-- 0009: a building id belongs to one organization, and every building rollup is keyed by it.
--
-- Until now a building was only an id carried by sensors, and the building rollups were keyed on
-- (building, type, hour): an organization that registered a sensor under another's building id
-- shared its rows (reading, inflating or breaking the other's totals). Now:
--   * `buildings` says which organization owns an id: the first one that registers a sensor in
--     it. Sensors reference (organization, building), so no sensor can sit in another's building.
--   * readings_hourly_building is keyed (organization, building, type, hour), and so are the
--     joins that fill it.
-- Repair of existing rows: each building id goes to the organization whose sensor came first;
-- sensors another organization put there move, with their readings, rollups and alerts, to a new
-- building id of that organization (labelled so that its syndic can find it); every building
-- rollup is rebuilt from the per-sensor rollups.

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

-- Building rollups keyed by organization, rebuilt from the per-sensor rollups.
DROP INDEX readings_hourly_building_idx;
CREATE INDEX readings_hourly_building_idx ON readings_hourly (organization_id, building_id, hour);
DROP INDEX readings_building_ts_idx;
CREATE INDEX readings_building_ts_idx ON readings (organization_id, building_id, ts);

TRUNCATE readings_hourly_building;
ALTER TABLE readings_hourly_building DROP CONSTRAINT readings_hourly_building_pkey;
ALTER TABLE readings_hourly_building ADD PRIMARY KEY (organization_id, building_id, sensor_type, hour)
    INCLUDE (count, sum, min, max, consumption);
INSERT INTO readings_hourly_building (organization_id, building_id, sensor_type, hour, count, sum,
                                      min, max, consumption)
SELECT h.organization_id, h.building_id, s.type, h.hour, sum(h.count), sum(h.sum), min(h.min),
       max(h.max), sum(h.consumption)
FROM readings_hourly h JOIN sensors s ON s.id = h.sensor_id AND s.organization_id = h.organization_id
GROUP BY h.organization_id, h.building_id, s.type, h.hour;

-- The rollup refresh (0005) and the increments (0006), their building halves keyed by organization.
CREATE OR REPLACE FUNCTION koprogo_refresh_hours(sensor_ids uuid[], hours timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO readings_hourly AS h (sensor_id, hour, organization_id, building_id, count, sum, min, max, consumption)
    SELECT t.sensor_id, t.hour, min(r.organization_id::text)::uuid, min(r.building_id::text)::uuid,
           count(*), sum(r.value), min(r.value), max(r.value),
           sum(CASE WHEN r.prev IS NULL THEN NULL
                    WHEN r.value < r.prev THEN r.value ELSE r.value - r.prev END)
    FROM (SELECT DISTINCT * FROM unnest(sensor_ids, hours) AS u(sensor_id, hour)) t
    CROSS JOIN LATERAL (
        SELECT x.ts, x.value, x.organization_id, x.building_id, lag(x.value) OVER (ORDER BY x.ts) AS prev
        FROM ((SELECT ts, value, organization_id, building_id FROM readings
               WHERE sensor_id = t.sensor_id AND ts < t.hour ORDER BY ts DESC LIMIT 1)
              UNION ALL
              (SELECT ts, value, organization_id, building_id FROM readings
               WHERE sensor_id = t.sensor_id AND ts >= t.hour AND ts < t.hour + interval '1 hour')) x
    ) r
    WHERE r.ts >= t.hour
    GROUP BY t.sensor_id, t.hour
    ON CONFLICT (sensor_id, hour) DO UPDATE SET
        count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
        consumption = EXCLUDED.consumption;

    INSERT INTO readings_hourly_building AS b (organization_id, building_id, sensor_type, hour,
                                               count, sum, min, max, consumption)
    SELECT h.organization_id, h.building_id, s.type, h.hour, sum(h.count), sum(h.sum),
           min(h.min), max(h.max), sum(h.consumption)
    FROM (SELECT DISTINCT r.organization_id, r.building_id, s2.type, r.hour
          FROM unnest(sensor_ids, hours) AS u(sensor_id, hour)
          JOIN readings_hourly r ON r.sensor_id = u.sensor_id AND r.hour = u.hour
          JOIN sensors s2 ON s2.id = u.sensor_id) t
    JOIN readings_hourly h ON h.organization_id = t.organization_id
                          AND h.building_id = t.building_id AND h.hour = t.hour
    JOIN sensors s ON s.id = h.sensor_id AND s.type = t.type
    GROUP BY h.organization_id, h.building_id, s.type, h.hour
    ON CONFLICT (organization_id, building_id, sensor_type, hour) DO UPDATE SET
        count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
        consumption = EXCLUDED.consumption;
END $$;

CREATE OR REPLACE FUNCTION koprogo_readings_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    appended uuid[];
    s uuid[];
    h timestamptz[];
BEGIN
    -- Sensors whose new readings are the only ones at or after their first new one.
    SELECT coalesce(array_agg(p.sensor_id), '{}') INTO appended
    FROM (SELECT sensor_id, min(ts) AS first_ts, count(*) AS n FROM new_rows GROUP BY sensor_id) p
    WHERE (SELECT count(*) FROM readings r
           WHERE r.sensor_id = p.sensor_id AND r.ts >= p.first_ts) = p.n;

    -- The others: recompute what they touch, as 0004 does.
    SELECT array_agg(sensor_id), array_agg(hour) INTO s, h FROM (
        SELECT DISTINCT sensor_id, date_trunc('hour', ts) AS hour FROM new_rows
        WHERE sensor_id <> ALL (appended)
        UNION
        -- the reading after each new one now pairs with it: its hour changes too
        SELECT n.sensor_id, date_trunc('hour', nx.ts)
        FROM new_rows n
        CROSS JOIN LATERAL (SELECT ts FROM readings r WHERE r.sensor_id = n.sensor_id AND r.ts > n.ts
                            ORDER BY r.ts LIMIT 1) nx
        WHERE n.sensor_id <> ALL (appended)
          AND date_trunc('hour', nx.ts) > date_trunc('hour', n.ts)
    ) touched;
    IF s IS NOT NULL THEN
        PERFORM koprogo_refresh_hours(s, h);
    END IF;

    IF cardinality(appended) = 0 THEN
        RETURN NULL;
    END IF;
    WITH paired AS (
        SELECT n.sensor_id, n.ts, n.value, n.organization_id, n.building_id,
               coalesce(lag(n.value) OVER (PARTITION BY n.sensor_id ORDER BY n.ts),
                        (SELECT r.value FROM readings r WHERE r.sensor_id = n.sensor_id
                         AND r.ts < n.ts ORDER BY r.ts DESC LIMIT 1)) AS prev
        FROM new_rows n
        WHERE n.sensor_id = ANY (appended)
    ), deltas AS (
        SELECT sensor_id, date_trunc('hour', ts) AS hour,
               min(organization_id::text)::uuid AS organization_id,
               min(building_id::text)::uuid AS building_id,
               count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
               sum(CASE WHEN prev IS NULL THEN NULL
                        WHEN value < prev THEN value ELSE value - prev END) AS consumption
        FROM paired
        GROUP BY sensor_id, date_trunc('hour', ts)
    ), per_sensor AS (
        INSERT INTO readings_hourly AS r (sensor_id, hour, organization_id, building_id, count,
                                          sum, min, max, consumption)
        SELECT sensor_id, hour, organization_id, building_id, count, sum, min, max, consumption
        FROM deltas
        ON CONFLICT (sensor_id, hour) DO UPDATE SET
            count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
            min = least(r.min, EXCLUDED.min), max = greatest(r.max, EXCLUDED.max),
            consumption = CASE WHEN r.consumption IS NULL THEN EXCLUDED.consumption
                               WHEN EXCLUDED.consumption IS NULL THEN r.consumption
                               ELSE r.consumption + EXCLUDED.consumption END
    )
    INSERT INTO readings_hourly_building AS b (organization_id, building_id, sensor_type, hour,
                                               count, sum, min, max, consumption)
    SELECT d.organization_id, d.building_id, se.type, d.hour, sum(d.count),
           sum(d.sum), min(d.min), max(d.max), sum(d.consumption)
    FROM deltas d JOIN sensors se ON se.id = d.sensor_id
    GROUP BY d.organization_id, d.building_id, se.type, d.hour
    ON CONFLICT (organization_id, building_id, sensor_type, hour) DO UPDATE SET
        count = b.count + EXCLUDED.count, sum = b.sum + EXCLUDED.sum,
        min = least(b.min, EXCLUDED.min), max = greatest(b.max, EXCLUDED.max),
        consumption = CASE WHEN b.consumption IS NULL THEN EXCLUDED.consumption
                           WHEN EXCLUDED.consumption IS NULL THEN b.consumption
                           ELSE b.consumption + EXCLUDED.consumption END;
    RETURN NULL;
END $$;

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
