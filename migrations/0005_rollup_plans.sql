-- 0005: the rollup refresh as PL/pgSQL, so that each connection plans its two statements once.
--
-- A LANGUAGE sql function with several statements is planned again at every call; the rollup
-- trigger calls it for every ingest batch. Same statements, same results; measured on a batch
-- of 25 readings: 7.3 ms -> 6.1 ms for the insert and its trigger.

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

    INSERT INTO readings_hourly_building AS b (building_id, sensor_type, hour, organization_id, count, sum,
                                               min, max, consumption)
    SELECT h.building_id, s.type, h.hour, min(h.organization_id::text)::uuid, sum(h.count), sum(h.sum),
           min(h.min), max(h.max), sum(h.consumption)
    FROM (SELECT DISTINCT r.building_id, s2.type, r.hour
          FROM unnest(sensor_ids, hours) AS u(sensor_id, hour)
          JOIN readings_hourly r ON r.sensor_id = u.sensor_id AND r.hour = u.hour
          JOIN sensors s2 ON s2.id = u.sensor_id) t
    JOIN readings_hourly h ON h.building_id = t.building_id AND h.hour = t.hour
    JOIN sensors s ON s.id = h.sensor_id AND s.type = t.type
    GROUP BY h.building_id, s.type, h.hour
    ON CONFLICT (building_id, sensor_type, hour) DO UPDATE SET
        count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
        consumption = EXCLUDED.consumption;
END $$;

