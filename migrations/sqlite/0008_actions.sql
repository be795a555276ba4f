-- Actions: what the team does to close a hole, follow an incident up or act
-- on a retro, each with an owner and a due date. Their number (ACT-<id>) is
-- the id.
CREATE TABLE actions (
    id                 INTEGER PRIMARY KEY,
    title              TEXT NOT NULL,
    owner_id           INTEGER NOT NULL REFERENCES users (id),
    -- A day, YYYY-MM-DD.
    due                DATE NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('testing', 'monitoring', 'process', 'code')),
    status             TEXT NOT NULL CHECK (status IN ('open', 'done', 'dropped')),
    -- Why it was dropped, or how it was done.
    note               TEXT NOT NULL,
    incident_id        INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    -- The deploy that did it (`Closes-Action: ACT-<n>`), when one did.
    evidence_deploy_id INTEGER REFERENCES deploys (id) ON DELETE SET NULL,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    done_at            TEXT
);
CREATE INDEX actions_owner ON actions (owner_id, status, due);
CREATE INDEX actions_status ON actions (status, due);
CREATE INDEX actions_incident ON actions (incident_id);
