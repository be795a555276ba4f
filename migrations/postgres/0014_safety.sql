-- Deploying safely, the rest: environments with a kind and a deploy-night
-- schedule, reasons for skipped nights, the risk-based process (risky
-- components, a rule per risk level, approvals and checklist ticks on
-- entries), and failure notifications (per-person email choices, outgoing
-- webhooks with a delivery log).

ALTER TABLE environments ADD COLUMN kind TEXT NOT NULL DEFAULT 'staging'
    CHECK (kind IN ('production', 'internal', 'staging'));
-- Deploy nights: ISO weekdays (1 = Monday) as "1,2,3,4,5", at a local time.
ALTER TABLE environments ADD COLUMN schedule_days TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN schedule_time TEXT;
UPDATE environments SET kind = 'production', schedule_days = '1,2,3,4,5', schedule_time = '21:00'
    WHERE slug = 'production';

-- Which deploys a build's gate looks at.
CREATE INDEX deploys_commit ON deploys (commit_sha);

CREATE TABLE deploy_nights (
    environment_id BIGINT NOT NULL REFERENCES environments (id),
    night          DATE NOT NULL,
    reason         TEXT NOT NULL CHECK (reason IN ('blocked', 'no_build', 'failed', 'holiday', 'chosen')),
    note           TEXT,
    given_by       TEXT NOT NULL,
    given_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (environment_id, night)
);

CREATE TABLE risky_components (
    component TEXT PRIMARY KEY,
    note      TEXT,
    marked_by TEXT NOT NULL,
    marked_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE risk_rules (
    risk       TEXT PRIMARY KEY CHECK (risk IN ('low', 'medium', 'high')),
    approvals  BIGINT NOT NULL CHECK (approvals BETWEEN 0 AND 2),
    -- ["Rollback plan", ...]
    checklist  JSONB NOT NULL,
    -- Must reach admins or a cohort before everyone.
    staged     BOOLEAN NOT NULL,
    updated_by TEXT,
    updated_at TIMESTAMPTZ
);
INSERT INTO risk_rules (risk, approvals, checklist, staged) VALUES
    ('low', 0, '[]'::jsonb, FALSE), ('medium', 0, '[]'::jsonb, FALSE), ('high', 0, '[]'::jsonb, FALSE);

CREATE TABLE entry_approvals (
    entry_id    BIGINT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    approver    TEXT NOT NULL,
    approved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entry_id, approver)
);

CREATE TABLE entry_checks (
    entry_id   BIGINT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    item       TEXT NOT NULL,
    checked_by TEXT NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entry_id, item)
);

CREATE TABLE notification_prefs (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event   TEXT NOT NULL,
    PRIMARY KEY (user_id, event)
);

CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    event      TEXT NOT NULL,
    -- The JSON body webhooks get.
    payload    JSONB NOT NULL,
    -- One line for people (email subject, Slack text).
    summary    TEXT NOT NULL,
    link       TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    emailed_at TIMESTAMPTZ
);
CREATE INDEX notifications_unmailed ON notifications (created_at) WHERE emailed_at IS NULL;

CREATE TABLE webhooks (
    id         BIGSERIAL PRIMARY KEY,
    url        TEXT NOT NULL,
    -- ["build.failed", ...]
    events     JSONB NOT NULL,
    secret     TEXT NOT NULL,
    format     TEXT NOT NULL CHECK (format IN ('json', 'slack')),
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    removed_at TIMESTAMPTZ
);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id),
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    response_code   BIGINT,
    error           TEXT,
    last_attempt_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
