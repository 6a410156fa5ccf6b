//! What rules with LoudCrowd's options need about who posted: creators' followers and
//! segments, and their standing in the programs the rules name. Read only when an active rule
//! has such an option, so rules without options cost no statement more.

use std::collections::BTreeSet;

use crate::domain::time::from_micros;
use crate::domain::{CreatorId, Media, MemberStatus, Profile, ProgramId, Rule, Standing};
use crate::error::{Error, Result};
use crate::rules::Eligibility;
use crate::store::backend::Conn;
use crate::store::sql::Statement;

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: CreatorId,
    followers: Option<i64>,
    segments: String,
}

#[derive(sqlx::FromRow)]
struct StandingRow {
    program_id: ProgramId,
    creator_id: CreatorId,
    status: String,
    approved_at: Option<i64>,
}

/// What `rules` need to know about the creators of `posts`: a statement for profiles if a rule
/// filters on them, one for memberships if a rule names a program, none (and no work) otherwise.
pub(super) async fn read(
    conn: &mut Conn<'_>,
    rules: &[Rule],
    posts: &[Media],
) -> Result<Eligibility> {
    let mut about = Eligibility::default();
    let active = || rules.iter().filter(|r| r.active);
    let programs: BTreeSet<&ProgramId> = active()
        .filter_map(|r| r.options.program_id.as_ref())
        .collect();
    if posts.is_empty() || (programs.is_empty() && !active().any(Rule::needs_profile)) {
        return Ok(about);
    }
    let creators: BTreeSet<&CreatorId> = posts.iter().map(|p| &p.creator_id).collect();
    if active().any(Rule::needs_profile) {
        let rows: Vec<ProfileRow> = conn
            .fetch_all(
                Statement::new("SELECT id, followers, segments FROM creators WHERE id")
                    .any_of(creators.iter().copied()),
            )
            .await?;
        for row in rows {
            let profile = Profile {
                followers: row.followers.and_then(|f| u32::try_from(f).ok()),
                segments: serde_json::from_str(&row.segments)?,
            };
            about.profiles.insert(row.id, profile);
        }
    }
    if !programs.is_empty() {
        let rows: Vec<StandingRow> = conn
            .fetch_all(
                Statement::new(
                    "SELECT program_id, creator_id, status, approved_at FROM members
                     WHERE program_id",
                )
                .any_of(programs.iter().copied())
                .push(" AND creator_id")
                .any_of(creators.iter().copied()),
            )
            .await?;
        for row in rows {
            let status = MemberStatus::parse(&row.status)
                .ok_or_else(|| Error::Corrupt(format!("member status {}", row.status)))?;
            about.members.entry(row.program_id).or_default().insert(
                row.creator_id,
                Standing {
                    status,
                    approved_at: row.approved_at.map(from_micros),
                },
            );
        }
    }
    Ok(about)
}
