//! `post.tagged`: an event for every post an evaluation takes (each post is evaluated exactly
//! once, so each is tagged once), with a delivery to every integration subscribed to it. Its
//! rows go in the evaluation's one batch of writes; when nothing subscribes, nothing is built
//! and nothing written (the config, already in hand, says so).

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{
    Claimed, Creator, CreatorId, DeliveryId, DeliveryStatus, EventId, EventType, IntegrationId,
    Lease, Media,
};
use crate::error::{Error, Result};
use crate::payload::events::PostTaggedBody;
use crate::store::config::Config;
use crate::store::sql::{write_row, Writes};

write_row! {
    /// A post's `post.tagged` event, with its body.
    struct TaggedInsert<'a> {
        id: &'a EventId,
        event_type: &'static str,
        creator_id: &'a CreatorId,
        body: &'a str,
        created_at: i64,
        traceparent: Option<&'a str>,
    }
}

write_row! {
    /// A delivery of a `post.tagged`: it carries its body, as other events' deliveries do.
    struct TaggedDeliveryInsert<'a> {
        id: &'a DeliveryId,
        event_id: &'a EventId,
        integration_id: &'a IntegrationId,
        status: &'static str,
        next_attempt_at: i64,
        created_at: i64,
        payload: &'a str,
        event_type: &'static str,
    }
}

write_row! {
    /// Its queue row, leased to the evaluating instance like a reward's.
    struct TaggedQueueInsert<'a> {
        delivery_id: &'a DeliveryId,
        integration_id: &'a IntegrationId,
        due_at: i64,
        lease_until: i64,
        lease_owner: Option<&'a str>,
    }
}

struct TaggedPost {
    id: EventId,
    creator_id: CreatorId,
    body: Arc<str>,
}

/// The `post.tagged` events of one evaluation and their deliveries (each: its event's index,
/// its integration, its id).
#[derive(Default)]
pub(super) struct Tagged {
    events: Vec<TaggedPost>,
    deliveries: Vec<(usize, IntegrationId, DeliveryId)>,
}

impl Tagged {
    /// The events of `posts`, if any integration of `config` subscribes to `post.tagged`; else
    /// none (no row, no cost beyond this check).
    pub(super) fn of(
        config: &Config,
        posts: &[Media],
        creators: &HashMap<CreatorId, Creator>,
    ) -> Result<Tagged> {
        let subscribers = config.subscribers(EventType::PostTagged);
        if subscribers.is_empty() {
            return Ok(Tagged::default());
        }
        let mut tagged = Tagged::default();
        for post in posts {
            let creator = creators
                .get(&post.creator_id)
                .ok_or_else(|| Error::Corrupt(format!("post {} names no creator read", post.id)))?;
            let id = EventId::generate();
            let body = PostTaggedBody::to_body(&id.to_string(), creator, post)?.into();
            let index = tagged.events.len();
            tagged.events.push(TaggedPost {
                id,
                creator_id: post.creator_id.clone(),
                body,
            });
            tagged.deliveries.extend(
                subscribers
                    .iter()
                    .map(|&integration| (index, integration.clone(), DeliveryId::generate())),
            );
        }
        Ok(tagged)
    }

    /// Adds the events, their deliveries and queue rows to `writes` (leased until `until` with a
    /// lease, unless their integration is disabled), each event naming `traceparent`, the
    /// evaluation's span when tracing is on. Returns the deliveries queued.
    pub(super) fn add<'a>(
        &'a self,
        writes: &mut Writes<'a>,
        at: i64,
        lease: Option<&'a Lease>,
        until: Option<i64>,
        config: &Config,
        traceparent: Option<&'a str>,
    ) -> usize {
        let events = self
            .events
            .iter()
            .map(|e| TaggedInsert {
                id: &e.id,
                event_type: EventType::PostTagged.as_str(),
                creator_id: &e.creator_id,
                body: &e.body,
                created_at: at,
                traceparent,
            })
            .collect();
        writes.insert("events", "", events);
        let deliveries = self
            .deliveries
            .iter()
            .map(|(event, integration_id, id)| TaggedDeliveryInsert {
                id,
                event_id: &self.events[*event].id,
                integration_id,
                status: DeliveryStatus::Pending.as_str(),
                next_attempt_at: at,
                created_at: at,
                payload: &self.events[*event].body,
                event_type: EventType::PostTagged.as_str(),
            })
            .collect();
        writes.insert("deliveries", "", deliveries);
        let queue = self
            .deliveries
            .iter()
            .map(|(_, integration_id, id)| {
                let leased = !config.disabled.contains(integration_id);
                TaggedQueueInsert {
                    delivery_id: id,
                    integration_id,
                    due_at: at,
                    lease_until: until.filter(|_| leased).unwrap_or(0),
                    lease_owner: lease.filter(|_| leased).map(|l| l.owner.as_str()),
                }
            })
            .collect();
        writes.insert("delivery_queue", "", queue);
        self.deliveries.len()
    }

    /// The deliveries leased with `lease`, as its dispatcher sends them.
    pub(super) fn handed_over(&self, config: &Config, lease: &Lease) -> Vec<Claimed> {
        self.deliveries
            .iter()
            .filter(|(_, integration_id, _)| !config.disabled.contains(integration_id))
            .filter_map(|(event, integration_id, delivery_id)| {
                Some(Claimed {
                    delivery_id: delivery_id.clone(),
                    attempt_number: 1,
                    single_attempt: false,
                    lease_owner: lease.owner.clone(),
                    target: config.targets.get(integration_id)?.clone(),
                    event_type: EventType::PostTagged,
                    body: self.events[*event].body.clone(),
                    // Set by the evaluation when tracing is on.
                    traceparent: None,
                })
            })
            .collect()
    }
}
