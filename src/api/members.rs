use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{IdPath, JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{CreatorId, Id, Member, MemberStatus, Page, ProgramId};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up, list))
        .routes(routes!(set_status))
}

/// A creator signing up.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignUp {
    creator_id: CreatorId,
}

/// The move to make.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetStatus {
    /// Allowed: `PENDING` to `APPROVED` or `REJECTED`, `APPROVED` to `REMOVED`.
    status: MemberStatus,
}

/// Signs a creator up for the program. Under `AUTOMATIC` approval the member is `APPROVED`
/// at once; under `MANUAL` it is `PENDING`. Signing up again while `PENDING` or `APPROVED`
/// answers `200` with the member as it is; after `REJECTED` or `REMOVED` it signs up anew.
/// A new sign-up sends `program.signed_up`, and `program.approved` when approved at once.
#[utoipa::path(
    post,
    path = "/programs/{id}/members",
    tag = "programs",
    operation_id = "signUp",
    params(("id" = String, Path, format = Uuid, description = "The program's id")),
    request_body = SignUp,
    responses(
        (status = 201, description = "Signed up (or signed up anew)", body = Member, links(
            ("SetMemberStatus" = (operation_id = "setMemberStatus", parameters(("id" = "$response.body#/programId"), ("creatorId" = "$response.body#/creatorId")))),
        )),
        (status = 200, description = "Already a member, `PENDING` or `APPROVED`: the member as it is", body = Member, links(
            ("SetMemberStatus" = (operation_id = "setMemberStatus", parameters(("id" = "$response.body#/programId"), ("creatorId" = "$response.body#/creatorId")))),
        )),
        (status = 409, description = "No creator with this id (`unknown_creator`)", body = super::error::ErrorBody),
    ),
)]
async fn sign_up(
    State(s): State<AppState>,
    IdPath(program): IdPath<ProgramId>,
    JsonBody(req): JsonBody<SignUp>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let done = s
        .store
        .sign_up(&program, &req.creator_id, s.clock.now())
        .await?;
    if done.queued > 0 {
        s.deliveries_ready.notify_one();
    }
    let status = if done.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(done.member)))
}

/// The program's members, by creator id.
#[utoipa::path(
    get,
    path = "/programs/{id}/members",
    tag = "programs",
    operation_id = "listMembers",
    params(
        ("id" = String, Path, format = Uuid, description = "The program's id"),
        ("status" = Option<MemberStatus>, Query, description = "Only members with this status"),
        PageParams,
    ),
    responses((status = 200, description = "One page", body = Page<Member>)),
)]
async fn list(
    State(s): State<AppState>,
    IdPath(program): IdPath<ProgramId>,
    params: Params,
) -> ApiResult<Json<Page<Member>>> {
    let status = params
        .get("status")
        .map(|raw| {
            MemberStatus::parse(&raw).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_status",
                    format!(
                        "status `{}` is not PENDING, APPROVED, REJECTED or REMOVED",
                        raw.escape_debug()
                    ),
                )
            })
        })
        .transpose()?;
    Ok(Json(
        s.store
            .list_members(&program, status, &params.page()?)
            .await?,
    ))
}

/// Approves, rejects or removes a member. Allowed: `PENDING` to `APPROVED` or `REJECTED`,
/// `APPROVED` to `REMOVED`. Each move sends its event: `program.approved`, `program.rejected`
/// or `program.removed`.
#[utoipa::path(
    patch,
    path = "/programs/{id}/members/{creatorId}",
    tag = "programs",
    operation_id = "setMemberStatus",
    params(
        ("id" = String, Path, format = Uuid, description = "The program's id"),
        ("creatorId" = String, Path, format = Uuid, description = "The member's creator id"),
    ),
    request_body = SetStatus,
    responses(
        (status = 200, description = "The member as changed", body = Member),
        (status = 409, description = "A move the member cannot make from where it stands (`invalid_transition`); nothing changes", body = super::error::ErrorBody),
    ),
)]
async fn set_status(
    State(s): State<AppState>,
    MemberPath(program, creator): MemberPath,
    JsonBody(req): JsonBody<SetStatus>,
) -> ApiResult<Json<Member>> {
    let moved = s
        .store
        .set_member_status(&program, &creator, req.status, s.clock.now())
        .await?;
    if moved.queued > 0 {
        s.deliveries_ready.notify_one();
    }
    Ok(Json(moved.member))
}

/// `/programs/{id}/members/{creatorId}`: two ids, anything else a 404 as with one.
struct MemberPath(ProgramId, CreatorId);

impl<S: Send + Sync> FromRequestParts<S> for MemberPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((program, creator)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
        match (ProgramId::parse(&program), CreatorId::parse(&creator)) {
            (Some(p), Some(c)) => Ok(MemberPath(p, c)),
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such thing: that is not an id",
            )),
        }
    }
}
