//! PostgreSQL specifics: several instances share one database and claim rows without waiting.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::error::Result;

/// Rows another instance is working on are passed over rather than waited for.
pub(super) const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";

pub(super) async fn connect(url: &str, options: AnyPoolOptions) -> Result<AnyPool> {
    let pool = options
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    Ok(pool)
}
