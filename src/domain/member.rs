//! Members: a creator's place in a program, and the moves it can make. Each move is decided
//! here, without a database; the store applies it to the row it has locked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

use super::program::Approval;
use super::time::serde_rfc3339;
use super::{CreatorId, ProgramId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberStatus {
    /// Signed up, waiting for approval.
    Pending,
    Approved,
    /// Refused while pending.
    Rejected,
    /// Taken out after approval.
    Removed,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 4] = [
        MemberStatus::Pending,
        MemberStatus::Approved,
        MemberStatus::Rejected,
        MemberStatus::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "PENDING",
            MemberStatus::Approved => "APPROVED",
            MemberStatus::Rejected => "REJECTED",
            MemberStatus::Removed => "REMOVED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        MemberStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether signing up again starts anew (after `REJECTED` or `REMOVED`) rather than
    /// answering with the member as it is.
    pub fn signs_up_anew(self) -> bool {
        matches!(self, MemberStatus::Rejected | MemberStatus::Removed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub program_id: ProgramId,
    pub creator_id: CreatorId,
    pub status: MemberStatus,
    /// When the creator (last) signed up.
    #[serde(with = "serde_rfc3339")]
    pub joined_at: DateTime<Utc>,
    /// When the member was approved; `null` until then (and after a new sign-up that waits).
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub approved_at: Option<DateTime<Utc>>,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// What a member's row becomes: its status and approval time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub status: MemberStatus,
    pub approved_at: Option<DateTime<Utc>>,
}

/// A sign-up at `now`: approved at once under `AUTOMATIC` approval, else pending.
pub fn sign_up(approval: Approval, now: DateTime<Utc>) -> Standing {
    match approval {
        Approval::Automatic => Standing {
            status: MemberStatus::Approved,
            approved_at: Some(now),
        },
        Approval::Manual => Standing {
            status: MemberStatus::Pending,
            approved_at: None,
        },
    }
}

/// A move the contract does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a {} member cannot become {}; allowed: PENDING to APPROVED or REJECTED, APPROVED to REMOVED", from.as_str(), to.as_str())]
pub struct InvalidTransition {
    pub from: MemberStatus,
    pub to: MemberStatus,
}

/// Moves a member from `current` to `to` at `now`: `PENDING→APPROVED` (approved now),
/// `PENDING→REJECTED` and `APPROVED→REMOVED` (the approval time kept); nothing else.
pub fn transition(
    current: Standing,
    to: MemberStatus,
    now: DateTime<Utc>,
) -> Result<Standing, InvalidTransition> {
    use MemberStatus::*;
    let approved_at = match (current.status, to) {
        (Pending, Approved) => Some(now),
        (Pending, Rejected) | (Approved, Removed) => current.approved_at,
        (from, to) => return Err(InvalidTransition { from, to }),
    };
    Ok(Standing {
        status: to,
        approved_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use MemberStatus::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0)
            .single()
            .expect("a time")
    }

    fn standing(status: MemberStatus, approved_at: Option<DateTime<Utc>>) -> Standing {
        Standing {
            status,
            approved_at,
        }
    }

    #[test]
    fn automatic_approval_approves_at_once_and_manual_waits() {
        assert_eq!(
            sign_up(Approval::Automatic, at(1)),
            standing(Approved, Some(at(1)))
        );
        assert_eq!(sign_up(Approval::Manual, at(1)), standing(Pending, None));
    }

    #[test]
    fn only_the_three_allowed_moves_are_made() {
        let pending = standing(Pending, None);
        let approved = standing(Approved, Some(at(1)));
        assert_eq!(
            transition(pending, Approved, at(2)),
            Ok(standing(Approved, Some(at(2))))
        );
        assert_eq!(
            transition(pending, Rejected, at(2)),
            Ok(standing(Rejected, None))
        );
        assert_eq!(
            transition(approved, Removed, at(3)),
            Ok(standing(Removed, Some(at(1))))
        );
        let allowed = [
            (Pending, Approved),
            (Pending, Rejected),
            (Approved, Removed),
        ];
        for from in MemberStatus::ALL {
            for to in MemberStatus::ALL {
                let result = transition(standing(from, None), to, at(4));
                assert_eq!(
                    result.is_ok(),
                    allowed.contains(&(from, to)),
                    "{from:?} to {to:?}: {result:?}"
                );
                if let Err(e) = result {
                    assert_eq!(e, InvalidTransition { from, to });
                }
            }
        }
    }

    #[test]
    fn only_rejected_and_removed_members_sign_up_anew() {
        let anew: Vec<_> = MemberStatus::ALL
            .into_iter()
            .filter(|s| s.signs_up_anew())
            .collect();
        assert_eq!(anew, [Rejected, Removed]);
        for s in MemberStatus::ALL {
            assert_eq!(MemberStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MemberStatus::parse("approved"), None);
    }
}
