-- 0002: what ingestion needs beyond the base schema.

-- Ingestors cache the sensor registry; tell them when a sensor changes so the cache never
-- serves a stale calibration factor, status or building for long.
CREATE FUNCTION koprogo_notify_sensor_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row sensors;
BEGIN
    row := coalesce(NEW, OLD);
    PERFORM pg_notify('koprogo_sensor_changed', row.organization_id::text || '/' || row.device_id);
    IF TG_OP = 'UPDATE' AND OLD.device_id IS DISTINCT FROM NEW.device_id THEN
        PERFORM pg_notify('koprogo_sensor_changed', OLD.organization_id::text || '/' || OLD.device_id);
    END IF;
    RETURN NULL;
END $$;

-- Only changes to what ingestion reads; the ingestor's own last_* updates do not notify.
CREATE TRIGGER sensors_changed_notify
AFTER INSERT OR DELETE OR UPDATE OF organization_id, building_id, unit_id, device_id, type,
    reading_kind, unit_of_measure, calibration_factor, status, alert_rules
ON sensors FOR EACH ROW EXECUTE FUNCTION koprogo_notify_sensor_changed();

-- Rejections are kept per organization up to a bound; trimming walks this index.
DROP INDEX rejected_messages_org_idx;
CREATE INDEX rejected_messages_org_idx ON rejected_messages (organization_id, id DESC);
CREATE INDEX rejected_messages_no_org_idx ON rejected_messages (id DESC)
    WHERE organization_id IS NULL;
