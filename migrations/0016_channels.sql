-- 0016: notification channels as Apprise URLs (SPEC §13): SMS providers, push apps, e-mail
-- services. A URL holds credentials: it is stored sealed (notify/secretbox.py) and shown
-- masked. Each channel has a least severity and optional quiet hours in the building's time.

CREATE TABLE notification_channels (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL,
    position         smallint NOT NULL CHECK (position BETWEEN 0 AND 99),
    url_sealed       bytea NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('sms', 'push', 'email')),
    service          text NOT NULL CHECK (length(service) <= 100),
    masked_url       text NOT NULL CHECK (length(masked_url) <= 4000),
    min_severity     text NOT NULL DEFAULT 'INFO' CHECK (min_severity IN ('INFO', 'WARNING', 'CRITICAL')),
    quiet_from       time,
    quiet_to         time,
    quiet_critical   boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_from IS NULL) = (quiet_to IS NULL)),
    UNIQUE (organization_id, position)
);
ALTER TABLE notification_channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_channels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_channels TO koprogo_app
    USING (organization_id = koprogo_current_org()) WITH CHECK (organization_id = koprogo_current_org());
CREATE POLICY system_access ON notification_channels TO koprogo_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_channels TO koprogo_app, koprogo_system;

-- A delivery on a channel: its kind is the flag it sets (sms, push, email); a webhook sets none.
ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_channel_check;
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_channel_check
    CHECK (channel IN ('email', 'webhook', 'sms', 'push'));
ALTER TABLE notification_outbox
    ADD COLUMN channel_id uuid REFERENCES notification_channels (id) ON DELETE CASCADE;
