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
    /// Words to find in titles and bodies.
    pub search: String,
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
            search: filter.search.clone(),
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

/// A published release as one reader sees it: the narrative and the entries of
/// theirs it announces.
pub struct ReaderRelease {
    pub release: Release,
    pub entries: Vec<PublicEntry>,
}

pub struct ReleasesPage {
    pub releases: Vec<ReaderRelease>,
    pub has_more: bool,
}

pub const RELEASES_PAGE_SIZE: i64 = 10;

/// Published, unarchived releases, newest first, optionally searched.
pub async fn releases(
    db: &Db,
    reader: &Reader,
    search: &str,
    page: i64,
) -> Result<ReleasesPage, AppError> {
    let page = page.max(1);
    let mut list = db
        .public_releases(&crate::server::db::ReleaseQuery {
            include_archived: false,
            search: search.to_string(),
            limit: RELEASES_PAGE_SIZE + 1,
            offset: (page - 1) * RELEASES_PAGE_SIZE,
        })
        .await?;
    let has_more = list.len() as i64 > RELEASES_PAGE_SIZE;
    list.truncate(RELEASES_PAGE_SIZE as usize);
    let audiences = reader.audiences();
    let mut releases = Vec::with_capacity(list.len());
    for release in list {
        let entries = db
            .public_release_entries(PUBLIC_ENVIRONMENT, &audiences, release.id)
            .await?;
        releases.push(ReaderRelease { release, entries });
    }
    Ok(ReleasesPage { releases, has_more })
}

/// One published release (archived ones stay readable at their address).
pub async fn release(db: &Db, reader: &Reader, slug: &str) -> Result<ReaderRelease, AppError> {
    let missing = || AppError::not_found("There is no published release at this address.");
    let id = db.release_id(slug).await?.ok_or_else(missing)?;
    let detail = db.release(id).await?.ok_or_else(missing)?;
    if detail.release.status != ReleaseStatus::Published {
        return Err(missing());
    }
    let entries = db
        .public_release_entries(PUBLIC_ENVIRONMENT, &reader.audiences(), id)
        .await?;
    Ok(ReaderRelease {
        release: detail.release,
        entries,
    })
}
