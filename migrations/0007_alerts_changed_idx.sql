-- 0007: a live alert subscription that lost events (Redis came back) catches up with the
-- alerts of its organization changed since then: an index for that scan.
CREATE INDEX alerts_org_updated_idx ON alerts (organization_id, updated_at, id);
