//! What a rule looks at: the posts it counts, the integrations its rewards go to, and whether a
//! creator may earn it again.

use std::collections::HashMap;

use crate::domain::time::to_micros;
use crate::domain::{
    CreatorId, IntegrationId, Media, MemberStatus, Platform, PostType, Profile, ProgramId, Rule,
    Standing,
};

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

impl Rule {
    /// Does the rule count a post of this type on this platform (while it is active)?
    pub fn takes(&self, post_type: PostType, platform: Platform) -> bool {
        self.active && self.takes_kind(post_type, platform)
    }

    /// Does the rule count a post of this type on this platform, active or not? (A month is
    /// run after it ends, whatever the rule's state by then.)
    pub fn takes_kind(&self, post_type: PostType, platform: Platform) -> bool {
        let type_ok = self.post_types.is_empty() || self.post_types.contains(&post_type);
        let platform_ok = self
            .platforms
            .as_ref()
            .is_none_or(|p| p.contains(&platform));
        type_ok && platform_ok
    }

    /// Does the rule count this post? It counts posts that arrive while it is active, so a
    /// post received before the rule was made does not count, whenever it was posted.
    pub fn counts(&self, post: &Media) -> bool {
        self.takes(post.post_type, post.platform) && post.ingested_at >= self.created_at
    }

    /// Does the creator qualify, and does the post fall where the rule's program and timeframe
    /// say, by what the store read about them (`about`)? Always, for a rule without LoudCrowd's
    /// options.
    pub fn admits(&self, post: &Media, about: &Eligibility) -> bool {
        let options = &self.options;
        // A post of unknown media type matches no list of types.
        if !options.media_types.is_empty()
            && !post
                .media_type
                .is_some_and(|t| options.media_types.contains(&t))
        {
            return false;
        }
        if self.needs_profile() {
            let Some(profile) = about.profiles.get(&post.creator_id) else {
                return false;
            };
            // Unknown followers do not reach any minimum.
            if let Some(min) = options.min_followers {
                if profile.followers.is_none_or(|f| f < min) {
                    return false;
                }
            }
            if !options.segments.is_empty()
                && !profile
                    .segments
                    .iter()
                    .any(|s| options.segments.contains(s))
            {
                return false;
            }
        }
        if let Some(program) = &options.program_id {
            let member = about
                .members
                .get(program)
                .and_then(|members| members.get(&post.creator_id));
            let Some(Standing {
                status: MemberStatus::Approved,
                approved_at: Some(approved_at),
            }) = member
            else {
                return false;
            };
            let posted = to_micros(post.posted_at);
            let approved = to_micros(*approved_at);
            if posted < approved {
                return false;
            }
            if let Some(days) = options.timeframe_days {
                if posted - approved > days_micros(days) {
                    return false;
                }
            }
        }
        true
    }

    /// Whether [`Rule::admits`] reads the creator's followers and segments.
    pub fn needs_profile(&self) -> bool {
        self.options.min_followers.is_some() || !self.options.segments.is_empty()
    }

    /// Every post earns on its own (repeatable, one post a reward, no limit or buffer): nothing
    /// is shared between posts, so nothing needs counting or locking.
    pub fn every_post_earns(&self) -> bool {
        self.repeatable
            && self.count == Some(1)
            && self.options.fulfillment_limit.is_none()
            && self.options.buffer_days.is_none()
    }

    /// The most rewards one creator can earn: 1 if not repeatable, else the Fulfillment Limit
    /// (`None`: unlimited).
    pub fn limit(&self) -> Option<u32> {
        if self.repeatable {
            self.options.fulfillment_limit
        } else {
            Some(1)
        }
    }

    /// The Buffer Limit (µs) between posts that count; `None` without one.
    pub fn buffer_micros(&self) -> Option<i64> {
        self.options.buffer_days.map(days_micros)
    }

    /// How far apart (µs) the posts of one reward may be; `None` without a window.
    pub fn window_micros(&self) -> Option<i64> {
        self.window_days.map(days_micros)
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

fn days_micros(days: u32) -> i64 {
    i64::from(days).saturating_mul(MICROS_PER_DAY)
}

/// What the store read about who posted, for the rules with LoudCrowd's options: empty when no
/// rule needs it (nothing is read then).
#[derive(Debug, Default)]
pub struct Eligibility {
    /// Followers and segments of the creators who posted, when a rule filters on them.
    pub profiles: HashMap<CreatorId, Profile>,
    /// Members of the programs rules name, among the creators who posted, by program.
    pub members: HashMap<ProgramId, HashMap<CreatorId, Standing>>,
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{time, MediaId, MediaType, Reward, RuleId, RuleOptions};

    pub(in crate::rules) fn rule(count: u32, window_days: Option<u32>) -> Rule {
        Rule {
            id: RuleId::named("r"),
            name: "2 Story posts".into(),
            post_types: vec![PostType::Story],
            platforms: None,
            count: Some(count),
            window_days,
            repeatable: true,
            reward: Some(Reward::None {}),
            integration_ids: None,
            active: true,
            options: RuleOptions::default(),
            schedule: crate::domain::Schedule::Instant,
            tiers: None,
            time_zone: None,
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

    fn approved(program: &ProgramId, creator: &str, day: i64) -> Eligibility {
        let standing = Standing {
            status: MemberStatus::Approved,
            approved_at: Some(time::from_micros(day * MICROS_PER_DAY)),
        };
        Eligibility {
            members: HashMap::from([(
                program.clone(),
                HashMap::from([(CreatorId::named(creator), standing)]),
            )]),
            ..Eligibility::default()
        }
    }

    fn profiled(creator: &str, followers: Option<u32>, segments: &[&str]) -> Eligibility {
        let profile = Profile {
            followers,
            segments: segments.iter().map(|s| s.to_string()).collect(),
        };
        Eligibility {
            profiles: HashMap::from([(CreatorId::named(creator), profile)]),
            ..Eligibility::default()
        }
    }

    #[test]
    fn a_rule_without_options_admits_every_post_without_reading_anything() {
        let r = rule(2, None);
        assert!(!r.needs_profile());
        assert!(r.admits(&post("m", "c", 0), &Eligibility::default()));
    }

    #[test]
    fn a_post_before_approval_does_not_count() {
        let program = ProgramId::generate();
        let mut r = rule(2, None);
        r.options.program_id = Some(program.clone());
        let about = approved(&program, "c", 10);
        assert!(!r.admits(&post("early", "c", 9), &about));
        assert!(r.admits(&post("on-time", "c", 10), &about));
        assert!(r.admits(&post("later", "c", 400), &about));
    }

    #[test]
    fn only_approved_members_of_the_program_count() {
        let program = ProgramId::generate();
        let mut r = rule(2, None);
        r.options.program_id = Some(program.clone());
        assert!(
            !r.admits(&post("m", "c", 20), &Eligibility::default()),
            "no member"
        );
        assert!(!r.admits(&post("m", "other", 20), &approved(&program, "c", 10)));
        let other_program = approved(&ProgramId::generate(), "c", 10);
        assert!(!r.admits(&post("m", "c", 20), &other_program));
        for status in [
            MemberStatus::Pending,
            MemberStatus::Rejected,
            MemberStatus::Removed,
        ] {
            let mut about = approved(&program, "c", 10);
            for member in about.members.values_mut().flat_map(|m| m.values_mut()) {
                member.status = status;
            }
            assert!(!r.admits(&post("m", "c", 20), &about), "{status:?}");
        }
    }

    #[test]
    fn a_post_after_the_timeframe_does_not_count() {
        let program = ProgramId::generate();
        let mut r = rule(2, None);
        r.options.program_id = Some(program.clone());
        r.options.timeframe_days = Some(30);
        let about = approved(&program, "c", 10);
        assert!(r.admits(&post("last-day", "c", 40), &about));
        let mut late = post("late", "c", 40);
        late.posted_at = time::from_micros(40 * MICROS_PER_DAY + 1);
        assert!(!r.admits(&late, &about));
    }

    #[test]
    fn a_post_of_another_or_unknown_media_type_does_not_count() {
        let mut r = rule(2, None);
        r.options.media_types = vec![MediaType::Video];
        let mut video = post("v", "c", 0);
        video.media_type = Some(MediaType::Video);
        let mut image = post("i", "c", 0);
        image.media_type = Some(MediaType::Image);
        let unknown = post("u", "c", 0);
        assert!(r.admits(&video, &Eligibility::default()));
        assert!(!r.admits(&image, &Eligibility::default()));
        assert!(!r.admits(&unknown, &Eligibility::default()));
        r.options.media_types = Vec::new();
        assert!(r.admits(&unknown, &Eligibility::default()), "empty: any");
    }

    #[test]
    fn a_creator_outside_the_segments_does_not_earn() {
        let mut r = rule(2, None);
        r.options.segments = vec!["EU".into(), "VIP".into()];
        assert!(r.needs_profile());
        assert!(r.admits(&post("m", "c", 0), &profiled("c", None, &["US", "VIP"])));
        assert!(!r.admits(&post("m", "c", 0), &profiled("c", None, &["US"])));
        assert!(!r.admits(&post("m", "c", 0), &profiled("c", None, &[])));
        assert!(
            !r.admits(&post("m", "c", 0), &profiled("c", None, &["eu"])),
            "exact labels"
        );
    }

    #[test]
    fn too_few_followers_do_not_earn() {
        let mut r = rule(2, None);
        r.options.min_followers = Some(1_000);
        assert!(r.admits(&post("m", "c", 0), &profiled("c", Some(1_000), &[])));
        assert!(!r.admits(&post("m", "c", 0), &profiled("c", Some(999), &[])));
        assert!(
            !r.admits(&post("m", "c", 0), &profiled("c", None, &[])),
            "unknown followers do not qualify"
        );
        assert!(!r.admits(&post("m", "c", 0), &Eligibility::default()));
    }

    #[test]
    fn a_limit_or_a_buffer_makes_a_one_post_rule_keep_count() {
        let mut r = rule(1, None);
        assert!(r.every_post_earns());
        assert_eq!(r.limit(), None, "repeatable, no limit: unlimited");
        r.options.fulfillment_limit = Some(3);
        assert!(!r.every_post_earns());
        assert_eq!(r.limit(), Some(3));
        r.options.fulfillment_limit = None;
        r.options.buffer_days = Some(7);
        assert!(!r.every_post_earns());
        r.repeatable = false;
        assert_eq!(r.limit(), Some(1), "not repeatable: once");
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
