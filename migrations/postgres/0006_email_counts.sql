-- A campaign's rate and its numbers after it ends are counted from indexes
-- alone: counting sent messages by time read every ledger row before, and
-- each reader connection ended up caching the whole ledger.
DROP INDEX deliveries_campaign;
CREATE INDEX deliveries_campaign ON deliveries (campaign_id, status, sent_at);
CREATE INDEX subscribers_unsubscribed ON subscribers (unsubscribed_at);
