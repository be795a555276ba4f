-- Marketing releases built from entries, and the audiences that read them.

CREATE TABLE accounts (
    id         BIGSERIAL PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cohorts (
    id         BIGSERIAL PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cohort_members (
    cohort_id  BIGINT NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (cohort_id, account_id)
);

-- Private notes links; at most one live link of each kind per account.
CREATE TABLE account_links (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    is_admin   BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX account_links_account ON account_links (account_id, is_admin);

CREATE TABLE releases (
    id             BIGSERIAL PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    version_name   TEXT,
    narrative      TEXT NOT NULL,
    narrative_html TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'published')),
    publish_at     TIMESTAMPTZ,
    published_at   TIMESTAMPTZ,
    archived       BOOLEAN NOT NULL DEFAULT FALSE,
    revision       BIGINT NOT NULL DEFAULT 1,
    created_by     TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX releases_published ON releases (status, published_at DESC, id DESC);
CREATE INDEX releases_due ON releases (status, publish_at);

ALTER TABLE entries ADD COLUMN release_id BIGINT REFERENCES releases (id) ON DELETE SET NULL;
CREATE INDEX entries_release ON entries (release_id);
