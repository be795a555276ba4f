//! PostgreSQL: for teams that run several Shiplog instances.

use super::rows::*;
use super::*;
use crate::server::auth::session::SessionBackend;
use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::Duration;

type DB = sqlx::Postgres;

pub struct PgStore {
    read: PgPool,
    write: PgPool,
    sessions: SessionBackend,
}

impl PgStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
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
        Ok(PgStore {
            read: pool.clone(),
            write: pool,
            sessions: SessionBackend::Postgres(sessions),
        })
    }
}

impl_store!(
    PgStore,
    backend = "postgres",
    lock_users = "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE",
    for_update = " FOR UPDATE",
    due_by_1 = "publish_at <= $1",
    lock_key_1 = "SELECT pg_advisory_xact_lock(hashtext($1))"
);
