//! What customers may read: entries of succeeded production deploys whose
//! audience is among the reader's (the public sees `everyone` only).

use crate::model::*;
use crate::server::db::{Db, PublicQuery};
use crate::server::error::AppError;

/// The environment whose succeeded deploys customers hear about.
pub const PUBLIC_ENVIRONMENT: &str = "production";
pub const PAGE_SIZE: i64 = 50;

#[derive(Clone, Debug, Default)]
pub struct ChangesFilter {
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    pub page: i64,
}

pub struct ChangesPage {
    pub entries: Vec<PublicEntry>,
    pub has_more: bool,
    pub components: Vec<String>,
}

pub async fn list(
    db: &Db,
    reader: &Reader,
    filter: &ChangesFilter,
) -> Result<ChangesPage, AppError> {
    let page = filter.page.max(1);
    let audiences = reader.audiences();
    let mut entries = db
        .public_entries(&PublicQuery {
            environment: PUBLIC_ENVIRONMENT.into(),
            audiences: audiences.clone(),
            kind: filter.kind,
            component: filter.component.clone(),
            limit: PAGE_SIZE + 1,
            offset: (page - 1) * PAGE_SIZE,
        })
        .await?;
    let has_more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    Ok(ChangesPage {
        entries,
        has_more,
        components: db.public_components(PUBLIC_ENVIRONMENT, &audiences).await?,
    })
}

pub async fn get(db: &Db, reader: &Reader, id: i64) -> Result<PublicEntry, AppError> {
    db.public_entry(PUBLIC_ENVIRONMENT, &reader.audiences(), id)
        .await?
        .ok_or_else(|| AppError::not_found("This change does not exist or is not public."))
}
