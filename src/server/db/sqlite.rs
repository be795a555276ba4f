//! SQLite: the embedded default. One file, WAL, a busy timeout, foreign keys on.
//! Writes go through a single-connection pool so they queue in-process instead
//! of racing for SQLite's write lock.

use super::rows::*;
use super::*;
use crate::server::auth::session::SessionBackend;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

type DB = sqlx::Sqlite;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    sessions: SessionBackend,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid sqlite: URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .context("could not open the SQLite database")?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .context("could not apply the SQLite migrations")?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .context("could not open the SQLite database for reading")?;
        let sessions = tower_sessions_sqlx_store::SqliteStore::new(write.clone());
        sessions
            .migrate()
            .await
            .context("could not create the session table")?;
        Ok(SqliteStore {
            read,
            write,
            sessions: SessionBackend::Sqlite(sessions),
        })
    }
}

impl_store!(
    SqliteStore,
    backend = "sqlite",
    lock_users = "SELECT 1",
    for_update = "",
    // Stored times are text: compare them as times, never as strings.
    due_by_1 = "julianday(publish_at) <= julianday($1)",
    // One writer at a time already serialises attempts.
    lock_key_1 = "SELECT $1 IS NULL"
);
