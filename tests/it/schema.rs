//! The two databases' migrations make the same tables with the same columns,
//! so that a column added to one and forgotten in the other fails here, not
//! in production on the database the author did not try.

use crate::common::*;
use sqlx::Connection;
use std::collections::BTreeSet;

/// Where the two differ on purpose: full-text search is an FTS5 table beside
/// each searched table on SQLite, a generated `tsvector` column on PostgreSQL.
const ONLY_SQLITE_TABLE_PREFIXES: &[&str] = &["entries_fts", "releases_fts"];

async fn sqlite_columns(url: &str) -> BTreeSet<(String, String)> {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT m.name, p.name, COALESCE(m.sql, '') FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'
           AND m.name <> 'tower_sessions'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .filter(|(table, _, _)| {
            !ONLY_SQLITE_TABLE_PREFIXES
                .iter()
                .any(|p| table.starts_with(p))
        })
        .map(|(t, c, _)| (t, c))
        .collect()
}

async fn postgres_columns(url: &str) -> BTreeSet<(String, String)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        // PostgreSQL's search columns stand for SQLite's FTS tables.
        .filter(|(_, _, kind)| kind != "tsvector")
        .map(|(t, c, _)| (t, c))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_databases_have_the_same_tables_and_columns() {
    let lite = TestApp::start(Backend::Sqlite).await.unwrap();
    let Some(pg) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let a = sqlite_columns(lite.database_url()).await;
    let b = postgres_columns(pg.database_url()).await;
    assert!(
        a.len() > 100,
        "the SQLite schema was read: {} columns",
        a.len()
    );
    let only_sqlite: Vec<_> = a.difference(&b).collect();
    let only_postgres: Vec<_> = b.difference(&a).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations disagree.\nonly on SQLite: {only_sqlite:?}\nonly on PostgreSQL: {only_postgres:?}"
    );
}
