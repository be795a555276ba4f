-- People, sessions' owners, API tokens and the deploy log.
-- Timestamps are RFC 3339 text in UTC (sqlx's chrono encoding).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'pm', 'engineer', 'viewer')),
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TEXT NOT NULL
);

CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'pm', 'engineer', 'viewer')),
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    accepted_at TEXT
);
CREATE INDEX invitations_email ON invitations (email);

CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (throttle_key, failed_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'pm', 'engineer', 'viewer')),
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE environments (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE deploys (
    id             INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    version        TEXT NOT NULL,
    commit_sha     TEXT,
    status         TEXT NOT NULL CHECK (status IN ('started', 'succeeded', 'failed', 'rolled_back')),
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    created_by     TEXT,
    created_at     TEXT NOT NULL,
    UNIQUE (environment_id, version)
);
CREATE INDEX deploys_timeline ON deploys (started_at DESC, id DESC);
CREATE INDEX deploys_env_timeline ON deploys (environment_id, started_at DESC, id DESC);

CREATE TABLE entries (
    id         INTEGER PRIMARY KEY,
    deploy_id  INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    body_html  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('feature', 'fix', 'improvement', 'security', 'internal')),
    audience   TEXT NOT NULL,
    risk       TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    component  TEXT,
    breaking   BOOLEAN NOT NULL DEFAULT FALSE,
    links      TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX entries_deploy ON entries (deploy_id, position);
CREATE INDEX entries_public ON entries (audience, kind);

CREATE TABLE commits (
    id          INTEGER PRIMARY KEY,
    deploy_id   INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    sha         TEXT NOT NULL,
    message     TEXT NOT NULL,
    author      TEXT,
    authored_at TEXT
);
CREATE INDEX commits_deploy ON commits (deploy_id, position);
