//! The one way the area modules talk to either database.
//!
//! A query is built once as text plus typed arguments bound by name
//! ([`sql`], `:name` in the text, [`Sql::set`]) and run on a [`Conn`]: the
//! read pool, the write pool or an open transaction of whichever database was
//! chosen at start-up. The names become `$1, $2, …`, which SQLite accepts as
//! PostgreSQL does, so one text serves both; where the dialects differ the
//! area module asks [`Dialect`](super::dialect::Dialect) for a named fragment.
//! Filters assembled piece by piece take their placeholders from [`Params`].
//! Rows decode straight into the model types (`sqlx::FromRow`), on both.

use super::dialect::Dialect;
use super::readers::Readers;
use super::{Conflict, DbError, DbResult};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow, PgPool, Postgres, Sqlite, SqlitePool};
use std::borrow::Cow;

/// A row type both databases can decode: derive `sqlx::FromRow` and it is one.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// The connections of the database chosen at start-up. SQLite writes go
/// through a one-connection pool so they queue in-process, and reads that
/// sweep many rows once (an email send, an import) through a small pool of
/// their own; PostgreSQL shares one pool for all.
pub enum Pools {
    Sqlite {
        read: Box<Readers>,
        write: SqlitePool,
        bulk: SqlitePool,
    },
    Postgres(PgPool),
}

impl Pools {
    pub fn dialect(&self) -> Dialect {
        match self {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Each pool: (name, open connections, idle ones).
    pub fn stats(&self) -> Vec<(&'static str, u32, usize)> {
        match self {
            Pools::Sqlite { read, write, bulk } => vec![
                ("read", read.open(), read.idle()),
                ("write", write.size(), write.num_idle()),
                ("bulk", bulk.size(), bulk.num_idle()),
            ],
            Pools::Postgres(pg) => vec![("postgres", pg.size(), pg.num_idle())],
        }
    }

    /// For queries that only read.
    pub fn read(&self) -> Conn<'_> {
        match self {
            Pools::Sqlite { read, .. } => Conn::SqliteRead(read),
            Pools::Postgres(pg) => Conn::PgPool(pg),
        }
    }

    /// For reads that sweep many rows once (every recipient of a send, every
    /// address of an import): on SQLite they keep their pages out of the
    /// readers' caches, which serve pages and would each end up holding them.
    pub fn bulk(&self) -> Conn<'_> {
        match self {
            Pools::Sqlite { bulk, .. } => Conn::SqlitePool(bulk),
            Pools::Postgres(pg) => Conn::PgPool(pg),
        }
    }

    /// For a single statement that writes (several statements: [`Pools::begin`]).
    pub fn write(&self) -> Conn<'_> {
        match self {
            Pools::Sqlite { write, .. } => Conn::SqlitePool(write),
            Pools::Postgres(pg) => Conn::PgPool(pg),
        }
    }

    /// A transaction on the write side; dropped without `commit`, it rolls back.
    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match self {
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
            Pools::Postgres(pg) => Tx::Postgres(pg.begin().await?),
        })
    }
}

/// An open transaction.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::SqliteTx(tx),
            Tx::Postgres(tx) => Conn::PgTx(tx),
        }
    }

    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Where a query runs.
pub enum Conn<'a> {
    SqliteRead(&'a Readers),
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    SqliteTx(&'a mut sqlx::SqliteConnection),
    PgTx(&'a mut sqlx::PgConnection),
}

/// A query's text and arguments, not yet run.
#[must_use = "a query does nothing until it is run on a connection"]
pub struct Sql {
    text: Cow<'static, str>,
    args: Vec<Arg>,
    /// Arguments bound by name ([`Sql::set`]), for `:name` in the text.
    named: Vec<(&'static str, Arg)>,
}

/// Starts a query. Text with a dialect fragment is a `String` (`format!`).
pub fn sql(text: impl Into<Cow<'static, str>>) -> Sql {
    Sql {
        text: text.into(),
        args: Vec::new(),
        named: Vec::new(),
    }
}

/// One argument, in the types both databases store.
#[derive(Clone, Debug)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    /// A day (`DATE` on PostgreSQL, `YYYY-MM-DD` text on SQLite).
    Date(Option<chrono::NaiveDate>),
    /// A JSON document (JSONB on PostgreSQL, text on SQLite).
    Json(serde_json::Value),
    /// A set of strings to match with `Dialect::any` (an array on
    /// PostgreSQL, a JSON array on SQLite).
    List(Vec<String>),
    /// The same for numbers.
    Ints(Vec<i64>),
}

/// Both databases keep microseconds; trimming first makes values round-trip exactly.
pub fn db_time(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(Some(v))
    }
}
impl From<Option<bool>> for Arg {
    fn from(v: Option<bool>) -> Arg {
        Arg::Bool(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        Arg::Text(v.clone())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Arg {
        Arg::Time(Some(db_time(v)))
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Arg {
        Arg::Time(v.map(db_time))
    }
}
impl From<Option<chrono::NaiveDate>> for Arg {
    fn from(v: Option<chrono::NaiveDate>) -> Arg {
        Arg::Date(v)
    }
}

impl From<chrono::NaiveDate> for Arg {
    fn from(v: chrono::NaiveDate) -> Arg {
        Arg::Date(Some(v))
    }
}

impl From<&[String]> for Arg {
    fn from(v: &[String]) -> Arg {
        Arg::List(v.to_vec())
    }
}
impl From<&Vec<String>> for Arg {
    fn from(v: &Vec<String>) -> Arg {
        Arg::List(v.clone())
    }
}

impl From<&[i64]> for Arg {
    fn from(v: &[i64]) -> Arg {
        Arg::Ints(v.to_vec())
    }
}

/// Arguments collected while a query's text is assembled piece by piece:
/// [`Params::add`] answers the placeholder to write (`$3`).
#[derive(Clone, Default)]
pub struct Params(Vec<Arg>);

impl Params {
    pub fn add(&mut self, value: impl Into<Arg>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    /// Adds a JSON document.
    pub fn add_json(&mut self, value: &impl serde::Serialize) -> String {
        let value = serde_json::to_value(value).expect("stored values always serialise");
        self.add_arg(Arg::Json(value))
    }

    fn add_arg(&mut self, arg: Arg) -> String {
        self.0.push(arg);
        format!("${}", self.0.len())
    }
}

impl Sql {
    /// Binds arguments collected in [`Params`], after any bound already.
    pub fn params(mut self, params: Params) -> Sql {
        self.args.extend(params.0);
        self
    }

    /// Binds `value` to `:name` in the text. A query binds by name or by
    /// position, not both; writes bind by name, so a column and its value
    /// are matched by what they are called, never by counting.
    pub fn set(mut self, name: &'static str, value: impl Into<Arg>) -> Sql {
        self.named.push((name, value.into()));
        self
    }

    /// The text with `$n` placeholders both databases read, and its
    /// arguments in that order. A name the text uses but nothing binds,
    /// or one bound but not used, is an error, never a silent NULL.
    fn resolve(self) -> Result<(Cow<'static, str>, Vec<Arg>), sqlx::Error> {
        if self.named.is_empty() {
            return Ok((self.text, self.args));
        }
        if !self.args.is_empty() {
            return Err(sqlx::Error::Protocol(
                "a query binds by name or by position, not both".into(),
            ));
        }
        let (text, order) = numbered(&self.text);
        let mut named = self.named;
        let mut args = Vec::with_capacity(order.len());
        for name in &order {
            let at = named.iter().position(|(n, _)| n == name).ok_or_else(|| {
                sqlx::Error::Protocol(format!("the query uses :{name}, which is not bound"))
            })?;
            args.push(named.swap_remove(at).1);
        }
        if let Some((name, _)) = named.first() {
            return Err(sqlx::Error::Protocol(format!(
                "the query binds :{name}, which its text does not use"
            )));
        }
        Ok((Cow::Owned(text), args))
    }
}

/// `text` with each `:name` replaced by `$n` (one number per name, in the
/// order names first appear), and those names. Quoted literals and
/// PostgreSQL's `::type` casts are left as they are.
fn numbered(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut names: Vec<String> = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut quoted = false;
    let mut prev = ' ';
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        let starts_name = !quoted
            && c == ':'
            && prev != ':'
            && chars
                .peek()
                .is_some_and(|(_, n)| n.is_ascii_lowercase() || *n == '_');
        if !starts_name {
            out.push(c);
            prev = c;
            continue;
        }
        let mut name = String::new();
        while let Some((_, n)) = chars.peek() {
            if n.is_ascii_alphanumeric() || *n == '_' {
                name.push(*n);
                chars.next();
            } else {
                break;
            }
        }
        let number = match names.iter().position(|n| *n == name) {
            Some(i) => i + 1,
            None => {
                names.push(name);
                names.len()
            }
        };
        out.push_str(&format!("${number}"));
        prev = 'x';
    }
    (out, names)
}

fn sqlite_args(args: Vec<Arg>) -> SqliteArguments<'static> {
    let mut out = SqliteArguments::default();
    for arg in args {
        let added = match arg {
            Arg::Int(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Date(v) => out.add(v),
            Arg::Json(v) => out.add(sqlx::types::Json(v)),
            Arg::List(v) => out.add(serde_json::to_string(&v).expect("strings serialise")),
            Arg::Ints(v) => out.add(serde_json::to_string(&v).expect("numbers serialise")),
        };
        added.expect("these types always encode");
    }
    out
}

fn pg_args(args: Vec<Arg>) -> PgArguments {
    let mut out = PgArguments::default();
    for arg in args {
        let added = match arg {
            Arg::Int(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Date(v) => out.add(v),
            Arg::Json(v) => out.add(sqlx::types::Json(v)),
            Arg::List(v) => out.add(v),
            Arg::Ints(v) => out.add(v),
        };
        added.expect("these types always encode");
    }
    out
}

/// Runs `sqlx::$query(text, args).$method(connection)` on whichever
/// connection `conn` is, then `$post` on the result: the arms differ
/// only in their types.
macro_rules! on_conn {
    ($conn:expr, $sql:expr, $query:ident, $method:ident $($post:tt)*) => {{
        let resolved = $sql.resolve();
        let result = match resolved {
            Err(e) => Err(e),
            Ok((text, args)) => match $conn {
            Conn::SqliteRead(readers) => match readers.acquire().await {
                Ok(mut c) => {
                    let done = sqlx::$query(&text, sqlite_args(args)).$method(&mut *c).await $($post)*;
                    if let Err(e) = &done {
                        c.discard_after(e);
                    }
                    done
                }
                Err(e) => Err(e),
            },
            Conn::SqlitePool(c) => sqlx::$query(&text, sqlite_args(args)).$method(c).await $($post)*,
            Conn::SqliteTx(c) => sqlx::$query(&text, sqlite_args(args)).$method(c).await $($post)*,
            Conn::PgPool(c) => sqlx::$query(&text, pg_args(args)).$method(c).await $($post)*,
            Conn::PgTx(c) => sqlx::$query(&text, pg_args(args)).$method(c).await $($post)*,
            },
        };
        result.map_err(decode_error)
    }};
}

impl Sql {
    /// Every row.
    pub async fn all<T: Record>(self, conn: Conn<'_>) -> DbResult<Vec<T>> {
        on_conn!(conn, self, query_as_with, fetch_all)
    }

    /// The first row, if any.
    pub async fn optional<T: Record>(self, conn: Conn<'_>) -> DbResult<Option<T>> {
        on_conn!(conn, self, query_as_with, fetch_optional)
    }

    /// Exactly one row: none is [`DbError::NotFound`].
    pub async fn one<T: Record>(self, conn: Conn<'_>) -> DbResult<T> {
        self.optional(conn).await?.ok_or(DbError::NotFound)
    }

    /// The first column of every row.
    pub async fn column<T>(self, conn: Conn<'_>) -> DbResult<Vec<T>>
    where
        (T,): Record,
    {
        Ok(self
            .all::<(T,)>(conn)
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }

    /// The first column of the one row the query answers (none: [`DbError::NotFound`]).
    pub async fn value<T>(self, conn: Conn<'_>) -> DbResult<T>
    where
        (T,): Record,
    {
        Ok(self.one::<(T,)>(conn).await?.0)
    }

    /// The first column of the first row, if any.
    pub async fn scalar<T>(self, conn: Conn<'_>) -> DbResult<Option<T>>
    where
        (T,): Record,
    {
        Ok(self.optional::<(T,)>(conn).await?.map(|(v,)| v))
    }

    /// Runs a statement; the number of rows it changed.
    pub async fn execute(self, conn: Conn<'_>) -> DbResult<u64> {
        on_conn!(
            conn,
            self,
            query_with,
            execute.map(|done| done.rows_affected())
        )
    }

    /// Runs a statement that must change a row: none changed is [`DbError::NotFound`].
    pub async fn change_one(self, conn: Conn<'_>) -> DbResult<()> {
        match self.execute(conn).await? {
            0 => Err(DbError::NotFound),
            _ => Ok(()),
        }
    }

    /// Runs a statement; a broken uniqueness rule becomes the conflict `clash`.
    pub fn or_conflict(self, clash: Conflict) -> Unique {
        Unique { sql: self, clash }
    }
}

/// A statement whose unique-constraint violation is a known [`Conflict`].
pub struct Unique {
    sql: Sql,
    clash: Conflict,
}

impl Unique {
    pub async fn execute(self, conn: Conn<'_>) -> DbResult<u64> {
        let clash = self.clash;
        self.sql.execute(conn).await.map_err(|e| conflict(e, clash))
    }

    pub async fn value<T>(self, conn: Conn<'_>) -> DbResult<T>
    where
        (T,): Record,
    {
        let clash = self.clash;
        self.sql.value(conn).await.map_err(|e| conflict(e, clash))
    }

    pub async fn one<T: Record>(self, conn: Conn<'_>) -> DbResult<T> {
        let clash = self.clash;
        self.sql.one(conn).await.map_err(|e| conflict(e, clash))
    }
}

fn conflict(err: DbError, clash: Conflict) -> DbError {
    match &err {
        DbError::Sqlx(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            DbError::Conflict(clash)
        }
        _ => err,
    }
}

/// A stored value no model type accepts is reported as such, never guessed.
fn decode_error(err: sqlx::Error) -> DbError {
    match err {
        sqlx::Error::ColumnDecode { index, source } => {
            DbError::Corrupt(format!("{index}: {source}"))
        }
        other => DbError::Sqlx(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_numbers_in_order_of_first_use() {
        let (text, names) = numbered(
            "UPDATE t SET a = :a, b = :b_2, at = :at::timestamptz, note = 'x:y' WHERE id = :id AND a <> :a",
        );
        assert_eq!(
            text,
            "UPDATE t SET a = $1, b = $2, at = $3::timestamptz, note = 'x:y' WHERE id = $4 AND a <> $1"
        );
        assert_eq!(names, ["a", "b_2", "at", "id"]);
    }

    #[test]
    fn a_name_bound_and_unused_or_used_and_unbound_is_an_error() {
        let unbound = sql("SELECT :a, :b").set("a", 1).resolve();
        assert!(unbound.unwrap_err().to_string().contains(":b"));
        let unused = sql("SELECT :a").set("a", 1).set("z", 2).resolve();
        assert!(unused.unwrap_err().to_string().contains(":z"));
        let (text, args) = sql("SELECT :b, :a, :b")
            .set("a", 1)
            .set("b", "x")
            .resolve()
            .unwrap();
        assert_eq!(text, "SELECT $1, $2, $1");
        assert!(matches!(&args[..], [Arg::Text(Some(b)), Arg::Int(Some(1))] if b == "x"));
    }
}
