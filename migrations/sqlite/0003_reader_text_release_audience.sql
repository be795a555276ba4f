-- Search matches what readers see (the rendered text, filled in at start-up
-- for rows written before this column existed); a release carries its own
-- audience, and the scheduler compares times as times.

ALTER TABLE entries ADD COLUMN body_text TEXT;
ALTER TABLE releases ADD COLUMN narrative_text TEXT;
ALTER TABLE releases ADD COLUMN audience TEXT NOT NULL DEFAULT 'everyone';
