//! The rule engine: which posts a rule counts, when counted posts earn a reward, what a reward
//! is made of and where it goes. Pure functions over what the store read; the store carries
//! out what they decide, in the transaction that reads the posts (see `store/evaluation/`).

mod discount_code;
mod evaluation;
mod grouping;
mod matching;
mod month_close;
pub mod monthly;

pub use discount_code::discount_code;
pub use evaluation::{
    count, match_posts, Award, Counted, Grant, Matched, PairKey, Pending, Progress, Tally,
};
pub use grouping::{earned_groups, spaced, Candidate};
pub use matching::Eligibility;
pub use month_close::{counted_in_month, month_earned, MonthEarned};
