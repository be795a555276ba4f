//! `shiplog rerender`: renders and sanitises every stored Markdown field
//! again with the running version of pulldown-cmark and ammonia, and stores
//! the HTML where it changed. A text the renderer now refuses (past today's
//! bounds) is replaced by its escaped source, and reported.

use crate::server::db::{Db, MARKDOWN_FIELDS};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;

const BATCH: i64 = 500;

/// What a run did, per field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldReport {
    pub field: String,
    pub seen: u64,
    pub changed: u64,
    /// `table.id` of texts the renderer refused, now shown as plain text.
    pub refused: Vec<String>,
}

pub async fn rerender(db: &Db, md: &Markdown) -> Result<Vec<FieldReport>, AppError> {
    let mut reports = vec![];
    for &field in MARKDOWN_FIELDS {
        let mut report = FieldReport {
            field: format!("{}.{}", field.table, field.markdown),
            ..Default::default()
        };
        let mut after = 0;
        loop {
            let rows = db.markdown_rows(field, after, BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            // Customers read an entry's body without its trailer block.
            let prepare = |source: &str| -> String {
                if field.table == "entries" {
                    super::conventional::without_trailers(source).into_owned()
                } else {
                    source.to_string()
                }
            };
            let texts = rows
                .iter()
                .map(|(_, source, _)| (field.markdown.to_string(), prepare(source)))
                .collect();
            // One text at a time when a batch holds a refused one.
            let rendered = match md.render_all(texts).await {
                Ok(all) => all.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(_) => {
                    let mut each = vec![];
                    for (_, source, _) in &rows {
                        each.push(md.render_one(field.markdown, &prepare(source)).await);
                    }
                    each
                }
            };
            for ((id, source, old), new) in rows.iter().zip(rendered) {
                report.seen += 1;
                let (html, text) = match new {
                    Ok(r) => (r.html, r.text),
                    Err(_) => {
                        report.refused.push(format!("{}.{id}", field.table));
                        (
                            format!("<p>{}</p>", crate::server::html::escape(source)),
                            source.clone(),
                        )
                    }
                };
                if &html != old {
                    db.set_rendered(field, *id, &html, &text).await?;
                    report.changed += 1;
                }
            }
        }
        reports.push(report);
    }
    Ok(reports)
}
