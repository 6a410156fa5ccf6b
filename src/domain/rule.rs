use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use super::invalid::{Invalid, Problem};
use super::time::serde_rfc3339;
use super::{IntegrationId, MediaType, Name, Platform, PostType, ProgramId, RuleId, TimeZoneName};

pub const MAX_COUNT: u32 = 10_000;
pub const MAX_WINDOW_DAYS: u32 = 3_650;
pub const MAX_BUFFER_DAYS: u32 = 31;
pub const MAX_FULFILLMENT_LIMIT: u32 = 1_000;
pub const MAX_TIMEFRAME_DAYS: u32 = 3_650;
const MAX_CODE_PREFIX: usize = 20;

/// What a creator earns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum Reward {
    /// A unique discount code, `<codePrefix><8 characters>` (prefix default `LC-`).
    DiscountCode {
        #[serde(
            rename = "codePrefix",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        code_prefix: Option<String>,
    },
    /// Nothing but the webhook: `discountCode` is `null`. A struct variant, though it has no
    /// field: serde refuses unknown fields only in those (`{"type": "NONE", "x": 1}` is a 422).
    None {},
}

/// Written by hand: each variant is a closed object (`deny_unknown_fields`), which the derived
/// schema of a tagged enum does not say.
impl utoipa::PartialSchema for Reward {
    fn schema() -> RefOr<Schema> {
        let variant = |tag: &str, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(description))
                .property(
                    "type",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([tag])),
                )
                .required("type")
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
        };
        let prefix = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some("Default `LC-`."))
            .pattern(Some(CODE_PREFIX_PATTERN));
        OneOfBuilder::new()
            .description(Some("What a creator earns."))
            .item(
                variant(
                    "DISCOUNT_CODE",
                    "A unique discount code, `<codePrefix><8 characters>` (prefix default `LC-`).",
                )
                .property("codePrefix", prefix),
            )
            .item(variant(
                "NONE",
                "Nothing but the webhook: `discountCode` is `null`.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Reward {}

/// What `Reward::check` takes as a code prefix.
const CODE_PREFIX_PATTERN: &str = "^[A-Za-z0-9_-]{1,20}$";

impl Reward {
    pub fn check(&self) -> Result<(), Invalid> {
        if let Reward::DiscountCode {
            code_prefix: Some(prefix),
        } = self
        {
            let ok = (1..=MAX_CODE_PREFIX).contains(&prefix.len())
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(Invalid::new(
                    Problem::CodePrefix,
                    format!(
                        "codePrefix must be 1 to {MAX_CODE_PREFIX} letters, digits, `-` or `_`"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: RuleId,
    pub name: String,
    /// The post types that count; empty: any.
    pub post_types: Vec<PostType>,
    /// The platforms that count; `null`: any.
    #[schema(required = true)]
    pub platforms: Option<Vec<Platform>>,
    /// Posts it takes to earn the reward; `null` on a `MONTHLY` rule (its `tiers` say).
    #[schema(required = true)]
    pub count: Option<u32>,
    /// The counted posts must all fall within this many days; `null`: no window.
    #[schema(required = true)]
    pub window_days: Option<u32>,
    /// `true`: every further `count` posts earn again; `false`: once per creator.
    pub repeatable: bool,
    /// What a creator earns; `null` on a `MONTHLY` rule (each tier has its reward).
    #[schema(required = true)]
    pub reward: Option<Reward>,
    /// The integrations its rewards go to; `null`: every active one; `[]`: none.
    #[schema(required = true)]
    pub integration_ids: Option<Vec<IntegrationId>>,
    /// A rule counts the posts that arrive while it is active.
    pub active: bool,
    #[serde(flatten)]
    pub options: RuleOptions,
    /// `INSTANT`: a reward as soon as the posts reach `count`; `MONTHLY`: once a month, the
    /// highest of `tiers` the month's posts reached.
    pub schedule: Schedule,
    /// A `MONTHLY` rule's tiers, counts strictly increasing; `null` on an `INSTANT` rule.
    #[schema(required = true)]
    pub tiers: Option<Vec<Tier>>,
    /// The zone a `MONTHLY` rule's months are counted in; `null`: its program's, else UTC.
    #[schema(required = true, value_type = Option<super::TimeZoneName>)]
    pub time_zone: Option<String>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// How a rule grants: at once, or once a month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Schedule {
    /// A reward as soon as a creator's posts reach `count`.
    #[default]
    Instant,
    /// Once a month, after it ends: the highest tier each creator's posts of the month reached.
    Monthly,
}

impl Schedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Instant => "INSTANT",
            Schedule::Monthly => "MONTHLY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "INSTANT" => Some(Schedule::Instant),
            "MONTHLY" => Some(Schedule::Monthly),
            _ => None,
        }
    }
}

/// One tier of a monthly rule: the posts of a month it takes, and what it earns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    /// Posts of the month it takes: 1 to 10,000, more than the tier before.
    #[serde(deserialize_with = "super::whole_number::deserialize")]
    #[schema(minimum = 1, maximum = 10000)]
    pub count: u32,
    pub reward: Reward,
}

/// Checks a monthly rule's tiers: 1 to 10 tiers, counts strictly increasing, each reward valid.
/// Errors name the place (`tiers[1].count`).
pub fn check_tiers(tiers: &[Tier]) -> Result<(), Invalid> {
    let counts: Vec<u32> = tiers.iter().map(|t| t.count).collect();
    crate::rules::monthly::check_tiers(&counts)
        .map_err(|e| Invalid::new(Problem::Tiers, e.to_string()))?;
    for (i, tier) in tiers.iter().enumerate() {
        tier.reward
            .check()
            .map_err(|e| e.at(format_args!("tiers[{i}].reward")))?;
    }
    Ok(())
}

impl Rule {
    /// The zone a monthly rule's months are counted in: its own, else its program's
    /// (`program`), else UTC.
    pub fn zone(&self, program: Option<chrono_tz::Tz>) -> chrono_tz::Tz {
        self.time_zone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .or(program)
            .unwrap_or(chrono_tz::UTC)
    }
}

/// LoudCrowd's options: who may earn, which posts count, how often. Each absent (`null`, `[]`)
/// leaves the rule as it behaves without it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleOptions {
    /// Only posts by an `APPROVED` member of this program, posted at or after their approval,
    /// count; `null`: anyone's.
    #[schema(required = true)]
    pub program_id: Option<ProgramId>,
    /// Buffer Limit: a post counts only if posted at least this many days after the previous
    /// post that counted; `null`: no buffer.
    #[schema(required = true, minimum = 1, maximum = 31)]
    pub buffer_days: Option<u32>,
    /// Fulfillment Limit: the most times one creator can earn the rule; `null`: once if not
    /// `repeatable`, else unlimited.
    #[schema(required = true, minimum = 1, maximum = 1000)]
    pub fulfillment_limit: Option<u32>,
    /// Timeframe: only posts posted within this many days of the member's approval count;
    /// `null`: no deadline.
    #[schema(required = true, minimum = 1, maximum = 3650)]
    pub timeframe_days: Option<u32>,
    /// The creator must carry at least one of these segments; empty: any creator.
    #[schema(value_type = Vec<super::Segment>)]
    pub segments: Vec<String>,
    /// The creator's followers must be at least this (unknown followers do not qualify);
    /// `null`: any.
    #[schema(required = true, value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    pub min_followers: Option<u32>,
    /// Only posts of these media types count (a post of unknown type does not); empty: any.
    pub media_types: Vec<MediaType>,
}

impl RuleOptions {
    /// Refuses combinations the contract forbids: a limit above 1 on a rule earned once, a
    /// timeframe without a program (it counts from the approval).
    pub fn check(&self, repeatable: bool) -> Result<(), Invalid> {
        if !repeatable && self.fulfillment_limit.is_some_and(|l| l > 1) {
            return Err(Invalid::new(
                Problem::FulfillmentLimit,
                "fulfillmentLimit above 1 needs repeatable: true (a rule that is not repeatable is earned once)",
            ));
        }
        if self.timeframe_days.is_some() && self.program_id.is_none() {
            return Err(Invalid::new(
                Problem::TimeframeDays,
                "timeframeDays needs programId: the timeframe starts at the member's approval",
            ));
        }
        Ok(())
    }
}

/// Changes to [`RuleOptions`]; `None` leaves an option as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct RuleOptionsPatch {
    pub program_id: Option<Option<ProgramId>>,
    pub buffer_days: Option<Option<u32>>,
    pub fulfillment_limit: Option<Option<u32>>,
    pub timeframe_days: Option<Option<u32>>,
    pub segments: Option<Vec<String>>,
    pub min_followers: Option<Option<u32>>,
    pub media_types: Option<Vec<MediaType>>,
}

#[derive(Debug, Clone)]
pub struct NewRule {
    pub name: Name,
    pub post_types: Vec<PostType>,
    pub platforms: Option<Vec<Platform>>,
    /// `None` on a monthly rule.
    pub count: Option<u32>,
    pub window_days: Option<u32>,
    pub repeatable: bool,
    /// `None` on a monthly rule.
    pub reward: Option<Reward>,
    pub integration_ids: Option<Vec<IntegrationId>>,
    pub active: bool,
    pub options: RuleOptions,
    pub schedule: Schedule,
    /// A monthly rule's tiers, checked.
    pub tiers: Option<Vec<Tier>>,
    pub time_zone: Option<TimeZoneName>,
    /// When it is made, by the service's clock (its first month counts from it).
    pub created_at: DateTime<Utc>,
}

/// `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct RulePatch {
    pub name: Option<Name>,
    pub post_types: Option<Vec<PostType>>,
    pub platforms: Option<Option<Vec<Platform>>>,
    pub count: Option<u32>,
    pub window_days: Option<Option<u32>>,
    pub repeatable: Option<bool>,
    pub reward: Option<Reward>,
    pub integration_ids: Option<Option<Vec<IntegrationId>>>,
    pub active: Option<bool>,
    pub options: RuleOptionsPatch,
    /// A monthly rule's new tiers, checked.
    pub tiers: Option<Vec<Tier>>,
    /// A monthly rule's zone; `Some(None)` clears it.
    pub time_zone: Option<Option<TimeZoneName>>,
}

/// Posts it takes: 1 to 10,000.
pub fn check_count(count: u32) -> Result<u32, Invalid> {
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(Invalid::new(
            Problem::Count,
            format!("count must be from 1 to {MAX_COUNT}"),
        ));
    }
    Ok(count)
}

/// A window of 1 to 3,650 days.
pub fn check_window_days(days: u32) -> Result<u32, Invalid> {
    if !(1..=MAX_WINDOW_DAYS).contains(&days) {
        return Err(Invalid::new(
            Problem::WindowDays,
            format!("windowDays must be from 1 to {MAX_WINDOW_DAYS}"),
        ));
    }
    Ok(days)
}

/// A value within `1..=max`, else the `problem` naming `field`.
fn within(value: u32, max: u32, problem: Problem, field: &str) -> Result<u32, Invalid> {
    if !(1..=max).contains(&value) {
        return Err(Invalid::new(
            problem,
            format!("{field} must be from 1 to {max}"),
        ));
    }
    Ok(value)
}

/// A Buffer Limit of 1 to 31 days.
pub fn check_buffer_days(days: u32) -> Result<u32, Invalid> {
    within(days, MAX_BUFFER_DAYS, Problem::BufferDays, "bufferDays")
}

/// A Fulfillment Limit of 1 to 1,000 rewards.
pub fn check_fulfillment_limit(limit: u32) -> Result<u32, Invalid> {
    within(
        limit,
        MAX_FULFILLMENT_LIMIT,
        Problem::FulfillmentLimit,
        "fulfillmentLimit",
    )
}

/// A Timeframe of 1 to 3,650 days.
pub fn check_timeframe_days(days: u32) -> Result<u32, Invalid> {
    within(
        days,
        MAX_TIMEFRAME_DAYS,
        Problem::TimeframeDays,
        "timeframeDays",
    )
}

/// A platform list names at least one; "any platform" is no list.
pub fn check_platforms(platforms: Vec<Platform>) -> Result<Vec<Platform>, Invalid> {
    if platforms.is_empty() {
        return Err(Invalid::new(
            Problem::Platforms,
            "platforms must name at least one platform; leave it out for any",
        ));
    }
    Ok(platforms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_at_both_ends() {
        assert!(check_count(0).is_err());
        assert!(check_count(1).is_ok());
        assert!(check_count(MAX_COUNT + 1).is_err());
        assert!(check_window_days(0).is_err());
        assert!(check_window_days(MAX_WINDOW_DAYS).is_ok());
        assert!(check_platforms(vec![]).is_err());
        assert!(check_buffer_days(0).is_err());
        assert!(check_buffer_days(31).is_ok());
        assert!(check_buffer_days(32).is_err());
        assert!(check_fulfillment_limit(0).is_err());
        assert!(check_fulfillment_limit(1000).is_ok());
        assert!(check_fulfillment_limit(1001).is_err());
        assert!(check_timeframe_days(0).is_err());
        assert!(check_timeframe_days(3650).is_ok());
        assert!(check_timeframe_days(3651).is_err());
    }

    #[test]
    fn a_limit_above_one_needs_a_repeatable_rule_and_a_timeframe_a_program() {
        let limit = |n| RuleOptions {
            fulfillment_limit: Some(n),
            ..RuleOptions::default()
        };
        assert!(limit(1).check(false).is_ok());
        assert!(limit(2).check(false).is_err());
        assert!(limit(2).check(true).is_ok());
        let mut timeframe = RuleOptions {
            timeframe_days: Some(30),
            ..RuleOptions::default()
        };
        assert!(timeframe.check(true).is_err());
        timeframe.program_id = Some(ProgramId::generate());
        assert!(timeframe.check(true).is_ok());
    }

    #[test]
    fn a_code_prefix_is_short_and_plain() {
        let prefix = |p: &str| Reward::DiscountCode {
            code_prefix: Some(p.into()),
        };
        assert!(prefix("SUMMER-24_").check().is_ok());
        assert!(prefix("").check().is_err());
        assert!(prefix("with space").check().is_err());
        assert!(prefix(&"P".repeat(21)).check().is_err());
    }

    #[test]
    fn a_reward_has_only_the_fields_of_its_type() {
        let parse = |json: &str| serde_json::from_str::<Reward>(json);
        assert_eq!(parse(r#"{"type": "NONE"}"#).ok(), Some(Reward::None {}));
        assert_eq!(
            serde_json::to_string(&Reward::None {}).ok().as_deref(),
            Some(r#"{"type":"NONE"}"#)
        );
        assert!(parse(r#"{"type": "NONE", "extra": 42}"#).is_err());
        assert!(parse(r#"{"type": "NONE", "codePrefix": "X-"}"#).is_err());
        assert!(parse(r#"{"type": "DISCOUNT_CODE", "extra": 42}"#).is_err());
        assert!(parse(r#"{"type": "DISCOUNT_CODE", "codePrefix": "X-"}"#).is_ok());
    }
}
