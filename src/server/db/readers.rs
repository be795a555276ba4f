//! SQLite's reading connections, lent one query at a time.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

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
    pub(super) fn new(options: SqliteConnectOptions, size: usize) -> Self {
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
