-- 0013: no alert lost to a crash. The ingest transaction records which new readings the alert
-- engine has to evaluate; the engine evaluates them and deletes the record in one transaction
-- of its own (holding the record's lock meanwhile). A record left behind (the process died
-- between the two commits) is picked up by the watchdog of any replica, at start-up and then
-- every round: each batch is evaluated exactly once.
CREATE TABLE pending_evaluations (
    id          bigserial PRIMARY KEY,
    sensor_ids  uuid[] NOT NULL,
    timestamps  timestamptz[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Only the system role (ingestor, engine, watchdog) sees it; rows name readings of any
-- organization, and the API never reads them.
-- (UPDATE: SELECT ... FOR UPDATE takes the lock.)
GRANT SELECT, INSERT, UPDATE, DELETE ON pending_evaluations TO koprogo_system;
GRANT USAGE ON SEQUENCE pending_evaluations_id_seq TO koprogo_system;
