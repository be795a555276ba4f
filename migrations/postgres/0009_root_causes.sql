-- Blameless root-cause notes (one per incident, versioned once final) and the
-- holes in testing and monitoring that let a defect through, each repaired
-- by an action.
CREATE TABLE root_causes (
    incident_id    BIGINT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    -- The note's text fields as one JSON document: summary, timeline
    -- ([{at, text}]), trigger, whys ([text]), factors, went_well, lessons,
    -- each Markdown field with its rendered HTML beside it.
    document       JSONB NOT NULL,
    category       TEXT NOT NULL CHECK (category IN ('code', 'config', 'data', 'infrastructure',
                       'third-party', 'process')),
    status         TEXT NOT NULL CHECK (status IN ('draft', 'final')),
    -- Who wrote it: a person's email or a token's name.
    author         TEXT NOT NULL,
    reviewer       TEXT,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    finalized_at   TIMESTAMPTZ
);

-- Every earlier version of a note edited after it became final.
CREATE TABLE root_cause_versions (
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    document    JSONB NOT NULL,
    category    TEXT NOT NULL,
    edited_by   TEXT NOT NULL,
    edited_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, version)
);

CREATE TABLE holes (
    id          BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('testing', 'monitoring')),
    area        TEXT NOT NULL CHECK (area IN ('unit', 'integration', 'end-to-end',
                    'production-like preview', 'manual', 'user', 'application', 'logs')),
    component   TEXT,
    description TEXT NOT NULL,
    -- The action that repairs it: the hole is closed once that action is done.
    action_id   BIGINT NOT NULL REFERENCES actions (id),
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX holes_incident ON holes (incident_id);
CREATE INDEX holes_action ON holes (action_id);
