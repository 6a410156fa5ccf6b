//! Programs: what creators sign up for.

use chrono::{DateTime, Utc};

use super::backend::{Conn, Db};
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::program_rows::{ProgramRow, PROGRAM_COLUMNS};
use super::sql::Statement;
use crate::domain::time::to_micros;
use crate::domain::{NewProgram, Page, PageRequest, Program, ProgramId, ProgramPatch};
use crate::error::{Error, Result};

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

/// Hides the program; its members stay readable.
// The contract refuses (409) to delete a program a rule names; rules cannot name a program
// yet (`rules.program_id` comes with the rule options), so there is nothing to check here until
// then. That check belongs in this statement's transaction, reading the rules for share.
pub(super) async fn delete(db: &Db, id: &ProgramId, now: DateTime<Utc>) -> Result<()> {
    let delete = Statement::new(
        "UPDATE programs SET deleted = 1, updated_at = $2 WHERE id = $1 AND deleted = 0",
    )
    .bind(id)
    .bind(to_micros(now));
    if db.execute_write(Purpose::Config, delete).await? == 0 {
        return Err(Error::NotFound("program"));
    }
    Ok(())
}
