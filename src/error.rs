use thiserror::Error;

use crate::domain::{Invalid, InvalidTransition};

/// Every failure the library reports. The API turns each kind into a status and an error code.
#[derive(Debug, Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A value the domain refuses.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The request is valid but the state of things refuses it.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A statement built from cached copies (of creators, of the config) found one changed and
    /// wrote nothing; the store reads them and writes again, so no caller sees it.
    #[error("a cached copy was stale")]
    StaleCopy,
    /// The service is stopping and takes no more writes.
    #[error("the service is shutting down")]
    ShuttingDown,
}

/// Why a valid request cannot be carried out now.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Conflict {
    #[error("a creator with email {0} already exists")]
    EmailTaken(String),
    #[error("the delivery is still pending; it will be retried on its schedule")]
    DeliveryPending,
    #[error("the delivery's integration has been deleted")]
    IntegrationDeleted,
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    #[error("a rule names this program; delete the rule or change its programId first")]
    ProgramInUse,
    #[error("month {0} has not ended in the rule's time zone; it can be run once it has")]
    MonthNotEnded(String),
    #[error(
        "the rule is not MONTHLY: an INSTANT rule grants as posts arrive, it has no months to run"
    )]
    NotMonthly,
    /// A rule's options that would not hold together once changed, or a change its schedule
    /// refuses.
    #[error(transparent)]
    RuleOptions(crate::domain::Invalid),
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Corrupt(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<std::convert::Infallible> for Error {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}
