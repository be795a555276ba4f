-- Marketing releases built from entries, and the audiences that read them.

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE cohorts (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE cohort_members (
    cohort_id  INTEGER NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (cohort_id, account_id)
);

-- Private notes links; at most one live link of each kind per account.
CREATE TABLE account_links (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    is_admin   BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX account_links_account ON account_links (account_id, is_admin);

CREATE TABLE releases (
    id             INTEGER PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    version_name   TEXT,
    narrative      TEXT NOT NULL,
    narrative_html TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'published')),
    publish_at     TEXT,
    published_at   TEXT,
    archived       BOOLEAN NOT NULL DEFAULT FALSE,
    revision       INTEGER NOT NULL DEFAULT 1,
    created_by     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX releases_published ON releases (status, published_at DESC, id DESC);
CREATE INDEX releases_due ON releases (status, publish_at);

ALTER TABLE entries ADD COLUMN release_id INTEGER REFERENCES releases (id) ON DELETE SET NULL;
CREATE INDEX entries_release ON entries (release_id);
