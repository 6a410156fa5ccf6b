//! Rows of programs, members and creators' profiles, and their conversion to domain types.

use crate::domain::time::from_micros;
use crate::domain::{
    Approval, CreatorId, CreatorView, Member, MemberStatus, Profile, Program, ProgramId, Standing,
};
use crate::error::{Error, Result};

use super::rows::{json, CreatorRow};

pub(crate) const PROGRAM_COLUMNS: &str = "id, name, approval, time_zone, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ProgramRow {
    pub id: ProgramId,
    pub name: String,
    pub approval: String,
    pub time_zone: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<ProgramRow> for Program {
    type Error = Error;
    fn try_from(r: ProgramRow) -> Result<Self> {
        Ok(Program {
            approval: Approval::parse(&r.approval)
                .ok_or_else(|| Error::Corrupt(format!("approval {}", r.approval)))?,
            id: r.id,
            name: r.name,
            time_zone: r.time_zone,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

pub(crate) const MEMBER_COLUMNS: &str =
    "program_id, creator_id, status, joined_at, approved_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub program_id: ProgramId,
    pub creator_id: CreatorId,
    pub status: String,
    pub joined_at: i64,
    pub approved_at: Option<i64>,
    pub updated_at: i64,
}

impl TryFrom<MemberRow> for Member {
    type Error = Error;
    fn try_from(r: MemberRow) -> Result<Self> {
        Ok(Member {
            status: MemberStatus::parse(&r.status)
                .ok_or_else(|| Error::Corrupt(format!("member status {}", r.status)))?,
            program_id: r.program_id,
            creator_id: r.creator_id,
            joined_at: from_micros(r.joined_at),
            approved_at: r.approved_at.map(from_micros),
            updated_at: from_micros(r.updated_at),
        })
    }
}

impl From<&Member> for Standing {
    fn from(m: &Member) -> Self {
        Standing {
            status: m.status,
            approved_at: m.approved_at,
        }
    }
}

/// A creator's columns with their profile.
pub(crate) const PROFILED_CREATOR_COLUMNS: &str =
    "id, email, ig_username, tt_username, created_at, followers, segments";

#[derive(sqlx::FromRow)]
pub(crate) struct ProfiledCreatorRow {
    #[sqlx(flatten)]
    pub creator: CreatorRow,
    pub followers: Option<i64>,
    pub segments: String,
}

impl TryFrom<ProfiledCreatorRow> for CreatorView {
    type Error = Error;
    fn try_from(r: ProfiledCreatorRow) -> Result<Self> {
        let followers = r
            .followers
            .map(|f| u32::try_from(f).map_err(|_| Error::Corrupt(format!("followers {f}"))))
            .transpose()?;
        Ok(CreatorView {
            creator: r.creator.into(),
            profile: Profile {
                followers,
                segments: json(&r.segments)?,
            },
        })
    }
}
