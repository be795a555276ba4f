//! Every stored Markdown field with its rendered HTML, for `shiplog
//! rerender` (after an ammonia or pulldown-cmark upgrade).

use super::sql::sql;
use super::{DbResult, SqlStore};
use async_trait::async_trait;

/// A Markdown field: its table, its source, its HTML, and its reader text
/// (what search matches), where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkdownField {
    pub table: &'static str,
    pub markdown: &'static str,
    pub html: &'static str,
    pub text: Option<&'static str>,
}

pub const MARKDOWN_FIELDS: &[MarkdownField] = &[
    MarkdownField {
        table: "entries",
        markdown: "body",
        html: "body_html",
        text: Some("body_text"),
    },
    MarkdownField {
        table: "releases",
        markdown: "narrative",
        html: "narrative_html",
        text: Some("narrative_text"),
    },
    MarkdownField {
        table: "incidents",
        markdown: "customer_impact",
        html: "customer_impact_html",
        text: None,
    },
];

#[async_trait]
pub trait RerenderStore: Send + Sync {
    /// Up to `limit` rows after `after_id`: (id, markdown, html).
    async fn markdown_rows(
        &self,
        field: MarkdownField,
        after_id: i64,
        limit: i64,
    ) -> DbResult<Vec<(i64, String, String)>>;
    async fn set_rendered(
        &self,
        field: MarkdownField,
        id: i64,
        html: &str,
        text: &str,
    ) -> DbResult<()>;
}

#[async_trait]
impl RerenderStore for SqlStore {
    async fn markdown_rows(
        &self,
        f: MarkdownField,
        after_id: i64,
        limit: i64,
    ) -> DbResult<Vec<(i64, String, String)>> {
        sql(format!(
            "SELECT id, {}, {} FROM {} WHERE id > :after_id ORDER BY id LIMIT :limit",
            f.markdown, f.html, f.table
        ))
        .set("after_id", after_id)
        .set("limit", limit)
        .all(self.bulk())
        .await
    }

    async fn set_rendered(
        &self,
        f: MarkdownField,
        id: i64,
        html: &str,
        text: &str,
    ) -> DbResult<()> {
        let query = match f.text {
            Some(column) => sql(format!(
                "UPDATE {} SET {} = :html, {column} = :text WHERE id = :id",
                f.table, f.html
            ))
            .set("id", id)
            .set("html", html)
            .set("text", text),
            None => sql(format!(
                "UPDATE {} SET {} = :html WHERE id = :id",
                f.table, f.html
            ))
            .set("id", id)
            .set("html", html),
        };
        query.execute(self.write()).await?;
        Ok(())
    }
}
