//! What customers may read: entries of succeeded production deploys whose
//! audience is among the reader's (the public sees `everyone` only).

use crate::model::*;
use crate::server::db::{Cursor, Db, Found, Mark, PublicQuery, PublicReleaseQuery};
use crate::server::error::AppError;

/// The environment whose succeeded deploys customers hear about.
const PUBLIC_ENVIRONMENT: &str = PRODUCTION;
pub const PAGE_SIZE: i64 = 50;
/// Public pages number only their first few pages (for old links); later
/// pages are reached from the one before, which costs no more than the first.
pub const NUMBERED_PAGES: i64 = 5;

#[derive(Clone, Debug, Default)]
pub struct ChangesFilter {
    /// Words to find in titles and bodies.
    pub search: String,
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    /// Which page.
    pub at: PageAt,
}

/// Where a page of a list is. Lists page by the last row shown (keyset), and
/// searches by the last hit shown, so a deep page costs what the first one
/// does; a few numbered pages remain for old links (and the API's releases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageAt {
    Number(i64),
    /// Rows older than this one.
    Older(i64),
    /// Rows newer than this one.
    Newer(i64),
    /// Search hits after this one.
    After(Mark),
    /// Search hits before this one.
    Before(Mark),
}

impl Default for PageAt {
    fn default() -> Self {
        PageAt::Number(1)
    }
}

impl PageAt {
    /// Where the list starts reading: a search cannot start next to a row,
    /// nor a plain list next to a search hit; either starts over.
    fn cursor(self, searching: bool, size: i64) -> Result<Cursor, AppError> {
        Ok(match self {
            PageAt::Number(1) => Cursor::Newest,
            PageAt::Number(page) => Cursor::Offset(page_offset(page, size)?),
            PageAt::Older(id) if !searching => Cursor::OlderThan(id),
            PageAt::Newer(id) if !searching => Cursor::NewerThan(id),
            PageAt::After(m) if searching => Cursor::After(m),
            PageAt::Before(m) if searching => Cursor::Before(m),
            _ => Cursor::Newest,
        })
    }
}

/// One page of a list, with where the pages beside it start.
pub struct Paged<T> {
    pub rows: Vec<T>,
    /// Towards newer rows (better matches), and towards older ones.
    pub prev: Option<PageAt>,
    pub next: Option<PageAt>,
}

/// Turns the rows read for `at` (one more than a page, to tell whether more
/// follow) into a page in reading order with its neighbours.
fn paged<T>(
    found: Found<T>,
    at: PageAt,
    cursor: Cursor,
    searching: bool,
    size: usize,
    id_of: impl Fn(&T) -> i64,
) -> Result<Paged<T>, AppError> {
    let Found {
        mut rows,
        mut in_title,
    } = found;
    let more = rows.len() > size;
    match cursor {
        // Read from the cursor backwards: the extra row is the farthest.
        Cursor::NewerThan(_) => {
            rows.truncate(size);
            rows.reverse();
        }
        Cursor::Before(_) => {
            if more {
                rows.remove(0);
                in_title = in_title.saturating_sub(1);
            }
        }
        _ => {
            rows.truncate(size);
            in_title = in_title.min(size);
        }
    }
    if let PageAt::Number(page) = at {
        if rows.is_empty() && page > 1 {
            return Err(past_the_end(page));
        }
    }
    let mark = |i: usize| Mark {
        in_title: i < in_title,
        id: id_of(&rows[i]),
    };
    let first = (!rows.is_empty()).then_some(0);
    let last = rows.len().checked_sub(1);
    let (prev, next) = match cursor {
        Cursor::NewerThan(id) => (
            first
                .filter(|_| more)
                .map(|i| PageAt::Newer(id_of(&rows[i]))),
            Some(PageAt::Older(last.map_or(id, |i| id_of(&rows[i])))),
        ),
        Cursor::Before(m) => (
            first.filter(|_| more).map(|i| PageAt::Before(mark(i))),
            Some(PageAt::After(last.map_or(m, mark))),
        ),
        _ => {
            let next = last.filter(|_| more).map(|i| {
                if searching {
                    PageAt::After(mark(i))
                } else {
                    PageAt::Older(id_of(&rows[i]))
                }
            });
            let prev = match cursor {
                Cursor::Offset(_) => match at {
                    PageAt::Number(page) if page > 1 => Some(PageAt::Number(page - 1)),
                    _ => None,
                },
                Cursor::OlderThan(id) => Some(PageAt::Newer(first.map_or(id, |i| id_of(&rows[i])))),
                Cursor::After(m) => Some(PageAt::Before(first.map_or(m, mark))),
                _ => None,
            };
            (prev, next)
        }
    };
    Ok(Paged { rows, prev, next })
}

pub type ChangesPage = Paged<PublicEntry>;

pub async fn list(
    db: &Db,
    reader: &Reader,
    filter: &ChangesFilter,
) -> Result<ChangesPage, AppError> {
    let searching = !filter.search.trim().is_empty();
    let cursor = filter.at.cursor(searching, PAGE_SIZE)?;
    let found = db
        .public_entries(&PublicQuery {
            environment: PUBLIC_ENVIRONMENT.into(),
            audiences: reader.audiences(),
            kind: filter.kind,
            component: filter.component.clone(),
            search: filter.search.clone(),
            limit: PAGE_SIZE + 1,
            cursor,
        })
        .await?;
    paged(
        found,
        filter.at,
        cursor,
        searching,
        PAGE_SIZE as usize,
        |e| e.entry.id,
    )
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

pub type ReleasesPage = Paged<ReaderRelease>;

pub const RELEASES_PAGE_SIZE: i64 = 10;

/// Published, unarchived releases this reader may see (their audience is the
/// reader's and at least one of their entries is), newest first, optionally
/// searched. A numbered page past the last is refused.
pub async fn releases(
    db: &Db,
    reader: &Reader,
    search: &str,
    at: PageAt,
) -> Result<ReleasesPage, AppError> {
    let audiences = reader.audiences();
    let searching = !search.trim().is_empty();
    let cursor = at.cursor(searching, RELEASES_PAGE_SIZE)?;
    let found = db
        .public_releases(&PublicReleaseQuery {
            environment: PUBLIC_ENVIRONMENT.into(),
            audiences: audiences.clone(),
            search: search.to_string(),
            limit: RELEASES_PAGE_SIZE + 1,
            cursor,
        })
        .await?;
    let page = paged(
        found,
        at,
        cursor,
        searching,
        RELEASES_PAGE_SIZE as usize,
        |r| r.id,
    )?;
    let ids: Vec<i64> = page.rows.iter().map(|r| r.id).collect();
    let mut entries = db
        .public_release_entries(PUBLIC_ENVIRONMENT, &audiences, &ids)
        .await?;
    let rows = page
        .rows
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
    Ok(Paged {
        rows,
        prev: page.prev,
        next: page.next,
    })
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
