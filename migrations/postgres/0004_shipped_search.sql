-- What readers see is read from entries alone: where and when each entry
-- shipped (copied from its deploy while that deploy has succeeded), indexed
-- in the order pages list them, and full-text search (a weighted tsvector
-- with a GIN index). Links become JSONB.

ALTER TABLE entries ALTER COLUMN links DROP DEFAULT;
ALTER TABLE entries ALTER COLUMN links TYPE JSONB USING links::jsonb;
ALTER TABLE entries ALTER COLUMN links SET DEFAULT '[]'::jsonb;

ALTER TABLE entries ADD COLUMN shipped_environment TEXT;
ALTER TABLE entries ADD COLUMN shipped_at TIMESTAMPTZ;

UPDATE entries n SET shipped_environment = e.slug, shipped_at = COALESCE(d.finished_at, d.started_at)
FROM deploys d JOIN environments e ON e.id = d.environment_id
WHERE d.id = n.deploy_id AND d.status = 'succeeded';

DROP INDEX entries_public;
-- Pages, feeds and keyset paging: newest first, audience and kind checked in the index.
CREATE INDEX entries_shipped ON entries (shipped_environment, shipped_at DESC, id DESC, audience, kind);
-- The component filter's choices: one seek per component.
CREATE INDEX entries_components ON entries (shipped_environment, component, audience);
CREATE INDEX entries_audience ON entries (audience);
CREATE INDEX releases_audience ON releases (audience);

ALTER TABLE entries ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title), 'A')
    || setweight(to_tsvector('simple', COALESCE(body_text, '')), 'B')
) STORED;
CREATE INDEX entries_search ON entries USING GIN (search);

ALTER TABLE releases ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title), 'A')
    || setweight(to_tsvector('simple', COALESCE(version_name, '')), 'A')
    || setweight(to_tsvector('simple', COALESCE(narrative_text, '')), 'B')
) STORED;
CREATE INDEX releases_search ON releases USING GIN (search);
