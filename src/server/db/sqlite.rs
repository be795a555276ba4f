//! SQLite: the embedded default. One file, WAL, a busy timeout, foreign keys on.
//! Writes go through a single-connection pool so they queue in-process instead
//! of racing for SQLite's write lock.

use super::sql::Pools;
use super::SqlStore;
use crate::server::auth::session::SessionBackend;
use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Mutex;
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
    Ok(SqlStore {
        pools: Pools::Sqlite { read, write, bulk },
        sessions: SessionBackend::Sqlite(sessions),
    })
}

/// SQLite's readers: up to `size` connections, each running one query at a
/// time, opened when first needed and then kept. Not an sqlx pool: sqlx
/// pings every connection handed back to a pool, one more round trip to the
/// connection's thread after every query, which a local file never needs
/// (a tenth of an uncached public page's time in bench/public.sh).
pub struct Readers {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    turns: tokio::sync::Semaphore,
    open: std::sync::atomic::AtomicUsize,
}

impl Readers {
    fn new(options: SqliteConnectOptions, size: usize) -> Self {
        Readers {
            options,
            idle: Mutex::new(Vec::with_capacity(size)),
            turns: tokio::sync::Semaphore::new(size),
            open: Default::default(),
        }
    }

    /// A connection for one query; it goes back to the idle ones when dropped.
    pub async fn acquire(&self) -> Result<Reader<'_>, sqlx::Error> {
        let turn = self
            .turns
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = self.options.connect().await?;
                self.open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                conn
            }
        };
        Ok(Reader {
            conn: Some(conn),
            readers: self,
            _turn: turn,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        self.open.load(std::sync::atomic::Ordering::Relaxed) as u32
    }

    /// Open connections no query is using.
    pub fn idle(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or_default()
    }
}

/// One reader connection, lent for a query.
pub struct Reader<'a> {
    conn: Option<SqliteConnection>,
    readers: &'a Readers,
    _turn: tokio::sync::SemaphorePermit<'a>,
}

impl Reader<'_> {
    /// Closes the connection instead of keeping it, after an error that may
    /// have broken it (its thread gone, the file unreadable).
    pub fn discard_after(&mut self, error: &sqlx::Error) {
        if matches!(error, sqlx::Error::WorkerCrashed | sqlx::Error::Io(_)) {
            self.conn = None;
            self.readers
                .open
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Deref for Reader<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .expect("a lent reader holds its connection")
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a lent reader holds its connection")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.readers.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push(conn);
        }
    }
}
