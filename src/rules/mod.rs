//! The rule engine: which posts a rule counts, and when counted posts earn a reward.
//! Pure functions; the store calls them inside the transaction that records the result.

mod discount_code;

pub use discount_code::discount_code;

use crate::domain::{Platform, PostType, Rule};

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// A qualifying post not yet counted toward a fulfillment of the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub media_id: String,
    /// Microseconds since the epoch.
    pub posted_at: i64,
}

/// Does `rule` count a post of this type on this platform?
pub fn counts(rule: &Rule, post_type: PostType, platform: Platform) -> bool {
    let type_ok = rule.post_types.is_empty() || rule.post_types.contains(&post_type);
    let platform_ok = rule
        .platforms
        .as_ref()
        .is_none_or(|p| p.contains(&platform));
    rule.active && type_ok && platform_ok
}

/// How far apart (µs) the posts of one group may be; `None` without a window.
pub fn window_micros(rule: &Rule) -> Option<i64> {
    rule.window_days
        .map(|d| i64::from(d).saturating_mul(MICROS_PER_DAY))
}

/// Picks the groups of candidates that earn a reward, earliest first.
///
/// `candidates` must be sorted by `posted_at`. A group is `count` posts that all fall within
/// `windowDays` of each other; a non-repeatable rule earns at most `grants_left` (0 or 1) times.
/// Any set of posts within a window contains a run of neighbours within it, so scanning runs
/// of consecutive candidates finds a group whenever one exists.
pub fn earned_groups(
    rule: &Rule,
    candidates: &[Candidate],
    grants_left: Option<u32>,
) -> Vec<Vec<Candidate>> {
    let count = rule.count.max(1) as usize;
    let window = window_micros(rule);
    let mut groups = Vec::new();
    let mut start = 0;
    while start + count <= candidates.len() {
        if grants_left.is_some_and(|left| groups.len() >= left as usize) {
            break;
        }
        let run = &candidates[start..start + count];
        let fits = match window {
            Some(w) => run[count - 1].posted_at - run[0].posted_at <= w,
            None => true,
        };
        if fits {
            groups.push(run.to_vec());
            start += count;
        } else {
            start += 1;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{time, Reward};

    fn rule(count: u32, window_days: Option<u32>) -> Rule {
        Rule {
            id: "r".into(),
            name: "2 Story posts".into(),
            post_types: vec![PostType::Story],
            platforms: None,
            count,
            window_days,
            repeatable: true,
            reward: Reward::None,
            integration_ids: None,
            active: true,
            created_at: time::now(),
            updated_at: time::now(),
        }
    }

    fn posts(days: &[i64]) -> Vec<Candidate> {
        days.iter()
            .enumerate()
            .map(|(i, d)| Candidate {
                media_id: format!("m{i}"),
                posted_at: d * MICROS_PER_DAY,
            })
            .collect()
    }

    fn ids(groups: &[Vec<Candidate>]) -> Vec<Vec<&str>> {
        groups
            .iter()
            .map(|g| g.iter().map(|c| c.media_id.as_str()).collect())
            .collect()
    }

    #[test]
    fn one_story_earns_nothing_and_two_earn_once() {
        let r = rule(2, None);
        assert!(earned_groups(&r, &posts(&[0]), None).is_empty());
        assert_eq!(
            ids(&earned_groups(&r, &posts(&[0, 1]), None)),
            vec![vec!["m0", "m1"]]
        );
    }

    #[test]
    fn a_repeatable_rule_earns_once_per_count_posts() {
        let r = rule(2, None);
        assert_eq!(earned_groups(&r, &posts(&[0, 1, 2, 3, 4]), None).len(), 2);
        assert_eq!(earned_groups(&r, &posts(&[0, 1, 2, 3]), Some(1)).len(), 1);
        assert!(earned_groups(&r, &posts(&[0, 1]), Some(0)).is_empty());
    }

    #[test]
    fn posts_too_far_apart_do_not_share_a_window() {
        let r = rule(2, Some(7));
        assert!(earned_groups(&r, &posts(&[0, 8]), None).is_empty());
        assert_eq!(
            ids(&earned_groups(&r, &posts(&[0, 8, 10]), None)),
            vec![vec!["m1", "m2"]]
        );
        assert_eq!(earned_groups(&r, &posts(&[0, 7]), None).len(), 1);
    }

    #[test]
    fn post_types_and_platforms_filter() {
        let mut r = rule(2, None);
        assert!(counts(&r, PostType::Story, Platform::Tiktok));
        assert!(!counts(&r, PostType::Feed, Platform::Instagram));
        r.platforms = Some(vec![Platform::Instagram]);
        assert!(!counts(&r, PostType::Story, Platform::Tiktok));
        r.post_types = vec![];
        assert!(counts(&r, PostType::Reel, Platform::Instagram));
        r.active = false;
        assert!(!counts(&r, PostType::Reel, Platform::Instagram));
    }
}
