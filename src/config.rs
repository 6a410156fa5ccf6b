//! Command line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::dispatch::RetrySchedule;
use crate::domain::Secret;

pub const DEFAULT_SQLITE_URL: &str = "sqlite://data/lc-webhooks.db";

#[derive(Debug, Parser)]
#[command(
    name = "lc-webhooks",
    version,
    about = "Reward rules and durable outbound webhooks for creator posts"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API, the rule evaluator and the dispatcher (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Write media posts (JSON lines, the body of `POST /v1/media`) straight into the store.
    Import {
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct SettingsArgs {
    /// `postgres://…` selects PostgreSQL; anything else is an SQLite URL.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_SQLITE_URL, global = true)]
    pub database_url: String,
    #[arg(
        long,
        env = "LC_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// When set, every `/v1` request needs `Authorization: Bearer <token>`.
    #[arg(long, env = "LC_ADMIN_TOKEN", global = true, hide_env_values = true)]
    pub admin_token: Option<String>,
    #[arg(long, env = "LC_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h", value_parser = RetrySchedule::parse, global = true)]
    pub retry_schedule: RetrySchedule,
    #[arg(long, env = "LC_HTTP_TIMEOUT", default_value = "10s", value_parser = parse_duration, global = true)]
    pub http_timeout: Duration,
    /// How long a claimed delivery stays leased to this instance. If the instance dies, another
    /// (or the restarted one) sends the delivery again after this long. Must exceed the timeout.
    #[arg(long, env = "LC_LEASE_TIME", default_value = "60s", value_parser = parse_duration, global = true)]
    pub lease_time: Duration,
    /// Sends in flight at once, over all integrations.
    #[arg(long, env = "LC_MAX_IN_FLIGHT", default_value_t = 256, global = true)]
    pub max_in_flight: usize,
    /// Sends in flight at once to one integration.
    #[arg(
        long,
        env = "LC_MAX_IN_FLIGHT_PER_INTEGRATION",
        default_value_t = 64,
        global = true
    )]
    pub max_in_flight_per_integration: usize,
}

/// Everything the service needs to run; built from [`SettingsArgs`] or directly by tests.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub listen: SocketAddr,
    pub admin_token: Option<Secret>,
    pub retry_schedule: RetrySchedule,
    pub http_timeout: Duration,
    pub lease_time: Duration,
    pub max_in_flight: usize,
    pub max_in_flight_per_integration: usize,
    /// How often the evaluator and dispatcher look for work nobody told them about
    /// (posts written by another process, retries coming due).
    pub poll_interval: Duration,
}

impl Settings {
    pub fn new(database_url: impl Into<String>) -> Self {
        Settings {
            database_url: database_url.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_token: None,
            retry_schedule: RetrySchedule::default(),
            http_timeout: Duration::from_secs(10),
            lease_time: Duration::from_secs(60),
            max_in_flight: 256,
            max_in_flight_per_integration: 64,
            poll_interval: Duration::from_millis(200),
        }
    }

    /// Settings that cannot work together.
    pub fn check(&self) -> Result<(), String> {
        if self.lease_time <= self.http_timeout {
            return Err(format!(
                "--lease-time ({:?}) must be longer than --http-timeout ({:?}), or a slow send would be sent twice",
                self.lease_time, self.http_timeout
            ));
        }
        self.check_listen_is_safe()
    }

    /// The API is open without a token, so it may only be reachable from this machine.
    pub fn check_listen_is_safe(&self) -> Result<(), String> {
        if self.admin_token.is_none() && !self.listen.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on non-loopback address {} without an admin token (set --admin-token or LC_ADMIN_TOKEN)",
                self.listen
            ));
        }
        Ok(())
    }
}

impl From<SettingsArgs> for Settings {
    fn from(a: SettingsArgs) -> Self {
        Settings {
            database_url: a.database_url,
            listen: a.listen,
            admin_token: a.admin_token.filter(|t| !t.is_empty()).map(Secret::new),
            retry_schedule: a.retry_schedule,
            http_timeout: a.http_timeout,
            lease_time: a.lease_time,
            max_in_flight: a.max_in_flight.max(1),
            max_in_flight_per_integration: a.max_in_flight_per_integration.max(1),
            ..Settings::new(String::new())
        }
    }
}

/// Parses `250ms`, `5s`, `5m`, `2h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` has no unit (use ms, s, m or h)"))?;
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => {
            return Err(format!(
                "`{s}` has unknown unit `{unit}` (use ms, s, m or h)"
            ))
        }
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn durations_without_a_known_unit_are_refused() {
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn a_lease_must_outlive_the_http_timeout() {
        let mut s = Settings::new("sqlite::memory:");
        s.lease_time = s.http_timeout;
        assert!(s.check().is_err());
        s.lease_time = s.http_timeout * 2;
        assert!(s.check().is_ok());
    }

    #[test]
    fn an_open_api_only_listens_on_loopback() {
        let mut s = Settings::new("sqlite::memory:");
        s.listen = "0.0.0.0:8080".parse().expect("addr");
        assert!(s.check_listen_is_safe().is_err());
        s.admin_token = Some(Secret::new("t".into()));
        assert!(s.check_listen_is_safe().is_ok());
        s.admin_token = None;
        s.listen = "[::1]:8080".parse().expect("addr");
        assert!(s.check_listen_is_safe().is_ok());
    }
}
