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

    /// A statement that makes concurrent first-admin checks wait for each
    /// other, if the database needs one.
    pub fn lock_users(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
        }
    }

    /// A statement taking a transaction-long lock on the text `$1`, if needed.
    pub fn lock_key(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(hashtext($1))"),
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

    /// Full-text search of `table` (aliased `alias`) for the query bound as
    /// `param` (made by [`Dialect::search_terms`]): FTS5 on SQLite, a
    /// `tsvector` column with a GIN index on PostgreSQL. Both split text into
    /// runs of letters and digits, fold case and keep every word.
    pub fn text_search(self, table: &str, alias: &str, param: &str) -> TextSearch {
        match self {
            Dialect::Sqlite => TextSearch {
                join: format!("JOIN {table}_fts ON {table}_fts.rowid = {alias}.id"),
                filter: format!("{table}_fts MATCH {param}"),
                // bm25 is smaller for better matches; titles weigh more.
                best_first: format!("bm25({table}_fts, 4.0)"),
            },
            Dialect::Postgres => TextSearch {
                join: String::new(),
                filter: format!("{alias}.search @@ to_tsquery('simple', {param})"),
                best_first: format!("ts_rank({alias}.search, to_tsquery('simple', {param})) DESC"),
            },
        }
    }

    /// The search query for words typed by a reader: every word must match,
    /// each as a prefix (`exp` finds `export`). `None` when nothing searchable
    /// was typed.
    pub fn search_terms(self, text: &str) -> Option<String> {
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
            Dialect::Sqlite => words
                .iter()
                .map(|w| format!("\"{w}\"*"))
                .collect::<Vec<_>>()
                .join(" "),
            Dialect::Postgres => words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" & "),
        })
    }
}

/// The pieces of a full-text search: a join (may be empty), a condition and an
/// `ORDER BY` term putting the best matches first.
pub struct TextSearch {
    pub join: String,
    pub filter: String,
    pub best_first: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_keep_words_only() {
        assert_eq!(
            Dialect::Sqlite.search_terms("as CSV!"),
            Some("\"as\"* \"csv\"*".into())
        );
        assert_eq!(
            Dialect::Postgres.search_terms("as CSV!"),
            Some("as:* & csv:*".into())
        );
        assert_eq!(
            Dialect::Postgres.search_terms("x' | y:* & !z"),
            Some("x:* & y:* & z:*".into())
        );
        assert_eq!(
            Dialect::Sqlite.search_terms("\" OR NEAR(a"),
            Some("\"or\"* \"near\"* \"a\"*".into())
        );
        assert_eq!(Dialect::Sqlite.search_terms(" -- %_ "), None);
    }
}
