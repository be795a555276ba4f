//! Each SELECT list agrees with the type its rows decode into: a field added
//! to a model and not to its list (or a column added and not to the model)
//! fails here, at `cargo test`, not on the first request that reads one.
//! The columns are the ones SQLite reports for the query on the migrated
//! schema (both databases run the same text); the fields are what the type
//! itself declares.

use super::{
    actions, campaigns, deploys, environments, gates, incidents, notify, people, releases, retros,
    risk, root_causes, subscribers, tokens,
};
use crate::model::*;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use sqlx::{Column, Executor};

/// The field names a type deserialises, read from the type without a value.
fn fields<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    match T::deserialize(FieldNames) {
        Err(Caught(fields)) => fields.to_vec(),
        Ok(_) => unreachable!("nothing deserialises from FieldNames"),
    }
}

#[derive(Debug)]
struct Caught(&'static [&'static str]);

impl std::fmt::Display for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Caught {}

impl de::Error for Caught {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Caught(&[])
    }
}

/// A deserialiser that answers every struct with its list of field names.
struct FieldNames;

impl<'de> Deserializer<'de> for FieldNames {
    type Error = Caught;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Caught> {
        Err(Caught(fields))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Caught> {
        Err(Caught(&[]))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// A query, the fields of its row type, and the fields the type has that no
/// column fills (computed after reading, `sqlx(skip)`).
struct Case {
    name: &'static str,
    query: String,
    fields: Vec<&'static str>,
    computed: &'static [&'static str],
    /// (field as the wire names it, its column) where the two differ.
    renamed: &'static [(&'static str, &'static str)],
}

fn case<T: for<'de> Deserialize<'de>>(
    name: &'static str,
    query: impl Into<String>,
    computed: &'static [&'static str],
) -> Case {
    Case {
        name,
        query: query.into(),
        fields: fields::<T>(),
        computed,
        renamed: &[],
    }
}

impl Case {
    fn renamed(self, renamed: &'static [(&'static str, &'static str)]) -> Case {
        Case { renamed, ..self }
    }
}

fn cases() -> Vec<Case> {
    vec![
        case::<ActionItem>(
            "actions::COLUMNS",
            format!("SELECT {} FROM {}", actions::COLUMNS, actions::FROM),
            &["number", "overdue"],
        )
        .renamed(&[("type", "kind")]),
        case::<Incident>(
            "incidents::COLUMNS",
            format!("SELECT {} FROM {}", incidents::COLUMNS, incidents::FROM),
            &["number"],
        ),
        case::<campaigns::CampaignRow>(
            "campaigns::CAMPAIGN_COLUMNS",
            format!(
                "SELECT {} FROM {}",
                campaigns::CAMPAIGN_COLUMNS,
                campaigns::CAMPAIGN_FROM
            ),
            &[],
        ),
        case::<campaigns::Candidate>("campaigns::CANDIDATE", campaigns::CANDIDATE, &[]),
        case::<Deploy>("deploys::DEPLOY", deploys::DEPLOY, &[])
            .renamed(&[("commit", "commit_sha")]),
        case::<ChangeEntry>(
            "deploys::ENTRY_COLUMNS",
            format!("SELECT {} FROM entries n", deploys::ENTRY_COLUMNS),
            &[],
        ),
        case::<environments::EnvDeploy>("environments::ENV_DEPLOY", environments::ENV_DEPLOY, &[]),
        case::<WebhookDelivery>("notify::DELIVERY", notify::DELIVERY, &[]),
        case::<User>("people::USER", people::USER, &[]),
        case::<Invitation>("people::INVITATION", people::INVITATION, &[]),
        case::<Release>(
            "releases::RELEASE_COLUMNS",
            format!("SELECT {} FROM releases r", releases::RELEASE_COLUMNS),
            &[],
        ),
        case::<Retro>("retros::RETRO", retros::RETRO, &[]),
        case::<Hole>("root_causes::HOLE", root_causes::HOLE, &[]),
        case::<Block>("gates::BLOCK", gates::BLOCK, &["state"]),
        case::<Subscriber>(
            "subscribers::SUBSCRIBER_COLUMNS",
            format!(
                "SELECT {} FROM {}",
                subscribers::SUBSCRIBER_COLUMNS,
                subscribers::SUBSCRIBER_FROM
            ),
            &[],
        ),
        case::<ApiToken>(
            "tokens::COLUMNS",
            format!("SELECT {} FROM api_tokens", tokens::COLUMNS),
            &[],
        ),
        case::<risk::ProcessRow>("risk::PROCESS", risk::PROCESS, &[]),
    ]
}

#[tokio::test]
async fn select_lists_match_the_types_they_decode_into() {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("an in-memory SQLite");
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .expect("the migrations run");
    let mut drift = Vec::new();
    for c in cases() {
        assert!(
            !c.fields.is_empty(),
            "{}: the type declares no fields",
            c.name
        );
        let described = (&pool)
            .describe(&c.query)
            .await
            .unwrap_or_else(|e| panic!("{}: the query does not run: {e}", c.name));
        let columns: Vec<&str> = described.columns().iter().map(|col| col.name()).collect();
        let stored: Vec<&str> = c
            .fields
            .iter()
            .copied()
            .filter(|f| !c.computed.contains(f))
            .map(|f| {
                c.renamed
                    .iter()
                    .find(|(field, _)| *field == f)
                    .map_or(f, |(_, column)| *column)
            })
            .collect();
        let missing: Vec<&&str> = stored.iter().filter(|f| !columns.contains(f)).collect();
        let extra: Vec<&&str> = columns.iter().filter(|col| !stored.contains(col)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            drift.push(format!(
                "{}: fields with no column {missing:?}, columns with no field {extra:?}",
                c.name
            ));
        }
    }
    assert!(
        drift.is_empty(),
        "SELECT lists drifted:\n{}",
        drift.join("\n")
    );
}
