-- 0010: one consumption rule (SPEC §10), written once here, used by every path.
--
-- Readings in time order each contribute against a baseline: value - baseline when at or above
-- it; the value itself when below it by more than 10 % of it (a reset, a new meter); nothing when
-- below by 10 % or less (a glitch), and then the baseline does not move. Until now every path
-- counted any decrease as a reset, pair by pair (a 1 L glitch on a 1,000 m³ index counted
-- 1,000 m³).
--
-- A glitch's kept baseline is stored on its reading (readings.glitch_baseline, NULL for every
-- other reading), so that the baseline before any reading is coalesce(glitch_baseline, value) of
-- the reading before it: every query stays a window over consecutive readings,
--     koprogo_consumption(lag(coalesce(glitch_baseline, value)) OVER (... ORDER BY ts), value)
-- and a glitch costs one UPDATE of one row. koprogo_classify keeps glitch_baseline right as
-- readings arrive, in order or not. Consumption exists for CUMULATIVE sensors only: gauges'
-- rollups carry NULL.

ALTER TABLE readings ADD COLUMN glitch_baseline double precision;

-- Building rollups keyed by organization (issue 17; the joins below that fill them too), rebuilt
-- with every other rollup at the end of this migration.
TRUNCATE readings_hourly_building;
ALTER TABLE readings_hourly_building DROP CONSTRAINT readings_hourly_building_pkey;
ALTER TABLE readings_hourly_building ADD PRIMARY KEY (organization_id, building_id, sensor_type, hour)
    INCLUDE (count, sum, min, max, consumption);

-- Not STRICT, so the planner inlines it into the queries that use it.
CREATE FUNCTION koprogo_consumption(baseline float8, value float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN baseline IS NULL THEN NULL
                WHEN value >= baseline THEN value - baseline
                WHEN baseline - value > 0.1 * baseline THEN value
                ELSE 0 END
$$;

CREATE FUNCTION koprogo_is_glitch(baseline float8, value float8) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT baseline IS NOT NULL AND value < baseline AND baseline - value <= 0.1 * baseline
$$;

-- Walk a meter's readings from from_ts in time order and set glitch_baseline where the rule says
-- so. Stops at the first reading after until_ts whose classification did not change (the rest
-- depends only on the baseline, which is then what it was). Returns the timestamps changed.
CREATE FUNCTION koprogo_classify(sensor uuid, from_ts timestamptz, until_ts timestamptz)
RETURNS timestamptz[] LANGUAGE plpgsql AS $$
DECLARE
    base float8;
    kept float8;
    r record;
    changed timestamptz[] := '{}';
BEGIN
    SELECT coalesce(glitch_baseline, value) INTO base FROM readings
    WHERE sensor_id = sensor AND ts < from_ts ORDER BY ts DESC LIMIT 1;
    FOR r IN SELECT ts, value, glitch_baseline FROM readings
             WHERE sensor_id = sensor AND ts >= from_ts ORDER BY ts LOOP
        kept := CASE WHEN koprogo_is_glitch(base, r.value) THEN base END;
        IF kept IS DISTINCT FROM r.glitch_baseline THEN
            UPDATE readings SET glitch_baseline = kept WHERE sensor_id = sensor AND ts = r.ts;
            changed := changed || r.ts;
        ELSIF r.ts > until_ts THEN
            EXIT;
        END IF;
        base := coalesce(kept, r.value);
    END LOOP;
    RETURN changed;
END $$;

-- Recompute the given (sensor, hour) rollups from raw readings, then their buildings' hours.
CREATE OR REPLACE FUNCTION koprogo_refresh_hours(sensor_ids uuid[], hours timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO readings_hourly AS h (sensor_id, hour, organization_id, building_id, count, sum, min, max, consumption)
    SELECT t.sensor_id, t.hour, min(r.organization_id::text)::uuid, min(r.building_id::text)::uuid,
           count(*), sum(r.value), min(r.value), max(r.value),
           CASE WHEN t.meter THEN sum(koprogo_consumption(r.prev, r.value)) END
    FROM (SELECT DISTINCT u.sensor_id, u.hour, s.reading_kind = 'CUMULATIVE' AS meter
          FROM unnest(sensor_ids, hours) AS u(sensor_id, hour) JOIN sensors s ON s.id = u.sensor_id) t
    CROSS JOIN LATERAL (
        SELECT x.ts, x.value, x.organization_id, x.building_id,
               lag(x.baseline) OVER (ORDER BY x.ts) AS prev
        FROM ((SELECT ts, value, coalesce(glitch_baseline, value) AS baseline, organization_id,
                      building_id FROM readings
               WHERE sensor_id = t.sensor_id AND ts < t.hour ORDER BY ts DESC LIMIT 1)
              UNION ALL
              (SELECT ts, value, coalesce(glitch_baseline, value), organization_id, building_id
               FROM readings
               WHERE sensor_id = t.sensor_id AND ts >= t.hour AND ts < t.hour + interval '1 hour')) x
    ) r
    WHERE r.ts >= t.hour
    GROUP BY t.sensor_id, t.hour, t.meter
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

-- After each insert into readings:
--   * meters whose new readings could be glitches, or change what later readings are (a late
--     reading, any decrease), are classified, and every hour whose readings or pairs changed is
--     recomputed from raw readings;
--   * the others (the common case: readings appended in time order, never decreasing, and any
--     gauge appended in order) add their new readings to their hours as increments.
CREATE OR REPLACE FUNCTION koprogo_readings_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    appended uuid[];
    bases float8[];
    s uuid[];
    h timestamptz[];
    changed timestamptz[] := '{}';
    changed_sensors uuid[] := '{}';
    m record;
    c timestamptz[];
BEGIN
    -- Sensors whose new readings are the only ones at or after their first new one, and that
    -- (for meters) never go below the baseline before them nor below each other: no glitch, no
    -- reset. Each with that baseline (one index lookup per sensor and batch).
    SELECT coalesce(array_agg(p.sensor_id), '{}'), coalesce(array_agg(b.base), '{}')
      INTO appended, bases
    FROM (SELECT sensor_id, min(ts) AS first_ts, count(*) AS n,
                 bool_and(prev IS NULL OR value >= prev) AS rising,
                 (array_agg(value ORDER BY ts))[1] AS first_value
          FROM (SELECT sensor_id, ts, value,
                       lag(value) OVER (PARTITION BY sensor_id ORDER BY ts) AS prev
                FROM new_rows) w
          GROUP BY sensor_id) p
    JOIN sensors se ON se.id = p.sensor_id
    LEFT JOIN LATERAL (SELECT coalesce(r.glitch_baseline, r.value) AS base FROM readings r
                       WHERE r.sensor_id = p.sensor_id AND r.ts < p.first_ts
                       ORDER BY r.ts DESC LIMIT 1) b ON true
    WHERE (SELECT count(*) FROM readings r
           WHERE r.sensor_id = p.sensor_id AND r.ts >= p.first_ts) = p.n
      AND (se.reading_kind <> 'CUMULATIVE'
           OR (p.rising AND (b.base IS NULL OR p.first_value >= b.base)));

    -- The others: classify the meters from their first new reading, then recompute what changed.
    FOR m IN SELECT n.sensor_id, min(n.ts) AS first_ts, max(n.ts) AS last_ts
             FROM new_rows n JOIN sensors se ON se.id = n.sensor_id
             WHERE n.sensor_id <> ALL (appended) AND se.reading_kind = 'CUMULATIVE'
             GROUP BY n.sensor_id LOOP
        c := koprogo_classify(m.sensor_id, m.first_ts, m.last_ts);
        changed := changed || c;
        changed_sensors := changed_sensors || array_fill(m.sensor_id, ARRAY[cardinality(c)]);
    END LOOP;

    SELECT array_agg(sensor_id), array_agg(hour) INTO s, h FROM (
        SELECT DISTINCT sensor_id, date_trunc('hour', ts) AS hour FROM (
            SELECT sensor_id, ts FROM new_rows WHERE sensor_id <> ALL (appended)
            UNION ALL
            SELECT * FROM unnest(changed_sensors, changed)
        ) moved
        UNION
        -- the reading after each new or reclassified one now pairs with it: its hour changes too
        SELECT k.sensor_id, date_trunc('hour', nx.ts)
        FROM (SELECT sensor_id, ts FROM new_rows WHERE sensor_id <> ALL (appended)
              UNION ALL
              SELECT * FROM unnest(changed_sensors, changed)) k
        CROSS JOIN LATERAL (SELECT ts FROM readings r WHERE r.sensor_id = k.sensor_id AND r.ts > k.ts
                            ORDER BY r.ts LIMIT 1) nx
    ) touched;
    IF s IS NOT NULL THEN
        PERFORM koprogo_refresh_hours(s, h);
    END IF;

    IF cardinality(appended) = 0 THEN
        RETURN NULL;
    END IF;
    WITH paired AS (
        SELECT n.sensor_id, n.ts, n.value, n.organization_id, n.building_id,
               se.reading_kind = 'CUMULATIVE' AS meter, se.type,
               coalesce(lag(n.value) OVER (PARTITION BY n.sensor_id ORDER BY n.ts), a.base) AS prev
        FROM new_rows n
        JOIN unnest(appended, bases) AS a(sensor_id, base) ON a.sensor_id = n.sensor_id
        JOIN sensors se ON se.id = n.sensor_id
    ), deltas AS (
        SELECT sensor_id, date_trunc('hour', ts) AS hour,
               min(organization_id::text)::uuid AS organization_id,
               min(building_id::text)::uuid AS building_id,
               count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
               CASE WHEN bool_and(meter) THEN sum(koprogo_consumption(prev, value)) END AS consumption,
               min(type) AS type
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
    SELECT d.organization_id, d.building_id, d.type, d.hour, sum(d.count),
           sum(d.sum), min(d.min), max(d.max), sum(d.consumption)
    FROM deltas d
    GROUP BY d.organization_id, d.building_id, d.type, d.hour
    ON CONFLICT (organization_id, building_id, sensor_type, hour) DO UPDATE SET
        count = b.count + EXCLUDED.count, sum = b.sum + EXCLUDED.sum,
        min = least(b.min, EXCLUDED.min), max = greatest(b.max, EXCLUDED.max),
        consumption = CASE WHEN b.consumption IS NULL THEN EXCLUDED.consumption
                           WHEN EXCLUDED.consumption IS NULL THEN b.consumption
                           ELSE b.consumption + EXCLUDED.consumption END;
    RETURN NULL;
END $$;

-- Existing rows. A glitch can only be a decrease: classify each meter from its first decrease.
DO $$
DECLARE
    m record;
    c timestamptz[];
BEGIN
    FOR m IN SELECT sensor_id, min(ts) AS first_ts FROM (
                 SELECT r.sensor_id, r.ts, r.value < lag(r.value) OVER w AS down
                 FROM readings r JOIN sensors s ON s.id = r.sensor_id AND s.reading_kind = 'CUMULATIVE'
                 WINDOW w AS (PARTITION BY r.sensor_id ORDER BY r.ts)) d
             WHERE down GROUP BY sensor_id LOOP
        c := koprogo_classify(m.sensor_id, m.first_ts, 'infinity');
    END LOOP;
END $$;

-- Rollups from scratch by the rule (gauges lose the consumption they never had).
TRUNCATE readings_hourly, readings_hourly_building;
SELECT koprogo_refresh_hours(array_agg(sensor_id), array_agg(hour))
FROM (SELECT DISTINCT sensor_id, date_trunc('hour', ts) AS hour FROM readings) existing
HAVING count(*) > 0;
