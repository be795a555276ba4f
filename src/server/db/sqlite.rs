//! SQLite: the embedded default. One file, WAL, a busy timeout, foreign keys on.
//! Writes go through a single-connection pool so they queue in-process instead
//! of racing for SQLite's write lock.

use super::readers::Readers;
use super::sql::Pools;
use super::SessionBackend;
use super::SqlStore;
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// How many queries may read at once (each on its own connection and thread).
const READERS: usize = 8;

pub async fn connect(url: &str) -> anyhow::Result<SqlStore> {
    let options = SqliteConnectOptions::from_str(url)
        .context("DATABASE_URL is not a valid sqlite: URL")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await
        .context("could not open the SQLite database")?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&write)
        .await
        .context("could not apply the SQLite migrations")?;
    // Readers keep more pages each (16 MiB): with SQLite's default 2 MiB,
    // uncached searches fell to a p99 of 51 ms. The cost is memory: eight
    // readers can hold 128 MiB (a large email send reads its whole ledger,
    // were it not for `bulk` below). Not memory-mapped: with a map, writes
    // stalled for seconds while readers remapped the file.
    let read = Box::new(Readers::new(
        options
            .clone()
            .pragma("cache_size", "-16384")
            // A page's rows cross from the connection's thread in one go:
            // with sqlx's 50, the thread stopped at every 50th row until the
            // request's task had taken them, a hand-off per batch.
            .row_buffer_size(1024),
        READERS,
    ));
    // Sweeps of many rows (sends, imports) read here, with SQLite's default
    // 2 MiB cache, so that they do not fill every reader's 16 MiB.
    let bulk = SqlitePoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .context("could not open the SQLite database for reading")?;
    let sessions = tower_sessions_sqlx_store::SqliteStore::new(write.clone());
    sessions
        .migrate()
        .await
        .context("could not create the session table")?;
    Ok(SqlStore::new(
        Pools::Sqlite { read, write, bulk },
        SessionBackend::Sqlite(sessions),
    ))
}
