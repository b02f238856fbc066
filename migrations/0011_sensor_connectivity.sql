-- 0011: a sensor's status and connectivity follow its alerts by themselves (SPEC §5).
--
--   connectivity  OFFLINE while a SENSOR_OFFLINE alert is unresolved, NEVER_SEEN before the
--                 first reading, ONLINE otherwise (so again with the next reading, which resolves
--                 the offline alert);
--   status        FAULTY while a SENSOR_FAULTY alert is unresolved, if it was ACTIVE and no
--                 person set it since the alert was raised (status_set_at); back to ACTIVE when
--                 that alert resolves, unless a person set another status meanwhile
--                 (status_auto: the current status was set automatically).
-- koprogo_sensor_follow applies this to one sensor and returns its row when something changed,
-- so that the caller tells live subscribers; it is also how start-up reconciles every sensor.

ALTER TABLE sensors ADD COLUMN connectivity text NOT NULL DEFAULT 'NEVER_SEEN'
    CHECK (connectivity IN ('ONLINE', 'OFFLINE', 'NEVER_SEEN'));
ALTER TABLE sensors ADD COLUMN status_auto boolean NOT NULL DEFAULT false;
ALTER TABLE sensors ADD COLUMN status_set_at timestamptz;  -- when a person last changed it

CREATE FUNCTION koprogo_sensor_follow(sensor uuid) RETURNS SETOF sensors
LANGUAGE sql AS $$
    WITH open_alerts AS (
        SELECT coalesce(bool_or(type = 'SENSOR_FAULTY'), false) AS faulty,
               min(created_at) FILTER (WHERE type = 'SENSOR_FAULTY') AS faulty_since,  -- server time, as status_set_at
               coalesce(bool_or(type = 'SENSOR_OFFLINE'), false) AS offline
        FROM alerts WHERE sensor_id = sensor AND status <> 'RESOLVED'
    ), target AS (
        SELECT s.id,
               CASE WHEN a.faulty AND s.status = 'ACTIVE'
                         AND (s.status_set_at IS NULL OR s.status_set_at < a.faulty_since)
                    THEN 'FAULTY'
                    WHEN NOT a.faulty AND s.status = 'FAULTY' AND s.status_auto THEN 'ACTIVE'
                    ELSE s.status END AS status,
               CASE WHEN a.offline THEN 'OFFLINE'
                    WHEN s.last_reading_at IS NULL THEN 'NEVER_SEEN'
                    ELSE 'ONLINE' END AS connectivity
        FROM sensors s, open_alerts a WHERE s.id = sensor
    )
    UPDATE sensors s SET
        status_auto = CASE WHEN t.status <> s.status THEN t.status = 'FAULTY' ELSE s.status_auto END,
        status = t.status,
        connectivity = t.connectivity,
        status_changed_at = now()
    FROM target t
    WHERE s.id = t.id AND (s.status <> t.status OR s.connectivity <> t.connectivity)
    RETURNING s.*
$$;

-- Existing sensors, from what is known now.
SELECT count(*) FROM sensors s, LATERAL koprogo_sensor_follow(s.id) f;
