//! Values the domain refuses. Each input type's `parse` says which rule it broke; the API turns
//! the [`Problem`] into its error code.

use thiserror::Error;

/// A refused value: which rule it broke, and a sentence for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct Invalid {
    pub problem: Problem,
    pub message: String,
}

/// What was wrong with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Name,
    Email,
    Username,
    Url,
    ApiKey,
    AuthHeader,
    AuthPrefix,
    SigningSecret,
    Count,
    WindowDays,
    Platforms,
    CodePrefix,
    CreatorId,
    /// An entry of `integrationIds` that is not an id.
    IntegrationId,
    PostedAt,
    ExternalId,
    Batch,
    PayloadFormat,
    MaxConcurrency,
    MaxPerSecond,
    Segments,
    TimeZone,
    BufferDays,
    FulfillmentLimit,
    TimeframeDays,
    /// A monthly rule's tiers that do not hold together (`tiers[1].count`).
    Tiers,
    /// A month not written `YYYY-MM`.
    Month,
    /// A field a rule of its schedule does not take (`count` on a `MONTHLY` rule, `tiers` on
    /// an `INSTANT` one), or a change of `schedule`.
    Schedule,
    /// A `programId` that is not an id.
    ProgramId,
    /// A URL whose host is an address the sender refuses to reach.
    BlockedUrl,
    /// A creator id that names no creator: valid input the current state refuses (a 409).
    UnknownCreator,
    /// An integration id that names no live integration: valid input the current state
    /// refuses (a 409).
    UnknownIntegration,
    /// A program id that names no live program: valid input the current state refuses (a 409).
    UnknownProgram,
}

impl Invalid {
    pub fn new(problem: Problem, message: impl Into<String>) -> Self {
        Invalid {
            problem,
            message: message.into(),
        }
    }

    /// The same problem, its message prefixed with where it was found (`media[3]: …`).
    pub fn at(self, place: impl std::fmt::Display) -> Self {
        Invalid {
            message: format!("{place}: {}", self.message),
            ..self
        }
    }
}

/// Length in characters (Unicode scalar values), as JSON Schema's `maxLength` counts.
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Printable ASCII, the bytes a header value may carry without escaping.
pub(crate) fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}
