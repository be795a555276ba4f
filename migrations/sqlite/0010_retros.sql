-- Retrospectives: the team's cadence, each retro's board (items in three
-- columns, grouped and voted on) and what it decided about open actions.
CREATE TABLE retro_settings (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    cadence_days     INTEGER NOT NULL CHECK (cadence_days BETWEEN 1 AND 90),
    votes_per_person INTEGER NOT NULL CHECK (votes_per_person BETWEEN 1 AND 20)
);
INSERT INTO retro_settings (id, cadence_days, votes_per_person) VALUES (1, 14, 3);

CREATE TABLE retros (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL,
    period_start     DATE NOT NULL,
    period_end       DATE NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    -- A person's email or a token's name, as for authors everywhere.
    facilitator      TEXT NOT NULL,
    votes_per_person INTEGER NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    closed_at        TEXT,
    -- Moves on with every change to the board, which pages poll.
    revision         INTEGER NOT NULL DEFAULT 0,
    CHECK (period_start <= period_end)
);
-- One open retro at a time.
CREATE UNIQUE INDEX retros_one_open ON retros (status) WHERE status = 'open';

CREATE TABLE retro_items (
    id          INTEGER PRIMARY KEY,
    retro_id    INTEGER NOT NULL REFERENCES retros (id) ON DELETE CASCADE,
    column_name TEXT NOT NULL CHECK (column_name IN ('went-well', 'to-improve', 'ideas')),
    body        TEXT NOT NULL,
    -- Kept even when anonymous: only its author ever reads it back.
    author      TEXT NOT NULL,
    anonymous   BOOLEAN NOT NULL,
    group_id    INTEGER REFERENCES retro_items (id) ON DELETE SET NULL,
    action_id   INTEGER REFERENCES actions (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX retro_items_retro ON retro_items (retro_id);
CREATE INDEX retro_items_action ON retro_items (action_id);

CREATE TABLE retro_votes (
    retro_id INTEGER NOT NULL REFERENCES retros (id) ON DELETE CASCADE,
    item_id  INTEGER NOT NULL REFERENCES retro_items (id) ON DELETE CASCADE,
    voter    TEXT NOT NULL,
    PRIMARY KEY (item_id, voter)
);
CREATE INDEX retro_votes_voter ON retro_votes (retro_id, voter);

CREATE TABLE retro_reviews (
    retro_id    INTEGER NOT NULL REFERENCES retros (id) ON DELETE CASCADE,
    action_id   INTEGER NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    outcome     TEXT NOT NULL CHECK (outcome IN ('done', 'still-open', 'dropped')),
    due         DATE,
    note        TEXT NOT NULL,
    reviewed_by TEXT NOT NULL,
    reviewed_at TEXT NOT NULL,
    PRIMARY KEY (retro_id, action_id)
);
