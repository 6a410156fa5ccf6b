//! The store: every SQL statement lives below this module, and [`Store`] is its whole public
//! face.
//!
//! The layers, each importing only those below it:
//! - `mod.rs`: [`Store`], the public API, each method handing over to the area that does it;
//! - one file per area (`integrations`, `rules`, `creators`, `media`, `deliveries`,
//!   `fulfillments`, `health`, `queue`, `config`, …) and `evaluation/`: the SQL both databases
//!   share;
//! - `backend/`: what differs by database (SQLite, PostgreSQL), behind one [`backend::Db`];
//! - `db.rs`: what a write is for, and the gate SQLite's writers queue at;
//! - `sql/`: statements, rows and column lists, importing nothing above them.

mod backend;
mod backlog;
mod config;
mod creators;
mod db;
mod deliveries;
mod evaluation;
mod events;
mod fulfillments;
mod full;
mod health;
mod integrations;
mod media;
mod members;
mod page;
mod programs;
mod queue;
mod retention;
mod rule_runs;
mod rules;
mod sales;
mod sql;
mod stats;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use crate::domain::{
    Claimed, CreatorId, CreatorView, Delivery, DeliveryDetail, DeliveryFilter, DeliveryId, Event,
    EventFilter, EventType, Fulfillment, FulfillmentFilter, FulfillmentId, Integration,
    IntegrationId, IntegrationPatch, Lease, Media, Member, MemberStatus, Month, NewCreator,
    NewIntegration, NewMedia, NewProgram, NewRule, NewSale, OutcomeCounts, Page, PageRequest,
    PayloadFormat, Posted, Profile, ProfilePatch, Program, ProgramId, ProgramPatch, Rule, RuleId,
    RulePatch, RuleRun, RunStarter, Sale, SecretRotation, SendResult, SendTarget, Window,
};
use crate::error::{Error, Result};
use crate::telemetry::Backlog;

pub use backend::{describe_connect_failure, describe_database, storage_full, Tuning};
pub use evaluation::{Evaluated, Evaluation, Ingested};
pub use integrations::IntegrationStates;
pub use members::{Moved, SignedUp};
pub use rule_runs::Scheduled;
pub use sales::Recorded;

/// The store: one interface over SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<backend::Db>,
    /// The active rules and integrations as last read, with their version.
    config: Arc<config::ConfigCache>,
    /// Creators as last read, for API groups on PostgreSQL.
    creators: Arc<evaluation::CreatorCache>,
    /// Since when writes fail for want of space, and when that was last logged.
    full: Arc<full::FullState>,
    options: StoreOptions,
}

/// This instance's proof of life ([`Store::hold_liveness`]): held while it runs.
pub struct InstanceLock {
    _liveness: backend::Liveness,
}

/// How the store behaves, beyond where it is.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// An integration whose every attempt failed for this long (three at least) is disabled.
    pub disable_after: Duration,
    /// SQLite only: `PRAGMA max_page_count` on the writer, to bound the file (tests fill it).
    pub sqlite_max_pages: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            disable_after: Duration::from_secs(5 * 86_400),
            sqlite_max_pages: None,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

impl Store {
    /// Connects to the database named by `url` (creating an SQLite file and its folder if needed).
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store> {
        let db = backend::Db::connect(url, options.sqlite_max_pages).await?;
        Ok(Store {
            db: Arc::new(db),
            config: Arc::default(),
            creators: Arc::default(),
            full: Arc::default(),
            options,
        })
    }

    /// How the service's tasks are best run on this database.
    pub fn tuning(&self) -> Tuning {
        self.db.tuning()
    }

    pub async fn migrate(&self) -> Result<()> {
        self.db.migrate().await
    }

    /// True when the database answers a query within two seconds.
    pub async fn ping(&self) -> bool {
        let query = async {
            let mut conn = self.db.read().await?;
            conn.conn().execute(sql::Statement::new("SELECT 1")).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), query).await,
            Ok(Ok(_))
        )
    }

    /// Housekeeping the write path needs under constant load, run every
    /// [`Tuning::maintenance_interval`]: SQLite's write-ahead log copied back and trimmed;
    /// PostgreSQL's queue tables vacuumed.
    pub async fn maintain(&self) -> Result<()> {
        self.db.maintain().await
    }

    /// Wakes `posts` and `deliveries` when another instance (or `import`) commits new work,
    /// until `shutdown` (PostgreSQL's LISTEN; on SQLite it returns at once).
    pub async fn forward_notifications(
        &self,
        posts: Arc<Notify>,
        deliveries: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) {
        self.db
            .forward_notifications(posts, deliveries, shutdown)
            .await
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    // Integrations.

    /// Every live integration by state, and those deleted within `deleted_within`.
    pub async fn integration_states(&self, deleted_within: Duration) -> Result<IntegrationStates> {
        integrations::states(&self.db, deleted_within).await
    }

    pub async fn create_integration(&self, new: NewIntegration) -> Result<Integration> {
        let id = integrations::create(&self.db, new).await?;
        self.integration(&id).await
    }

    pub async fn integration(&self, id: &IntegrationId) -> Result<Integration> {
        integrations::get(&self.db, id).await
    }

    /// The integration with its secrets, for sending, and the body format it takes.
    pub async fn send_target(&self, id: &IntegrationId) -> Result<(SendTarget, PayloadFormat)> {
        integrations::send_target(&self.db, id).await
    }

    pub async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>> {
        integrations::list(&self.db, page).await
    }

    pub async fn update_integration(
        &self,
        id: &IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<Integration> {
        integrations::update(&self.db, id, patch).await?;
        self.integration(id).await
    }

    /// Rotates the integration's signing secret; when the replaced one stops being signed with
    /// (`None`: it had none).
    pub async fn rotate_signing_secret(
        &self,
        id: &IntegrationId,
        rotation: SecretRotation,
    ) -> Result<Option<DateTime<Utc>>> {
        integrations::rotate_secret(&self.db, id, rotation).await
    }

    /// Hides the integration, settles its pending deliveries as failed (the log stays) and takes
    /// it out of the rules that name it.
    pub async fn delete_integration(&self, id: &IntegrationId) -> Result<()> {
        integrations::delete(&self.db, id).await
    }

    // Rules.

    pub async fn create_rule(&self, new: NewRule) -> Result<Rule> {
        rules::create(&self.db, new).await
    }

    pub async fn rule(&self, id: &RuleId) -> Result<Rule> {
        rules::get(&self.db, id).await
    }

    pub async fn list_rules(&self, page: &PageRequest) -> Result<Page<Rule>> {
        rules::list(&self.db, page).await
    }

    /// Changes the fields `patch` gives; concurrent patches of different fields all take effect.
    /// Applies `patch`; `now` is the service's clock (a monthly rule switched back on skips the
    /// months that ended while it was off).
    pub async fn update_rule(
        &self,
        id: &RuleId,
        patch: RulePatch,
        now: DateTime<Utc>,
    ) -> Result<Rule> {
        rules::update(&self.db, id, patch, now).await
    }

    /// Hides the rule; its fulfillments stay readable.
    pub async fn delete_rule(&self, id: &RuleId) -> Result<()> {
        rules::delete(&self.db, id).await
    }

    /// How many rewards each of `rules` has granted.
    pub async fn rewards_granted(&self, rules: &[&RuleId]) -> Result<HashMap<RuleId, u64>> {
        fulfillments::granted(&self.db, rules).await
    }

    // Monthly rules.

    /// Runs `month` of the monthly rule `id`, as it stands at `now` (the service's clock):
    /// `409 month_not_ended` before the month ends in the rule's zone, `409 not_monthly` for an
    /// instant rule. Grants each creator who reached a tier one fulfillment for the month, at
    /// most once whoever runs it and however often; returns how many this run granted.
    pub async fn run_month(
        &self,
        id: &RuleId,
        month: Month,
        started_by: RunStarter,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        evaluation::run_month(&self.db, &self.config, id, month, started_by, now).await
    }

    /// The months run of the monthly rule `id`, newest first (`409 not_monthly` for an
    /// instant rule).
    pub async fn rule_runs(&self, id: &RuleId) -> Result<Vec<RuleRun>> {
        evaluation::monthly_rule(&self.db, id).await?;
        rule_runs::list(&self.db, id).await
    }

    /// Every active monthly rule, as its schedule needs it.
    pub async fn scheduled_rules(&self) -> Result<Vec<Scheduled>> {
        rule_runs::scheduled(&self.db).await
    }

    /// Moves a rule's schedule from `from` to `to` if it still stands at `from`.
    pub async fn advance_schedule(
        &self,
        id: &RuleId,
        from: Option<Month>,
        to: Month,
    ) -> Result<bool> {
        rule_runs::advance(&self.db, id, from, to).await
    }

    // Creators and their posts.

    pub async fn create_creator(&self, new: NewCreator, profile: Profile) -> Result<CreatorView> {
        let id = creators::create(&self.db, new, profile).await?;
        self.creator(&id).await
    }

    pub async fn creator(&self, id: &CreatorId) -> Result<CreatorView> {
        creators::get(&self.db, id).await
    }

    pub async fn list_creators(&self, page: &PageRequest) -> Result<Page<CreatorView>> {
        creators::list(&self.db, page).await
    }

    /// Changes the profile fields `patch` gives; concurrent patches of different fields all
    /// take effect.
    pub async fn update_creator(&self, id: &CreatorId, patch: ProfilePatch) -> Result<CreatorView> {
        creators::update_profile(&self.db, id, patch).await?;
        self.creator(id).await
    }

    /// Stores posts and queues each in the inbox for the evaluator, all in one transaction: every
    /// post or none; a post whose `(platform, externalId)` is already stored is answered with the
    /// stored one. (The API writes and evaluates at once: [`Store::ingest`].)
    pub async fn insert_media(&self, posts: Vec<NewMedia>) -> Result<Vec<Posted>> {
        media::insert(&self.db, posts).await
    }

    pub async fn list_media(
        &self,
        creator_id: Option<&CreatorId>,
        page: &PageRequest,
    ) -> Result<Page<Media>> {
        media::list(&self.db, creator_id, page).await
    }

    // Programs and their members. `now` is the caller's clock.

    pub async fn create_program(&self, new: NewProgram, now: DateTime<Utc>) -> Result<Program> {
        programs::create(&self.db, new, now).await
    }

    pub async fn program(&self, id: &ProgramId) -> Result<Program> {
        programs::get(&self.db, id).await
    }

    pub async fn list_programs(&self, page: &PageRequest) -> Result<Page<Program>> {
        programs::list(&self.db, page).await
    }

    pub async fn update_program(
        &self,
        id: &ProgramId,
        patch: ProgramPatch,
        now: DateTime<Utc>,
    ) -> Result<Program> {
        programs::update(&self.db, id, patch, now).await
    }

    /// Hides the program; its members stay readable by creator.
    pub async fn delete_program(&self, id: &ProgramId, now: DateTime<Utc>) -> Result<()> {
        programs::delete(&self.db, id, now).await
    }

    /// Signs a creator up: a new member (approved at once under `AUTOMATIC` approval), or the
    /// member as it is while `PENDING` or `APPROVED`. One member however many sign up at once.
    pub async fn sign_up(
        &self,
        program: &ProgramId,
        creator: &CreatorId,
        now: DateTime<Utc>,
    ) -> Result<SignedUp> {
        members::sign_up(&self.db, &self.config, program, creator, now).await
    }

    /// Moves a member to `status` if the domain allows the move from where it stands.
    pub async fn set_member_status(
        &self,
        program: &ProgramId,
        creator: &CreatorId,
        status: MemberStatus,
        now: DateTime<Utc>,
    ) -> Result<Moved> {
        members::set_status(&self.db, &self.config, program, creator, status, now).await
    }

    pub async fn list_members(
        &self,
        program: &ProgramId,
        status: Option<MemberStatus>,
        page: &PageRequest,
    ) -> Result<Page<Member>> {
        members::list(&self.db, program, status, page).await
    }

    /// The creator's memberships in live programs.
    pub async fn memberships(&self, creator: &CreatorId) -> Result<Vec<Member>> {
        members::of_creator(&self.db, creator).await
    }

    // Events and sales.

    /// Every event, rewards included (by their fulfillment's id), oldest first.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<Event>> {
        events::list(&self.db, filter, page).await
    }

    /// Records a sale and its `sale.created` event, or finds the sale already recorded with
    /// its order id (no second event).
    pub async fn record_sale(&self, sale: NewSale, now: DateTime<Utc>) -> Result<Recorded> {
        sales::record(&self.db, &self.config, sale, now).await
    }

    pub async fn list_sales(
        &self,
        creator: Option<&CreatorId>,
        page: &PageRequest,
    ) -> Result<Page<Sale>> {
        sales::list(&self.db, creator, page).await
    }

    // Evaluation.

    /// Writes the posts of several requests and evaluates them, in one transaction: a `201`
    /// then means the rewards they earned are committed, and their deliveries can go out at
    /// once. A request naming an unknown creator is refused whole; the others go on.
    pub async fn ingest(
        &self,
        requests: &[Vec<NewMedia>],
        lease: Option<&Lease>,
    ) -> Result<Ingested> {
        evaluation::ingest(&self.db, &self.config, &self.creators, requests, lease).await
    }

    /// Evaluates up to `limit` posts from the inbox (those `import` wrote), each exactly once,
    /// even across instances.
    pub async fn evaluate_inbox(&self, limit: u32, lease: Option<&Lease>) -> Result<Evaluated> {
        evaluation::evaluate_inbox(&self.db, &self.config, limit, lease).await
    }

    // The dispatcher's queue.

    /// Leases up to `limit` due deliveries to `owner` for `lease`, none of the integrations in
    /// `skip`. A lease that runs out makes the delivery claimable again: at-least-once.
    pub async fn claim_due(
        &self,
        limit: u32,
        lease: Duration,
        owner: &str,
        skip: &[IntegrationId],
    ) -> Result<Vec<Claimed>> {
        queue::claim_due(&self.db, limit, lease, owner, skip).await
    }

    /// Adds a batch of attempts to its integrations' health and chart counts, in one short
    /// write of its own, before [`Store::record`] writes the batch. Once per batch: called
    /// again, it counts the batch again.
    pub async fn record_health(&self, results: &[SendResult]) -> Result<()> {
        queue::record_health(&self.db, results).await
    }

    /// Writes a batch of attempts and their effect on each delivery in one transaction, then
    /// disables integrations whose every attempt has failed for `--disable-after` (after
    /// [`Store::record_health`], whose counts that reads).
    pub async fn record(&self, results: &[SendResult]) -> Result<()> {
        queue::record(&self.db, results, self.options.disable_after).await
    }

    /// Marks this instance, whose leases are named `owner`, alive until the returned lock is
    /// dropped or the process dies, so that other instances (or this one restarted) can tell
    /// its leases from a dead one's.
    pub async fn hold_liveness(&self, owner: &str) -> Result<InstanceLock> {
        Ok(InstanceLock {
            _liveness: self.db.hold_liveness(owner).await?,
        })
    }

    /// Frees, at once, the leases of every other owner that is no longer alive (killed,
    /// crashed): its deliveries are due again without waiting for the leases to run out.
    /// Returns how many were freed.
    pub async fn free_dead_owners(&self, own: &str) -> Result<u64> {
        self.db.free_dead_owners(own).await
    }

    /// Hands leases back without an attempt (shutting down): the deliveries are due again at once.
    pub async fn release(&self, delivery_ids: &[DeliveryId], owner: &str) -> Result<()> {
        queue::release(&self.db, delivery_ids, owner).await
    }

    // The delivery log.

    pub async fn delivery(&self, id: &DeliveryId) -> Result<Delivery> {
        deliveries::get(&self.db, id).await
    }

    /// The delivery with its body and every attempt, oldest first.
    pub async fn delivery_detail(&self, id: &DeliveryId) -> Result<DeliveryDetail> {
        deliveries::detail(&self.db, id).await
    }

    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>> {
        deliveries::list(&self.db, filter, page).await
    }

    /// How many deliveries are pending and how many failed.
    pub async fn delivery_counts(&self) -> Result<(u64, u64)> {
        deliveries::counts(&self.db).await
    }

    /// Queues one more attempt of a settled delivery, now, under the same id.
    pub async fn retry_delivery(&self, id: &DeliveryId) -> Result<Delivery> {
        deliveries::retry(&self.db, id).await?;
        self.delivery(id).await
    }

    /// Queues again, for one attempt each, the integration's failed deliveries (not test
    /// sends) created at or after `since`. Returns how many.
    pub async fn replay_failed(&self, id: &IntegrationId, since: DateTime<Utc>) -> Result<u64> {
        deliveries::replay_failed(&self.db, id, since).await
    }

    /// Logs a test send before it goes out; it is not queued, the caller sends it at once.
    pub async fn create_test_delivery(
        &self,
        integration_id: &IntegrationId,
        event_type: EventType,
        body: &str,
    ) -> Result<DeliveryId> {
        deliveries::create_test(&self.db, integration_id, event_type, body).await
    }

    pub async fn fulfillment(&self, id: &FulfillmentId) -> Result<Fulfillment> {
        fulfillments::get(&self.db, id).await
    }

    pub async fn list_fulfillments(
        &self,
        filter: &FulfillmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Fulfillment>> {
        fulfillments::list(&self.db, filter, page).await
    }

    // Running for months.

    /// What is waiting, read from the small tables.
    pub async fn backlog(&self) -> Result<Backlog> {
        backlog::read(&self.db).await
    }

    /// Deletes up to `limit` attempts made before `cutoff` of settled deliveries, oldest first.
    pub async fn delete_old_attempts(&self, cutoff: DateTime<Utc>, limit: u32) -> Result<u64> {
        retention::delete_old_attempts(&self.db, cutoff, limit).await
    }

    // The console's charts.

    /// Attempts per minute in `window`, by outcome: one integration's, or every one's together.
    pub async fn attempt_counts(
        &self,
        integration: Option<&IntegrationId>,
        window: &Window,
    ) -> Result<Vec<(i64, OutcomeCounts)>> {
        stats::counts(&self.db, integration, window).await
    }

    /// An integration's attempt durations per hour in `window`: (hour, ms, attempts).
    pub async fn attempt_durations(
        &self,
        integration: &IntegrationId,
        window: &Window,
    ) -> Result<Vec<(i64, u64, u64)>> {
        stats::durations(&self.db, integration, window).await
    }

    /// Deletes the chart counts of minutes and hours that began before `cutoff`.
    pub async fn delete_old_stats(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        stats::delete_old(&self.db, cutoff).await
    }

    /// Notes a write refused for space; logs it, unless a line went out a moment ago.
    pub fn note_full(&self, e: &Error) {
        self.full.note(e);
    }

    /// A background task's failure: a full store is noted (and logged now and then), anything
    /// else logged as `what` at WARN.
    pub fn log_failure(&self, e: &Error, what: &str) {
        if storage_full(e).is_some() {
            self.full.note(e);
        } else {
            tracing::warn!(error = %e, "{what}");
        }
    }

    /// A write went through: whatever filled the store has been freed.
    pub fn note_written(&self) {
        self.full.note_written();
    }

    /// Whether a write was refused for space within the last few seconds.
    pub fn seems_full(&self) -> bool {
        self.full.seems_full()
    }
}
