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
DROP INDEX entries_release;
-- Every reader query starts from one of these; the audience is checked in the index.
-- Pages, feeds, keyset paging and the kind filter: newest first.
CREATE INDEX entries_shipped ON entries (shipped_environment, shipped_at DESC, id DESC, audience, kind);
-- The component filter, and its choices (one seek per component).
CREATE INDEX entries_components ON entries (shipped_environment, component, shipped_at DESC, id DESC, audience);
-- A release's entries.
CREATE INDEX entries_release ON entries (release_id, shipped_environment, audience);

-- English stems (Snowball) without stop words, as SQLite's Porter tokenizer does.
CREATE TEXT SEARCH DICTIONARY shiplog_stem (TEMPLATE = snowball, LANGUAGE = english);
CREATE TEXT SEARCH CONFIGURATION shiplog (COPY = english);
ALTER TEXT SEARCH CONFIGURATION shiplog
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH shiplog_stem;

-- Titles (and version names) weigh A: a search can ask for them alone.
ALTER TABLE entries ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (
    setweight(to_tsvector('shiplog', title), 'A')
    || setweight(to_tsvector('shiplog', COALESCE(body_text, '')), 'B')
) STORED;
CREATE INDEX entries_search ON entries USING GIN (search);

ALTER TABLE releases ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (
    setweight(to_tsvector('shiplog', title), 'A')
    || setweight(to_tsvector('shiplog', COALESCE(version_name, '')), 'A')
    || setweight(to_tsvector('shiplog', COALESCE(narrative_text, '')), 'B')
) STORED;
CREATE INDEX releases_search ON releases USING GIN (search);
