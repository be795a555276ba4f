//! What readers see: entries and releases on customer pages, feeds and the
//! public API. Who sees what is decided here, in [`visible_entries`] and
//! [`visible_releases`]; every query of this module goes through them.

use super::deploys::ENTRY_COLUMNS;
use super::dialect::{Dialect, SearchTerms};
use super::releases::RELEASE_COLUMNS;
use super::sql::{sql, Params, Record};
use super::{DbResult, SqlStore};
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Where a page of a list starts (`/changes`, the releases).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cursor {
    /// The newest first (the best matches first, in a search).
    #[default]
    Newest,
    /// Skipping this many (the few numbered pages old links name).
    Offset(i64),
    /// Rows older than this row (the next page), newest first.
    OlderThan(i64),
    /// Rows newer than this row (the previous page), answered oldest first.
    NewerThan(i64),
    /// Search hits after this one (the next page of results).
    After(Mark),
    /// Search hits before this one (the previous page), answered in the
    /// order they are read.
    Before(Mark),
}

/// A search hit's place in the results: hits with every word in their title
/// come first, then the others, the most recently written first in each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub in_title: bool,
    pub id: i64,
}

/// A page of rows; in a search, the first `in_title` are title hits.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<T> {
    pub rows: Vec<T>,
    pub in_title: usize,
}

impl<T> Found<T> {
    fn plain(rows: Vec<T>) -> Self {
        Found { rows, in_title: 0 }
    }
}

/// One page of `/changes`.
#[derive(Clone, Debug, Default)]
pub struct PublicQuery {
    pub environment: String,
    /// The stored audience values the reader may see (`Reader::audiences`).
    pub audiences: Vec<String>,
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    /// Words to find; with words, the best matches come first.
    pub search: String,
    pub cursor: Cursor,
    pub limit: i64,
}

/// One page of published releases for one reader.
#[derive(Clone, Debug, Default)]
pub struct PublicReleaseQuery {
    pub environment: String,
    /// The stored audience values the reader may see (`Reader::audiences`).
    pub audiences: Vec<String>,
    pub search: String,
    pub limit: i64,
    pub cursor: Cursor,
}

#[async_trait]
pub trait ChangeStore: Send + Sync {
    async fn public_entries(&self, query: &PublicQuery) -> DbResult<Found<PublicEntry>>;
    async fn public_entry(
        &self,
        environment: &str,
        audiences: &[String],
        id: i64,
    ) -> DbResult<Option<PublicEntry>>;
    /// The components of the entries this reader can see, in order.
    async fn public_components(
        &self,
        environment: &str,
        audiences: &[String],
    ) -> DbResult<Vec<String>>;
    /// Published, unarchived releases this reader may see, newest first.
    async fn public_releases(&self, query: &PublicReleaseQuery) -> DbResult<Found<Release>>;
    /// One published release (archived ones too) if this reader may see it.
    async fn public_release(
        &self,
        environment: &str,
        audiences: &[String],
        slug: &str,
    ) -> DbResult<Option<Release>>;
    /// Entries this reader may see that shipped after `from` and up to `to`,
    /// oldest first (for digests).
    async fn shipped_between(
        &self,
        environment: &str,
        audiences: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> DbResult<Vec<PublicEntry>>;
    /// The entries of these releases this reader may see.
    async fn public_release_entries(
        &self,
        environment: &str,
        audiences: &[String],
        release_ids: &[i64],
    ) -> DbResult<Vec<PublicEntry>>;

    /// Entries (id, body_html) and releases without their reader text yet.
    async fn missing_reader_text(
        &self,
        limit: i64,
    ) -> DbResult<(Vec<(i64, String)>, Vec<(i64, String)>)>;
    async fn set_reader_text(
        &self,
        entries: &[(i64, String)],
        releases: &[(i64, String)],
    ) -> DbResult<()>;
}

/// Entries `n` a reader may see: shipped (a succeeded deploy) to the public
/// environment, with an audience among the reader's.
fn visible_entries(
    dialect: Dialect,
    params: &mut Params,
    environment: &str,
    audiences: &[String],
) -> String {
    let environment = params.add(environment);
    let audiences = params.add(audiences);
    entries_for(dialect, "n", &environment, &audiences)
}

fn entries_for(dialect: Dialect, alias: &str, environment: &str, audiences: &str) -> String {
    format!(
        "{alias}.shipped_environment = {environment} AND {}",
        dialect.any(&format!("{alias}.audience"), audiences)
    )
}

/// Releases `r` a reader may see: their own audience is the reader's, and so
/// is at least one of their entries.
fn visible_releases(
    dialect: Dialect,
    params: &mut Params,
    environment: &str,
    audiences: &[String],
) -> String {
    let environment = params.add(environment);
    let audiences = params.add(audiences);
    format!(
        "{} AND EXISTS (SELECT 1 FROM entries n WHERE n.release_id = r.id AND {})",
        dialect.any("r.audience", &audiences),
        entries_for(dialect, "n", &environment, &audiences)
    )
}

/// A public entry with its deploy's version and the published release that
/// announced it.
fn public_entries_sql(filter: &str, order: &str) -> String {
    format!(
        "SELECT {} FROM entries n {PUBLIC_JOINS} WHERE {filter} {order}",
        public_columns()
    )
}

const PUBLIC_JOINS: &str = "JOIN deploys d ON d.id = n.deploy_id
    LEFT JOIN releases r ON r.id = n.release_id AND r.status = 'published'";

/// What readers receive of an entry: the rendered HTML, never the Markdown
/// source (`body` is left empty).
fn public_columns() -> String {
    format!(
        "{}, d.version, n.shipped_at, r.slug AS release_slug, r.title AS release_title",
        ENTRY_COLUMNS.replace("n.body,", "'' AS body,")
    )
}

/// What readers receive of a release: the rendered narrative, never its
/// Markdown source (`narrative` is left empty).
fn public_release_columns() -> String {
    RELEASE_COLUMNS.replace("r.narrative,", "'' AS narrative,")
}

fn public_releases_where(rest: &str) -> String {
    format!("SELECT {} FROM releases r {rest}", public_release_columns())
}

// `PublicEntry` keeps its release as one optional pair, so its row mapping
// is written out (for any database sqlx supports).
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for PublicEntry
where
    ChangeEntry: sqlx::FromRow<'r, R>,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let slug: Option<String> = row.try_get("release_slug")?;
        let title: Option<String> = row.try_get("release_title")?;
        Ok(PublicEntry {
            entry: ChangeEntry::from_row(row)?,
            version: row.try_get("version")?,
            shipped_at: row.try_get("shipped_at")?,
            release: slug.zip(title),
        })
    }
}

/// Rows of `table` a search may find: `filter` (on `alias`) with its
/// `params`, read as `columns` (with `joins` after the searched table).
struct Hits<'a> {
    table: &'static str,
    alias: &'static str,
    columns: &'a str,
    joins: &'a str,
    filter: &'a str,
    params: &'a Params,
}

impl SqlStore {
    /// One page of search hits, ranked: rows with every word in their title
    /// first, then the other matches; the most recently written first within
    /// each. Every step reads the text index in its order from the cursor and
    /// stops at the page's end, so a later page, or a common word, costs what
    /// the first page of a rare one does.
    async fn ranked<T: Record>(
        &self,
        hits: &Hits<'_>,
        terms: &SearchTerms,
        limit: i64,
        cursor: Cursor,
    ) -> DbResult<Found<T>> {
        let (title, other) = (terms.in_title.as_str(), terms.elsewhere.as_str());
        let forward = |rows: Vec<T>, mut more: Vec<T>| {
            let in_title = rows.len();
            let mut rows = rows;
            rows.append(&mut more);
            Found { rows, in_title }
        };
        match cursor {
            Cursor::Newest | Cursor::OlderThan(_) | Cursor::NewerThan(_) => {
                let t: Vec<T> = self.hits(hits, title, None, true, limit, 0).await?;
                let rest = limit - t.len() as i64;
                let o = if rest > 0 {
                    self.hits(hits, other, None, true, rest, 0).await?
                } else {
                    vec![]
                };
                Ok(forward(t, o))
            }
            Cursor::After(Mark { in_title: true, id }) => {
                let t: Vec<T> = self.hits(hits, title, Some(id), true, limit, 0).await?;
                let rest = limit - t.len() as i64;
                let o = if rest > 0 {
                    self.hits(hits, other, None, true, rest, 0).await?
                } else {
                    vec![]
                };
                Ok(forward(t, o))
            }
            Cursor::After(Mark {
                in_title: false,
                id,
            }) => Ok(forward(
                vec![],
                self.hits(hits, other, Some(id), true, limit, 0).await?,
            )),
            Cursor::Before(Mark { in_title, id }) => {
                // Read backwards from the cursor, nearest first, then turn
                // the rows round into reading order.
                let mut o: Vec<T> = if in_title {
                    vec![]
                } else {
                    self.hits(hits, other, Some(id), false, limit, 0).await?
                };
                let rest = limit - o.len() as i64;
                let mut t: Vec<T> = if rest <= 0 {
                    vec![]
                } else if in_title {
                    self.hits(hits, title, Some(id), false, rest, 0).await?
                } else {
                    self.hits(hits, title, None, false, rest, 0).await?
                };
                t.reverse();
                o.reverse();
                Ok(forward(t, o))
            }
            Cursor::Offset(offset) => {
                let t: Vec<T> = self.hits(hits, title, None, true, limit, offset).await?;
                if t.len() as i64 >= limit {
                    return Ok(forward(t, vec![]));
                }
                // Where the other matches start: right after the title
                // matches, counted no further than the offset.
                let in_title = if t.is_empty() && offset > 0 {
                    self.count_hits(hits, title, offset).await?
                } else {
                    offset + t.len() as i64
                };
                let rest = limit - t.len() as i64;
                let o = self
                    .hits(hits, other, None, true, rest, (offset - in_title).max(0))
                    .await?;
                Ok(forward(t, o))
            }
        }
    }

    /// Hits of `query`, from the row key `from` on (exclusive), newest first
    /// or (not `newest_first`) oldest first.
    async fn hits<T: Record>(
        &self,
        hits: &Hits<'_>,
        query: &str,
        from: Option<i64>,
        newest_first: bool,
        limit: i64,
        offset: i64,
    ) -> DbResult<Vec<T>> {
        let mut params = hits.params.clone();
        let found = self
            .dialect()
            .text_match(hits.table, hits.alias, &params.add(query));
        let key = &found.key;
        let (direction, op) = if newest_first {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        let bound = match from {
            Some(id) => format!(" AND {key} {op} {}", params.add(id)),
            None => String::new(),
        };
        let (limit, offset) = (params.add(limit), params.add(offset));
        sql(format!(
            "SELECT {columns} FROM {from} {joins} WHERE {matches}{bound} AND {filter}
             ORDER BY {key} {direction} LIMIT {limit} OFFSET {offset}",
            columns = hits.columns,
            from = found.from,
            joins = hits.joins,
            matches = found.filter,
            filter = hits.filter,
        ))
        .params(params)
        .all(self.read())
        .await
    }

    /// How many hits `query` has, counting no further than `most`.
    async fn count_hits(&self, hits: &Hits<'_>, query: &str, most: i64) -> DbResult<i64> {
        let mut params = hits.params.clone();
        let found = self
            .dialect()
            .text_match(hits.table, hits.alias, &params.add(query));
        let most = params.add(most);
        sql(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} WHERE {} AND {} LIMIT {most}) hits",
            found.from, found.filter, hits.filter
        ))
        .params(params)
        .value(self.read())
        .await
    }
}

#[async_trait]
impl ChangeStore for SqlStore {
    async fn public_entries(&self, q: &PublicQuery) -> DbResult<Found<PublicEntry>> {
        let dialect = self.dialect();
        let mut params = Params::default();
        let environment = params.add(&q.environment);
        let audiences = params.add(&q.audiences);
        let mut filter = entries_for(dialect, "n", &environment, &audiences);
        if let Some(kind) = q.kind {
            filter += &format!(" AND n.kind = {}", params.add(kind.as_str()));
        }
        if let Some(component) = &q.component {
            filter += &format!(" AND n.component = {}", params.add(component));
        }
        if !q.search.trim().is_empty() {
            let Some(terms) = dialect.search_terms(&q.search, &["title"]) else {
                return Ok(Found::plain(vec![]));
            };
            let hits = Hits {
                table: "entries",
                alias: "n",
                columns: &public_columns(),
                joins: PUBLIC_JOINS,
                filter: &filter,
                params: &params,
            };
            return self.ranked(&hits, &terms, q.limit, q.cursor).await;
        }
        let mut order = "ORDER BY n.shipped_at DESC, n.id DESC".to_string();
        // A cursor is an entry this reader can see; any other matches nothing.
        let at = |params: &mut Params, id: i64| {
            let id = params.add(id);
            let visible = entries_for(dialect, "s", &environment, &audiences);
            format!("(SELECT s.shipped_at FROM entries s WHERE s.id = {id} AND {visible}), {id}")
        };
        match q.cursor {
            Cursor::Newest | Cursor::Offset(_) | Cursor::After(_) | Cursor::Before(_) => {}
            Cursor::OlderThan(id) => {
                filter += &format!(" AND (n.shipped_at, n.id) < ({})", at(&mut params, id))
            }
            Cursor::NewerThan(id) => {
                filter += &format!(" AND (n.shipped_at, n.id) > ({})", at(&mut params, id));
                order = "ORDER BY n.shipped_at, n.id".into();
            }
        }
        order += &format!(" LIMIT {}", params.add(q.limit));
        if let Cursor::Offset(offset) = q.cursor {
            order += &format!(" OFFSET {}", params.add(offset));
        }
        sql(public_entries_sql(&filter, &order))
            .params(params)
            .all(self.read())
            .await
            .map(Found::plain)
    }

    async fn public_entry(
        &self,
        environment: &str,
        audiences: &[String],
        id: i64,
    ) -> DbResult<Option<PublicEntry>> {
        let mut params = Params::default();
        let visible = visible_entries(self.dialect(), &mut params, environment, audiences);
        let filter = format!("{visible} AND n.id = {}", params.add(id));
        sql(public_entries_sql(&filter, ""))
            .params(params)
            .optional(self.read())
            .await
    }

    async fn public_components(
        &self,
        environment: &str,
        audiences: &[String],
    ) -> DbResult<Vec<String>> {
        // One index seek per component (entries_components), however many
        // entries there are: each step finds the next component a visible
        // entry has.
        let mut params = Params::default();
        let visible = visible_entries(self.dialect(), &mut params, environment, audiences);
        sql(format!(
            "WITH RECURSIVE c (component) AS (
                SELECT MIN(n.component) FROM entries n
                WHERE {visible} AND n.component IS NOT NULL
                UNION ALL
                SELECT (SELECT MIN(n.component) FROM entries n
                        WHERE {visible} AND n.component > c.component)
                FROM c WHERE c.component IS NOT NULL
             )
             SELECT component FROM c WHERE component IS NOT NULL"
        ))
        .params(params)
        .column(self.read())
        .await
    }

    async fn public_releases(&self, q: &PublicReleaseQuery) -> DbResult<Found<Release>> {
        let dialect = self.dialect();
        let mut params = Params::default();
        let mut filter = format!(
            "r.status = 'published' AND r.archived = FALSE AND {}",
            visible_releases(dialect, &mut params, &q.environment, &q.audiences)
        );
        if !q.search.trim().is_empty() {
            let Some(terms) = dialect.search_terms(&q.search, &["title", "version_name"]) else {
                return Ok(Found::plain(vec![]));
            };
            let hits = Hits {
                table: "releases",
                alias: "r",
                columns: &public_release_columns(),
                joins: "",
                filter: &filter,
                params: &params,
            };
            return self.ranked(&hits, &terms, q.limit, q.cursor).await;
        }
        // Newest published first, straight from the (status, published_at,
        // id) index; a page next to a release starts from it.
        let mut order = "ORDER BY r.published_at DESC, r.id DESC".to_string();
        let at = |params: &mut Params, id: i64| {
            let id = params.add(id);
            format!(
                "(SELECT s.published_at FROM releases s WHERE s.id = {id} AND s.status = 'published'), {id}"
            )
        };
        match q.cursor {
            Cursor::Newest | Cursor::Offset(_) | Cursor::After(_) | Cursor::Before(_) => {}
            Cursor::OlderThan(id) => {
                filter += &format!(" AND (r.published_at, r.id) < ({})", at(&mut params, id))
            }
            Cursor::NewerThan(id) => {
                filter += &format!(" AND (r.published_at, r.id) > ({})", at(&mut params, id));
                order = "ORDER BY r.published_at, r.id".into();
            }
        }
        order += &format!(" LIMIT {}", params.add(q.limit));
        if let Cursor::Offset(offset) = q.cursor {
            order += &format!(" OFFSET {}", params.add(offset));
        }
        sql(public_releases_where(&format!("WHERE {filter} {order}")))
            .params(params)
            .all(self.read())
            .await
            .map(Found::plain)
    }

    async fn public_release(
        &self,
        environment: &str,
        audiences: &[String],
        slug: &str,
    ) -> DbResult<Option<Release>> {
        let mut params = Params::default();
        let visible = visible_releases(self.dialect(), &mut params, environment, audiences);
        let slug = params.add(slug);
        sql(public_releases_where(&format!(
            "WHERE r.status = 'published' AND r.slug = {slug} AND {visible}"
        )))
        .params(params)
        .optional(self.read())
        .await
    }

    async fn shipped_between(
        &self,
        environment: &str,
        audiences: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> DbResult<Vec<PublicEntry>> {
        let dialect = self.dialect();
        let mut params = Params::default();
        let visible = visible_entries(dialect, &mut params, environment, audiences);
        let from = params.add(from);
        let to = params.add(to);
        let limit = params.add(limit);
        let filter = format!(
            "{visible} AND NOT ({}) AND {}",
            dialect.time_at_or_before("n.shipped_at", &from),
            dialect.time_at_or_before("n.shipped_at", &to)
        );
        sql(public_entries_sql(
            &filter,
            &format!("ORDER BY n.shipped_at, n.id LIMIT {limit}"),
        ))
        .params(params)
        .all(self.read())
        .await
    }

    async fn public_release_entries(
        &self,
        environment: &str,
        audiences: &[String],
        release_ids: &[i64],
    ) -> DbResult<Vec<PublicEntry>> {
        let dialect = self.dialect();
        let mut params = Params::default();
        let visible = visible_entries(dialect, &mut params, environment, audiences);
        let ids = params.add(release_ids);
        let filter = format!("{visible} AND {}", dialect.any("n.release_id", &ids));
        // Ordered by release first, so that the release index serves the lookup.
        sql(public_entries_sql(
            &filter,
            "ORDER BY n.release_id, n.kind, n.shipped_at DESC, n.id",
        ))
        .params(params)
        .all(self.read())
        .await
    }

    async fn missing_reader_text(
        &self,
        limit: i64,
    ) -> DbResult<(Vec<(i64, String)>, Vec<(i64, String)>)> {
        let missing = |table: &str, html: &str, text: &str| {
            sql(format!(
                "SELECT id, {html} FROM {table} WHERE {text} IS NULL ORDER BY id LIMIT :limit"
            ))
            .set("limit", limit)
        };
        // A sweep of every row at start-up: on the bulk pool, so that it does
        // not fill a reader's 16 MiB page cache for as long as the server runs.
        let entries = missing("entries", "body_html", "body_text")
            .all(self.bulk())
            .await?;
        let releases = missing("releases", "narrative_html", "narrative_text")
            .all(self.bulk())
            .await?;
        Ok((entries, releases))
    }

    async fn set_reader_text(
        &self,
        entries: &[(i64, String)],
        releases: &[(i64, String)],
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        let updates = [
            ("entries", "body_text", entries),
            ("releases", "narrative_text", releases),
        ];
        for (table, column, rows) in updates {
            for (id, text) in rows {
                sql(format!(
                    "UPDATE {table} SET {column} = :text WHERE id = :id"
                ))
                .set("id", *id)
                .set("text", text)
                .execute(tx.conn())
                .await?;
            }
        }
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_never_receive_markdown_sources() {
        let entry = public_columns();
        assert!(
            entry.contains("'' AS body,") && !entry.contains("n.body,"),
            "{entry}"
        );
        assert!(entry.contains("n.body_html"));
        let release = public_release_columns();
        assert!(
            release.contains("'' AS narrative,") && !release.contains("r.narrative,"),
            "{release}"
        );
        assert!(release.contains("r.narrative_html"));
    }
}
