//! What one batch of new posts earns. The store reads the posts, the rules and, for the rules
//! that keep count, each pair's rewards so far and pending posts; these functions decide; the
//! store writes what they decided, in the transaction that took the posts.
//!
//! The steps, in the store's order:
//! 1. [`match_posts`]: which rules count which new post. A rule where every post earns grants
//!    at once; the others get a [`Tally`] per (rule, creator), in the order the store locks them.
//! 2. The store locks each tally's pair and reads how often it was rewarded; a pair that
//!    [`Tally::can_earn`] no more is dropped, the others' new posts are stored as pending.
//! 3. The store reads each pair's pending posts within the tally's [`Tally::reach`].
//! 4. [`count`]: which pending posts earn, and what leaves the pending list.
//! 5. [`Grant::award`]: each reward made concrete (ids, code, body, deliveries), to write.

use std::collections::{BTreeMap, HashMap};

use super::{discount_code, earned_groups, Candidate};
use crate::domain::time::to_micros;
use crate::domain::{
    Creator, CreatorId, DeliveryId, FulfillmentId, IntegrationId, Media, MediaId, PayloadFormat,
    Reward, Rule, RuleId,
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
    pub body: String,
    /// The body in the `posts` format, built when a target integration takes that format;
    /// its deliveries carry it.
    pub posts_body: Option<String>,
    pub deliveries: Vec<(DeliveryId, IntegrationId, PayloadFormat)>,
}

/// Step 1: which rules count which of `posts`.
pub fn match_posts<'a>(
    posts: &'a [Media],
    creators: &'a HashMap<CreatorId, Creator>,
    rules: &'a [Rule],
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
        for rule in rules.iter().filter(|r| r.counts(post)) {
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
        self.rule.repeatable || rewarded_before == 0
    }

    /// Step 3: the `posted_at` range (µs) a reward with one of the new posts can span. Pending
    /// posts never formed a reward among themselves, so a new reward holds a new post and lies
    /// within a window of it: what is further away need not be read. Without a window: all.
    pub fn reach(&self) -> (i64, i64) {
        let Some(window) = self.rule.window_micros() else {
            return (i64::MIN, i64::MAX);
        };
        let times = self.new_posts.iter().map(|m| to_micros(m.posted_at));
        let first = times.clone().min().unwrap_or(i64::MAX);
        let last = times.max().unwrap_or(i64::MIN);
        (first.saturating_sub(window), last.saturating_add(window))
    }
}

/// Step 4: which pending posts earn. `pending` holds each pair's pending posts (the new ones
/// included), oldest first; `tallies` the pairs that can still earn.
pub fn count<'a>(tallies: &[&Tally<'a>], mut pending: Pending) -> Counted<'a> {
    let mut counted = Counted::default();
    for tally in tallies {
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
        let groups = earned_groups(rule, &candidates, (!rule.repeatable).then_some(1));
        if groups.is_empty() {
            continue;
        }
        let by_id: HashMap<&MediaId, &Media> = posts.iter().map(|m| (&m.id, m)).collect();
        let earned = groups.len();
        for group in groups {
            let medias: Vec<Media> = group
                .iter()
                .filter_map(|c| by_id.get(&c.media_id).map(|m| (*m).clone()))
                .collect();
            if rule.repeatable {
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
        if !rule.repeatable {
            counted.closed.push(key.clone());
        }
        counted
            .rewarded
            .push((key, u32::try_from(earned).unwrap_or(u32::MAX)));
    }
    counted
}

impl Grant<'_> {
    /// Step 5: the reward made concrete, sent to the rule's targets among `active`, each in
    /// the format `format_of` says it takes.
    pub fn award(
        &self,
        active: &[IntegrationId],
        format_of: impl Fn(&IntegrationId) -> PayloadFormat,
    ) -> Result<Award> {
        let fulfillment_id = FulfillmentId::generate();
        let discount_code = match &self.rule.reward {
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
            .map(|i| (DeliveryId::generate(), i.clone(), format_of(i)))
            .collect();
        let posts_body = deliveries
            .iter()
            .any(|(_, _, f)| *f == PayloadFormat::Posts)
            .then(|| payload.to_body_as(PayloadFormat::Posts))
            .transpose()?;
        Ok(Award {
            rule_id: self.rule.id.clone(),
            creator_id: self.creator.id.clone(),
            once_key: self.rule.once_key(&self.creator.id),
            media_ids: self.medias.iter().map(|m| m.id.clone()).collect(),
            deliveries,
            fulfillment_id,
            discount_code,
            body: payload.to_body()?,
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
        let matched = match_posts(&posts, &who, &rules).expect("matched");
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
        let matched = match_posts(&posts, &who, &rules).expect("matched");
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
        let matched = match_posts(&posts, &who, &rules).expect("matched");
        assert!(matched.tallies.is_empty() && matched.instant.is_empty());
        let (orphans, nobody) = ([post("m", "nobody", 0)], creators(&[]));
        let orphan = match_posts(&orphans, &nobody, &rules);
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
        let matched = match_posts(&posts, &who, &rules).expect("matched");
        let tally = &matched.tallies[0];
        assert!(tally.can_earn(5), "repeatable");
        let pending = Pending::from([(
            tally.key(),
            vec![post("m1", "c", 1), post("m2", "c", 2), post("m3", "c", 3)],
        )]);
        let counted = count(&[tally], pending);
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
        let matched = match_posts(&posts, &who, &rules).expect("matched");
        let tally = &matched.tallies[0];
        assert!(tally.can_earn(0));
        assert!(!tally.can_earn(1), "rewarded before");
        let pending = Pending::from([(
            tally.key(),
            vec![post("m1", "c", 1), post("m2", "c", 2), post("m9", "c", 9)],
        )]);
        let counted = count(&[tally], pending);
        assert_eq!(counted.grants.len(), 1);
        assert!(counted.used.is_empty(), "the pair's posts leave with it");
        assert_eq!(counted.closed, [tally.key()]);
    }

    #[test]
    fn a_window_bounds_what_is_read() {
        let rules = [rule(2, Some(7)), rule(2, None)];
        let posts = [post("m", "c", 10)];
        let who = creators(&["c"]);
        let windowed = match_posts(&posts, &who, &rules[..1]).expect("matched");
        assert_eq!(windowed.tallies[0].reach(), (3 * DAY, 17 * DAY));
        let open = match_posts(&posts, &who, &rules[1..]).expect("matched");
        assert_eq!(open.tallies[0].reach(), (i64::MIN, i64::MAX));
    }

    #[test]
    fn an_award_carries_its_code_once_key_body_and_deliveries() {
        let mut r = rule(1, None);
        r.repeatable = false;
        r.reward = Reward::DiscountCode {
            code_prefix: Some("SUMMER-".into()),
        };
        r.integration_ids = Some(vec![IntegrationId::named("b")]);
        let who = creator("c");
        let grant = Grant {
            rule: &r,
            creator: &who,
            medias: vec![post("m1", "c", 1)],
        };
        let active = [IntegrationId::named("a"), IntegrationId::named("b")];
        let award = grant
            .award(&active, |_| PayloadFormat::Medias)
            .expect("award");
        assert_eq!(award.posts_body, None, "nobody takes the posts format");
        let posts = grant
            .award(&active, |_| PayloadFormat::Posts)
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
