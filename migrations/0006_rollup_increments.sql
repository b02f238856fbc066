-- 0006: readings appended in time order update their hours' rollups by increments.
--
-- The trigger of 0004 recomputes every hour a batch touches from its raw readings: exact, but
-- every batch reads back every reading of those hours, and the ingest transaction waits for it.
-- Nearly every batch only appends: each sensor's new readings come after all it had. Such a
-- sensor's hours now take the new readings as increments (count, sum, min, max, and the
-- consumption of each new pair, the first new reading pairing with the sensor's previous one),
-- and so do their buildings' hours. Late or out-of-order readings still go through
-- koprogo_refresh_hours, first, so that the increments land on recomputed rows.

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
    INSERT INTO readings_hourly_building AS b (building_id, sensor_type, hour, organization_id,
                                               count, sum, min, max, consumption)
    SELECT d.building_id, se.type, d.hour, min(d.organization_id::text)::uuid, sum(d.count),
           sum(d.sum), min(d.min), max(d.max), sum(d.consumption)
    FROM deltas d JOIN sensors se ON se.id = d.sensor_id
    GROUP BY d.building_id, se.type, d.hour
    ON CONFLICT (building_id, sensor_type, hour) DO UPDATE SET
        count = b.count + EXCLUDED.count, sum = b.sum + EXCLUDED.sum,
        min = least(b.min, EXCLUDED.min), max = greatest(b.max, EXCLUDED.max),
        consumption = CASE WHEN b.consumption IS NULL THEN EXCLUDED.consumption
                           WHEN EXCLUDED.consumption IS NULL THEN b.consumption
                           ELSE b.consumption + EXCLUDED.consumption END;
    RETURN NULL;
END $$;
