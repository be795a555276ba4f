-- Every write: who (a person's email, a token's name, or anonymous), what
-- (method and path, which names the object), when, from where, and how it
-- ended. Labels are text, so history stays readable after a person is
-- deactivated or a token revoked.
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('person', 'token', 'anonymous')),
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     BIGINT NOT NULL,
    ip         TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at);

-- Start-up fills the reader text of entries that lack it: find them without a scan.
CREATE INDEX entries_unrendered ON entries (id) WHERE body_text IS NULL;
