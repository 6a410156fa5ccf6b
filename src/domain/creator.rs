use chrono::{DateTime, Utc};
use serde::Serialize;

use super::time::serde_rfc3339;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Creator {
    pub id: String,
    pub email: String,
    pub ig_username: Option<String>,
    pub tt_username: Option<String>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewCreator {
    pub email: String,
    pub ig_username: Option<String>,
    pub tt_username: Option<String>,
}
