-- Customer email: subscribers, suppressed addresses, announcement campaigns
-- and the per-recipient delivery ledger.

-- Secrets Shiplog makes for itself on first start (it signs form tokens and
-- confirmation links with them), shared by every instance on this database.
CREATE TABLE instance_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY,
    -- Lowercased; NULL once the subscriber is removed (the address is erased,
    -- the row stays so that counts and the ledger keep adding up).
    email           TEXT UNIQUE,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    -- Joined from the account's administrators' link: also reads `admins`.
    account_admin   BOOLEAN NOT NULL DEFAULT FALSE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'removed')),
    releases        BOOLEAN NOT NULL,
    digest          TEXT NOT NULL CHECK (digest IN ('off', 'daily', 'weekly')),
    kinds           TEXT NOT NULL,      -- JSON array of entry kinds
    components      TEXT NOT NULL,      -- JSON array; empty means every component
    -- The secret in every link of their emails (preferences, unsubscribe).
    token           TEXT NOT NULL UNIQUE,
    source          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    confirm_sent_at TEXT,
    confirmed_at    TEXT,
    unsubscribed_at TEXT,
    -- Changes shipped after this time go into the subscriber's next digest.
    digest_since    TEXT
);
CREATE INDEX subscribers_status ON subscribers (status, account_id);

-- Addresses never mailed again until an admin lifts the suppression.
CREATE TABLE suppressions (
    email      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL CHECK (reason IN ('bounce', 'complaint', 'manual')),
    detail     TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL
);

-- Which releases are announced by email when they are published.
ALTER TABLE releases ADD COLUMN announce BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    release_id  INTEGER NOT NULL UNIQUE REFERENCES releases (id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
    send_at     TEXT,
    created_by  TEXT,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX campaigns_status ON campaigns (status, send_at);

-- One row per message to one subscriber: a campaign's announcement, or one
-- digest period's digest. Claimed (`sending`, with a lease) and committed
-- before the message goes out, marked `sent` after the SMTP server took it.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    campaign_id     INTEGER REFERENCES campaigns (id) ON DELETE CASCADE,
    digest_period   TEXT,
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    -- A digest's changes are those shipped in (window_from, window_to].
    window_from     TEXT,
    window_to       TEXT,
    message_id      TEXT NOT NULL,
    error           TEXT,
    sent_at         TEXT,
    UNIQUE (campaign_id, subscriber_id),
    UNIQUE (digest_period, subscriber_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_campaign ON deliveries (campaign_id, status);
