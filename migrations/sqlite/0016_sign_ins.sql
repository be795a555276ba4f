-- One row per signed-in browser session, so a person can see where they are
-- signed in and end the others, and so idle and absolute lifetimes are
-- enforced on the server. The browser's session (tower-sessions) names its
-- row; ending the row signs that browser out at its next request.
CREATE TABLE sign_ins (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    ended_at     TEXT
);
CREATE INDEX sign_ins_user ON sign_ins (user_id, last_seen_at) WHERE ended_at IS NULL;
