//! Programs: what creators sign up for, approved at once or by hand, with the time zone their
//! months are counted in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use super::invalid::{Invalid, Problem};
use super::name::Name;
use super::schema::{input_schema, string};
use super::time::serde_rfc3339;
use super::ProgramId;

/// How a sign-up is approved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Approval {
    /// Every sign-up is approved at once.
    #[default]
    Automatic,
    /// A sign-up waits, `PENDING`, until it is approved or rejected.
    Manual,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Automatic => "AUTOMATIC",
            Approval::Manual => "MANUAL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AUTOMATIC" => Some(Approval::Automatic),
            "MANUAL" => Some(Approval::Manual),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    pub id: ProgramId,
    pub name: String,
    pub approval: Approval,
    #[schema(value_type = TimeZoneName)]
    pub time_zone: String,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewProgram {
    pub name: Name,
    pub approval: Approval,
    pub time_zone: TimeZoneName,
}

/// The fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProgramPatch {
    pub name: Option<Name>,
    pub approval: Option<Approval>,
    pub time_zone: Option<TimeZoneName>,
}

/// An IANA time zone name (`Europe/Paris`, `UTC`), spelled as the tz database spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<TimeZoneName, Invalid> {
        raw.parse::<chrono_tz::Tz>().map(TimeZoneName).map_err(|_| {
            Invalid::new(
                Problem::TimeZone,
                format!(
                    "timeZone `{}` is not an IANA time zone name such as `Europe/Paris` or `UTC`",
                    raw.escape_debug()
                ),
            )
        })
    }

    pub fn utc() -> TimeZoneName {
        TimeZoneName(chrono_tz::UTC)
    }

    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

/// Every name the tz database knows, listed, so the document admits exactly what is accepted.
fn time_zone_schema() -> ObjectBuilder {
    string("An IANA time zone name, as the tz database spells it (`Europe/Paris`, `UTC`).")
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .examples(["America/New_York"])
}

input_schema!(TimeZoneName, time_zone_schema);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_are_taken_and_anything_else_is_refused() {
        assert_eq!(
            TimeZoneName::parse("America/New_York").map(|t| t.as_str()),
            Ok("America/New_York")
        );
        assert_eq!(TimeZoneName::parse("UTC").map(|t| t.as_str()), Ok("UTC"));
        for bad in ["", "Mars/Olympus", "utc ", "Europe/Paris\0", "+02:00"] {
            let err = TimeZoneName::parse(bad).expect_err(bad);
            assert_eq!(err.problem, Problem::TimeZone);
        }
    }

    #[test]
    fn approvals_are_spelled_in_capitals() {
        for a in [Approval::Automatic, Approval::Manual] {
            assert_eq!(Approval::parse(a.as_str()), Some(a));
            assert_eq!(
                serde_json::to_value(a).expect("json"),
                serde_json::json!(a.as_str())
            );
        }
        assert_eq!(Approval::default(), Approval::Automatic);
    }
}
