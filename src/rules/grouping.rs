//! When posts counted toward one rule by one creator earn: runs of `count` posts within the
//! rule's window.

use crate::domain::{MediaId, Rule};

/// A qualifying post not yet counted toward a fulfillment of the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub media_id: MediaId,
    /// Microseconds since the epoch.
    pub posted_at: i64,
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
    let count = rule.count.unwrap_or(1).max(1) as usize;
    let window = rule.window_micros();
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

/// Buffer Limit: the candidates (sorted by `posted_at`) that count, each posted at least
/// `buffer` µs after the previous one that counted; the first at least `buffer` after `since`,
/// the last post a reward counted before, if any.
pub fn spaced(candidates: &[Candidate], since: Option<i64>, buffer: i64) -> Vec<Candidate> {
    let mut previous = since;
    let mut counted = Vec::new();
    for candidate in candidates {
        if previous.is_none_or(|p| candidate.posted_at >= p.saturating_add(buffer)) {
            previous = Some(candidate.posted_at);
            counted.push(candidate.clone());
        }
    }
    counted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::matching::tests::rule;

    const DAY: i64 = 86_400 * 1_000_000;

    fn posts(days: &[i64]) -> Vec<Candidate> {
        days.iter()
            .enumerate()
            .map(|(i, d)| Candidate {
                media_id: MediaId::named(&format!("m{i}")),
                posted_at: d * DAY,
            })
            .collect()
    }

    /// Each group's posts by name.
    fn ids(groups: &[Vec<Candidate>]) -> Vec<Vec<String>> {
        let name = |id: &MediaId| {
            (0..100)
                .map(|i| format!("m{i}"))
                .find(|n| MediaId::named(n) == *id)
                .unwrap_or_default()
        };
        groups
            .iter()
            .map(|g| g.iter().map(|c| name(&c.media_id)).collect())
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
    fn a_post_inside_the_buffer_does_not_count() {
        let counted = spaced(&posts(&[0, 1, 2, 3, 5, 7]), None, 2 * DAY);
        assert_eq!(ids(&[counted]), vec![vec!["m0", "m2", "m4", "m5"]]);
        let after = spaced(&posts(&[0, 1, 2, 3]), Some(DAY), 2 * DAY);
        assert_eq!(
            ids(&[after]),
            vec![vec!["m3"]],
            "the first counts only a buffer after the last post a reward counted"
        );
        let exactly = spaced(&posts(&[0, 7]), None, 7 * DAY);
        assert_eq!(exactly.len(), 2, "exactly the buffer apart counts");
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
}
