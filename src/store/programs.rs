//! Programs: what creators sign up for.

use chrono::{DateTime, Utc};

use super::backend::{Conn, Db};
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::program_rows::{ProgramRow, PROGRAM_COLUMNS};
use super::sql::Statement;
use crate::domain::time::to_micros;
use crate::domain::{NewProgram, Page, PageRequest, Program, ProgramId, ProgramPatch, RuleId};
use crate::error::{Conflict, Error, Result};

pub(super) async fn create(db: &Db, new: NewProgram, now: DateTime<Utc>) -> Result<Program> {
    let id = ProgramId::generate();
    let insert = Statement::new(format!(
        "INSERT INTO programs ({PROGRAM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5)
         RETURNING {PROGRAM_COLUMNS}"
    ))
    .bind(&id)
    .bind(new.name.as_str())
    .bind(new.approval.as_str())
    .bind(new.time_zone.as_str())
    .bind(to_micros(now));
    let mut tx = db.begin_write(Purpose::Config).await?;
    let row: ProgramRow = tx.conn().fetch_one(insert).await?;
    tx.commit().await?;
    row.try_into()
}

pub(super) async fn get(db: &Db, id: &ProgramId) -> Result<Program> {
    db.fetch_optional::<ProgramRow>(
        Statement::new(format!(
            "SELECT {PROGRAM_COLUMNS} FROM programs WHERE id = $1 AND deleted = 0"
        ))
        .bind(id),
    )
    .await?
    .ok_or(Error::NotFound("program"))?
    .try_into()
}

/// The live program, its row read for share until the transaction ends (PostgreSQL), so it
/// cannot be deleted or change its approval under a sign-up.
pub(super) async fn get_for_share(conn: &mut Conn<'_>, id: &ProgramId) -> Result<Program> {
    conn.fetch_optional::<ProgramRow>(
        Statement::new(format!(
            "SELECT {PROGRAM_COLUMNS} FROM programs WHERE id = $1 AND deleted = 0"
        ))
        .bind(id)
        .for_share(),
    )
    .await?
    .ok_or(Error::NotFound("program"))?
    .try_into()
}

pub(super) async fn list(db: &Db, page: &PageRequest) -> Result<Page<Program>> {
    let select = format!("SELECT {PROGRAM_COLUMNS} FROM programs WHERE deleted = 0");
    list_page::<ProgramRow, _>(db, PageQuery::new(select, "id"), page).await
}

/// Changes the fields `patch` gives, in one statement.
pub(super) async fn update(
    db: &Db,
    id: &ProgramId,
    patch: ProgramPatch,
    now: DateTime<Utc>,
) -> Result<Program> {
    let update = Statement::new(format!(
        "UPDATE programs SET
            name = COALESCE($2, name),
            approval = COALESCE($3, approval),
            time_zone = COALESCE($4, time_zone),
            updated_at = $5
         WHERE id = $1 AND deleted = 0
         RETURNING {PROGRAM_COLUMNS}"
    ))
    .bind(id)
    .bind(patch.name.as_ref().map(|n| n.as_str()))
    .bind(patch.approval.map(|a| a.as_str()))
    .bind(patch.time_zone.map(|t| t.as_str()))
    .bind(to_micros(now));
    let mut tx = db.begin_write(Purpose::Config).await?;
    let row: Option<ProgramRow> = tx.conn().fetch_optional(update).await?;
    tx.commit().await?;
    row.ok_or(Error::NotFound("program"))?.try_into()
}

/// Hides the program; its members stay readable. Refused (409) while a live rule names it:
/// the program's row is changed first, so a rule being written that reads it for share
/// finishes before the rules are looked at, and is seen.
pub(super) async fn delete(db: &Db, id: &ProgramId, now: DateTime<Utc>) -> Result<()> {
    let delete = Statement::new(
        "UPDATE programs SET deleted = 1, updated_at = $2 WHERE id = $1 AND deleted = 0",
    )
    .bind(id)
    .bind(to_micros(now));
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    if conn.execute(delete).await? == 0 {
        return Err(Error::NotFound("program"));
    }
    let named: Option<(RuleId,)> = conn
        .fetch_optional(
            Statement::new("SELECT id FROM rules WHERE program_id = $1 AND deleted = 0 LIMIT 1")
                .bind(id),
        )
        .await?;
    if named.is_some() {
        // Dropped, the transaction rolls back: the program stays.
        return Err(Conflict::ProgramInUse.into());
    }
    tx.commit().await?;
    Ok(())
}
