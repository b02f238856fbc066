-- 0003: alert notifications through an outbox written in the alert's own transaction, so a
-- crash or an SMTP outage loses nothing; a background sender delivers with retries.

ALTER TABLE alerts ADD COLUMN last_notified_at timestamptz;

CREATE TABLE notification_outbox (
    id               bigserial PRIMARY KEY,
    organization_id  uuid NOT NULL,
    alert_id         uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('email', 'webhook')),
    kind             text NOT NULL DEFAULT 'alert' CHECK (kind IN ('alert', 'reminder')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX notification_outbox_alert_idx ON notification_outbox (alert_id);

ALTER TABLE notification_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_outbox TO koprogo_app
    USING (organization_id = koprogo_current_org()) WITH CHECK (organization_id = koprogo_current_org());
CREATE POLICY system_access ON notification_outbox TO koprogo_system USING (true) WITH CHECK (true);
GRANT SELECT ON notification_outbox TO koprogo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_outbox TO koprogo_system;
GRANT USAGE ON SEQUENCE notification_outbox_id_seq TO koprogo_system;

CREATE INDEX alerts_open_type_idx ON alerts (type, status) WHERE status <> 'RESOLVED';
