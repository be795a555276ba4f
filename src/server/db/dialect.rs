//! Where SQLite and PostgreSQL differ, each difference is one named fragment
//! here, both spellings side by side. Everything else is shared text.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// Appended to a `SELECT` whose rows the transaction is about to judge.
    /// SQLite has one writer at a time, so there is nothing to lock.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to a `SELECT` of queued work that several instances share:
    /// each takes rows nobody else holds. SQLite has one writer, so every
    /// claim already runs alone.
    pub fn skip_locked(self, alias: &str) -> String {
        match self {
            Dialect::Sqlite => String::new(),
            Dialect::Postgres => format!(" FOR UPDATE OF {alias} SKIP LOCKED"),
        }
    }

    /// A statement that makes concurrent first-admin checks wait for each
    /// other, if the database needs one.
    pub fn lock_users(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
        }
    }

    /// A statement refreshing the planner's statistics after a bulk load.
    /// SQLite plans well without them here (with them it picked a worse plan
    /// for `/changes`), so it gets none.
    pub fn analyze(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("ANALYZE"),
        }
    }

    /// A statement taking a transaction-long lock on the text `:key`, if needed.
    pub fn lock_key(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        }
    }

    /// `column <= param` for times (SQLite stores them as text, so it compares
    /// them as times, never as strings).
    pub fn time_at_or_before(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("julianday({column}) <= julianday({param})"),
            Dialect::Postgres => format!("{column} <= {param}"),
        }
    }

    /// `column` equals one of the values of a list parameter (bound from a
    /// slice: an array on PostgreSQL, a JSON array on SQLite). Equality, so
    /// an index on `column` serves it.
    pub fn any(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each({param}))"),
            Dialect::Postgres => format!("{column} = ANY({param})"),
        }
    }

    /// Full-text search of `table` (aliased `alias`) for a query bound as
    /// `param` (one of [`SearchTerms`]): FTS5 on SQLite, a weighted
    /// `tsvector` with a GIN index on PostgreSQL. Both split text into runs of
    /// letters and digits, fold case and reduce English words to their stem
    /// (Porter; Snowball without stop words), so `exports` finds `export`.
    pub fn text_match(self, table: &str, alias: &str, param: &str) -> TextMatch {
        match self {
            Dialect::Sqlite => TextMatch {
                // CROSS JOIN keeps the text index first: SQLite otherwise
                // chose, for a count, to walk every shipped entry and match
                // each against the index (a second for a common filter).
                from: format!(
                    "{table}_fts CROSS JOIN {table} {alias} ON {alias}.id = {table}_fts.rowid"
                ),
                filter: format!("{table}_fts MATCH {param}"),
                // FTS5 walks its index in rowid order, either way, from any
                // rowid: no sort, and it stops early.
                key: format!("{table}_fts.rowid"),
            },
            Dialect::Postgres => TextMatch {
                from: format!("{table} {alias}"),
                filter: format!("{alias}.search @@ to_tsquery('shiplog', {param})"),
                key: format!("{alias}.id"),
            },
        }
    }

    /// The queries for words typed by a reader: every word must match;
    /// `in_title` finds rows with every word in their title (or the other
    /// `title_columns`), `elsewhere` the other matches. `None` when nothing
    /// searchable was typed.
    pub fn search_terms(self, text: &str, title_columns: &[&str]) -> Option<SearchTerms> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(12)
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return None;
        }
        // Words are letters and digits only, so neither syntax can break.
        Some(match self {
            Dialect::Sqlite => {
                let all = words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" ");
                let in_title = format!("{{{}}} : ({all})", title_columns.join(" "));
                SearchTerms {
                    elsewhere: format!("({all}) NOT ({in_title})"),
                    all,
                    in_title,
                }
            }
            Dialect::Postgres => {
                // Title columns carry weight A in the `search` column.
                let all = words.join(" & ");
                let in_title = words
                    .iter()
                    .map(|w| format!("{w}:A"))
                    .collect::<Vec<_>>()
                    .join(" & ");
                SearchTerms {
                    elsewhere: format!("({all}) & !({in_title})"),
                    all,
                    in_title,
                }
            }
        })
    }
}

/// One reader search, in the dialect's query syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchTerms {
    pub all: String,
    pub in_title: String,
    pub elsewhere: String,
}

/// The pieces of a full-text search: the tables to read (the text index
/// first where it drives the query), a condition, and the row key the index
/// is ordered by (the most recently written rows have the highest), to order
/// and bound by without a sort.
pub struct TextMatch {
    pub from: String,
    pub filter: String,
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_keep_words_only() {
        let sqlite = Dialect::Sqlite.search_terms("as CSV!", &["title"]).unwrap();
        assert_eq!(sqlite.all, "\"as\" \"csv\"");
        assert_eq!(sqlite.in_title, "{title} : (\"as\" \"csv\")");
        assert_eq!(
            sqlite.elsewhere,
            "(\"as\" \"csv\") NOT ({title} : (\"as\" \"csv\"))"
        );
        let pg = Dialect::Postgres
            .search_terms("x' | y:* & !z", &["title"])
            .unwrap();
        assert_eq!(pg.all, "x & y & z");
        assert_eq!(pg.in_title, "x:A & y:A & z:A");
        assert_eq!(pg.elsewhere, "(x & y & z) & !(x:A & y:A & z:A)");
        let quoted = Dialect::Sqlite
            .search_terms("\" OR NEAR(a", &["title", "version_name"])
            .unwrap();
        assert_eq!(
            quoted.in_title,
            "{title version_name} : (\"or\" \"near\" \"a\")"
        );
        assert_eq!(Dialect::Sqlite.search_terms(" -- %_ ", &["title"]), None);
    }
}
