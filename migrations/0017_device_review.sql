-- 0017: after review of 0015/0016.
-- * A sensor's binding (integration, externalId, metric, unitScale) and its resolution are
--   what ingestion reads too: changing them tells the ingestors at once (as 0002 does for the
--   rest), and so does a building's time zone (a device's local time is read in it).
-- * Channels are retired, never deleted: their deliveries' history stays, and what was still
--   due on a removed channel is cancelled, not silently dropped.
DROP TRIGGER sensors_changed_notify ON sensors;
CREATE TRIGGER sensors_changed_notify
AFTER INSERT OR DELETE OR UPDATE OF organization_id, building_id, unit_id, device_id, type,
    reading_kind, unit_of_measure, calibration_factor, status, alert_rules, resolution,
    integration, external_id, metric, unit_scale
ON sensors FOR EACH ROW EXECUTE FUNCTION koprogo_notify_sensor_changed();

CREATE FUNCTION koprogo_notify_building_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- "<org>/" names no device: the ingestors forget their bindings (they hold the zone).
    PERFORM pg_notify('koprogo_sensor_changed', NEW.organization_id::text || '/');
    RETURN NULL;
END $$;
CREATE TRIGGER buildings_timezone_notify AFTER UPDATE OF timezone ON buildings
FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
EXECUTE FUNCTION koprogo_notify_building_changed();

ALTER TABLE notification_channels ADD COLUMN retired_at timestamptz;
ALTER TABLE notification_channels DROP CONSTRAINT notification_channels_organization_id_position_key;
CREATE INDEX notification_channels_active ON notification_channels (organization_id, position)
    WHERE retired_at IS NULL;
-- Retiring a channel (configureNotifications, as the organization) cancels its queue.
GRANT UPDATE ON notification_outbox TO koprogo_app;
