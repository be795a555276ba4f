//! `shiplog backup <file>`: a consistent copy of a running SQLite database,
//! checked before it is called done.

use crate::server::db::{self, Db};
use crate::server::error::AppError;
use std::path::Path;

/// What a backup made.
#[derive(Debug)]
pub struct Backup {
    pub bytes: u64,
    pub deploys: i64,
    pub integrity: String,
}

pub async fn backup(db: &Db, target: &Path) -> Result<Backup, AppError> {
    if target.exists() {
        return Err(AppError::conflict(format!(
            "{} exists already; name a new file (a backup never overwrites one).",
            target.display()
        )));
    }
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|p| !p.is_dir()) {
        return Err(AppError::invalid(
            "file",
            format!("the folder of {} does not exist", target.display()),
        ));
    }
    let text = target
        .to_str()
        .ok_or_else(|| AppError::invalid("file", "name the file in UTF-8"))?;
    db.backup_into(text).await?;
    // The copy opens, holds every deploy and passes SQLite's own check.
    let copy = db::connect(&format!("sqlite://{text}?mode=rw"))
        .await
        .map_err(AppError::Internal)?;
    let integrity = copy.integrity_check().await?;
    let deploys = copy.count_deploys().await?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    if integrity != "ok" {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the copy at {} fails its integrity check: {integrity}",
            target.display()
        )));
    }
    Ok(Backup {
        bytes,
        deploys,
        integrity,
    })
}
