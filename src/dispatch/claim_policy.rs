//! How much the dispatcher claims, and for which integrations: its arithmetic apart from its
//! locks and store calls, so each rule is tested on its own.

use std::collections::HashSet;

use crate::domain::IntegrationId;

/// The most deliveries one claim takes.
pub const CLAIM_BATCH: u32 = 256;
/// Claim slots kept for integrations this instance has not sent to yet.
pub const NEW_INTEGRATION_PROBE: usize = 8;

/// One integration's lane as the dispatcher sees it when it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneLoad {
    pub integration_id: IntegrationId,
    /// Its send slots not in use.
    pub free_slots: usize,
    /// Deliveries claimed for it that wait for a slot.
    pub waiting: usize,
    /// Its concurrency limit now.
    pub limit: usize,
}

/// The dispatcher's limits and what is free of them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub max_in_flight: usize,
    pub free_in_flight: usize,
    /// The most any integration may have in flight (`--max-in-flight-per-integration`).
    pub per_integration: usize,
}

/// A claim to make: how many, and which integrations to leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPlan {
    pub limit: u32,
    pub skip: Vec<IntegrationId>,
}

impl Capacity {
    /// Under load, a claim waits until it is worth its transaction: a claim per freed slot
    /// would cost more than the sends it feeds. A lane held to a few sends by its limit is
    /// worth a claim with less.
    fn worth_a_claim(&self, limit: usize) -> usize {
        (self.per_integration / 4).clamp(1, 16).min(limit.max(1))
    }

    /// What a lane can take now: free slots plus room in its queue (one more limit's worth).
    fn room(&self, lane: &LaneLoad) -> usize {
        lane.free_slots + lane.limit.saturating_sub(lane.waiting)
    }
}

/// The claim to make, or `None` when none is worth making. An integration whose lane is
/// (nearly) full is left out, so one slow receiver cannot take every slot from the others, and
/// so are the paused ones. `probe` (at start, on new work, on every poll) also claims a few for
/// integrations this instance has no lane for yet — only while some active one has none, since
/// a probe walks past every due delivery of the integrations it skips.
pub fn plan(
    capacity: Capacity,
    lanes: &[LaneLoad],
    active: &[IntegrationId],
    paused: &[IntegrationId],
    probe: bool,
) -> Option<ClaimPlan> {
    let has_room = |lane: &&LaneLoad| capacity.room(lane) >= capacity.worth_a_claim(lane.limit);
    // Worth the least that any lane with room would take.
    let worth = lanes
        .iter()
        .filter(has_room)
        .map(|lane| capacity.worth_a_claim(lane.limit))
        .min()
        .unwrap_or(capacity.worth_a_claim(usize::MAX));
    let known: HashSet<&IntegrationId> = lanes.iter().map(|l| &l.integration_id).collect();
    let probe = probe && active.iter().any(|id| !known.contains(id));
    let mut skip: Vec<IntegrationId> = lanes
        .iter()
        .filter(|lane| !has_room(lane))
        .map(|lane| lane.integration_id.clone())
        .collect();
    skip.extend(paused.iter().cloned());
    let room: Option<usize> = (!lanes.is_empty()).then(|| {
        lanes
            .iter()
            .filter(has_room)
            .map(|lane| capacity.room(lane))
            .sum()
    });
    let waiting: usize = lanes.iter().map(|lane| lane.waiting).sum();
    let idle = capacity.free_in_flight == capacity.max_in_flight && waiting == 0;
    // Free send slots, plus room to wait for one (as many again, at most).
    let free = capacity.free_in_flight + capacity.max_in_flight.saturating_sub(waiting);
    let wanted = match room {
        None => free,
        Some(room) if probe || idle => room + NEW_INTEGRATION_PROBE,
        Some(room) => room,
    };
    let limit = free.min(wanted);
    if limit == 0 || (!idle && !probe && limit < worth) {
        return None;
    }
    Some(ClaimPlan {
        limit: u32::try_from(limit).unwrap_or(CLAIM_BATCH).min(CLAIM_BATCH),
        skip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> IntegrationId {
        IntegrationId::named(s)
    }

    const CAPACITY: Capacity = Capacity {
        max_in_flight: 256,
        free_in_flight: 256,
        per_integration: 64,
    };

    fn lane(name: &str, free_slots: usize, waiting: usize) -> LaneLoad {
        LaneLoad {
            integration_id: id(name),
            free_slots,
            waiting,
            limit: 64,
        }
    }

    #[test]
    fn an_idle_dispatcher_claims_a_full_batch() {
        let plan = plan(CAPACITY, &[], &[id("a")], &[], false).expect("a claim");
        assert_eq!(plan.limit, CLAIM_BATCH);
        assert!(plan.skip.is_empty());
    }

    #[test]
    fn a_full_lane_is_left_out_and_the_others_are_claimed_for() {
        let lanes = [lane("slow", 0, 64), lane("fast", 64, 0)];
        let busy = Capacity {
            free_in_flight: 192,
            ..CAPACITY
        };
        let plan = plan(busy, &lanes, &[id("slow"), id("fast")], &[], false).expect("a claim");
        assert_eq!(plan.skip, [id("slow")]);
        assert_eq!(plan.limit, 128, "the fast lane's slots and queue");
    }

    #[test]
    fn paused_integrations_are_left_out() {
        let plan = plan(CAPACITY, &[], &[id("a")], &[id("p")], false).expect("a claim");
        assert_eq!(plan.skip, [id("p")]);
    }

    #[test]
    fn under_load_a_claim_waits_until_it_is_worth_its_transaction() {
        // 64 per integration: a claim is worth 16 deliveries.
        let lanes = [lane("a", 10, 64)];
        let busy = Capacity {
            free_in_flight: 10,
            ..CAPACITY
        };
        assert_eq!(plan(busy, &lanes, &[id("a")], &[], false), None);
        let lanes = [lane("a", 20, 60)];
        let busy = Capacity {
            free_in_flight: 20,
            ..CAPACITY
        };
        assert_eq!(
            plan(busy, &lanes, &[id("a")], &[], false).map(|p| p.limit),
            Some(24)
        );
    }

    #[test]
    fn a_probe_claims_a_few_more_only_for_an_integration_without_a_lane() {
        let lanes = [lane("a", 0, 64)];
        let busy = Capacity {
            free_in_flight: 192,
            ..CAPACITY
        };
        let known = plan(busy, &lanes, &[id("a")], &[], true);
        assert_eq!(known, None, "every active integration has a lane: no probe");
        let new = plan(busy, &lanes, &[id("a"), id("b")], &[], true).expect("a probe");
        assert_eq!(new.limit as usize, NEW_INTEGRATION_PROBE);
        assert_eq!(new.skip, [id("a")]);
    }

    #[test]
    fn a_lane_held_to_a_few_sends_is_still_claimed_for() {
        let small = LaneLoad {
            limit: 2,
            ..lane("small", 1, 1)
        };
        let busy = Capacity {
            free_in_flight: 200,
            ..CAPACITY
        };
        let claim = plan(busy, &[small], &[id("small")], &[], false).expect("a claim");
        assert!(claim.skip.is_empty());
        assert_eq!(claim.limit, 2, "its free slot and one more in its queue");
        let full = LaneLoad {
            limit: 2,
            ..lane("small", 0, 2)
        };
        let claim = plan(
            busy,
            &[full, lane("b", 64, 0)],
            &[id("small"), id("b")],
            &[],
            false,
        )
        .expect("a claim");
        assert_eq!(claim.skip, [id("small")]);
    }

    #[test]
    fn nothing_free_is_no_claim() {
        let lanes = [lane("a", 0, 64)];
        let full = Capacity {
            max_in_flight: 64,
            free_in_flight: 0,
            per_integration: 64,
        };
        assert_eq!(plan(full, &lanes, &[id("a"), id("b")], &[], true), None);
    }
}
