-- 0008: when a sensor's status last changed (null: never since it was registered), so that a
-- live sensorStatusChanged subscription that lost events (Redis came back) catches up with the
-- sensors whose status changed since.
ALTER TABLE sensors ADD COLUMN status_changed_at timestamptz;
