//! The SQL both databases share. SQLite accepts PostgreSQL's `$1` placeholders,
//! so one text serves both; where the dialects differ, the implementing module
//! passes its own fragment (`lock_users`, `for_update`).
//!
//! `impl_store!` writes the `Store` impl for a struct with `read` and `write` pools.

macro_rules! user_cols {
    () => {
        "u.id, u.email, u.name, u.role, u.active, u.created_at"
    };
}
macro_rules! token_cols {
    () => {
        "id, name, role, prefix, created_at, last_used_at, revoked_at"
    };
}
macro_rules! invitation_select {
    () => {
        "SELECT i.id, i.email, i.role, u.email AS invited_by, i.created_at, i.expires_at, i.accepted_at \
         FROM invitations i LEFT JOIN users u ON u.id = i.invited_by"
    };
}
macro_rules! deploy_select {
    () => {
        "SELECT d.id, e.slug AS environment, d.version, d.commit_sha, d.status, d.started_at, \
         d.finished_at, d.created_by, \
         (SELECT COUNT(*) FROM entries x WHERE x.deploy_id = d.id) AS entry_count \
         FROM deploys d JOIN environments e ON e.id = d.environment_id"
    };
}
macro_rules! entry_cols {
    () => {
        "n.id, n.deploy_id, n.title, n.body, n.body_html, n.kind, n.audience, n.risk, \
         n.component, n.breaking, n.links, n.release_id, n.created_at, n.updated_at"
    };
}
// Customers see entries of succeeded deploys to the public environment ($1)
// whose audience is among the reader's ($2: the audiences joined by commas;
// audience values never contain a comma, `%` or `_`).
macro_rules! visible_to_reader {
    () => {
        "e.slug = $1 AND d.status = 'succeeded' \
         AND (',' || $2 || ',') LIKE ('%,' || n.audience || ',%')"
    };
}
// A release reaches a reader when its own audience is theirs and they can see
// at least one of its entries (same parameters as `visible_to_reader`).
macro_rules! release_visible_to_reader {
    () => {
        concat!(
            "(',' || $2 || ',') LIKE ('%,' || r.audience || ',%') \
             AND EXISTS (SELECT 1 FROM entries n JOIN deploys d ON d.id = n.deploy_id \
             JOIN environments e ON e.id = d.environment_id WHERE n.release_id = r.id AND ",
            visible_to_reader!(),
            ")"
        )
    };
}
macro_rules! public_select {
    () => {
        concat!(
            "SELECT ",
            entry_cols!(),
            ", d.version, COALESCE(d.finished_at, d.started_at) AS shipped_at, \
             r.slug AS release_slug, r.title AS release_title \
             FROM entries n JOIN deploys d ON d.id = n.deploy_id \
             JOIN environments e ON e.id = d.environment_id \
             LEFT JOIN releases r ON r.id = n.release_id AND r.status = 'published' WHERE ",
            visible_to_reader!()
        )
    };
}
macro_rules! release_select {
    () => {
        "SELECT r.id, r.slug, r.title, r.version_name, r.narrative, r.narrative_html, r.audience, r.status, \
         r.publish_at, r.published_at, r.archived, r.revision, r.created_by, r.created_at, r.updated_at, \
         (SELECT COUNT(*) FROM entries x WHERE x.release_id = r.id) AS entry_count FROM releases r"
    };
}
macro_rules! linked_select {
    () => {
        concat!(
            "SELECT ",
            entry_cols!(),
            ", d.version, e.slug AS environment, d.status AS deploy_status, d.started_at AS deployed_at \
             FROM entries n JOIN deploys d ON d.id = n.deploy_id \
             JOIN environments e ON e.id = d.environment_id"
        )
    };
}

macro_rules! impl_store {
    ($store:ty, backend = $backend:literal, lock_users = $lock_users:literal, for_update = $for_update:literal,
     due_by_1 = $due_by_1:literal, lock_key_1 = $lock_key_1:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::db::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            fn session_store(&self) -> $crate::server::auth::session::SessionBackend {
                self.sessions.clone()
            }

            async fn ping(&self) -> DbResult<()> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            async fn count_users(&self) -> DbResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.read)
                    .await?)
            }

            async fn create_first_user(&self, user: NewUser) -> DbResult<User> {
                let mut tx = self.write.begin().await?;
                sqlx::query($lock_users).execute(&mut *tx).await?;
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut *tx)
                    .await?;
                if n > 0 {
                    return Err(DbError::Conflict(
                        "Shiplog already has an admin account; sign in instead".into(),
                    ));
                }
                let user = insert_user(&mut tx, &user).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn create_user(&self, user: NewUser) -> DbResult<User> {
                let mut tx = self.write.begin().await?;
                let user = insert_user(&mut tx, &user).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn user_by_id(&self, id: i64) -> DbResult<Option<User>> {
                let row: Option<UserRow> =
                    sqlx::query_as(concat!("SELECT ", user_cols!(), " FROM users u WHERE u.id = $1"))
                        .bind(id)
                        .fetch_optional(&self.read)
                        .await?;
                row.map(User::try_from).transpose()
            }

            async fn user_credentials(&self, email: &str) -> DbResult<Option<(User, String)>> {
                let row: Option<CredentialsRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    user_cols!(),
                    ", u.password_hash FROM users u WHERE u.email = $1"
                ))
                .bind(email)
                .fetch_optional(&self.read)
                .await?;
                row.map(|r| Ok((User::try_from(r.user)?, r.password_hash)))
                    .transpose()
            }

            async fn list_users(&self) -> DbResult<Vec<User>> {
                let rows: Vec<UserRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users u ORDER BY u.active DESC, u.name, u.id"
                ))
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn update_user(&self, id: i64, role: Role, active: bool) -> DbResult<User> {
                let mut tx = self.write.begin().await?;
                let admins: Vec<i64> = sqlx::query_scalar(concat!(
                    "SELECT id FROM users WHERE role = 'admin' AND active = TRUE",
                    $for_update
                ))
                .fetch_all(&mut *tx)
                .await?;
                let stays_admin = role == Role::Admin && active;
                if !stays_admin && admins == [id] {
                    return Err(DbError::LastAdmin);
                }
                let done = sqlx::query("UPDATE users SET role = $2, active = $3 WHERE id = $1")
                    .bind(id)
                    .bind(role.as_str())
                    .bind(active)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                let row: UserRow =
                    sqlx::query_as(concat!("SELECT ", user_cols!(), " FROM users u WHERE u.id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn create_invitation(&self, inv: NewInvitation) -> DbResult<Invitation> {
                let mut tx = self.write.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO invitations (email, role, token_hash, invited_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&inv.email)
                .bind(inv.role.as_str())
                .bind(&inv.token_hash)
                .bind(inv.invited_by)
                .bind(db_time(Utc::now()))
                .bind(db_time(inv.expires_at))
                .fetch_one(&mut *tx)
                .await?;
                let row: InvitationRow = sqlx::query_as(concat!(invitation_select!(), " WHERE i.id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn invitation_by_token(&self, token_hash: &str) -> DbResult<Option<Invitation>> {
                let row: Option<InvitationRow> =
                    sqlx::query_as(concat!(invitation_select!(), " WHERE i.token_hash = $1"))
                        .bind(token_hash)
                        .fetch_optional(&self.read)
                        .await?;
                row.map(Invitation::try_from).transpose()
            }

            async fn accept_invitation(
                &self,
                invitation_id: i64,
                name: &str,
                password_hash: &str,
                now: DateTime<Utc>,
            ) -> DbResult<User> {
                let mut tx = self.write.begin().await?;
                let claimed = sqlx::query(
                    "UPDATE invitations SET accepted_at = $2 \
                     WHERE id = $1 AND accepted_at IS NULL AND expires_at > $2",
                )
                .bind(invitation_id)
                .bind(db_time(now))
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    return Err(DbError::Conflict(
                        "This invitation has already been used or has expired".into(),
                    ));
                }
                let (email, role): (String, String) =
                    sqlx::query_as("SELECT email, role FROM invitations WHERE id = $1")
                        .bind(invitation_id)
                        .fetch_one(&mut *tx)
                        .await?;
                let user = NewUser {
                    email,
                    name: name.to_string(),
                    role: role
                        .parse()
                        .map_err(|e| DbError::Corrupt(format!("invitations.role: {e}")))?,
                    password_hash: password_hash.to_string(),
                };
                let user = insert_user(&mut tx, &user).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn list_invitations(&self) -> DbResult<Vec<Invitation>> {
                let rows: Vec<InvitationRow> =
                    sqlx::query_as(concat!(invitation_select!(), " ORDER BY i.created_at DESC, i.id DESC"))
                        .fetch_all(&self.read)
                        .await?;
                convert(rows)
            }

            async fn delete_invitation(&self, id: i64) -> DbResult<()> {
                let done = sqlx::query("DELETE FROM invitations WHERE id = $1 AND accepted_at IS NULL")
                    .bind(id)
                    .execute(&self.write)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                Ok(())
            }

            async fn record_login_attempt(
                &self,
                keys: &[String],
                at: DateTime<Utc>,
                since: DateTime<Utc>,
            ) -> DbResult<(Vec<i64>, Vec<i64>)> {
                // One transaction holding each key's lock (always in the same
                // order): of many parallel attempts, the k-th counts exactly k.
                let mut tx = self.write.begin().await?;
                let mut ids = Vec::with_capacity(keys.len());
                let mut counts = Vec::with_capacity(keys.len());
                for key in keys {
                    sqlx::query($lock_key_1).bind(key).execute(&mut *tx).await?;
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO login_failures (throttle_key, failed_at) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(key)
                    .bind(db_time(at))
                    .fetch_one(&mut *tx)
                    .await?;
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM login_failures WHERE throttle_key = $1 AND failed_at >= $2",
                    )
                    .bind(key)
                    .bind(db_time(since))
                    .fetch_one(&mut *tx)
                    .await?;
                    ids.push(id);
                    counts.push(n);
                }
                // Old attempts no longer count for anything.
                sqlx::query("DELETE FROM login_failures WHERE failed_at < $1")
                    .bind(db_time(at - chrono::TimeDelta::days(1)))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((ids, counts))
            }

            async fn forget_login_attempts(&self, ids: &[i64]) -> DbResult<()> {
                for id in ids {
                    sqlx::query("DELETE FROM login_failures WHERE id = $1")
                        .bind(id)
                        .execute(&self.write)
                        .await?;
                }
                Ok(())
            }

            async fn missing_reader_text(
                &self,
                limit: i64,
            ) -> DbResult<(Vec<(i64, String)>, Vec<(i64, String)>)> {
                let entries = sqlx::query_as(
                    "SELECT id, body_html FROM entries WHERE body_text IS NULL ORDER BY id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                let releases = sqlx::query_as(
                    "SELECT id, narrative_html FROM releases WHERE narrative_text IS NULL ORDER BY id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                Ok((entries, releases))
            }

            async fn set_reader_text(
                &self,
                entries: &[(i64, String)],
                releases: &[(i64, String)],
            ) -> DbResult<()> {
                let mut tx = self.write.begin().await?;
                for (id, text) in entries {
                    sqlx::query("UPDATE entries SET body_text = $2 WHERE id = $1")
                        .bind(id)
                        .bind(text)
                        .execute(&mut *tx)
                        .await?;
                }
                for (id, text) in releases {
                    sqlx::query("UPDATE releases SET narrative_text = $2 WHERE id = $1")
                        .bind(id)
                        .bind(text)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn oldest_login_failure(
                &self,
                key: &str,
                since: DateTime<Utc>,
            ) -> DbResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar(
                    "SELECT failed_at FROM login_failures WHERE throttle_key = $1 AND failed_at >= $2 \
                     ORDER BY failed_at LIMIT 1",
                )
                .bind(key)
                .bind(db_time(since))
                .fetch_optional(&self.read)
                .await?)
            }

            async fn clear_login_failures(&self, key: &str) -> DbResult<()> {
                sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
                    .bind(key)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn create_token(&self, token: NewToken) -> DbResult<ApiToken> {
                let row: TokenRow = sqlx::query_as(concat!(
                    "INSERT INTO api_tokens (name, role, token_hash, prefix, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                    token_cols!()
                ))
                .bind(&token.name)
                .bind(token.role.as_str())
                .bind(&token.token_hash)
                .bind(&token.prefix)
                .bind(token.created_by)
                .bind(db_time(Utc::now()))
                .fetch_one(&self.write)
                .await?;
                row.try_into()
            }

            async fn token_by_hash(&self, token_hash: &str) -> DbResult<Option<ApiToken>> {
                let row: Option<TokenRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    token_cols!(),
                    " FROM api_tokens WHERE token_hash = $1"
                ))
                .bind(token_hash)
                .fetch_optional(&self.read)
                .await?;
                row.map(ApiToken::try_from).transpose()
            }

            async fn touch_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<()> {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(db_time(at))
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn list_tokens(&self) -> DbResult<Vec<ApiToken>> {
                let rows: Vec<TokenRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    token_cols!(),
                    " FROM api_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC"
                ))
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<ApiToken> {
                let row: Option<TokenRow> = sqlx::query_as(concat!(
                    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
                    token_cols!()
                ))
                .bind(id)
                .bind(db_time(at))
                .fetch_optional(&self.write)
                .await?;
                row.ok_or(DbError::NotFound)?.try_into()
            }

            async fn create_deploy(&self, d: NewDeploy) -> DbResult<DeployDetail> {
                let now = db_time(Utc::now());
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO environments (slug, created_at) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING",
                )
                .bind(&d.environment)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let env_id: i64 = sqlx::query_scalar("SELECT id FROM environments WHERE slug = $1")
                    .bind(&d.environment)
                    .fetch_one(&mut *tx)
                    .await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO deploys (environment_id, version, commit_sha, status, started_at, \
                     finished_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(env_id)
                .bind(&d.version)
                .bind(&d.commit)
                .bind(d.status.as_str())
                .bind(db_time(d.started_at))
                .bind(d.finished_at.map(db_time))
                .bind(&d.created_by)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    unique(e, || {
                        format!(
                            "version `{}` has already been deployed to `{}`",
                            d.version, d.environment
                        )
                    })
                })?;
                let mut entry_ids = Vec::with_capacity(d.entries.len());
                for (position, entry) in d.entries.iter().enumerate() {
                    entry_ids.push(insert_entry(&mut tx, id, position as i64, entry, now).await?);
                }
                for (position, c) in d.commits.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO commits (deploy_id, position, sha, message, author, authored_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(position as i64)
                    .bind(&c.sha)
                    .bind(&c.message)
                    .bind(&c.author)
                    .bind(c.authored_at.map(db_time))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                // Everything stored is known here: answering from it keeps reads
                // out of the single writer's critical section.
                Ok(DeployDetail {
                    deploy: Deploy {
                        id,
                        environment: d.environment,
                        version: d.version,
                        commit: d.commit,
                        status: d.status,
                        started_at: db_time(d.started_at),
                        finished_at: d.finished_at.map(db_time),
                        entry_count: d.entries.len() as i64,
                        created_by: d.created_by,
                    },
                    entries: d
                        .entries
                        .into_iter()
                        .zip(entry_ids)
                        .map(|(e, entry_id)| ChangeEntry {
                            id: entry_id,
                            deploy_id: id,
                            title: e.title,
                            body: e.body,
                            body_html: e.body_html,
                            kind: e.kind,
                            audience: e.audience,
                            risk: e.risk,
                            component: e.component,
                            breaking: e.breaking,
                            links: e.links,
                            release_id: None,
                            created_at: now,
                            updated_at: now,
                        })
                        .collect(),
                    commits: d
                        .commits
                        .into_iter()
                        .map(|c| Commit {
                            sha: c.sha,
                            message: c.message,
                            author: c.author,
                            authored_at: c.authored_at.map(db_time),
                        })
                        .collect(),
                })
            }

            async fn deploy(&self, id: i64) -> DbResult<Option<DeployDetail>> {
                let mut conn = self.read.acquire().await?;
                load_deploy(&mut *conn, id).await
            }

            async fn list_deploys(&self, q: &DeployQuery) -> DbResult<Vec<Deploy>> {
                let rows: Vec<DeployRow> = sqlx::query_as(concat!(
                    deploy_select!(),
                    " WHERE ($1 IS NULL OR e.slug = $1) \
                      AND ($2 IS NULL OR (d.started_at, d.id) < \
                           (SELECT b.started_at, b.id FROM deploys b WHERE b.id = $2)) \
                     ORDER BY d.started_at DESC, d.id DESC LIMIT $3"
                ))
                .bind(&q.environment)
                .bind(q.before)
                .bind(q.limit)
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn list_environments(&self) -> DbResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT slug FROM environments ORDER BY slug")
                    .fetch_all(&self.read)
                    .await?)
            }

            async fn set_deploy_status(
                &self,
                id: i64,
                from: DeployStatus,
                to: DeployStatus,
                finished_at: Option<DateTime<Utc>>,
            ) -> DbResult<bool> {
                let done = sqlx::query(
                    "UPDATE deploys SET status = $3, finished_at = COALESCE($4, finished_at) \
                     WHERE id = $1 AND status = $2",
                )
                .bind(id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(finished_at.map(db_time))
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn entry(&self, id: i64) -> DbResult<Option<ChangeEntry>> {
                let row: Option<EntryRow> =
                    sqlx::query_as(concat!("SELECT ", entry_cols!(), " FROM entries n WHERE n.id = $1"))
                        .bind(id)
                        .fetch_optional(&self.read)
                        .await?;
                row.map(ChangeEntry::try_from).transpose()
            }

            async fn add_entry(&self, deploy_id: i64, entry: NewEntry) -> DbResult<ChangeEntry> {
                let now = db_time(Utc::now());
                let mut tx = self.write.begin().await?;
                let position: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(MAX(position) + 1, 0) AS BIGINT) FROM entries WHERE deploy_id = $1",
                )
                .bind(deploy_id)
                .fetch_one(&mut *tx)
                .await?;
                let id = insert_entry(&mut tx, deploy_id, position, &entry, now).await?;
                let row: EntryRow =
                    sqlx::query_as(concat!("SELECT ", entry_cols!(), " FROM entries n WHERE n.id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn update_entry(&self, id: i64, e: NewEntry) -> DbResult<ChangeEntry> {
                let mut tx = self.write.begin().await?;
                let done = sqlx::query(
                    "UPDATE entries SET title = $2, body = $3, body_html = $4, kind = $5, audience = $6, \
                     risk = $7, component = $8, breaking = $9, links = $10, updated_at = $11, body_text = $12 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(&e.title)
                .bind(&e.body)
                .bind(&e.body_html)
                .bind(e.kind.as_str())
                .bind(e.audience.as_string())
                .bind(e.risk.as_str())
                .bind(&e.component)
                .bind(e.breaking)
                .bind(links_json(&e.links))
                .bind(db_time(Utc::now()))
                .bind(&e.body_text)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                let row: EntryRow =
                    sqlx::query_as(concat!("SELECT ", entry_cols!(), " FROM entries n WHERE n.id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn delete_entry(&self, id: i64) -> DbResult<()> {
                let done = sqlx::query("DELETE FROM entries WHERE id = $1")
                    .bind(id)
                    .execute(&self.write)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                Ok(())
            }

            async fn public_entries(&self, q: &PublicQuery) -> DbResult<Vec<PublicEntry>> {
                let rows: Vec<PublicEntryRow> = sqlx::query_as(concat!(
                    public_select!(),
                    " AND ($3 IS NULL OR n.kind = $3) AND ($4 IS NULL OR n.component = $4) \
                      AND ($7 = '' OR LOWER(n.title) LIKE $7 OR LOWER(COALESCE(n.body_text, '')) LIKE $7) \
                     ORDER BY shipped_at DESC, n.id DESC LIMIT $5 OFFSET $6"
                ))
                .bind(&q.environment)
                .bind(q.audiences.join(","))
                .bind(q.kind.map(|k| k.as_str()))
                .bind(&q.component)
                .bind(q.limit)
                .bind(q.offset)
                .bind(like_pattern(&q.search))
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn public_entry(
                &self,
                environment: &str,
                audiences: &[String],
                id: i64,
            ) -> DbResult<Option<PublicEntry>> {
                let row: Option<PublicEntryRow> =
                    sqlx::query_as(concat!(public_select!(), " AND n.id = $3"))
                        .bind(environment)
                        .bind(audiences.join(","))
                        .bind(id)
                        .fetch_optional(&self.read)
                        .await?;
                row.map(PublicEntry::try_from).transpose()
            }

            async fn public_components(&self, environment: &str, audiences: &[String]) -> DbResult<Vec<String>> {
                Ok(sqlx::query_scalar(concat!(
                    "SELECT DISTINCT n.component FROM entries n JOIN deploys d ON d.id = n.deploy_id \
                     JOIN environments e ON e.id = d.environment_id WHERE ",
                    visible_to_reader!(),
                    " AND n.component IS NOT NULL ORDER BY n.component"
                ))
                .bind(environment)
                .bind(audiences.join(","))
                .fetch_all(&self.read)
                .await?)
            }

            async fn create_release(&self, r: NewRelease) -> DbResult<Release> {
                let now = db_time(Utc::now());
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO releases (slug, title, version_name, narrative, narrative_html, status, \
                     created_by, created_at, updated_at, narrative_text, audience) \
                     VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $7, $8, $9) RETURNING id",
                )
                .bind(&r.slug)
                .bind(&r.title)
                .bind(&r.version_name)
                .bind(&r.narrative)
                .bind(&r.narrative_html)
                .bind(&r.created_by)
                .bind(now)
                .bind(&r.narrative_text)
                .bind(r.audience.as_string())
                .fetch_one(&self.write)
                .await
                .map_err(|e| unique(e, || format!("a release with the slug `{}` already exists", r.slug)))?;
                self.release_row(id).await
            }

            async fn edit_release(&self, id: i64, revision: i64, r: ReleaseEdit) -> DbResult<Release> {
                let done = sqlx::query(
                    "UPDATE releases SET slug = $3, title = $4, version_name = $5, narrative = $6, \
                     narrative_html = $7, revision = revision + 1, updated_at = $8, narrative_text = $9, \
                     audience = $10 WHERE id = $1 AND revision = $2",
                )
                .bind(id)
                .bind(revision)
                .bind(&r.slug)
                .bind(&r.title)
                .bind(&r.version_name)
                .bind(&r.narrative)
                .bind(&r.narrative_html)
                .bind(db_time(Utc::now()))
                .bind(&r.narrative_text)
                .bind(r.audience.as_string())
                .execute(&self.write)
                .await
                .map_err(|e| unique(e, || format!("a release with the slug `{}` already exists", r.slug)))?;
                self.after_revision_check(id, done.rows_affected()).await
            }

            async fn set_release_state(&self, id: i64, revision: i64, s: ReleaseState) -> DbResult<Release> {
                let done = sqlx::query(
                    "UPDATE releases SET status = $3, publish_at = $4, published_at = $5, archived = $6, \
                     revision = revision + 1, updated_at = $7 WHERE id = $1 AND revision = $2",
                )
                .bind(id)
                .bind(revision)
                .bind(s.status.as_str())
                .bind(s.publish_at.map(db_time))
                .bind(s.published_at.map(db_time))
                .bind(s.archived)
                .bind(db_time(Utc::now()))
                .execute(&self.write)
                .await?;
                self.after_revision_check(id, done.rows_affected()).await
            }

            async fn release(&self, id: i64) -> DbResult<Option<ReleaseDetail>> {
                let row: Option<ReleaseRow> = sqlx::query_as(concat!(release_select!(), " WHERE r.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let entries: Vec<LinkedEntryRow> = sqlx::query_as(concat!(
                    linked_select!(),
                    " WHERE n.release_id = $1 ORDER BY d.started_at, n.position, n.id"
                ))
                .bind(id)
                .fetch_all(&self.read)
                .await?;
                Ok(Some(ReleaseDetail {
                    release: row.try_into()?,
                    entries: convert(entries)?,
                }))
            }

            async fn release_id(&self, slug: &str) -> DbResult<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT id FROM releases WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(&self.read)
                    .await?)
            }

            async fn list_releases(&self, q: &ReleaseQuery) -> DbResult<Vec<Release>> {
                let rows: Vec<ReleaseRow> = sqlx::query_as(concat!(
                    release_select!(),
                    " WHERE ($1 = TRUE OR r.archived = FALSE) \
                      AND ($2 = '' OR LOWER(r.title) LIKE $2 OR LOWER(r.narrative) LIKE $2 \
                           OR LOWER(COALESCE(r.version_name, '')) LIKE $2) \
                     ORDER BY (r.status = 'published'), COALESCE(r.published_at, r.publish_at, r.updated_at) DESC, r.id DESC \
                     LIMIT $3 OFFSET $4"
                ))
                .bind(q.include_archived)
                .bind(like_pattern(&q.search))
                .bind(q.limit)
                .bind(q.offset)
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn link_entries(
                &self,
                release_id: i64,
                entry_ids: &[i64],
                revision: Option<i64>,
            ) -> DbResult<()> {
                let mut tx = self.write.begin().await?;
                let moved = sqlx::query(
                    "UPDATE releases SET revision = revision + 1, updated_at = $2 \
                     WHERE id = $1 AND ($3 IS NULL OR revision = $3)",
                )
                .bind(release_id)
                .bind(db_time(Utc::now()))
                .bind(revision)
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() == 0 {
                    return Err(DbError::Stale);
                }
                for id in entry_ids {
                    let done = sqlx::query(
                        "UPDATE entries SET release_id = $1 WHERE id = $2 AND (release_id IS NULL OR release_id = $1)",
                    )
                    .bind(release_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM entries WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        return Err(DbError::Conflict(match exists {
                            Some(_) => format!("entry {id} already belongs to another release"),
                            None => format!("there is no entry {id}"),
                        }));
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn linked_entry(&self, id: i64) -> DbResult<Option<LinkedEntry>> {
                let row: Option<LinkedEntryRow> = sqlx::query_as(concat!(linked_select!(), " WHERE n.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?;
                row.map(LinkedEntry::try_from).transpose()
            }

            async fn unlink_entry(&self, release_id: i64, entry_id: i64) -> DbResult<()> {
                let mut tx = self.write.begin().await?;
                let done = sqlx::query("UPDATE entries SET release_id = NULL WHERE id = $2 AND release_id = $1")
                    .bind(release_id)
                    .bind(entry_id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                sqlx::query("UPDATE releases SET revision = revision + 1, updated_at = $2 WHERE id = $1")
                    .bind(release_id)
                    .bind(db_time(Utc::now()))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn publish_due(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>> {
                Ok(sqlx::query_scalar(concat!(
                    "UPDATE releases SET status = 'published', published_at = publish_at, \
                     revision = revision + 1, updated_at = $1 \
                     WHERE status = 'scheduled' AND ",
                    $due_by_1,
                    " RETURNING id",
                ))
                .bind(db_time(now))
                .fetch_all(&self.write)
                .await?)
            }

            async fn candidate_entries(&self, q: &CandidateQuery) -> DbResult<Vec<LinkedEntry>> {
                let rows: Vec<LinkedEntryRow> = sqlx::query_as(concat!(
                    linked_select!(),
                    " WHERE n.release_id IS NULL AND n.audience <> 'internal' \
                      AND ($1 IS NULL OR e.slug = $1) AND ($2 IS NULL OR n.kind = $2) \
                      AND ($3 IS NULL OR n.component = $3) AND ($4 IS NULL OR d.started_at >= $4) \
                      AND ($5 IS NULL OR d.started_at < $5) \
                      AND ($6 = '' OR LOWER(n.title) LIKE $6 OR LOWER(n.body) LIKE $6) \
                     ORDER BY d.started_at DESC, n.position, n.id LIMIT $7"
                ))
                .bind(&q.environment)
                .bind(q.kind.map(|k| k.as_str()))
                .bind(&q.component)
                .bind(q.from.map(db_time))
                .bind(q.to.map(db_time))
                .bind(like_pattern(&q.text))
                .bind(q.limit)
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn unannounced(&self, environment: &str) -> DbResult<Vec<LinkedEntry>> {
                let rows: Vec<LinkedEntryRow> = sqlx::query_as(concat!(
                    linked_select!(),
                    " LEFT JOIN releases r ON r.id = n.release_id \
                      WHERE e.slug = $1 AND d.status = 'succeeded' AND n.audience <> 'internal' \
                      AND (r.id IS NULL OR r.status = 'draft') \
                     ORDER BY d.started_at, n.position, n.id"
                ))
                .bind(environment)
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn announced_share(&self, environment: &str, since: DateTime<Utc>) -> DbResult<(i64, i64)> {
                Ok(sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(CASE WHEN r.status IN ('published', 'scheduled') THEN 1 ELSE 0 END), 0) AS BIGINT), \
                     COUNT(*) FROM entries n JOIN deploys d ON d.id = n.deploy_id \
                     JOIN environments e ON e.id = d.environment_id LEFT JOIN releases r ON r.id = n.release_id \
                     WHERE e.slug = $1 AND d.status = 'succeeded' AND n.audience <> 'internal' AND d.started_at >= $2",
                )
                .bind(environment)
                .bind(db_time(since))
                .fetch_one(&self.read)
                .await?)
            }

            async fn public_releases(&self, q: &PublicReleaseQuery) -> DbResult<Vec<Release>> {
                // Newest published first, straight from the (status, published_at, id) index.
                let rows: Vec<ReleaseRow> = sqlx::query_as(concat!(
                    release_select!(),
                    " WHERE r.status = 'published' AND r.archived = FALSE AND ",
                    release_visible_to_reader!(),
                    " AND ($3 = '' OR LOWER(r.title) LIKE $3 OR LOWER(COALESCE(r.narrative_text, '')) LIKE $3 \
                           OR LOWER(COALESCE(r.version_name, '')) LIKE $3) \
                     ORDER BY r.published_at DESC, r.id DESC LIMIT $4 OFFSET $5"
                ))
                .bind(&q.environment)
                .bind(q.audiences.join(","))
                .bind(like_pattern(&q.search))
                .bind(q.limit)
                .bind(q.offset)
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn public_release(
                &self,
                environment: &str,
                audiences: &[String],
                slug: &str,
            ) -> DbResult<Option<Release>> {
                let row: Option<ReleaseRow> = sqlx::query_as(concat!(
                    release_select!(),
                    " WHERE r.status = 'published' AND r.slug = $3 AND ",
                    release_visible_to_reader!()
                ))
                .bind(environment)
                .bind(audiences.join(","))
                .bind(slug)
                .fetch_optional(&self.read)
                .await?;
                row.map(Release::try_from).transpose()
            }

            async fn public_release_entries(
                &self,
                environment: &str,
                audiences: &[String],
                release_id: i64,
            ) -> DbResult<Vec<PublicEntry>> {
                let rows: Vec<PublicEntryRow> = sqlx::query_as(concat!(
                    public_select!(),
                    " AND n.release_id = $3 ORDER BY n.kind, shipped_at DESC, n.id"
                ))
                .bind(environment)
                .bind(audiences.join(","))
                .bind(release_id)
                .fetch_all(&self.read)
                .await?;
                convert(rows)
            }

            async fn create_account(&self, slug: &str, name: &str) -> DbResult<Account> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO accounts (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(slug)
                .bind(name)
                .bind(db_time(Utc::now()))
                .fetch_one(&self.write)
                .await
                .map_err(|e| unique(e, || format!("an account with the slug `{slug}` already exists")))?;
                let mut accounts = self.list_accounts().await?;
                accounts.retain(|a| a.id == id);
                accounts.pop().ok_or(DbError::NotFound)
            }

            async fn list_accounts(&self) -> DbResult<Vec<Account>> {
                let rows: Vec<AccountRow> = sqlx::query_as(
                    "SELECT a.id, a.slug, a.name, a.created_at, \
                     EXISTS (SELECT 1 FROM account_links l WHERE l.account_id = a.id \
                             AND l.is_admin = FALSE AND l.revoked_at IS NULL) AS has_link, \
                     EXISTS (SELECT 1 FROM account_links l WHERE l.account_id = a.id \
                             AND l.is_admin = TRUE AND l.revoked_at IS NULL) AS has_admin_link \
                     FROM accounts a ORDER BY a.name, a.id",
                )
                .fetch_all(&self.read)
                .await?;
                let memberships: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT m.account_id, c.slug FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id \
                     ORDER BY c.slug",
                )
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| r.into_account(&memberships))
                    .collect())
            }

            async fn create_cohort(&self, slug: &str, name: &str) -> DbResult<Cohort> {
                sqlx::query("INSERT INTO cohorts (slug, name, created_at) VALUES ($1, $2, $3)")
                    .bind(slug)
                    .bind(name)
                    .bind(db_time(Utc::now()))
                    .execute(&self.write)
                    .await
                    .map_err(|e| unique(e, || format!("a cohort with the slug `{slug}` already exists")))?;
                let mut cohorts = self.list_cohorts().await?;
                cohorts.retain(|c| c.slug == slug);
                cohorts.pop().ok_or(DbError::NotFound)
            }

            async fn list_cohorts(&self) -> DbResult<Vec<Cohort>> {
                let rows: Vec<CohortRow> =
                    sqlx::query_as("SELECT id, slug, name, created_at FROM cohorts ORDER BY slug")
                        .fetch_all(&self.read)
                        .await?;
                let members: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT m.cohort_id, a.slug FROM cohort_members m JOIN accounts a ON a.id = m.account_id \
                     ORDER BY a.slug",
                )
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(|r| r.into_cohort(&members)).collect())
            }

            async fn set_cohort_members(&self, cohort: &str, accounts: &[String]) -> DbResult<Cohort> {
                let mut tx = self.write.begin().await?;
                let cohort_id: i64 = sqlx::query_scalar("SELECT id FROM cohorts WHERE slug = $1")
                    .bind(cohort)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| DbError::Conflict(format!("there is no cohort `{cohort}`")))?;
                sqlx::query("DELETE FROM cohort_members WHERE cohort_id = $1")
                    .bind(cohort_id)
                    .execute(&mut *tx)
                    .await?;
                for slug in accounts {
                    let account_id: i64 = sqlx::query_scalar("SELECT id FROM accounts WHERE slug = $1")
                        .bind(slug)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or_else(|| DbError::Conflict(format!("there is no account `{slug}`")))?;
                    sqlx::query(
                        "INSERT INTO cohort_members (cohort_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(cohort_id)
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                let mut cohorts = self.list_cohorts().await?;
                cohorts.retain(|c| c.id == cohort_id);
                cohorts.pop().ok_or(DbError::NotFound)
            }

            async fn replace_account_link(&self, account: &str, admin: bool, token_hash: &str) -> DbResult<()> {
                let now = db_time(Utc::now());
                let mut tx = self.write.begin().await?;
                let account_id: i64 = sqlx::query_scalar("SELECT id FROM accounts WHERE slug = $1")
                    .bind(account)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(DbError::NotFound)?;
                sqlx::query(
                    "UPDATE account_links SET revoked_at = $3 \
                     WHERE account_id = $1 AND is_admin = $2 AND revoked_at IS NULL",
                )
                .bind(account_id)
                .bind(admin)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO account_links (account_id, token_hash, is_admin, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(account_id)
                .bind(token_hash)
                .bind(admin)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_account_link(&self, account: &str, admin: bool) -> DbResult<()> {
                let done = sqlx::query(
                    "UPDATE account_links SET revoked_at = $3 WHERE is_admin = $2 AND revoked_at IS NULL \
                     AND account_id = (SELECT id FROM accounts WHERE slug = $1)",
                )
                .bind(account)
                .bind(admin)
                .bind(db_time(Utc::now()))
                .execute(&self.write)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(DbError::NotFound);
                }
                Ok(())
            }

            async fn reader_by_link(&self, token_hash: &str) -> DbResult<Option<Reader>> {
                let row: Option<(i64, String, String, bool)> = sqlx::query_as(
                    "SELECT a.id, a.slug, a.name, l.is_admin FROM account_links l \
                     JOIN accounts a ON a.id = l.account_id \
                     WHERE l.token_hash = $1 AND l.revoked_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(&self.read)
                .await?;
                let Some((id, slug, name, admin)) = row else { return Ok(None) };
                let cohorts: Vec<String> = sqlx::query_scalar(
                    "SELECT c.slug FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id \
                     WHERE m.account_id = $1 ORDER BY c.slug",
                )
                .bind(id)
                .fetch_all(&self.read)
                .await?;
                Ok(Some(Reader::Account { slug, name, cohorts, admin }))
            }
        }

        async fn insert_user(
            tx: &mut sqlx::Transaction<'_, DB>,
            u: &NewUser,
        ) -> DbResult<User> {
            let row: UserRow = sqlx::query_as(
                "INSERT INTO users (email, name, role, password_hash, active, created_at) \
                 VALUES ($1, $2, $3, $4, TRUE, $5) \
                 RETURNING id, email, name, role, active, created_at",
            )
            .bind(&u.email)
            .bind(&u.name)
            .bind(u.role.as_str())
            .bind(&u.password_hash)
            .bind(db_time(Utc::now()))
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| unique(e, || format!("an account for {} already exists", u.email)))?;
            row.try_into()
        }

        async fn insert_entry(
            tx: &mut sqlx::Transaction<'_, DB>,
            deploy_id: i64,
            position: i64,
            e: &NewEntry,
            now: DateTime<Utc>,
        ) -> DbResult<i64> {
            Ok(sqlx::query_scalar(
                "INSERT INTO entries (deploy_id, position, title, body, body_html, kind, audience, risk, \
                 component, breaking, links, created_at, updated_at, body_text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) RETURNING id",
            )
            .bind(deploy_id)
            .bind(position)
            .bind(&e.title)
            .bind(&e.body)
            .bind(&e.body_html)
            .bind(e.kind.as_str())
            .bind(e.audience.as_string())
            .bind(e.risk.as_str())
            .bind(&e.component)
            .bind(e.breaking)
            .bind(links_json(&e.links))
            .bind(now)
            .bind(&e.body_text)
            .fetch_one(&mut **tx)
            .await?)
        }

        async fn load_deploy(
            conn: &mut <DB as sqlx::Database>::Connection,
            id: i64,
        ) -> DbResult<Option<DeployDetail>> {
            let row: Option<DeployRow> = sqlx::query_as(concat!(deploy_select!(), " WHERE d.id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let entries: Vec<EntryRow> = sqlx::query_as(concat!(
                "SELECT ",
                entry_cols!(),
                " FROM entries n WHERE n.deploy_id = $1 ORDER BY n.position, n.id"
            ))
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            let commits: Vec<CommitRow> = sqlx::query_as(
                "SELECT sha, message, author, authored_at FROM commits WHERE deploy_id = $1 ORDER BY position",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            Ok(Some(DeployDetail {
                deploy: row.try_into()?,
                entries: convert(entries)?,
                commits: commits.into_iter().map(Commit::from).collect(),
            }))
        }

        impl $store {
            async fn release_row(&self, id: i64) -> DbResult<Release> {
                let row: ReleaseRow = sqlx::query_as(concat!(release_select!(), " WHERE r.id = $1"))
                    .bind(id)
                    .fetch_one(&self.write)
                    .await?;
                row.try_into()
            }

            /// After a compare-and-set on `revision`: the new row, or why nothing changed.
            async fn after_revision_check(&self, id: i64, changed: u64) -> DbResult<Release> {
                if changed == 1 {
                    return self.release_row(id).await;
                }
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM releases WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.write)
                    .await?;
                match exists {
                    Some(_) => Err(DbError::Stale),
                    None => Err(DbError::NotFound),
                }
            }
        }

        /// `%text%` in lower case for LIKE, or `''` for no filter.
        fn like_pattern(text: &str) -> String {
            let t = text.trim().to_lowercase();
            if t.is_empty() {
                String::new()
            } else {
                let escaped: String = t.chars().filter(|c| *c != '%' && *c != '_').collect();
                format!("%{escaped}%")
            }
        }

        fn links_json(links: &[String]) -> String {
            serde_json::to_string(links).expect("a list of strings always serialises")
        }
    };
}
