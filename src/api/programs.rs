use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{IdPath, JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{
    Approval, Name, NewProgram, Page, Program, ProgramId, ProgramPatch, TimeZoneName,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
}

/// A program creators sign up for.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateProgram {
    #[schema(value_type = Name)]
    name: String,
    /// Default `AUTOMATIC`.
    approval: Option<Approval>,
    /// The time zone its months are counted in; default `UTC`.
    #[schema(value_type = Option<TimeZoneName>)]
    time_zone: Option<String>,
}

/// The fields to change; a field left out, or `null`, stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateProgram {
    #[schema(value_type = Option<Name>)]
    name: Option<String>,
    approval: Option<Approval>,
    #[schema(value_type = Option<TimeZoneName>)]
    time_zone: Option<String>,
}

/// Creates a program.
#[utoipa::path(
    post,
    path = "/programs",
    tag = "programs",
    operation_id = "createProgram",
    request_body = CreateProgram,
    responses((status = 201, description = "Created", body = Program, links(
        ("GetProgram" = (operation_id = "getProgram", parameters(("id" = "$response.body#/id")))),
        ("UpdateProgram" = (operation_id = "updateProgram", parameters(("id" = "$response.body#/id")))),
        ("ListMembers" = (operation_id = "listMembers", parameters(("id" = "$response.body#/id")))),
        ("SignUp" = (operation_id = "signUp", parameters(("id" = "$response.body#/id")))),
        ("DeleteProgram" = (operation_id = "deleteProgram", parameters(("id" = "$response.body#/id")))),
    ))),
)]
async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateProgram>,
) -> ApiResult<(StatusCode, Json<Program>)> {
    let new = NewProgram {
        name: Name::parse(&req.name)?,
        approval: req.approval.unwrap_or_default(),
        time_zone: match req.time_zone.as_deref() {
            Some(tz) => TimeZoneName::parse(tz)?,
            None => TimeZoneName::utc(),
        },
    };
    let program = s.store.create_program(new, s.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(program)))
}

/// Lists the programs, oldest first.
#[utoipa::path(
    get,
    path = "/programs",
    tag = "programs",
    operation_id = "listPrograms",
    params(PageParams),
    responses((status = 200, description = "One page", body = Page<Program>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Program>>> {
    Ok(Json(s.store.list_programs(&params.page()?).await?))
}

/// One program.
#[utoipa::path(
    get,
    path = "/programs/{id}",
    tag = "programs",
    operation_id = "getProgram",
    params(("id" = String, Path, format = Uuid, description = "The program's id")),
    responses((status = 200, description = "The program", body = Program)),
)]
async fn show(
    State(s): State<AppState>,
    IdPath(id): IdPath<ProgramId>,
) -> ApiResult<Json<Program>> {
    Ok(Json(s.store.program(&id).await?))
}

/// Changes the given fields in one statement. A new approval applies to sign-ups from now on.
#[utoipa::path(
    patch,
    path = "/programs/{id}",
    tag = "programs",
    operation_id = "updateProgram",
    params(("id" = String, Path, format = Uuid, description = "The program's id")),
    request_body = UpdateProgram,
    responses((status = 200, description = "The program as changed", body = Program)),
)]
async fn update(
    State(s): State<AppState>,
    IdPath(id): IdPath<ProgramId>,
    JsonBody(req): JsonBody<UpdateProgram>,
) -> ApiResult<Json<Program>> {
    let patch = ProgramPatch {
        name: req.name.as_deref().map(Name::parse).transpose()?,
        approval: req.approval,
        time_zone: req
            .time_zone
            .as_deref()
            .map(TimeZoneName::parse)
            .transpose()?,
    };
    Ok(Json(
        s.store.update_program(&id, patch, s.clock.now()).await?,
    ))
}

/// Deletes the program; its members are no longer listed.
#[utoipa::path(
    delete,
    path = "/programs/{id}",
    tag = "programs",
    operation_id = "deleteProgram",
    params(("id" = String, Path, format = Uuid, description = "The program's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "A rule names the program (`program_in_use`); nothing changes", body = super::error::ErrorBody),
    ),
)]
async fn remove(State(s): State<AppState>, IdPath(id): IdPath<ProgramId>) -> ApiResult<StatusCode> {
    s.store.delete_program(&id, s.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
