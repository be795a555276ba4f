-- Builds CI records, the build a deploy shipped, and blocks on environments
-- (whole, one entry's change, or a component), placed and lifted by anyone.
CREATE TABLE builds (
    id            BIGSERIAL PRIMARY KEY,
    version       TEXT NOT NULL,
    commit_sha    TEXT NOT NULL,
    branch        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
    url           TEXT,
    -- [{sha, message, author?, authored_at?}]
    commits       JSONB NOT NULL,
    tests_passed  BIGINT,
    tests_failed  BIGINT,
    tests_skipped BIGINT,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ
);
CREATE INDEX builds_status ON builds (status, id);

ALTER TABLE deploys ADD COLUMN build_id BIGINT REFERENCES builds (id) ON DELETE SET NULL;
CREATE INDEX deploys_build ON deploys (build_id);

CREATE TABLE blocks (
    id             BIGSERIAL PRIMARY KEY,
    environment_id BIGINT NOT NULL REFERENCES environments (id),
    reason         TEXT NOT NULL,
    entry_id       BIGINT REFERENCES entries (id) ON DELETE CASCADE,
    component      TEXT,
    placed_by      TEXT NOT NULL,
    placed_at      TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    lifted_by      TEXT,
    lifted_at      TIMESTAMPTZ,
    lift_note      TEXT
);
-- The gate reads the blocks that may still hold.
CREATE INDEX blocks_holding ON blocks (environment_id, expires_at) WHERE lifted_at IS NULL;
CREATE INDEX blocks_placed ON blocks (placed_at);
