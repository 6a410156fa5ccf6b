use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{IdPath, JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{
    check_buffer_days, check_count, check_fulfillment_limit, check_platforms, check_tiers,
    check_timeframe_days, check_window_days, parse_segments, Id, IntegrationId, Invalid, MediaType,
    Month, Name, NewRule, Page, Platform, PostType, Problem, ProgramId, Reward, Rule, RuleId,
    RuleOptions, RuleOptionsPatch, RulePatch, RuleRun, RunStarter, Schedule, Segment, Tier,
    TimeZoneName,
};
use crate::error::{Conflict, Error};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
        .routes(routes!(run_month, list_runs))
}

/// A rule as the API shows it: the rule, and how often it has rewarded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RuleView {
    #[serde(flatten)]
    rule: Rule,
    /// Rewards (fulfillments) granted by it so far.
    rewards_granted: u64,
}

async fn view(s: &AppState, rule: Rule) -> ApiResult<RuleView> {
    let granted = s.store.rewards_granted(&[&rule.id]).await?;
    Ok(RuleView {
        rewards_granted: granted.get(&rule.id).copied().unwrap_or(0),
        rule,
    })
}

/// A reward rule, e.g. "2 Story posts".
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRule {
    #[schema(value_type = Name)]
    name: String,
    /// The post types that count; empty or absent: any.
    #[serde(default)]
    post_types: Vec<PostType>,
    /// The platforms that count; absent or `null`: any. At least one when given.
    #[schema(min_items = 1)]
    platforms: Option<Vec<Platform>>,
    /// Posts it takes to earn the reward. Required on an `INSTANT` rule; not taken by a
    /// `MONTHLY` one (its `tiers` say).
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    count: Option<u32>,
    /// The counted posts must all fall within this many days; absent or `null`: no window.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 3650)]
    window_days: Option<u32>,
    /// `true`: every further `count` posts earn again. Default `false`: once per creator.
    /// Not `true` on a `MONTHLY` rule (it grants once a month).
    repeatable: Option<bool>,
    /// What a creator earns. Required on an `INSTANT` rule; not taken by a `MONTHLY` one.
    #[serde(
        default,
        deserialize_with = "crate::domain::object::option::deserialize"
    )]
    reward: Option<Reward>,
    /// The integrations its rewards go to; absent or `null`: every active one; `[]`: none.
    #[schema(value_type = Option<Vec<IntegrationId>>)]
    integration_ids: Option<Vec<String>>,
    /// Default `true`.
    active: Option<bool>,
    /// Only posts by an `APPROVED` member of this program, posted at or after their approval,
    /// count. Absent or `null`: anyone's.
    #[schema(value_type = Option<ProgramId>)]
    program_id: Option<String>,
    /// Buffer Limit: a post counts only if posted at least this many days after the previous
    /// post that counted (7: one week, 30: one month). Absent or `null`: no buffer.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 31)]
    buffer_days: Option<u32>,
    /// Fulfillment Limit: the most times one creator can earn the rule. Absent: once if not
    /// `repeatable`, else unlimited. Above 1 needs `repeatable: true`.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 1000)]
    fulfillment_limit: Option<u32>,
    /// Timeframe: only posts posted within this many days of the member's approval count.
    /// Needs `programId`.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 3650)]
    timeframe_days: Option<u32>,
    /// The creator must carry at least one of these segments. Empty or absent: any creator.
    #[serde(default)]
    #[schema(value_type = Vec<Segment>, max_items = 20)]
    segments: Vec<String>,
    /// The creator's `followers` must be at least this; unknown followers do not qualify.
    /// Absent or `null`: any.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    min_followers: Option<u32>,
    /// Media Type: only posts of these types count; a post of unknown type (`mediaType`
    /// `null`) does not. Empty or absent: any.
    #[serde(default)]
    media_types: Vec<MediaType>,
    /// `INSTANT` (default): a reward as soon as the posts reach `count`. `MONTHLY`: once a
    /// month, after it ends, the highest of `tiers` each creator's posts of the month reached.
    schedule: Option<Schedule>,
    /// A `MONTHLY` rule's tiers (required there, refused on an `INSTANT` rule): 1 to 10,
    /// counts strictly increasing.
    #[schema(min_items = 1, max_items = 10)]
    #[serde(
        default,
        deserialize_with = "crate::domain::object::option_vec::deserialize"
    )]
    tiers: Option<Vec<Tier>>,
    /// The zone a `MONTHLY` rule's months are counted in (refused on an `INSTANT` rule).
    /// Absent or `null`: its program's `timeZone`, else UTC.
    #[schema(value_type = Option<TimeZoneName>)]
    time_zone: Option<String>,
}

/// The fields to change, atomically; a field left out, or `null`, stays as it is, except
/// `platforms`, `windowDays`, `integrationIds` and the nullable options (`programId`,
/// `bufferDays`, `fulfillmentLimit`, `timeframeDays`, `minFollowers`), which `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateRule {
    #[schema(value_type = Option<Name>)]
    name: Option<String>,
    post_types: Option<Vec<PostType>>,
    /// `null`: any platform.
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<Vec<Platform>>, min_items = 1)]
    platforms: Option<Option<Vec<Platform>>>,
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    count: Option<u32>,
    /// `null`: no window.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    window_days: Option<Option<u32>>,
    repeatable: Option<bool>,
    #[serde(
        default,
        deserialize_with = "crate::domain::object::option::deserialize"
    )]
    reward: Option<Reward>,
    /// `null`: every active integration; `[]`: none.
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<Vec<IntegrationId>>)]
    integration_ids: Option<Option<Vec<String>>>,
    active: Option<bool>,
    /// `null`: anyone's posts.
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<ProgramId>)]
    program_id: Option<Option<String>>,
    /// `null`: no buffer.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 31)]
    buffer_days: Option<Option<u32>>,
    /// `null`: no limit beyond `repeatable`.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    fulfillment_limit: Option<Option<u32>>,
    /// `null`: no timeframe.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    timeframe_days: Option<Option<u32>>,
    /// `[]`: any creator.
    #[schema(value_type = Option<Vec<Segment>>, max_items = 20)]
    segments: Option<Vec<String>>,
    /// `null`: any follower count.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    min_followers: Option<Option<u32>>,
    /// `[]`: any media type.
    media_types: Option<Vec<MediaType>>,
    /// Cannot change: a rule is `INSTANT` or `MONTHLY` for good (the same value is taken).
    schedule: Option<Schedule>,
    /// A `MONTHLY` rule's new tiers.
    #[schema(min_items = 1, max_items = 10)]
    #[serde(
        default,
        deserialize_with = "crate::domain::object::option_vec::deserialize"
    )]
    tiers: Option<Vec<Tier>>,
    /// A `MONTHLY` rule's zone; `null`: its program's, else UTC.
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<TimeZoneName>)]
    time_zone: Option<Option<String>>,
}

/// Creates a reward rule. It counts the posts that arrive from now on, while it is active.
#[utoipa::path(
    post,
    path = "/rules",
    tag = "rules",
    operation_id = "createRule",
    request_body = CreateRule,
    responses((status = 201, description = "Created", body = RuleView, links(
        ("GetRule" = (operation_id = "getRule", parameters(("id" = "$response.body#/id")))),
        ("UpdateRule" = (operation_id = "updateRule", parameters(("id" = "$response.body#/id")))),
        ("DeleteRule" = (operation_id = "deleteRule", parameters(("id" = "$response.body#/id")))),
    )),
    (status = 409, description = "`integrationIds` names an integration that does not exist or was deleted (`unknown_integration`), or `programId` a program (`unknown_program`)", body = super::error::ErrorBody)),
)]
async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateRule>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let schedule = req.schedule.unwrap_or_default();
    let (count, reward, tiers, time_zone) = match schedule {
        Schedule::Instant => {
            refuse_on_instant(req.tiers.is_some(), req.time_zone.is_some())?;
            let (Some(count), Some(reward)) = (req.count, req.reward.clone()) else {
                let missing = if req.count.is_none() {
                    "count"
                } else {
                    "reward"
                };
                return Err(ApiError::invalid(
                    "invalid_body",
                    format!("missing field `{missing}`: an INSTANT rule needs count and reward"),
                ));
            };
            reward.check()?;
            (Some(check_count(count)?), Some(reward), None, None)
        }
        Schedule::Monthly => {
            refuse_on_monthly(&[
                ("count", req.count.is_some()),
                ("reward", req.reward.is_some()),
                ("windowDays", req.window_days.is_some()),
                ("fulfillmentLimit", req.fulfillment_limit.is_some()),
                ("repeatable", req.repeatable == Some(true)),
            ])?;
            let tiers = req.tiers.clone().ok_or_else(|| {
                Invalid::new(
                    Problem::Tiers,
                    "a MONTHLY rule needs tiers: [{\"count\": 1, \"reward\": {…}}, …]",
                )
            })?;
            check_tiers(&tiers)?;
            let zone = req
                .time_zone
                .as_deref()
                .map(TimeZoneName::parse)
                .transpose()?;
            (None, None, Some(tiers), zone)
        }
    };
    let options = RuleOptions {
        program_id: req.program_id.as_deref().map(program_id).transpose()?,
        buffer_days: req.buffer_days.map(check_buffer_days).transpose()?,
        fulfillment_limit: req
            .fulfillment_limit
            .map(check_fulfillment_limit)
            .transpose()?,
        timeframe_days: req.timeframe_days.map(check_timeframe_days).transpose()?,
        segments: parse_segments(req.segments)?,
        min_followers: req.min_followers,
        media_types: distinct(req.media_types),
    };
    let repeatable = req.repeatable.unwrap_or(false);
    options.check(repeatable)?;
    // An instant rule counts the posts received from its creation, stamped by the system's
    // clock; a monthly rule's first month is the one it is made in by the service's clock,
    // which its schedule reads (a test's fixed clock).
    let created_at = match schedule {
        Schedule::Instant => crate::domain::time::now(),
        Schedule::Monthly => crate::domain::time::truncate(s.clock.now()),
    };
    let new = NewRule {
        name: Name::parse(&req.name)?,
        post_types: req.post_types,
        platforms: req.platforms.map(check_platforms).transpose()?,
        count,
        window_days: req.window_days.map(check_window_days).transpose()?,
        repeatable,
        reward,
        integration_ids: req.integration_ids.map(integration_ids).transpose()?,
        active: req.active.unwrap_or(true),
        options,
        schedule,
        tiers,
        time_zone,
        created_at,
    };
    let rule = s.store.create_rule(new).await?;
    Ok((
        StatusCode::CREATED,
        Json(RuleView {
            rule,
            rewards_granted: 0,
        }),
    ))
}

/// Lists the rules, oldest first.
#[utoipa::path(
    get,
    path = "/rules",
    tag = "rules",
    operation_id = "listRules",
    params(PageParams),
    responses((status = 200, description = "One page", body = Page<RuleView>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<RuleView>>> {
    let page = s.store.list_rules(&params.page()?).await?;
    let ids: Vec<&RuleId> = page.items.iter().map(|r| &r.id).collect();
    let granted = s.store.rewards_granted(&ids).await?;
    Ok(Json(Page {
        next_cursor: page.next_cursor,
        items: page
            .items
            .into_iter()
            .map(|rule| RuleView {
                rewards_granted: granted.get(&rule.id).copied().unwrap_or(0),
                rule,
            })
            .collect(),
    }))
}

/// One rule.
#[utoipa::path(
    get,
    path = "/rules/{id}",
    tag = "rules",
    operation_id = "getRule",
    params(("id" = String, Path, format = Uuid, description = "The rule's id")),
    responses((status = 200, description = "The rule", body = RuleView)),
)]
async fn show(State(s): State<AppState>, IdPath(id): IdPath<RuleId>) -> ApiResult<Json<RuleView>> {
    Ok(Json(view(&s, s.store.rule(&id).await?).await?))
}

/// Changes the given fields in one statement: two PATCHes at once that change different
/// fields both take effect.
#[utoipa::path(
    patch,
    path = "/rules/{id}",
    tag = "rules",
    operation_id = "updateRule",
    params(("id" = String, Path, format = Uuid, description = "The rule's id")),
    request_body = UpdateRule,
    responses(
        (status = 200, description = "The rule as changed", body = RuleView),
        (status = 409, description = "`integrationIds` names an integration that does not exist or was deleted (`unknown_integration`), or `programId` a program (`unknown_program`); or the rule as changed would not hold together (`limit_needs_repeatable`, `timeframe_needs_program`), or its schedule does not take a field given or cannot change (`invalid_schedule`); nothing changes", body = super::error::ErrorBody),
    ),
)]
async fn update(
    State(s): State<AppState>,
    IdPath(id): IdPath<RuleId>,
    JsonBody(req): JsonBody<UpdateRule>,
) -> ApiResult<Json<RuleView>> {
    // A rule's schedule never changes, so what it takes can be read before the write. What
    // the rule's schedule refuses is valid input the rule's state refuses: a 409.
    let schedule = s.store.rule(&id).await?.schedule;
    fits_schedule(&req, schedule).map_err(|e| Error::from(Conflict::RuleOptions(e)))?;
    if let Some(tiers) = &req.tiers {
        check_tiers(tiers)?;
    }
    let time_zone = req
        .time_zone
        .map(|z| z.as_deref().map(TimeZoneName::parse).transpose())
        .transpose()?;
    if let Some(reward) = &req.reward {
        reward.check()?;
    }
    let patch = RulePatch {
        name: req.name.as_deref().map(Name::parse).transpose()?,
        post_types: req.post_types,
        platforms: req
            .platforms
            .map(|p| p.map(check_platforms).transpose())
            .transpose()?,
        count: req.count.map(check_count).transpose()?,
        window_days: req
            .window_days
            .map(|d| d.map(check_window_days).transpose())
            .transpose()?,
        repeatable: req.repeatable,
        reward: req.reward,
        integration_ids: req
            .integration_ids
            .map(|ids| ids.map(integration_ids).transpose())
            .transpose()?,
        active: req.active,
        options: RuleOptionsPatch {
            program_id: req
                .program_id
                .map(|p| p.as_deref().map(program_id).transpose())
                .transpose()?,
            buffer_days: req
                .buffer_days
                .map(|d| d.map(check_buffer_days).transpose())
                .transpose()?,
            fulfillment_limit: req
                .fulfillment_limit
                .map(|l| l.map(check_fulfillment_limit).transpose())
                .transpose()?,
            timeframe_days: req
                .timeframe_days
                .map(|d| d.map(check_timeframe_days).transpose())
                .transpose()?,
            segments: req.segments.map(parse_segments).transpose()?,
            min_followers: req.min_followers,
            media_types: req.media_types.map(distinct),
        },
        tiers: req.tiers,
        time_zone,
    };
    Ok(Json(
        view(&s, s.store.update_rule(&id, patch, s.clock.now()).await?).await?,
    ))
}

/// Refuses a change of `schedule`, and what a rule of `schedule` does not take.
fn fits_schedule(req: &UpdateRule, schedule: Schedule) -> Result<(), Invalid> {
    if req.schedule.is_some_and(|asked| asked != schedule) {
        return Err(Invalid::new(
            Problem::Schedule,
            format!(
                "schedule cannot change (the rule is {}); create a new rule instead",
                schedule.as_str()
            ),
        ));
    }
    match schedule {
        Schedule::Instant => {
            refuse_on_instant(req.tiers.is_some(), matches!(req.time_zone, Some(Some(_))))
        }
        Schedule::Monthly => refuse_on_monthly(&[
            ("count", req.count.is_some()),
            ("reward", req.reward.is_some()),
            ("windowDays", matches!(req.window_days, Some(Some(_)))),
            (
                "fulfillmentLimit",
                matches!(req.fulfillment_limit, Some(Some(_))),
            ),
            ("repeatable", req.repeatable == Some(true)),
        ]),
    }
}

/// Refuses a monthly rule's fields on an instant rule.
fn refuse_on_instant(tiers: bool, time_zone: bool) -> Result<(), Invalid> {
    let field = match (tiers, time_zone) {
        (true, _) => "tiers",
        (false, true) => "timeZone",
        (false, false) => return Ok(()),
    };
    Err(Invalid::new(
        Problem::Schedule,
        format!("{field} is for MONTHLY rules (\"schedule\": \"MONTHLY\"); an INSTANT rule has count and reward"),
    ))
}

/// Refuses the first of `given` that a monthly rule does not take: its tiers say what earns,
/// once a month.
fn refuse_on_monthly(given: &[(&str, bool)]) -> Result<(), Invalid> {
    match given.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(Invalid::new(
            Problem::Schedule,
            format!(
                "{field} is not taken by a MONTHLY rule: its tiers say how many posts of a month \
                 earn which reward, once a month"
            ),
        )),
        None => Ok(()),
    }
}

/// Ids, each well formed; whether each names an integration is checked where the rule is written.
fn integration_ids(ids: Vec<String>) -> Result<Vec<IntegrationId>, Invalid> {
    ids.into_iter()
        .map(|id| {
            IntegrationId::parse(&id).ok_or_else(|| {
                Invalid::new(
                    Problem::IntegrationId,
                    format!("integrationIds: `{}` is not an id", id.escape_debug()),
                )
            })
        })
        .collect()
}

/// The create schema, with what one option asks of another: `fulfillmentLimit` above 1 needs
/// `repeatable: true`, `timeframeDays` needs `programId` (else a 422, as any refused value).
pub(super) fn with_option_pairs(
    create: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{
        AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
    };
    let nullable_int = || SchemaType::from_iter([Type::Integer, Type::Null]);
    let limit = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new().property(
                "fulfillmentLimit",
                ObjectBuilder::new()
                    .schema_type(nullable_int())
                    .maximum(Some(1)),
            ),
        )
        .item(
            ObjectBuilder::new()
                .property(
                    "repeatable",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([true])),
                )
                .required("repeatable"),
        );
    let timeframe = AnyOfBuilder::new()
        .item(ObjectBuilder::new().property(
            "timeframeDays",
            ObjectBuilder::new().schema_type(Type::Null),
        ))
        .item(
            ObjectBuilder::new()
                .property("programId", ObjectBuilder::new().schema_type(Type::String))
                .required("programId"),
        );
    // An INSTANT rule (the default) has count and reward, no tiers or zone; a MONTHLY rule
    // has tiers and none of count, reward, windowDays, fulfillmentLimit, repeatable: true.
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    let schedule = |value: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([value]))
    };
    let by_schedule = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .property("schedule", schedule("INSTANT"))
                .property("count", ObjectBuilder::new().schema_type(Type::Integer))
                .property("reward", ObjectBuilder::new().schema_type(Type::Object))
                .property("tiers", null())
                .property("timeZone", null())
                .required("count")
                .required("reward"),
        )
        .item(
            ObjectBuilder::new()
                .property("schedule", schedule("MONTHLY"))
                .property("count", null())
                .property("reward", null())
                .property("windowDays", null())
                .property("fulfillmentLimit", null())
                .property(
                    "repeatable",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([false])),
                )
                .required("schedule")
                .required("tiers"),
        );
    AllOfBuilder::new()
        .item(create)
        .item(limit)
        .item(timeframe)
        .item(by_schedule)
        .into()
}

/// A list of media types as a set: each once, in one order.
fn distinct(mut types: Vec<MediaType>) -> Vec<MediaType> {
    types.sort_by_key(|t| t.as_str());
    types.dedup();
    types
}

/// A well-formed program id; whether it names a program is checked where the rule is written.
fn program_id(id: &str) -> Result<ProgramId, Invalid> {
    ProgramId::parse(id).ok_or_else(|| {
        Invalid::new(
            Problem::ProgramId,
            format!("programId: `{}` is not an id", id.escape_debug()),
        )
    })
}

/// Deletes the rule; its fulfillments stay readable.
#[utoipa::path(
    delete,
    path = "/rules/{id}",
    tag = "rules",
    operation_id = "deleteRule",
    params(("id" = String, Path, format = Uuid, description = "The rule's id")),
    responses((status = 204, description = "Deleted")),
)]
async fn remove(State(s): State<AppState>, IdPath(id): IdPath<RuleId>) -> ApiResult<StatusCode> {
    s.store.delete_rule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The month to run.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunMonth {
    /// `YYYY-MM`, a month that has ended in the rule's time zone.
    #[schema(value_type = Month)]
    month: String,
}

/// What a run granted.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MonthRun {
    #[schema(value_type = Month)]
    month: Month,
    /// Fulfillments this run granted: 0 for a month already run.
    fulfillments: u64,
}

/// Runs an ended month of a `MONTHLY` rule now (LoudCrowd's end-of-month fulfillment): each
/// creator whose counted posts of the month reach a tier earns one fulfillment, for the
/// highest tier reached, and its webhooks are queued. A month is granted at most once per
/// creator, whoever runs it (the schedule, this endpoint, several instances at once): running
/// it again grants only what is missing (`"fulfillments": 0` for a month already run). Does not
/// move the automatic schedule.
#[utoipa::path(
    post,
    path = "/rules/{id}/runs",
    tag = "rules",
    operation_id = "runRuleMonth",
    params(("id" = String, Path, format = Uuid, description = "The rule's id")),
    request_body = RunMonth,
    responses(
        (status = 202, description = "Run; its webhooks are queued", body = MonthRun),
        (status = 409, description = "The month has not ended in the rule's time zone (`month_not_ended`), or the rule is `INSTANT` (`not_monthly`)", body = super::error::ErrorBody),
    ),
)]
async fn run_month(
    State(s): State<AppState>,
    IdPath(id): IdPath<RuleId>,
    JsonBody(req): JsonBody<RunMonth>,
) -> ApiResult<(StatusCode, Json<MonthRun>)> {
    let month =
        Month::parse(&req.month).map_err(|e| Invalid::new(Problem::Month, e.to_string()))?;
    let fulfillments = s
        .store
        .run_month(&id, month, RunStarter::Hand, s.clock.now())
        .await?;
    if fulfillments > 0 {
        s.deliveries_ready.notify_one();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(MonthRun {
            month,
            fulfillments,
        }),
    ))
}

/// The months of a `MONTHLY` rule that have been run, newest first, all in one page.
#[utoipa::path(
    get,
    path = "/rules/{id}/runs",
    tag = "rules",
    operation_id = "listRuleRuns",
    params(("id" = String, Path, format = Uuid, description = "The rule's id")),
    responses(
        (status = 200, description = "The months run", body = Page<RuleRun>),
        (status = 409, description = "The rule is `INSTANT` (`not_monthly`)", body = super::error::ErrorBody),
    ),
)]
async fn list_runs(
    State(s): State<AppState>,
    IdPath(id): IdPath<RuleId>,
) -> ApiResult<Json<Page<RuleRun>>> {
    Ok(Json(Page {
        items: s.store.rule_runs(&id).await?,
        next_cursor: None,
    }))
}
