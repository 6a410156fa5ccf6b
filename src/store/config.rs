//! The active rules and integrations, as every evaluation needs them: read once and kept while
//! `config_version` (bumped in the transaction of every change to either) stays the same, so an
//! evaluation reads one row instead of both tables.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::AnyConnection;

use super::rows::{IntegrationRow, RuleRow};
use super::Store;
use crate::domain::{IntegrationId, PayloadFormat, Rule, Secret, SendTarget};
use crate::error::Result;

/// The rules and integrations of one config version.
#[derive(Debug)]
pub(super) struct Config {
    version: i64,
    pub(super) rules: Vec<Rule>,
    /// The integrations rewards are sent to, in id order: the active ones, and those disabled
    /// automatically, whose deliveries wait in the queue until they are re-enabled (a reward
    /// earned while a receiver is down is not lost).
    pub(super) integrations: Vec<IntegrationId>,
    /// Those disabled automatically: their deliveries are queued, never handed over.
    pub(super) disabled: HashSet<IntegrationId>,
    /// The body each of them takes.
    pub(super) formats: HashMap<IntegrationId, PayloadFormat>,
    /// How to send to each of them.
    pub(super) targets: HashMap<IntegrationId, SendTarget>,
}

/// Marks a change of rules or integrations; run in the transaction that makes it.
pub(super) async fn bump(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("UPDATE config_version SET version = version + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// The config as of this transaction: the cached copy if its version is current, else read
    /// again (and cached).
    pub(super) async fn config(&self, conn: &mut AnyConnection) -> Result<Arc<Config>> {
        let (version,): (i64,) = sqlx::query_as("SELECT version FROM config_version WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        if let Some(config) = self.cached_config(version) {
            return Ok(config);
        }
        let rules = sqlx::query_as::<_, RuleRow>(&format!(
            "SELECT {} FROM rules WHERE active = 1 AND deleted = 0 ORDER BY id",
            super::rules::COLUMNS
        ))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Rule::try_from)
        .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query_as::<_, IntegrationRow>(&format!(
            "SELECT {} FROM integrations
             WHERE (active = 1 OR disabled_reason IS NOT NULL) AND deleted = 0 ORDER BY id",
            super::integrations::COLUMNS
        ))
        .fetch_all(&mut *conn)
        .await?;
        let integrations = rows.iter().map(|r| r.id.clone()).collect();
        let disabled = rows
            .iter()
            .filter(|r| r.active == 0)
            .map(|r| r.id.clone())
            .collect();
        let formats = rows.iter().map(|r| (r.id.clone(), r.format())).collect();
        let targets = rows
            .into_iter()
            .map(|r| {
                let target = SendTarget {
                    integration_id: r.id.clone(),
                    url: r.url,
                    auth_header: r.auth_header,
                    auth_prefix: r.auth_prefix,
                    api_key: Secret::new(r.api_key),
                    signing_secret: r.signing_secret.map(Secret::new),
                };
                (r.id, target)
            })
            .collect();
        let config = Arc::new(Config {
            version,
            rules,
            integrations,
            disabled,
            formats,
            targets,
        });
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Some(config.clone());
        Ok(config)
    }

    fn cached_config(&self, version: i64) -> Option<Arc<Config>> {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|c| c.version == version)
            .cloned()
    }
}
