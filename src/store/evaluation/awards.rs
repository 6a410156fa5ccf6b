//! What rewards became: the fulfillments with their payloads, the posts each counted, and a
//! delivery (with its queue row) to every integration it goes to.

use std::collections::HashSet;

use crate::domain::{
    Claimed, CreatorId, DeliveryId, DeliveryStatus, FulfillmentId, IntegrationId, Lease, MediaId,
    PayloadFormat, RuleId,
};
use crate::rules::Award;
use crate::store::config::Config;
use crate::store::sql::{write_row, Writes};

write_row! {
    /// A reward granted, with the body its webhooks send.
    struct FulfillmentInsert<'a> {
        id: &'a FulfillmentId,
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        discount_code: Option<&'a str>,
        once_key: Option<&'a str>,
        payload: &'a str,
        created_at: i64,
        traceparent: Option<&'a str>,
    }
}

write_row! {
    /// A post a reward counted: the key refuses to count it twice for one rule.
    struct CountedPost<'a> {
        rule_id: &'a RuleId,
        media_id: &'a MediaId,
        fulfillment_id: &'a FulfillmentId,
    }
}

write_row! {
    /// A delivery of a reward to one integration, in the log; with the `posts` body for an
    /// integration that takes it (else the fulfillment's body is sent).
    struct DeliveryInsert<'a> {
        id: &'a DeliveryId,
        fulfillment_id: &'a FulfillmentId,
        integration_id: &'a IntegrationId,
        status: &'static str,
        next_attempt_at: i64,
        created_at: i64,
        payload: Option<&'a str>,
        event_type: &'static str,
    }
}

write_row! {
    /// A delivery waiting to be sent, or leased already to the evaluating instance.
    struct QueueInsert<'a> {
        delivery_id: &'a DeliveryId,
        integration_id: &'a IntegrationId,
        due_at: i64,
        lease_until: i64,
        lease_owner: Option<&'a str>,
    }
}

/// Adds to `writes` the fulfillments with their payloads, their posts marked counted and their
/// deliveries queued (leased until `until` with a lease, unless their integration is `held`:
/// disabled). Returns the deliveries queued. `traceparent` names the evaluation's span when
/// tracing is on: the attempts of the rewards' deliveries join its trace.
pub(super) fn add<'a>(
    writes: &mut Writes<'a>,
    awards: &'a [Award],
    at: i64,
    lease: Option<&'a Lease>,
    until: Option<i64>,
    held: &HashSet<IntegrationId>,
    traceparent: Option<&'a str>,
) -> usize {
    let fulfillments = awards
        .iter()
        .map(|award| FulfillmentInsert {
            id: &award.fulfillment_id,
            rule_id: &award.rule_id,
            creator_id: &award.creator_id,
            discount_code: award.discount_code.as_deref(),
            once_key: award.once_key.as_deref(),
            payload: &award.body,
            created_at: at,
            traceparent,
        })
        .collect();
    writes.insert("fulfillments", "", fulfillments);
    add_posts_and_deliveries(writes, awards.iter(), at, lease, until, held)
}

/// Adds to `writes` what follows a fulfillment written (its event too: `GET /v1/events` reads
/// rewards from `fulfillments`): its posts marked counted and
/// its deliveries queued (as [`add`] says). Returns the deliveries queued.
pub(super) fn add_posts_and_deliveries<'a>(
    writes: &mut Writes<'a>,
    awards: impl Iterator<Item = &'a Award>,
    at: i64,
    lease: Option<&'a Lease>,
    until: Option<i64>,
    held: &HashSet<IntegrationId>,
) -> usize {
    let mut counted = Vec::new();
    let mut deliveries = Vec::new();
    let mut queue = Vec::new();
    for award in awards {
        counted.extend(award.media_ids.iter().map(|media_id| CountedPost {
            rule_id: &award.rule_id,
            media_id,
            fulfillment_id: &award.fulfillment_id,
        }));
        for (delivery_id, integration_id, format) in &award.deliveries {
            deliveries.push(DeliveryInsert {
                payload: match format {
                    PayloadFormat::Posts => award.posts_body.as_deref(),
                    PayloadFormat::Medias => None,
                },
                id: delivery_id,
                fulfillment_id: &award.fulfillment_id,
                integration_id,
                status: DeliveryStatus::Pending.as_str(),
                next_attempt_at: at,
                created_at: at,
                event_type: award.event_type.as_str(),
            });
            // A disabled integration's delivery waits unleased, for any instance to claim
            // once it is re-enabled.
            let leased = !held.contains(integration_id);
            queue.push(QueueInsert {
                delivery_id,
                integration_id,
                due_at: at,
                lease_until: until.filter(|_| leased).unwrap_or(0),
                lease_owner: lease.filter(|_| leased).map(|l| l.owner.as_str()),
            });
        }
    }
    let queued = deliveries.len();
    writes.insert("fulfillment_media", "", counted);
    writes.insert("deliveries", "", deliveries);
    writes.insert("delivery_queue", "", queue);
    queued
}

/// The deliveries of `awards`, as the dispatcher that holds their lease sends them.
pub(super) fn handed_over(
    awards: &[Award],
    config: &Config,
    lease: &Lease,
    traceparent: Option<&str>,
) -> Vec<Claimed> {
    awards
        .iter()
        .flat_map(|award| {
            award
                .deliveries
                .iter()
                .filter(|(_, integration_id, _)| !config.disabled.contains(integration_id))
                .filter_map(|(delivery_id, integration_id, format)| {
                    let body = match format {
                        PayloadFormat::Posts => award.posts_body.clone()?,
                        PayloadFormat::Medias => award.body.clone(),
                    };
                    Some(Claimed {
                        delivery_id: delivery_id.clone(),
                        attempt_number: 1,
                        single_attempt: false,
                        lease_owner: lease.owner.clone(),
                        target: config.targets.get(integration_id)?.clone(),
                        event_type: award.event_type,
                        body,
                        traceparent: traceparent.map(str::to_string),
                    })
                })
        })
        .collect()
}
