//! Plain domain types shared by the API, the store, the rule engine and the dispatcher.

mod creator;
mod delivery;
mod fulfillment;
mod integration;
mod media;
pub mod nullable;
pub mod page;
mod rule;
mod secret;
pub mod time;

pub use creator::{Creator, NewCreator};
pub use delivery::{Attempt, Delivery, DeliveryDetail, DeliveryFilter, DeliveryStatus};
pub use fulfillment::{Fulfillment, FulfillmentFilter};
pub use integration::{Integration, IntegrationPatch, NewIntegration, SendTarget};
pub use media::{Media, NewMedia, Platform, PostType};
pub use page::{Page, PageRequest};
pub use rule::{NewRule, Reward, Rule, RulePatch};
pub use secret::Secret;

/// A fresh, time-ordered id (UUIDv7), so ids double as a stable sort key for pagination.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
