//! What a rule looks at: the posts it counts, the integrations its rewards go to, and whether a
//! creator may earn it again.

use crate::domain::{CreatorId, IntegrationId, Media, Platform, PostType, Rule};

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

impl Rule {
    /// Does the rule count a post of this type on this platform (while it is active)?
    pub fn takes(&self, post_type: PostType, platform: Platform) -> bool {
        let type_ok = self.post_types.is_empty() || self.post_types.contains(&post_type);
        let platform_ok = self
            .platforms
            .as_ref()
            .is_none_or(|p| p.contains(&platform));
        self.active && type_ok && platform_ok
    }

    /// Does the rule count this post? It counts posts that arrive while it is active, so a
    /// post received before the rule was made does not count, whenever it was posted.
    pub fn counts(&self, post: &Media) -> bool {
        self.takes(post.post_type, post.platform) && post.ingested_at >= self.created_at
    }

    /// Every post earns on its own (repeatable, one post a reward): nothing is shared between
    /// posts, so nothing needs counting or locking.
    pub fn every_post_earns(&self) -> bool {
        self.repeatable && self.count == 1
    }

    /// How far apart (µs) the posts of one reward may be; `None` without a window.
    pub fn window_micros(&self) -> Option<i64> {
        self.window_days
            .map(|d| i64::from(d).saturating_mul(MICROS_PER_DAY))
    }

    /// The integrations its rewards go to, among the active ones: those it names, or every one.
    pub fn targets<'a>(
        &'a self,
        active: &'a [IntegrationId],
    ) -> impl Iterator<Item = &'a IntegrationId> + 'a {
        active.iter().filter(|id| {
            self.integration_ids
                .as_ref()
                .is_none_or(|named| named.contains(id))
        })
    }

    /// The key that makes the database refuse a second reward of a non-repeatable rule to one
    /// creator, however many instances evaluate at once; `None` for a repeatable rule.
    pub fn once_key(&self, creator: &CreatorId) -> Option<String> {
        (!self.repeatable).then(|| format!("{}:{}", self.id, creator))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{time, MediaId, Reward, RuleId};

    pub(in crate::rules) fn rule(count: u32, window_days: Option<u32>) -> Rule {
        Rule {
            id: RuleId::named("r"),
            name: "2 Story posts".into(),
            post_types: vec![PostType::Story],
            platforms: None,
            count,
            window_days,
            repeatable: true,
            reward: Reward::None {},
            integration_ids: None,
            active: true,
            created_at: time::from_micros(1_000),
            updated_at: time::from_micros(1_000),
        }
    }

    pub(in crate::rules) fn post(id: &str, creator: &str, day: i64) -> Media {
        Media {
            id: MediaId::named(id),
            creator_id: CreatorId::named(creator),
            platform: Platform::Instagram,
            post_type: PostType::Story,
            posted_at: time::from_micros(day * MICROS_PER_DAY),
            ingested_at: time::from_micros(2_000),
            external_id: None,
            media_type: None,
        }
    }

    #[test]
    fn post_types_and_platforms_filter() {
        let mut r = rule(2, None);
        assert!(r.takes(PostType::Story, Platform::Tiktok));
        assert!(!r.takes(PostType::Feed, Platform::Instagram));
        r.platforms = Some(vec![Platform::Instagram]);
        assert!(!r.takes(PostType::Story, Platform::Tiktok));
        r.post_types = vec![];
        assert!(r.takes(PostType::Reel, Platform::Instagram));
        r.active = false;
        assert!(!r.takes(PostType::Reel, Platform::Instagram));
    }

    #[test]
    fn a_post_received_before_the_rule_does_not_count() {
        let r = rule(2, None);
        let mut p = post("m", "c", 0);
        assert!(r.counts(&p));
        p.ingested_at = time::from_micros(999);
        assert!(!r.counts(&p), "received before the rule was made");
    }

    #[test]
    fn a_rule_targets_what_it_names_among_the_active() {
        let active = [IntegrationId::named("a"), IntegrationId::named("b")];
        let mut r = rule(1, None);
        assert_eq!(r.targets(&active).count(), 2, "no list: every active one");
        r.integration_ids = Some(vec![
            IntegrationId::named("b"),
            IntegrationId::named("gone"),
        ]);
        let named: Vec<&IntegrationId> = r.targets(&active).collect();
        assert_eq!(named, [&IntegrationId::named("b")]);
        r.integration_ids = Some(vec![]);
        assert_eq!(r.targets(&active).count(), 0, "an empty list: none");
    }

    #[test]
    fn only_a_rule_earned_once_has_a_once_key() {
        let mut r = rule(2, None);
        assert_eq!(r.once_key(&CreatorId::named("c")), None);
        r.repeatable = false;
        let once = format!("{}:{}", RuleId::named("r"), CreatorId::named("c"));
        assert_eq!(r.once_key(&CreatorId::named("c")), Some(once));
        assert!(!r.every_post_earns());
    }
}
