//! The active rules and integrations, as every evaluation needs them: read once and kept while
//! `config_version` (bumped in the transaction of every change to either) stays the same, so an
//! evaluation reads one row instead of both tables.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::backend::{Conn, Db};
use super::db::Purpose;
use super::sql::rows::{IntegrationRow, RuleRow, INTEGRATION_COLUMNS, RULE_COLUMNS};
use super::sql::Statement;
use crate::domain::{EventType, EventTypes, IntegrationId, PayloadFormat, Rule, SendTarget};
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
    pub(super) targets: HashMap<IntegrationId, Arc<SendTarget>>,
    /// The event types each of them subscribes to.
    pub(super) event_types: HashMap<IntegrationId, EventTypes>,
}

impl Config {
    /// The format `integration` takes events of `event_type` in, if it subscribes to them.
    pub(super) fn receives(
        &self,
        integration: &IntegrationId,
        event_type: EventType,
    ) -> Option<PayloadFormat> {
        self.event_types
            .get(integration)
            .is_some_and(|types| types.contains(event_type))
            .then(|| self.formats.get(integration).copied().unwrap_or_default())
    }

    /// The integrations events of `event_type` go to, in id order. When none subscribes, an
    /// event costs its own row and nothing more.
    pub(super) fn subscribers(&self, event_type: EventType) -> Vec<&IntegrationId> {
        self.integrations
            .iter()
            .filter(|id| self.receives(id, event_type).is_some())
            .collect()
    }
}

/// The config's version, as a column any statement can add to what it reads.
pub(super) const VERSION: &str =
    "(SELECT version FROM config_version WHERE id = 1) AS config_version";

/// Marks a change of rules or integrations; run in the transaction that makes it.
pub(super) async fn bump(conn: &mut Conn<'_>) -> Result<()> {
    conn.execute(Statement::new(
        "UPDATE config_version SET version = version + 1 WHERE id = 1",
    ))
    .await?;
    Ok(())
}

/// The config last read.
#[derive(Debug, Default)]
pub(super) struct ConfigCache(Mutex<Option<Arc<Config>>>);

impl ConfigCache {
    /// The config as of this transaction: the cached copy if its version is current, else read
    /// again (and cached).
    pub(super) async fn current(&self, conn: &mut Conn<'_>) -> Result<Arc<Config>> {
        let (version,): (i64,) = conn
            .fetch_one(Statement::new(format!("SELECT {VERSION}")))
            .await?;
        self.at(conn, version).await
    }

    /// The version of the config last read, if any.
    pub(super) fn cached_version(&self) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| c.version)
    }

    /// The config of `version` (read as [`VERSION`] in a statement of the caller's): the cached
    /// copy if it is that version, else read again (and cached).
    pub(super) async fn at(&self, conn: &mut Conn<'_>, version: i64) -> Result<Arc<Config>> {
        if let Some(config) = self.cached(version) {
            return Ok(config);
        }
        // Monthly rules are run by month, never by an evaluation of new posts.
        let rules = conn
            .fetch_all::<RuleRow>(Statement::new(format!(
                "SELECT {RULE_COLUMNS} FROM rules
                 WHERE active = 1 AND deleted = 0 AND schedule = 'INSTANT' ORDER BY id"
            )))
            .await?
            .into_iter()
            .map(Rule::try_from)
            .collect::<Result<Vec<_>>>()?;
        let rows = conn
            .fetch_all::<IntegrationRow>(Statement::new(format!(
                "SELECT {INTEGRATION_COLUMNS} FROM integrations
                 WHERE (active = 1 OR disabled_reason IS NOT NULL) AND deleted = 0 ORDER BY id"
            )))
            .await?;
        let integrations = rows.iter().map(|r| r.id.clone()).collect();
        let disabled = rows
            .iter()
            .filter(|r| r.active == 0)
            .map(|r| r.id.clone())
            .collect();
        let formats = rows.iter().map(|r| (r.id.clone(), r.format())).collect();
        let event_types = rows
            .iter()
            .map(|r| (r.id.clone(), EventTypes::from_json(&r.event_types)))
            .collect();
        let targets = rows
            .into_iter()
            .map(|r| (r.id.clone(), Arc::new(r.target.into_target(r.id))))
            .collect();
        let config = Arc::new(Config {
            version,
            rules,
            integrations,
            disabled,
            formats,
            targets,
            event_types,
        });
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(config.clone());
        Ok(config)
    }

    fn cached(&self, version: i64) -> Option<Arc<Config>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|c| c.version == version)
            .cloned()
    }
}

/// Runs one statement that changes rules or integrations, with the version's bump, in one
/// transaction; the rows it changed.
pub(super) async fn change(db: &Db, statement: Statement<'_>) -> Result<u64> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let done = tx.conn().execute(statement).await?;
    bump(&mut tx.conn()).await?;
    tx.commit().await?;
    Ok(done)
}
