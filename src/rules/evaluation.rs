//! What one batch of new posts earns. The store reads the posts, the rules and, for the rules
//! that keep count, each pair's rewards so far and pending posts; these functions decide; the
//! store writes what they decided, in the transaction that took the posts.
//!
//! The steps, in the store's order:
//! 1. [`match_posts`]: which rules count which new post — its type, platform and, for rules
//!    with LoudCrowd's options, the creator's profile and membership ([`Eligibility`], read by
//!    the store only when a rule has such an option). A rule where every post earns grants at
//!    once; the others get a [`Tally`] per (rule, creator), in the order the store locks them.
//! 2. The store locks each tally's pair and reads its [`Progress`] (how often it was rewarded,
//!    the last post a reward counted); a pair that [`Tally::can_earn`] no more (its limit
//!    reached) is dropped, the others' new posts are stored as pending.
//! 3. The store reads each pair's pending posts within the tally's [`Tally::reach`].
//! 4. [`count`]: which pending posts earn (spaced by the Buffer Limit, at most up to the
//!    Fulfillment Limit), and what leaves the pending list.
//! 5. [`Grant::award`]: each reward made concrete (ids, code, body, deliveries), to write.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::{discount_code, earned_groups, spaced, Candidate, Eligibility};
use crate::domain::time::to_micros;
use crate::domain::{
    Creator, CreatorId, DeliveryId, EventType, FulfillmentId, IntegrationId, Media, MediaId,
    PayloadFormat, Reward, Rule, RuleId,
};
use crate::error::{Error, Result};
use crate::payload::Payload;

/// One rule's count for one creator: what evaluations of it lock, and key its pending posts by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairKey {
    pub rule: RuleId,
    pub creator: CreatorId,
}

/// The new posts of a batch, sorted out by rule.
#[derive(Debug)]
pub struct Matched<'a> {
    /// Rewards earned at once, by rules where every post earns.
    pub instant: Vec<Grant<'a>>,
    /// New posts of the rules that keep count, a tally per pair, in [`PairKey`] order: the order
    /// every instance locks them in, so concurrent evaluations cannot deadlock.
    pub tallies: Vec<Tally<'a>>,
}

/// The new posts one creator made toward one rule that keeps count.
#[derive(Debug)]
pub struct Tally<'a> {
    pub rule: &'a Rule,
    pub creator: &'a Creator,
    pub new_posts: Vec<&'a Media>,
}

/// A reward earned: the rule, the creator, and the posts that earned it.
#[derive(Debug)]
pub struct Grant<'a> {
    pub rule: &'a Rule,
    pub creator: &'a Creator,
    pub medias: Vec<Media>,
}

/// Pending posts per pair, as the store read them.
pub type Pending = HashMap<PairKey, Vec<Media>>;

/// A pair's rewards so far, as the store read them when it locked the pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub rewarded: u32,
    /// `posted_at` (µs) of the last post a reward counted, kept for rules with a Buffer Limit.
    pub last_counted_at: Option<i64>,
}

/// What counting decided.
#[derive(Debug, Default)]
pub struct Counted<'a> {
    pub grants: Vec<Grant<'a>>,
    /// Pending posts a reward of a repeatable rule used: they leave the pending list.
    pub used: Vec<(RuleId, MediaId)>,
    /// Pairs of rules earned once that have now earned: their pending posts can never count.
    pub closed: Vec<PairKey>,
    /// Rewards granted to each pair by this batch.
    pub rewarded: Vec<(PairKey, u32)>,
    /// Pairs of rules with a Buffer Limit that earned: the last post their rewards counted.
    pub last_counted: Vec<(PairKey, i64)>,
}

/// A reward made concrete, ready to write: its fulfillment, the body sent for it, and one
/// delivery per target integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    pub fulfillment_id: FulfillmentId,
    pub rule_id: RuleId,
    pub creator_id: CreatorId,
    pub discount_code: Option<String>,
    pub once_key: Option<String>,
    pub media_ids: Vec<MediaId>,
    /// The webhook body, stored once and sent byte for byte on every attempt.
    pub body: Arc<str>,
    /// The body in the `posts` format, built when a target integration takes that format;
    /// its deliveries carry it.
    pub posts_body: Option<Arc<str>>,
    pub deliveries: Vec<(DeliveryId, IntegrationId, PayloadFormat)>,
    /// `reward.instant` or `reward.monthly`: the `lc-event-type` of its webhooks.
    pub event_type: EventType,
}

/// Step 1: which rules count which of `posts`; `about` holds what the rules' options need.
pub fn match_posts<'a>(
    posts: &'a [Media],
    creators: &'a HashMap<CreatorId, Creator>,
    rules: &'a [Rule],
    about: &Eligibility,
) -> Result<Matched<'a>> {
    let mut instant = Vec::new();
    let mut pairs: BTreeMap<PairKey, Tally<'a>> = BTreeMap::new();
    for post in posts {
        let creator = creators.get(&post.creator_id).ok_or_else(|| {
            Error::Corrupt(format!(
                "post {} has no creator {}",
                post.id, post.creator_id
            ))
        })?;
        for rule in rules
            .iter()
            .filter(|r| r.counts(post) && r.admits(post, about))
        {
            if rule.every_post_earns() {
                instant.push(Grant {
                    rule,
                    creator,
                    medias: vec![post.clone()],
                });
                continue;
            }
            let key = PairKey {
                rule: rule.id.clone(),
                creator: post.creator_id.clone(),
            };
            pairs
                .entry(key)
                .or_insert_with(|| Tally {
                    rule,
                    creator,
                    new_posts: Vec::new(),
                })
                .new_posts
                .push(post);
        }
    }
    Ok(Matched {
        instant,
        tallies: pairs.into_values().collect(),
    })
}

impl Tally<'_> {
    pub fn key(&self) -> PairKey {
        PairKey {
            rule: self.rule.id.clone(),
            creator: self.creator.id.clone(),
        }
    }

    /// Step 2: can the pair earn again, given how often it was rewarded before?
    pub fn can_earn(&self, rewarded_before: u32) -> bool {
        self.rule
            .limit()
            .is_none_or(|limit| rewarded_before < limit)
    }

    /// Step 3: the `posted_at` range (µs) a reward with one of the new posts can span. Pending
    /// posts never formed a reward among themselves, so a new reward holds a new post and lies
    /// within a window of it: what is further away need not be read. Without a window, or with
    /// a Buffer Limit (which posts count depends on every earlier pending one): all.
    pub fn reach(&self) -> (i64, i64) {
        let window = self
            .rule
            .window_micros()
            .filter(|_| self.rule.buffer_micros().is_none());
        let Some(window) = window else {
            return (i64::MIN, i64::MAX);
        };
        let times = self.new_posts.iter().map(|m| to_micros(m.posted_at));
        let first = times.clone().min().unwrap_or(i64::MAX);
        let last = times.max().unwrap_or(i64::MIN);
        (first.saturating_sub(window), last.saturating_add(window))
    }
}

/// Step 4: which pending posts earn. `pending` holds each pair's pending posts (the new ones
/// included), oldest first; `open` the pairs that can still earn, with their progress.
pub fn count<'a>(open: &[(&Tally<'a>, Progress)], mut pending: Pending) -> Counted<'a> {
    let mut counted = Counted::default();
    for (tally, progress) in open {
        let key = tally.key();
        let Some(posts) = pending.remove(&key) else {
            continue;
        };
        let candidates: Vec<Candidate> = posts
            .iter()
            .map(|m| Candidate {
                media_id: m.id.clone(),
                posted_at: to_micros(m.posted_at),
            })
            .collect();
        let rule = tally.rule;
        let buffer = rule.buffer_micros();
        let counting = match buffer {
            Some(buffer) => spaced(&candidates, progress.last_counted_at, buffer),
            None => candidates,
        };
        let left = rule
            .limit()
            .map(|limit| limit.saturating_sub(progress.rewarded));
        let groups = earned_groups(rule, &counting, left);
        if groups.is_empty() {
            continue;
        }
        let by_id: HashMap<&MediaId, &Media> = posts.iter().map(|m| (&m.id, m)).collect();
        let in_rewards: HashSet<MediaId> = groups
            .iter()
            .flatten()
            .map(|c| c.media_id.clone())
            .collect();
        let earned = u32::try_from(groups.len()).unwrap_or(u32::MAX);
        let closes = left.is_some_and(|left| earned >= left);
        let last = groups
            .last()
            .and_then(|g| g.last())
            .map(|c| c.posted_at)
            .unwrap_or(i64::MIN);
        for group in groups {
            let medias: Vec<Media> = group
                .iter()
                .filter_map(|c| by_id.get(&c.media_id).map(|m| (*m).clone()))
                .collect();
            if !closes {
                counted
                    .used
                    .extend(medias.iter().map(|m| (rule.id.clone(), m.id.clone())));
            }
            counted.grants.push(Grant {
                rule,
                creator: tally.creator,
                medias,
            });
        }
        if closes {
            // Its limit reached: the pair's pending posts can never count.
            counted.closed.push(key.clone());
        } else if buffer.is_some() {
            // Posts the buffer skipped before the last one counted can never count.
            let skipped: Vec<(RuleId, MediaId)> = posts
                .iter()
                .filter(|m| to_micros(m.posted_at) <= last && !in_rewards.contains(&m.id))
                .map(|m| (rule.id.clone(), m.id.clone()))
                .collect();
            counted.used.extend(skipped);
        }
        if buffer.is_some() {
            counted.last_counted.push((key.clone(), last));
        }
        counted.rewarded.push((key, earned));
    }
    counted
}

impl Grant<'_> {
    /// Step 5: the reward made concrete, sent to the rule's targets among `active` that
    /// subscribe to its event type, each in the format it takes: `receives` says both (`None`:
    /// not subscribed).
    pub fn award(
        &self,
        active: &[IntegrationId],
        receives: impl Fn(&IntegrationId, EventType) -> Option<PayloadFormat>,
    ) -> Result<Award> {
        let reward = self.rule.reward.as_ref().ok_or_else(|| {
            Error::Corrupt(format!("instant rule {} has no reward", self.rule.id))
        })?;
        self.award_of(reward, active, receives)
    }

    /// [`Grant::award`] with `reward`: a monthly rule's is its tier's.
    pub fn award_of(
        &self,
        reward: &Reward,
        active: &[IntegrationId],
        receives: impl Fn(&IntegrationId, EventType) -> Option<PayloadFormat>,
    ) -> Result<Award> {
        let event_type = self.rule.event_type();
        let fulfillment_id = FulfillmentId::generate();
        let discount_code = match reward {
            Reward::DiscountCode { code_prefix } => Some(discount_code(code_prefix.as_deref())),
            Reward::None {} => None,
        };
        let payload = Payload::for_fulfillment(
            &fulfillment_id.to_string(),
            self.creator,
            discount_code.clone(),
            &self.medias,
        );
        let deliveries: Vec<_> = self
            .rule
            .targets(active)
            .filter_map(|i| Some((DeliveryId::generate(), i.clone(), receives(i, event_type)?)))
            .collect();
        let posts_body = deliveries
            .iter()
            .any(|(_, _, f)| *f == PayloadFormat::Posts)
            .then(|| payload.to_body_as(PayloadFormat::Posts))
            .transpose()?
            .map(Arc::from);
        Ok(Award {
            rule_id: self.rule.id.clone(),
            creator_id: self.creator.id.clone(),
            once_key: self.rule.once_key(&self.creator.id),
            media_ids: self.medias.iter().map(|m| m.id.clone()).collect(),
            deliveries,
            event_type,
            fulfillment_id,
            discount_code,
            body: payload.to_body()?.into(),
            posts_body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{time, PostType};
    use crate::rules::matching::tests::{post, rule};

    const DAY: i64 = 86_400 * 1_000_000;

    fn creator(id: &str) -> Creator {
        Creator {
            id: CreatorId::named(id),
            email: format!("{id}@example.com"),
            ig_username: None,
            tt_username: None,
            created_at: time::from_micros(0),
        }
    }

    fn creators(ids: &[&str]) -> HashMap<CreatorId, Creator> {
        ids.iter()
            .map(|id| (CreatorId::named(id), creator(id)))
            .collect()
    }

    fn named(id: &str, mut r: Rule) -> Rule {
        r.id = RuleId::named(id);
        r
    }

    #[test]
    fn posts_are_tallied_by_rule_and_creator_in_lock_order() {
        let rules = [named("r2", rule(2, None)), named("r1", rule(2, None))];
        let posts = [
            post("m1", "cb", 0),
            post("m2", "ca", 0),
            post("m3", "cb", 1),
        ];
        let who = creators(&["ca", "cb"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert!(matched.instant.is_empty());
        let keys: Vec<(&RuleId, &CreatorId, usize)> = matched
            .tallies
            .iter()
            .map(|t| (&t.rule.id, &t.creator.id, t.new_posts.len()))
            .collect();
        let (r1, r2) = (RuleId::named("r1"), RuleId::named("r2"));
        let (ca, cb) = (CreatorId::named("ca"), CreatorId::named("cb"));
        assert_eq!(
            keys,
            [(&r1, &ca, 1), (&r1, &cb, 2), (&r2, &ca, 1), (&r2, &cb, 2)]
        );
    }

    #[test]
    fn a_rule_where_every_post_earns_grants_at_once() {
        let rules = [rule(1, None)];
        let posts = [post("m1", "c", 0), post("m2", "c", 1)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert!(matched.tallies.is_empty());
        assert_eq!(matched.instant.len(), 2);
        assert_eq!(matched.instant[1].medias[0].id, MediaId::named("m2"));
    }

    #[test]
    fn posts_the_rule_does_not_count_are_left_out() {
        let rules = [rule(2, None)];
        let mut feed = post("feed", "c", 0);
        feed.post_type = PostType::Feed;
        let mut early = post("early", "c", 0);
        early.ingested_at = time::from_micros(0);
        let (posts, who) = ([feed, early], creators(&["c"]));
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert!(matched.tallies.is_empty() && matched.instant.is_empty());
        let (orphans, nobody) = ([post("m", "nobody", 0)], creators(&[]));
        let orphan = match_posts(&orphans, &nobody, &rules, &Eligibility::default());
        assert!(
            orphan.is_err(),
            "a post without its creator is corrupt data"
        );
    }

    #[test]
    fn a_repeatable_rule_uses_up_the_posts_it_counted() {
        let rules = [rule(2, None)];
        let posts = [post("m3", "c", 3)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        let tally = &matched.tallies[0];
        assert!(tally.can_earn(5), "repeatable");
        let pending = Pending::from([(
            tally.key(),
            vec![post("m1", "c", 1), post("m2", "c", 2), post("m3", "c", 3)],
        )]);
        let counted = count(&[(tally, Progress::default())], pending);
        assert_eq!(counted.grants.len(), 1);
        let earned: Vec<&MediaId> = counted.grants[0].medias.iter().map(|m| &m.id).collect();
        assert_eq!(
            earned,
            [&MediaId::named("m1"), &MediaId::named("m2")],
            "the oldest two; m3 stays pending"
        );
        assert_eq!(counted.used.len(), 2);
        assert!(counted.closed.is_empty());
        assert_eq!(counted.rewarded, [(tally.key(), 1)]);
    }

    #[test]
    fn a_rule_earned_once_closes_its_pair() {
        let mut once = rule(2, None);
        once.repeatable = false;
        let rules = [once];
        let posts = [post("m2", "c", 2)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        let tally = &matched.tallies[0];
        assert!(tally.can_earn(0));
        assert!(!tally.can_earn(1), "rewarded before");
        let pending = Pending::from([(
            tally.key(),
            vec![post("m1", "c", 1), post("m2", "c", 2), post("m9", "c", 9)],
        )]);
        let counted = count(&[(tally, Progress::default())], pending);
        assert_eq!(counted.grants.len(), 1);
        assert!(counted.used.is_empty(), "the pair's posts leave with it");
        assert_eq!(counted.closed, [tally.key()]);
    }

    /// The one tally `posts` make toward `r`, counted over `pending` from `progress`.
    fn counted_once(
        r: &Rule,
        pending_days: &[i64],
        progress: Progress,
    ) -> (usize, Vec<Vec<String>>, Vec<String>, bool) {
        let rules = [r.clone()];
        let last = *pending_days.last().expect("a post");
        let posts = [post(&format!("m{last}"), "c", last)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        let tally = &matched.tallies[0];
        let pending = Pending::from([(
            tally.key(),
            pending_days
                .iter()
                .map(|d| post(&format!("m{d}"), "c", *d))
                .collect(),
        )]);
        let counted = count(&[(tally, progress)], pending);
        let name = |id: &MediaId| {
            pending_days
                .iter()
                .map(|d| format!("m{d}"))
                .find(|n| MediaId::named(n) == *id)
                .unwrap_or_default()
        };
        let grants = counted
            .grants
            .iter()
            .map(|g| g.medias.iter().map(|m| name(&m.id)).collect())
            .collect();
        let used = counted.used.iter().map(|(_, m)| name(m)).collect();
        (
            counted.grants.len(),
            grants,
            used,
            !counted.closed.is_empty(),
        )
    }

    #[test]
    fn the_fulfillment_limit_is_never_exceeded() {
        let mut r = rule(2, None);
        r.options.fulfillment_limit = Some(2);
        let days = [1, 2, 3, 4, 5, 6, 7, 8];
        let (earned, _, _, closed) = counted_once(&r, &days, Progress::default());
        assert_eq!(earned, 2, "eight posts, count 2, limit 2");
        assert!(closed, "the limit reached closes the pair");
        let once_before = Progress {
            rewarded: 1,
            last_counted_at: None,
        };
        let (earned, _, _, closed) = counted_once(&r, &days, once_before);
        assert_eq!(earned, 1, "one left");
        assert!(closed);
        let rules = [r.clone()];
        let (posts, who) = ([post("m", "c", 1)], creators(&["c"]));
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert!(matched.tallies[0].can_earn(1));
        assert!(!matched.tallies[0].can_earn(2), "limit reached");
        let (earned, _, used, closed) = counted_once(&r, &[1, 2, 3], Progress::default());
        assert_eq!((earned, closed), (1, false), "under the limit: still open");
        assert_eq!(used, ["m1", "m2"]);
    }

    #[test]
    fn a_one_post_rule_with_a_limit_keeps_count() {
        let mut r = rule(1, None);
        r.options.fulfillment_limit = Some(3);
        let rules = [r];
        let posts = [post("m1", "c", 1)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert!(matched.instant.is_empty(), "counted, not granted at once");
        assert_eq!(matched.tallies.len(), 1);
    }

    #[test]
    fn a_post_inside_the_buffer_does_not_count() {
        let mut r = rule(2, None);
        r.options.buffer_days = Some(7);
        let (earned, grants, used, _) = counted_once(&r, &[0, 3, 6, 7], Progress::default());
        assert_eq!(earned, 1);
        assert_eq!(
            grants,
            [["m0", "m7"]],
            "3 and 6 fall inside the buffer after 0"
        );
        assert_eq!(
            used,
            ["m0", "m7", "m3", "m6"],
            "skipped posts before the last counted leave"
        );
        let (earned, ..) = counted_once(&r, &[0, 3, 6], Progress::default());
        assert_eq!(earned, 0);
        let after = Progress {
            rewarded: 1,
            last_counted_at: Some(10 * DAY),
        };
        let (earned, grants, ..) = counted_once(&r, &[12, 17, 24], after);
        assert_eq!(earned, 1);
        assert_eq!(
            grants,
            [["m17", "m24"]],
            "the buffer runs on from the last post a reward counted"
        );
    }

    #[test]
    fn a_buffer_reads_every_pending_post() {
        let mut r = rule(2, Some(7));
        r.options.buffer_days = Some(1);
        let rules = [r];
        let posts = [post("m", "c", 10)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert_eq!(matched.tallies[0].reach(), (i64::MIN, i64::MAX));
    }

    #[test]
    fn a_creator_the_options_leave_out_is_not_tallied() {
        let mut r = rule(2, None);
        r.options.min_followers = Some(10);
        let rules = [r];
        let posts = [post("m", "c", 1)];
        let who = creators(&["c"]);
        let matched = match_posts(&posts, &who, &rules, &Eligibility::default()).expect("matched");
        assert!(
            matched.tallies.is_empty(),
            "no profile read: followers unknown"
        );
    }

    #[test]
    fn a_window_bounds_what_is_read() {
        let rules = [rule(2, Some(7)), rule(2, None)];
        let posts = [post("m", "c", 10)];
        let who = creators(&["c"]);
        let windowed =
            match_posts(&posts, &who, &rules[..1], &Eligibility::default()).expect("matched");
        assert_eq!(windowed.tallies[0].reach(), (3 * DAY, 17 * DAY));
        let open =
            match_posts(&posts, &who, &rules[1..], &Eligibility::default()).expect("matched");
        assert_eq!(open.tallies[0].reach(), (i64::MIN, i64::MAX));
    }

    #[test]
    fn an_award_carries_its_code_once_key_body_and_deliveries() {
        let mut r = rule(1, None);
        r.repeatable = false;
        r.reward = Some(Reward::DiscountCode {
            code_prefix: Some("SUMMER-".into()),
        });
        r.integration_ids = Some(vec![IntegrationId::named("b")]);
        let who = creator("c");
        let grant = Grant {
            rule: &r,
            creator: &who,
            medias: vec![post("m1", "c", 1)],
        };
        let active = [IntegrationId::named("a"), IntegrationId::named("b")];
        let award = grant
            .award(&active, |_, _| Some(PayloadFormat::Medias))
            .expect("award");
        assert_eq!(award.posts_body, None, "nobody takes the posts format");
        let posts = grant
            .award(&active, |_, _| Some(PayloadFormat::Posts))
            .expect("award");
        assert_eq!(posts.deliveries[0].2, PayloadFormat::Posts);
        let posts_body: serde_json::Value =
            serde_json::from_str(posts.posts_body.as_deref().expect("built")).expect("JSON");
        assert_eq!(posts_body["posts"][0]["platform"], "instagram");
        let code = award.discount_code.clone().expect("a code");
        assert!(code.starts_with("SUMMER-"), "{code}");
        let once = format!("{}:{}", RuleId::named("r"), CreatorId::named("c"));
        assert_eq!(award.once_key.as_deref(), Some(once.as_str()));
        assert_eq!(award.media_ids, [MediaId::named("m1")]);
        assert_eq!(award.deliveries.len(), 1);
        assert_eq!(award.deliveries[0].1, IntegrationId::named("b"));
        let body: serde_json::Value = serde_json::from_str(&award.body).expect("JSON");
        assert_eq!(body["lcId"], award.fulfillment_id.to_string());
        assert_eq!(body["discountCode"], code.as_str());
        assert_eq!(body["medias"][0]["lcId"], MediaId::named("m1").to_string());
    }
}
