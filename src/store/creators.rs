//! Creators: who posts, with the profile rules will filter on.

use super::backend::Db;
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::program_rows::{ProfiledCreatorRow, PROFILED_CREATOR_COLUMNS};
use super::sql::Statement;
use crate::domain::time::{now, to_micros};
use crate::domain::{CreatorId, CreatorView, NewCreator, Page, PageRequest, Profile, ProfilePatch};
use crate::error::{Conflict, Error, Result};

fn segments_json(segments: &[String]) -> Result<String> {
    Ok(serde_json::to_string(segments)?)
}

pub(super) async fn create(db: &Db, new: NewCreator, profile: Profile) -> Result<CreatorId> {
    let id = CreatorId::generate();
    let insert = Statement::new(
        "INSERT INTO creators (id, email, ig_username, tt_username, created_at, followers, segments)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id)
    .bind(new.email.as_str())
    .bind(new.ig_username.as_ref().map(|u| u.as_str()))
    .bind(new.tt_username.as_ref().map(|u| u.as_str()))
    .bind(to_micros(now()))
    .bind(profile.followers.map(i64::from))
    .bind(segments_json(&profile.segments)?);
    if db.execute_write(Purpose::Config, insert).await? == 0 {
        return Err(Conflict::EmailTaken(new.email.as_str().to_string()).into());
    }
    Ok(id)
}

pub(super) async fn get(db: &Db, id: &CreatorId) -> Result<CreatorView> {
    db.fetch_optional::<ProfiledCreatorRow>(
        Statement::new(format!(
            "SELECT {PROFILED_CREATOR_COLUMNS} FROM creators WHERE id = $1"
        ))
        .bind(id),
    )
    .await?
    .ok_or(Error::NotFound("creator"))?
    .try_into()
}

pub(super) async fn list(db: &Db, page: &PageRequest) -> Result<Page<CreatorView>> {
    let select = format!("SELECT {PROFILED_CREATOR_COLUMNS} FROM creators WHERE 1 = 1");
    list_page::<ProfiledCreatorRow, _>(db, PageQuery::new(select, "id"), page).await
}

/// Changes the profile fields `patch` gives, in one statement.
pub(super) async fn update_profile(db: &Db, id: &CreatorId, patch: ProfilePatch) -> Result<()> {
    let update = Statement::new(
        "UPDATE creators SET
            followers = CASE WHEN $2 = 1 THEN $3 ELSE followers END,
            segments = COALESCE($4, segments)
         WHERE id = $1",
    )
    .bind(id)
    .bind(patch.followers.is_some())
    .bind(patch.followers.flatten().map(i64::from))
    .bind(patch.segments.as_deref().map(segments_json).transpose()?);
    if db.execute_write(Purpose::Config, update).await? == 0 {
        return Err(Error::NotFound("creator"));
    }
    Ok(())
}
