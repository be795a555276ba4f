//! Retrospectives: the cadence, the board (items, groups, votes) and the
//! review of open actions. Every change to a board moves the retro's
//! `revision` on in the same transaction: that update is also what makes
//! concurrent votes on one retro wait for each other, so nobody outvotes
//! their allowance.

use super::actions::{insert_action, update_action_in, ActionEdit, NewAction};
use super::sql::{sql, Conn};
use super::{Conflict, DbError, DbResult, SqlStore};
use crate::model::{
    ActionItem, ActionReview, Deploy, Incident, Retro, RetroColumn, RetroSettings, ReviewOutcome,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Clone, Debug)]
pub struct NewRetro {
    pub title: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub facilitator: String,
    pub votes_per_person: i64,
    pub created_by: String,
}

#[derive(Clone, Debug)]
pub struct NewRetroItem {
    pub column: RetroColumn,
    pub body: String,
    pub author: String,
    pub anonymous: bool,
}

/// An item as stored, with its vote count.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RetroItemRow {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub column_name: RetroColumn,
    pub body: String,
    pub author: String,
    pub anonymous: bool,
    pub group_id: Option<i64>,
    pub action_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub votes: i64,
}

/// A review to record, with the change it makes to its action.
#[derive(Clone, Debug)]
pub struct NewReview {
    pub action_id: i64,
    pub outcome: ReviewOutcome,
    pub due: Option<NaiveDate>,
    pub note: String,
    pub reviewed_by: String,
    /// The action as it is to be stored, if it was still at `action_updated_at`.
    pub edit: ActionEdit,
    pub action_updated_at: DateTime<Utc>,
}

/// What the deploy log holds for a period: deploy counts, the failed and
/// rolled-back deploys, and the incidents detected.
#[derive(Clone, Debug)]
pub struct PeriodRows {
    pub deploys: i64,
    pub production_deploys: i64,
    pub failed_deploys: Vec<Deploy>,
    pub incidents: Vec<Incident>,
}

#[async_trait]
pub trait RetroStore: Send + Sync {
    async fn retro_settings(&self) -> DbResult<RetroSettings>;
    async fn save_retro_settings(&self, settings: RetroSettings) -> DbResult<RetroSettings>;
    /// Opens a retro; another one still open is a conflict.
    async fn create_retro(&self, new: NewRetro) -> DbResult<Retro>;
    async fn retro(&self, id: i64) -> DbResult<Option<Retro>>;
    /// Newest first.
    async fn list_retros(&self, limit: i64) -> DbResult<Vec<Retro>>;
    async fn retro_items(&self, retro_id: i64) -> DbResult<Vec<RetroItemRow>>;
    /// The items `voter` voted for in a retro.
    async fn retro_votes_of(&self, retro_id: i64, voter: &str) -> DbResult<Vec<i64>>;
    /// Adds an item to an open retro; its id.
    async fn add_retro_item(&self, retro_id: i64, item: NewRetroItem) -> DbResult<i64>;
    /// Casts (`on`) or takes back a vote, within `limit` votes per voter.
    async fn retro_vote(
        &self,
        retro_id: i64,
        item_id: i64,
        voter: &str,
        on: bool,
        limit: i64,
    ) -> DbResult<()>;
    /// Puts an item (and any items grouped under it) into `group_id`'s
    /// group, or takes it out of its group (`None`).
    async fn group_retro_item(
        &self,
        retro_id: i64,
        item_id: i64,
        group_id: Option<i64>,
    ) -> DbResult<()>;
    /// Makes an action of an item.
    async fn retro_item_action(
        &self,
        retro_id: i64,
        item_id: i64,
        action: NewAction,
    ) -> DbResult<ActionItem>;
    /// Records what the retro decided about an action and changes the action.
    async fn review_action(&self, retro_id: i64, review: NewReview) -> DbResult<()>;
    async fn retro_reviews(&self, retro_id: i64) -> DbResult<Vec<ActionReview>>;
    async fn close_retro(&self, id: i64) -> DbResult<Retro>;
    /// What happened from `from` (inclusive) to `until` (exclusive).
    async fn retro_period(&self, from: DateTime<Utc>, until: DateTime<Utc>)
        -> DbResult<PeriodRows>;
}

pub(super) const RETRO: &str = "SELECT id, title, period_start, period_end, status, facilitator,
    votes_per_person, created_by, created_at, closed_at, revision FROM retros";

/// Moves an open retro's revision on (taking its row lock); a closed or
/// missing retro is refused.
async fn touch_open(conn: Conn<'_>, retro_id: i64) -> DbResult<()> {
    let changed =
        sql("UPDATE retros SET revision = revision + 1 WHERE id = :retro_id AND status = 'open'")
            .set("retro_id", retro_id)
            .execute(conn)
            .await?;
    if changed == 0 {
        return Err(DbError::Conflict(Conflict::RetroClosed));
    }
    Ok(())
}

/// The item's group head, if the item belongs to the retro.
async fn item_in(conn: Conn<'_>, retro_id: i64, item_id: i64) -> DbResult<(i64, Option<i64>)> {
    sql("SELECT id, group_id FROM retro_items WHERE id = :item_id AND retro_id = :retro_id")
        .set("item_id", item_id)
        .set("retro_id", retro_id)
        .optional::<(i64, Option<i64>)>(conn)
        .await?
        .ok_or(DbError::NotFound)
}

impl SqlStore {
    async fn retro_in(&self, id: i64, conn: Conn<'_>) -> DbResult<Option<Retro>> {
        sql(format!("{RETRO} WHERE id = :id"))
            .set("id", id)
            .optional(conn)
            .await
    }
}

#[async_trait]
impl RetroStore for SqlStore {
    async fn retro_settings(&self) -> DbResult<RetroSettings> {
        sql("SELECT cadence_days, votes_per_person FROM retro_settings WHERE id = 1")
            .one(self.read())
            .await
    }

    async fn save_retro_settings(&self, settings: RetroSettings) -> DbResult<RetroSettings> {
        sql("UPDATE retro_settings SET cadence_days = :cadence_days, votes_per_person = :votes_per_person WHERE id = 1")
            .set("cadence_days", settings.cadence_days)
            .set("votes_per_person", settings.votes_per_person)
            .change_one(self.write())
            .await?;
        Ok(settings)
    }

    async fn create_retro(&self, new: NewRetro) -> DbResult<Retro> {
        let mut tx = self.begin().await?;
        let id: i64 = sql(
            "INSERT INTO retros (title, period_start, period_end, status, facilitator,
                 votes_per_person, created_by, created_at)
             VALUES (:title, :period_start, :period_end, 'open', :facilitator, :votes_per_person, :created_by, :now) RETURNING id",
        )
        .set("title", &new.title)
        .set("period_start", new.period_start)
        .set("period_end", new.period_end)
        .set("facilitator", &new.facilitator)
        .set("votes_per_person", new.votes_per_person)
        .set("created_by", &new.created_by)
        .set("now", self.now())
        .or_conflict(Conflict::AnotherRetroOpen)
        .value(tx.conn())
        .await?;
        let retro = self
            .retro_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(retro)
    }

    async fn retro(&self, id: i64) -> DbResult<Option<Retro>> {
        self.retro_in(id, self.read()).await
    }

    async fn list_retros(&self, limit: i64) -> DbResult<Vec<Retro>> {
        sql(format!(
            "{RETRO} ORDER BY period_end DESC, id DESC LIMIT :limit"
        ))
        .set("limit", limit)
        .all(self.read())
        .await
    }

    async fn retro_items(&self, retro_id: i64) -> DbResult<Vec<RetroItemRow>> {
        sql(
            "SELECT i.id, i.column_name, i.body, i.author, i.anonymous, i.group_id, i.action_id,
                    i.created_at,
                    (SELECT COUNT(*) FROM retro_votes v WHERE v.item_id = i.id) AS votes
             FROM retro_items i WHERE i.retro_id = :retro_id ORDER BY i.id",
        )
        .set("retro_id", retro_id)
        .all(self.read())
        .await
    }

    async fn retro_votes_of(&self, retro_id: i64, voter: &str) -> DbResult<Vec<i64>> {
        sql("SELECT item_id FROM retro_votes WHERE retro_id = :retro_id AND voter = :voter ORDER BY item_id")
            .set("retro_id", retro_id)
            .set("voter", voter)
            .column(self.read())
            .await
    }

    async fn add_retro_item(&self, retro_id: i64, item: NewRetroItem) -> DbResult<i64> {
        let mut tx = self.begin().await?;
        touch_open(tx.conn(), retro_id).await?;
        let id = sql(
            "INSERT INTO retro_items (retro_id, column_name, body, author, anonymous, created_at)
             VALUES (:retro_id, :column, :body, :author, :anonymous, :now) RETURNING id",
        )
        .set("retro_id", retro_id)
        .set("column", item.column.as_str())
        .set("body", &item.body)
        .set("author", &item.author)
        .set("anonymous", item.anonymous)
        .set("now", self.now())
        .value(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn retro_vote(
        &self,
        retro_id: i64,
        item_id: i64,
        voter: &str,
        on: bool,
        limit: i64,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        touch_open(tx.conn(), retro_id).await?;
        item_in(tx.conn(), retro_id, item_id).await?;
        if on {
            let cast: i64 = sql(
                "SELECT COUNT(*) FROM retro_votes WHERE retro_id = :retro_id AND voter = :voter",
            )
            .set("retro_id", retro_id)
            .set("voter", voter)
            .value(tx.conn())
            .await?;
            if cast >= limit {
                return Err(DbError::Conflict(Conflict::VotesUsed { limit }));
            }
            sql("INSERT INTO retro_votes (retro_id, item_id, voter) VALUES (:retro_id, :item_id, :voter)")
                .set("retro_id", retro_id)
                .set("item_id", item_id)
                .set("voter", voter)
                .or_conflict(Conflict::AlreadyVoted)
                .execute(tx.conn())
                .await?;
        } else {
            sql("DELETE FROM retro_votes WHERE item_id = :item_id AND voter = :voter")
                .set("item_id", item_id)
                .set("voter", voter)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await
    }

    async fn group_retro_item(
        &self,
        retro_id: i64,
        item_id: i64,
        group_id: Option<i64>,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        touch_open(tx.conn(), retro_id).await?;
        item_in(tx.conn(), retro_id, item_id).await?;
        let head = match group_id {
            None => None,
            Some(target) => {
                let (target, its_group) = item_in(tx.conn(), retro_id, target).await?;
                let head = its_group.unwrap_or(target);
                (head != item_id).then_some(head)
            }
        };
        if let Some(head) = head {
            // The item's own group follows it into the new one.
            sql("UPDATE retro_items SET group_id = :head WHERE group_id = :item_id")
                .set("head", head)
                .set("item_id", item_id)
                .execute(tx.conn())
                .await?;
        }
        sql("UPDATE retro_items SET group_id = :head WHERE id = :item_id")
            .set("head", head)
            .set("item_id", item_id)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    async fn retro_item_action(
        &self,
        retro_id: i64,
        item_id: i64,
        action: NewAction,
    ) -> DbResult<ActionItem> {
        let mut tx = self.begin().await?;
        touch_open(tx.conn(), retro_id).await?;
        item_in(tx.conn(), retro_id, item_id).await?;
        let id = insert_action(tx.conn(), &action, self.now()).await?;
        let linked =
            sql("UPDATE retro_items SET action_id = :id WHERE id = :item_id AND action_id IS NULL")
                .set("id", id)
                .set("item_id", item_id)
                .execute(tx.conn())
                .await?;
        if linked == 0 {
            return Err(DbError::Conflict(Conflict::ItemAlreadyAction));
        }
        let action = self
            .action_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(action)
    }

    async fn review_action(&self, retro_id: i64, review: NewReview) -> DbResult<()> {
        let mut tx = self.begin().await?;
        touch_open(tx.conn(), retro_id).await?;
        if update_action_in(
            tx.conn(),
            review.action_id,
            review.action_updated_at,
            &review.edit,
            self.now(),
        )
        .await?
            == 0
        {
            return Err(DbError::Stale);
        }
        sql(
            "INSERT INTO retro_reviews (retro_id, action_id, outcome, due, note, reviewed_by, reviewed_at)
             VALUES (:retro_id, :action_id, :outcome, :due, :note, :reviewed_by, :now)
             ON CONFLICT (retro_id, action_id) DO UPDATE SET outcome = excluded.outcome,
                 due = excluded.due, note = excluded.note, reviewed_by = excluded.reviewed_by,
                 reviewed_at = excluded.reviewed_at",
        )
        .set("retro_id", retro_id)
        .set("action_id", review.action_id)
        .set("outcome", review.outcome.as_str())
        .set("due", review.due)
        .set("note", &review.note)
        .set("reviewed_by", &review.reviewed_by)
        .set("now", self.now())
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    async fn retro_reviews(&self, retro_id: i64) -> DbResult<Vec<ActionReview>> {
        sql(
            "SELECT action_id, outcome, due, note, reviewed_by, reviewed_at
             FROM retro_reviews WHERE retro_id = :retro_id ORDER BY reviewed_at, action_id",
        )
        .set("retro_id", retro_id)
        .all(self.read())
        .await
    }

    async fn close_retro(&self, id: i64) -> DbResult<Retro> {
        let mut tx = self.begin().await?;
        let closed = sql(
            "UPDATE retros SET status = 'closed', closed_at = :now, revision = revision + 1
             WHERE id = :id AND status = 'open'",
        )
        .set("id", id)
        .set("now", self.now())
        .execute(tx.conn())
        .await?;
        let retro = self
            .retro_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        if closed == 0 {
            return Err(DbError::Conflict(Conflict::RetroAlreadyClosed));
        }
        tx.commit().await?;
        Ok(retro)
    }

    async fn retro_period(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<PeriodRows> {
        let (deploys, production_deploys): (i64, i64) = sql(format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN e.slug = '{}' THEN 1 ELSE 0 END), 0)
             FROM deploys d JOIN environments e ON e.id = d.environment_id
             WHERE d.started_at >= :from AND d.started_at < :until",
            crate::model::PRODUCTION
        ))
        .set("from", from)
        .set("until", until)
        .one(self.read())
        .await?;
        let failed_deploys = sql(format!(
            "{} WHERE d.started_at >= :from AND d.started_at < :until
               AND d.status IN ('failed', 'rolled_back')
             ORDER BY d.started_at DESC, d.id DESC LIMIT 200",
            super::deploys::DEPLOY
        ))
        .set("from", from)
        .set("until", until)
        .all(self.read())
        .await?;
        let incidents = sql(format!(
            "SELECT {} FROM {} WHERE i.detected_at >= :from AND i.detected_at < :until
             ORDER BY i.detected_at DESC, i.id DESC LIMIT 200",
            super::incidents::COLUMNS,
            super::incidents::FROM
        ))
        .set("from", from)
        .set("until", until)
        .all::<Incident>(self.read())
        .await?
        .into_iter()
        .map(super::incidents::numbered)
        .collect();
        Ok(PeriodRows {
            deploys,
            production_deploys,
            failed_deploys,
            incidents,
        })
    }
}
