//! Members: creators' sign-ups to programs and the moves the domain allows them. Each change is
//! one write transaction, with the events it causes (`program.signed_up`, …) and their
//! deliveries.

use chrono::{DateTime, Utc};

use super::backend::{Conn, Db};
use super::config::{Config, ConfigCache};
use super::db::Purpose;
use super::events::{self, NewEvent};
use super::page::{list_page, PageQuery};
use super::programs;
use super::sql::program_rows::{MemberRow, MEMBER_COLUMNS};
use super::sql::Statement;
use crate::domain::time::to_micros;
use crate::domain::{
    sign_up as decide_sign_up, transition, Creator, CreatorId, EventId, EventType, Member,
    MemberStatus, Page, PageRequest, Program, ProgramId,
};
use crate::error::{Conflict, Error, Result};
use crate::payload::events::ProgramEventBody;

/// A sign-up: whether it made (or remade) the member, and the member as it is now.
pub struct SignedUp {
    pub new: bool,
    pub member: Member,
    /// The deliveries of the events it caused, queued.
    pub queued: usize,
}

/// A member's move, and the deliveries of the event it caused, queued.
pub struct Moved {
    pub member: Member,
    pub queued: usize,
}

/// Signs `creator` up for `program` at `now`. A member already `PENDING` or `APPROVED` is
/// returned as it is; one `REJECTED` or `REMOVED` signs up anew. Two sign-ups at once meet on
/// the primary key: one writes, the other finds its row.
pub(super) async fn sign_up(
    db: &Db,
    cache: &ConfigCache,
    program: &ProgramId,
    creator: &CreatorId,
    now: DateTime<Utc>,
) -> Result<SignedUp> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    let found = programs::get_for_share(&mut conn, program).await?;
    let (who, config) = events::creator_and_config(&mut conn, cache, creator).await?;
    let approval = found.approval;
    let standing = decide_sign_up(approval, now);
    let anew: Vec<&str> = MemberStatus::ALL
        .into_iter()
        .filter(|s| s.signs_up_anew())
        .map(MemberStatus::as_str)
        .collect();
    let upsert = Statement::new(format!(
        "INSERT INTO members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $4)
         ON CONFLICT (program_id, creator_id) DO UPDATE SET
            status = excluded.status, joined_at = excluded.joined_at,
            approved_at = excluded.approved_at, updated_at = excluded.updated_at
         WHERE members.status"
    ))
    .bind(program)
    .bind(creator)
    .bind(standing.status.as_str())
    .bind(to_micros(now))
    .bind(standing.approved_at.map(to_micros))
    .any_of(anew)
    .push(format!(" RETURNING {MEMBER_COLUMNS}"));
    let written: Option<MemberRow> = conn.fetch_optional(upsert).await?;
    let signed_up = match written {
        Some(row) => {
            let member: Member = row.try_into()?;
            // Signed up, and approved at once under `AUTOMATIC` approval: two events, in order.
            let mut caused = vec![EventType::ProgramSignedUp];
            if member.status == MemberStatus::Approved {
                caused.push(EventType::ProgramApproved);
            }
            let queued = write_events(&mut conn, &config, &found, &who, &caused, now).await?;
            SignedUp {
                new: true,
                member,
                queued,
            }
        }
        None => SignedUp {
            new: false,
            member: find(&mut conn, program, creator).await?,
            queued: 0,
        },
    };
    tx.commit().await?;
    Ok(signed_up)
}

/// Moves the member to `to`, if the domain allows it from where it is now; the row is locked
/// while that is decided, so two moves at once are made one after the other.
pub(super) async fn set_status(
    db: &Db,
    cache: &ConfigCache,
    program: &ProgramId,
    creator: &CreatorId,
    to: MemberStatus,
    now: DateTime<Utc>,
) -> Result<Moved> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    let found = programs::get_for_share(&mut conn, program).await?;
    let current = conn
        .fetch_optional::<MemberRow>(
            Statement::new(format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE program_id = $1 AND creator_id = $2"
            ))
            .bind(program)
            .bind(creator)
            .for_update(),
        )
        .await?
        .ok_or(Error::NotFound("member"))?;
    let current = Member::try_from(current)?;
    let next = transition((&current).into(), to, now).map_err(Conflict::from)?;
    let update = Statement::new(format!(
        "UPDATE members SET status = $3, approved_at = $4, updated_at = $5
         WHERE program_id = $1 AND creator_id = $2
         RETURNING {MEMBER_COLUMNS}"
    ))
    .bind(program)
    .bind(creator)
    .bind(next.status.as_str())
    .bind(next.approved_at.map(to_micros))
    .bind(to_micros(now));
    let row: MemberRow = conn.fetch_one(update).await?;
    let (who, config) = events::creator_and_config(&mut conn, cache, creator).await?;
    let caused = [EventType::of_member(next.status)];
    let queued = write_events(&mut conn, &config, &found, &who, &caused, now).await?;
    tx.commit().await?;
    Ok(Moved {
        member: row.try_into()?,
        queued,
    })
}

/// The membership events `caused`, about `creator` in `program`, in the member's transaction.
async fn write_events(
    conn: &mut Conn<'_>,
    config: &Config,
    program: &Program,
    creator: &Creator,
    caused: &[EventType],
    now: DateTime<Utc>,
) -> Result<usize> {
    let events = caused
        .iter()
        .map(|&event_type| {
            let id = EventId::generate();
            Ok(NewEvent {
                body: ProgramEventBody::to_body(&id.to_string(), creator, program)?,
                id,
                event_type,
                creator_id: creator.id.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    events::add(conn, config, &events, to_micros(now)).await
}

async fn find(conn: &mut Conn<'_>, program: &ProgramId, creator: &CreatorId) -> Result<Member> {
    conn.fetch_optional::<MemberRow>(
        Statement::new(format!(
            "SELECT {MEMBER_COLUMNS} FROM members WHERE program_id = $1 AND creator_id = $2"
        ))
        .bind(program)
        .bind(creator),
    )
    .await?
    .ok_or(Error::NotFound("member"))?
    .try_into()
}

/// A program's members, by creator id, optionally only those with `status`. A deleted
/// program's members are not listed.
pub(super) async fn list(
    db: &Db,
    program: &ProgramId,
    status: Option<MemberStatus>,
    page: &PageRequest,
) -> Result<Page<Member>> {
    programs::get(db, program).await?;
    let select = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE 1 = 1");
    let query = PageQuery::new(select, "creator_id")
        .equal("program_id", Some(program))
        .equal("status", status.map(MemberStatus::as_str));
    list_page::<MemberRow, _>(db, query, page).await
}

/// Every membership of a creator, in live programs, oldest program first.
pub(super) async fn of_creator(db: &Db, creator: &CreatorId) -> Result<Vec<Member>> {
    let rows: Vec<MemberRow> = db
        .fetch_all(
            Statement::new(
                "SELECT m.program_id, m.creator_id, m.status, m.joined_at, m.approved_at, m.updated_at
                 FROM members m JOIN programs p ON p.id = m.program_id
                 WHERE m.creator_id = $1 AND p.deleted = 0 ORDER BY m.program_id",
            )
            .bind(creator),
        )
        .await?;
    rows.into_iter().map(Member::try_from).collect()
}
