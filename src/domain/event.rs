//! Event types: what a webhook is about (its `lc-event-type` header), and the types an
//! integration subscribes to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time::serde_rfc3339;
use super::{CreatorId, Invalid, MemberStatus, Problem};

/// What a webhook is about: LoudCrowd's events. Sent as the `lc-event-type` header.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum EventType {
    /// A creator reached an instant rule's threshold: the seed's body.
    #[serde(rename = "reward.instant")]
    RewardInstant,
    /// A monthly rule's month was run and the creator reached a tier: the seed's body.
    #[serde(rename = "reward.monthly")]
    RewardMonthly,
    /// A creator signed up for a program.
    #[serde(rename = "program.signed_up")]
    ProgramSignedUp,
    /// A member was approved (at once under `AUTOMATIC` approval).
    #[serde(rename = "program.approved")]
    ProgramApproved,
    /// A pending member was rejected.
    #[serde(rename = "program.rejected")]
    ProgramRejected,
    /// An approved member was removed.
    #[serde(rename = "program.removed")]
    ProgramRemoved,
    /// A creator made a post (once per post).
    #[serde(rename = "post.tagged")]
    PostTagged,
    /// A creator's storefront made a sale.
    #[serde(rename = "sale.created")]
    SaleCreated,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::RewardInstant,
        EventType::RewardMonthly,
        EventType::ProgramSignedUp,
        EventType::ProgramApproved,
        EventType::ProgramRejected,
        EventType::ProgramRemoved,
        EventType::PostTagged,
        EventType::SaleCreated,
    ];

    /// What an integration receives when it names no types: rewards, as before event types.
    pub const DEFAULT: [EventType; 2] = [EventType::RewardInstant, EventType::RewardMonthly];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RewardInstant => "reward.instant",
            EventType::RewardMonthly => "reward.monthly",
            EventType::ProgramSignedUp => "program.signed_up",
            EventType::ProgramApproved => "program.approved",
            EventType::ProgramRejected => "program.rejected",
            EventType::ProgramRemoved => "program.removed",
            EventType::PostTagged => "post.tagged",
            EventType::SaleCreated => "sale.created",
        }
    }

    /// A reward: its event is its fulfillment.
    pub fn is_reward(self) -> bool {
        matches!(self, EventType::RewardInstant | EventType::RewardMonthly)
    }

    pub fn parse(s: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The event a member's move to `status` causes (`PENDING`: a sign-up).
    pub fn of_member(status: MemberStatus) -> Self {
        match status {
            MemberStatus::Pending => EventType::ProgramSignedUp,
            MemberStatus::Approved => EventType::ProgramApproved,
            MemberStatus::Rejected => EventType::ProgramRejected,
            MemberStatus::Removed => EventType::ProgramRemoved,
        }
    }

    /// The type of a reward's event: `monthly` for a monthly rule's.
    pub fn of_reward(monthly: bool) -> Self {
        if monthly {
            EventType::RewardMonthly
        } else {
            EventType::RewardInstant
        }
    }
}

/// The event types an integration receives, each once, in the order of the event type list.
/// Empty is allowed: the integration then receives nothing but Test sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = Vec<EventType>)]
pub struct EventTypes(Vec<EventType>);

impl Default for EventTypes {
    fn default() -> Self {
        EventTypes(EventType::DEFAULT.to_vec())
    }
}

impl EventTypes {
    /// The types named in `raw` (each once, any order); an unknown name is refused.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, Invalid> {
        let mut types = Vec::with_capacity(raw.len());
        for name in raw {
            let name = name.as_ref();
            let t = EventType::parse(name).ok_or_else(|| {
                Invalid::new(
                    Problem::EventTypes,
                    format!(
                        "eventTypes: `{}` is not an event type (one of {})",
                        name.escape_debug(),
                        EventType::ALL.map(EventType::as_str).join(", ")
                    ),
                )
            })?;
            types.push(t);
        }
        Ok(EventTypes::from_types(types))
    }

    pub fn from_types(mut types: Vec<EventType>) -> Self {
        types.sort_unstable();
        types.dedup();
        EventTypes(types)
    }

    pub fn contains(&self, t: EventType) -> bool {
        self.0.contains(&t)
    }

    pub fn types(&self) -> &[EventType] {
        &self.0
    }

    /// As stored: a JSON array of names.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    /// As stored; a stored name this version does not know is skipped.
    pub fn from_json(raw: &str) -> Self {
        let names: Vec<String> = serde_json::from_str(raw).unwrap_or_default();
        EventTypes::from_types(names.iter().filter_map(|n| EventType::parse(n)).collect())
    }
}

/// One event, as `GET /v1/events` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The body's `lcId`; for a reward, its fulfillment's id.
    #[schema(format = Uuid)]
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub creator_id: CreatorId,
    /// The body its webhooks send (a reward's in the seed's `medias` format).
    #[schema(schema_with = crate::payload::either_format)]
    pub payload: Box<serde_json::value::RawValue>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<EventType>,
    pub creator_id: Option<CreatorId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_string(&t).expect("serialises"),
                format!("\"{}\"", t.as_str())
            );
        }
    }

    #[test]
    fn an_unknown_type_is_refused_and_duplicates_collapse() {
        assert!(EventTypes::parse(&["reward.instant", "post.liked"]).is_err());
        let types =
            EventTypes::parse(&["sale.created", "reward.instant", "sale.created"]).expect("valid");
        assert_eq!(
            types.types(),
            [EventType::RewardInstant, EventType::SaleCreated]
        );
        assert_eq!(types.to_json(), r#"["reward.instant","sale.created"]"#);
        assert_eq!(EventTypes::from_json(&types.to_json()), types);
    }

    #[test]
    fn the_default_is_the_two_reward_types() {
        assert_eq!(
            EventTypes::default().to_json(),
            r#"["reward.instant","reward.monthly"]"#
        );
    }
}
