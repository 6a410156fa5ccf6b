//! Plain domain types shared by the API, the store, the rule engine and the dispatcher, and the
//! input types whose `parse` is the one place each rule on a value is checked.

mod creator;
mod credentials;
mod delivery;
mod fulfillment;
mod ids;
mod integration;
pub mod invalid;
mod media;
mod member;
mod month;
mod name;
pub mod nullable;
pub mod page;
mod profile;
mod program;
mod rule;
mod schema;
mod secret;
mod sending;
pub mod stats;
pub mod time;
mod webhook_url;
pub mod whole_number;

pub use creator::{Creator, Email, NewCreator, Username};
pub use credentials::{
    signing_key, ApiKey, AuthHeader, AuthPrefix, SigningSecret, DEFAULT_AUTH_HEADER,
    DEFAULT_AUTH_PREFIX, SIGNING_SECRET_PREFIX,
};
pub use delivery::{Attempt, Delivery, DeliveryDetail, DeliveryFilter, DeliveryStatus, Order};
pub use fulfillment::{Fulfillment, FulfillmentFilter, RuleRun, RunStarter};
pub use ids::{
    CreatorId, DeliveryId, FulfillmentId, Id, IntegrationId, MediaId, ProgramId, RuleId,
};
pub use integration::{
    check_max_concurrency, check_max_per_second, Integration, IntegrationHealth, IntegrationLimits,
    IntegrationPatch, NewIntegration, PayloadFormat,
};
pub use invalid::{Invalid, Problem};
pub use media::{
    Media, MediaInput, MediaType, NewMedia, Platform, PostType, Posted, MAX_BATCH, MAX_EXTERNAL_ID,
};
pub use member::{sign_up, transition, InvalidTransition, Member, MemberStatus, Standing};
pub use month::{InvalidMonth, Month};
pub use name::Name;
pub use page::{Page, PageRequest};
pub use profile::{parse_segments, CreatorView, Profile, ProfilePatch, Segment, MAX_SEGMENTS};
pub use program::{Approval, NewProgram, Program, ProgramPatch, TimeZoneName};
pub use rule::{
    check_buffer_days, check_count, check_fulfillment_limit, check_platforms, check_tiers,
    check_timeframe_days, check_window_days, NewRule, Reward, Rule, RuleOptions, RuleOptionsPatch,
    RulePatch, Schedule, Tier, MAX_COUNT, MAX_WINDOW_DAYS,
};
pub use secret::{key_hint, Secret};
pub use sending::{Claimed, Lease, Leased, Outcome, SendResult, SendTarget};
pub use stats::{
    DeliveryStats, Durations, IntegrationStats, Latency, OutcomeCounts, Window, HOUR_MICROS,
    MINUTE_MICROS,
};
pub use time::Clock;
pub use webhook_url::WebhookUrl;
