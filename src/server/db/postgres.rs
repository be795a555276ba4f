//! PostgreSQL: for teams that run several Shiplog instances.

use super::sql::Pools;
use super::SessionBackend;
use super::SqlStore;
use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

pub async fn connect(url: &str) -> anyhow::Result<SqlStore> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .context("could not connect to PostgreSQL")?;
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .context("could not apply the PostgreSQL migrations")?;
    let sessions = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
    sessions
        .migrate()
        .await
        .context("could not create the session table")?;
    Ok(SqlStore::new(
        Pools::Postgres(pool),
        SessionBackend::Postgres(sessions),
    ))
}
