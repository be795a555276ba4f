//! What customers may read: entries of succeeded production deploys whose
//! audience is among the reader's (the public sees `everyone` only).

use crate::model::*;
use crate::server::db::{Cursor, Db, PublicQuery, PublicReleaseQuery};
use crate::server::error::AppError;

/// The environment whose succeeded deploys customers hear about.
const PUBLIC_ENVIRONMENT: &str = PRODUCTION;
pub const PAGE_SIZE: i64 = 50;

#[derive(Clone, Debug, Default)]
pub struct ChangesFilter {
    /// Words to find in titles and bodies.
    pub search: String,
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    /// Which page: numbered (searches, and old links) or next to an entry.
    pub at: PageAt,
}

/// Where a page of changes is. Lists without search page by the last entry
/// shown (keyset), so a deep page costs what the first one does; search
/// results are ranked, so they are numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageAt {
    Number(i64),
    /// Entries older than this one.
    Older(i64),
    /// Entries newer than this one.
    Newer(i64),
}

impl Default for PageAt {
    fn default() -> Self {
        PageAt::Number(1)
    }
}

pub struct ChangesPage {
    pub entries: Vec<PublicEntry>,
    /// Towards newer entries, and towards older ones.
    pub prev: Option<PageAt>,
    pub next: Option<PageAt>,
}

pub async fn list(
    db: &Db,
    reader: &Reader,
    filter: &ChangesFilter,
) -> Result<ChangesPage, AppError> {
    let searching = !filter.search.trim().is_empty();
    let cursor = match filter.at {
        PageAt::Number(page) => Cursor::Offset(page_offset(page, PAGE_SIZE)?),
        PageAt::Older(_) | PageAt::Newer(_) if searching => Cursor::Offset(0),
        PageAt::Older(id) => Cursor::OlderThan(id),
        PageAt::Newer(id) => Cursor::NewerThan(id),
    };
    let audiences = reader.audiences();
    let mut entries = db
        .public_entries(&PublicQuery {
            environment: PUBLIC_ENVIRONMENT.into(),
            audiences,
            kind: filter.kind,
            component: filter.component.clone(),
            search: filter.search.clone(),
            limit: PAGE_SIZE + 1,
            cursor,
        })
        .await?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    if let Cursor::NewerThan(_) = cursor {
        // Answered oldest first, so that the page sits right above the cursor.
        entries.reverse();
    }
    let first = entries.first().map(|e| e.entry.id);
    let last = entries.last().map(|e| e.entry.id);
    // Lists without search continue after their last entry.
    let older = last.filter(|_| more).map(PageAt::Older);
    let (prev, next) = match (filter.at, cursor) {
        (PageAt::Number(page), _) if entries.is_empty() && page > 1 => {
            return Err(past_the_end(page))
        }
        (PageAt::Number(page), _) if searching => (
            (page > 1).then_some(PageAt::Number(page - 1)),
            more.then_some(PageAt::Number(page + 1)),
        ),
        (PageAt::Number(page), _) => ((page > 1).then_some(PageAt::Number(page - 1)), older),
        (_, Cursor::NewerThan(id)) => (
            first.filter(|_| more).map(PageAt::Newer),
            Some(PageAt::Older(last.unwrap_or(id))),
        ),
        (_, Cursor::OlderThan(id)) => (Some(PageAt::Newer(first.unwrap_or(id))), older),
        // A cursor on a search starts it over from its first page.
        _ => (None, more.then_some(PageAt::Number(2))),
    };
    Ok(ChangesPage {
        entries,
        prev,
        next,
    })
}

/// The components of the changes this reader may see, to filter by.
pub async fn components(db: &Db, reader: &Reader) -> Result<Vec<String>, AppError> {
    Ok(db
        .public_components(PUBLIC_ENVIRONMENT, &reader.audiences())
        .await?)
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

/// Published, unarchived releases this reader may see (their audience is the
/// reader's and at least one of their entries is), newest first, optionally
/// searched. A page past the last is refused.
pub async fn releases(
    db: &Db,
    reader: &Reader,
    search: &str,
    page: i64,
) -> Result<ReleasesPage, AppError> {
    let audiences = reader.audiences();
    let offset = page_offset(page, RELEASES_PAGE_SIZE)?;
    let mut list = db
        .public_releases(&PublicReleaseQuery {
            environment: PUBLIC_ENVIRONMENT.into(),
            audiences: audiences.clone(),
            search: search.to_string(),
            limit: RELEASES_PAGE_SIZE + 1,
            offset,
        })
        .await?;
    if list.is_empty() && page > 1 {
        return Err(past_the_end(page));
    }
    let has_more = list.len() as i64 > RELEASES_PAGE_SIZE;
    list.truncate(RELEASES_PAGE_SIZE as usize);
    let ids: Vec<i64> = list.iter().map(|r| r.id).collect();
    let mut entries = db
        .public_release_entries(PUBLIC_ENVIRONMENT, &audiences, &ids)
        .await?;
    let releases = list
        .into_iter()
        .map(|release| {
            let (mine, rest) = entries
                .drain(..)
                .partition(|e| e.entry.release_id == Some(release.id));
            entries = rest;
            ReaderRelease {
                release,
                entries: mine,
            }
        })
        .collect();
    Ok(ReleasesPage { releases, has_more })
}

/// One published release (archived ones stay readable at their address), if
/// this reader may see it.
pub async fn release(db: &Db, reader: &Reader, slug: &str) -> Result<ReaderRelease, AppError> {
    let missing = || AppError::not_found("There is no published release at this address.");
    let audiences = reader.audiences();
    let release = db
        .public_release(PUBLIC_ENVIRONMENT, &audiences, slug)
        .await?
        .ok_or_else(missing)?;
    let entries = db
        .public_release_entries(PUBLIC_ENVIRONMENT, &audiences, &[release.id])
        .await?;
    Ok(ReaderRelease { release, entries })
}

/// The offset of a 1-based page, refusing numbers no page can have.
pub fn page_offset(page: i64, size: i64) -> Result<i64, AppError> {
    if page < 1 {
        return Err(AppError::invalid(
            "page",
            "the page must be a positive number",
        ));
    }
    (page - 1)
        .checked_mul(size)
        .ok_or_else(|| past_the_end(page))
}

fn past_the_end(page: i64) -> AppError {
    AppError::invalid(
        "page",
        format!("there is no page {page}: it is past the last page"),
    )
}

/// Fills in the reader text (what search matches) of entries and releases
/// written before it was stored, from their sanitised HTML. Runs at start-up;
/// a no-op once everything has it.
pub async fn fill_reader_text(db: &Db) -> Result<u64, AppError> {
    let mut filled = 0u64;
    loop {
        let (entries, releases) = db.missing_reader_text(500).await?;
        if entries.is_empty() && releases.is_empty() {
            return Ok(filled);
        }
        let texts = |rows: Vec<(i64, String)>| -> Vec<(i64, String)> {
            rows.into_iter()
                .map(|(id, html)| (id, crate::server::markdown::visible_text(&html)))
                .collect()
        };
        let (entries, releases) = (texts(entries), texts(releases));
        filled += (entries.len() + releases.len()) as u64;
        db.set_reader_text(&entries, &releases).await?;
    }
}
