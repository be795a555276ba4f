-- Builds CI records, the build a deploy shipped, and blocks on environments
-- (whole, one entry's change, or a component), placed and lifted by anyone.
CREATE TABLE builds (
    id            INTEGER PRIMARY KEY,
    version       TEXT NOT NULL,
    commit_sha    TEXT NOT NULL,
    branch        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
    url           TEXT,
    -- [{sha, message, author?, authored_at?}]
    commits       TEXT NOT NULL,
    tests_passed  INTEGER,
    tests_failed  INTEGER,
    tests_skipped INTEGER,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX builds_status ON builds (status, id);

ALTER TABLE deploys ADD COLUMN build_id INTEGER REFERENCES builds (id) ON DELETE SET NULL;
CREATE INDEX deploys_build ON deploys (build_id);

CREATE TABLE blocks (
    id             INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    reason         TEXT NOT NULL,
    entry_id       INTEGER REFERENCES entries (id) ON DELETE CASCADE,
    component      TEXT,
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    lifted_by      TEXT,
    lifted_at      TEXT,
    lift_note      TEXT
);
-- The gate reads the blocks that may still hold.
CREATE INDEX blocks_holding ON blocks (environment_id, expires_at) WHERE lifted_at IS NULL;
CREATE INDEX blocks_placed ON blocks (placed_at);
