-- What readers see is read from entries alone: where and when each entry
-- shipped (copied from its deploy while that deploy has succeeded), indexed
-- in the order pages list them, and full-text indexes (FTS5) for search:
-- words reduced to their English stem (Porter), no stop words.

ALTER TABLE entries ADD COLUMN shipped_environment TEXT;
ALTER TABLE entries ADD COLUMN shipped_at TEXT;

UPDATE entries SET
    shipped_environment = (
        SELECT e.slug FROM deploys d JOIN environments e ON e.id = d.environment_id
        WHERE d.id = entries.deploy_id AND d.status = 'succeeded'),
    shipped_at = (
        SELECT COALESCE(d.finished_at, d.started_at) FROM deploys d
        WHERE d.id = entries.deploy_id AND d.status = 'succeeded');

DROP INDEX entries_public;
DROP INDEX entries_release;
-- Every reader query starts from one of these; the audience is checked in the index.
-- Pages, feeds, keyset paging and the kind filter: newest first.
CREATE INDEX entries_shipped ON entries (shipped_environment, shipped_at DESC, id DESC, audience, kind);
-- The component filter, and its choices (one seek per component).
CREATE INDEX entries_components ON entries (shipped_environment, component, shipped_at DESC, id DESC, audience);
-- A release's entries.
CREATE INDEX entries_release ON entries (release_id, shipped_environment, audience);

CREATE VIRTUAL TABLE entries_fts USING fts5 (
    title, body_text,
    content = 'entries', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 0'
);
CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
END;
CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, body_text)
    VALUES ('delete', old.id, old.title, old.body_text);
END;
CREATE TRIGGER entries_fts_update AFTER UPDATE OF title, body_text ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, body_text)
    VALUES ('delete', old.id, old.title, old.body_text);
    INSERT INTO entries_fts (rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
END;
INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE releases_fts USING fts5 (
    title, version_name, narrative_text,
    content = 'releases', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 0'
);
CREATE TRIGGER releases_fts_insert AFTER INSERT ON releases BEGIN
    INSERT INTO releases_fts (rowid, title, version_name, narrative_text)
    VALUES (new.id, new.title, new.version_name, new.narrative_text);
END;
CREATE TRIGGER releases_fts_delete AFTER DELETE ON releases BEGIN
    INSERT INTO releases_fts (releases_fts, rowid, title, version_name, narrative_text)
    VALUES ('delete', old.id, old.title, old.version_name, old.narrative_text);
END;
CREATE TRIGGER releases_fts_update AFTER UPDATE OF title, version_name, narrative_text ON releases BEGIN
    INSERT INTO releases_fts (releases_fts, rowid, title, version_name, narrative_text)
    VALUES ('delete', old.id, old.title, old.version_name, old.narrative_text);
    INSERT INTO releases_fts (rowid, title, version_name, narrative_text)
    VALUES (new.id, new.title, new.version_name, new.narrative_text);
END;
INSERT INTO releases_fts (releases_fts) VALUES ('rebuild');
