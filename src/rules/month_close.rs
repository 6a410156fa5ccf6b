//! What one creator's month earns under a monthly rule: the posts of the month the rule counts
//! and the highest tier they reach. The store reads a chunk of creators with their posts of the
//! month (oldest first) and what the options need ([`Eligibility`]); these functions decide.

use super::monthly::{highest_tier_reached, TierNumber};
use super::{spaced, Candidate, Eligibility};
use crate::domain::time::to_micros;
use crate::domain::{Media, Reward, Rule};

/// A creator's month that reached a tier: the tier, its reward, and the posts counted.
#[derive(Debug, Clone)]
pub struct MonthEarned<'a> {
    pub tier: TierNumber,
    pub reward: &'a Reward,
    pub medias: Vec<Media>,
}

/// Of one creator's posts of the month (`posts`, oldest first), those `rule` counts: its post
/// types and platforms, its options ([`Rule::admits`]: program membership and approval,
/// timeframe, segments, followers, media types), then its Buffer Limit within the month, the
/// first post of the month counting.
pub fn counted_in_month(rule: &Rule, posts: &[Media], about: &Eligibility) -> Vec<Media> {
    let admitted: Vec<&Media> = posts
        .iter()
        .filter(|p| rule.takes_kind(p.post_type, p.platform) && rule.admits(p, about))
        .collect();
    let Some(buffer) = rule.buffer_micros() else {
        return admitted.into_iter().cloned().collect();
    };
    let candidates: Vec<Candidate> = admitted
        .iter()
        .map(|m| Candidate {
            media_id: m.id.clone(),
            posted_at: to_micros(m.posted_at),
        })
        .collect();
    let kept: std::collections::HashSet<_> = spaced(&candidates, None, buffer)
        .into_iter()
        .map(|c| c.media_id)
        .collect();
    admitted
        .into_iter()
        .filter(|m| kept.contains(&m.id))
        .cloned()
        .collect()
}

/// The highest tier of `rule` a creator's posts of the month reach, with the posts counted;
/// `None` below the first tier (or for a rule without tiers).
pub fn month_earned<'a>(
    rule: &'a Rule,
    posts: &[Media],
    about: &Eligibility,
) -> Option<MonthEarned<'a>> {
    let tiers = rule.tiers.as_deref()?;
    let counted = counted_in_month(rule, posts, about);
    let counts: Vec<u32> = tiers.iter().map(|t| t.count).collect();
    let tier = highest_tier_reached(&counts, counted.len() as u64)?;
    Some(MonthEarned {
        reward: &tiers.get(tier.index())?.reward,
        tier,
        medias: counted,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::{
        time, CreatorId, MediaType, MemberStatus, PostType, ProgramId, Schedule, Standing, Tier,
    };
    use crate::rules::matching::tests::{post, rule};

    const DAY: i64 = 86_400 * 1_000_000;

    fn monthly(counts: &[u32]) -> Rule {
        let mut r = rule(1, None);
        r.schedule = Schedule::Monthly;
        r.count = None;
        r.reward = None;
        r.repeatable = false;
        r.tiers = Some(
            counts
                .iter()
                .map(|&count| Tier {
                    count,
                    reward: Reward::DiscountCode {
                        code_prefix: Some(format!("T{count}-")),
                    },
                })
                .collect(),
        );
        r
    }

    fn posts(days: &[i64]) -> Vec<Media> {
        days.iter()
            .enumerate()
            .map(|(i, &d)| post(&format!("m{i}"), "c", d))
            .collect()
    }

    #[test]
    fn the_highest_tier_reached_earns_with_every_counted_post() {
        let r = monthly(&[1, 3, 5]);
        let earned =
            month_earned(&r, &posts(&[1, 2, 3, 4]), &Eligibility::default()).expect("a tier");
        assert_eq!(earned.tier.get(), 2);
        assert_eq!(
            earned.reward,
            &Reward::DiscountCode {
                code_prefix: Some("T3-".into())
            }
        );
        assert_eq!(earned.medias.len(), 4, "all the month's counted posts");
        assert!(month_earned(&r, &[], &Eligibility::default()).is_none());
    }

    #[test]
    fn below_the_first_tier_nothing_is_earned() {
        let r = monthly(&[3]);
        assert!(month_earned(&r, &posts(&[1, 2]), &Eligibility::default()).is_none());
    }

    #[test]
    fn posts_of_other_types_do_not_count_toward_a_tier() {
        let r = monthly(&[2]);
        let mut month = posts(&[1, 2]);
        month[1].post_type = PostType::Feed;
        assert!(month_earned(&r, &month, &Eligibility::default()).is_none());
    }

    #[test]
    fn an_inactive_rule_still_counts_its_ended_month() {
        let mut r = monthly(&[1]);
        r.active = false;
        assert!(month_earned(&r, &posts(&[1]), &Eligibility::default()).is_some());
    }

    #[test]
    fn the_buffer_applies_within_the_month_from_its_first_post() {
        let mut r = monthly(&[1, 3]);
        r.options.buffer_days = Some(7);
        // Days 1, 3 (inside the buffer), 8, 14 (inside), 15.
        let month = posts(&[1, 3, 8, 14, 15]);
        let counted = counted_in_month(&r, &month, &Eligibility::default());
        let ids: Vec<String> = counted.iter().map(|m| m.id.to_string()).collect();
        let expected: Vec<String> = [&month[0], &month[2], &month[4]]
            .iter()
            .map(|m| m.id.to_string())
            .collect();
        assert_eq!(ids, expected);
        let earned = month_earned(&r, &month, &Eligibility::default()).expect("tier");
        assert_eq!(earned.tier.get(), 2);
    }

    #[test]
    fn media_types_and_program_approval_filter_the_month() {
        let program = ProgramId::generate();
        let mut r = monthly(&[2]);
        r.options.program_id = Some(program.clone());
        r.options.media_types = vec![MediaType::Video];
        let mut month = posts(&[1, 5, 10]);
        for m in &mut month {
            m.media_type = Some(MediaType::Video);
        }
        let about = |approved_day: i64| Eligibility {
            members: HashMap::from([(
                program.clone(),
                HashMap::from([(
                    CreatorId::named("c"),
                    Standing {
                        status: MemberStatus::Approved,
                        approved_at: Some(time::from_micros(approved_day * DAY)),
                    },
                )]),
            )]),
            ..Eligibility::default()
        };
        assert_eq!(counted_in_month(&r, &month, &about(0)).len(), 3);
        assert_eq!(
            counted_in_month(&r, &month, &about(6)).len(),
            1,
            "posts before approval do not count"
        );
        month[2].media_type = Some(MediaType::Image);
        assert_eq!(counted_in_month(&r, &month, &about(0)).len(), 2);
        assert!(counted_in_month(&r, &month, &Eligibility::default()).is_empty());
    }
}
