//! Command line and environment configuration: every flag also reads an environment variable,
//! and `--help` says what each does, its unit and its default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::dispatch::{RetrySchedule, TargetPolicy};
use crate::domain::{Clock, Secret};

pub const DEFAULT_SQLITE_URL: &str = "sqlite://data/lc-webhooks.db";

/// What `serve` runs, said by `--help` and by `serve --help` alike.
const SERVES: &str = "the web console at / (integrations, rewards, creators, the delivery \
    log), the REST API under /v1 (reference at /docs), the rule evaluator and the dispatcher, on \
    an SQLite file in ./data/ unless --database-url says otherwise. With the defaults: open \
    http://127.0.0.1:8080/ in a browser.";

/// How every duration flag is written, as `parse_duration` reads it.
pub const DURATION_UNITS: &str = "a whole number and a unit: ms, s, m, h or d";

#[derive(Debug, Parser)]
#[command(
    name = "lc-webhooks",
    version,
    about = "Reward rules and durable outbound webhooks for creator posts, with a web console",
    long_about = format!(
        "Reward rules and durable outbound webhooks for creator posts, with a web console.\n\n\
         Without a subcommand it serves: {SERVES}"
    ),
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The flags of `serve`, for running without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console, the API, the rule evaluator and the dispatcher (what runs without a
    /// subcommand).
    #[command(long_about = format!(
        "Run the service (what runs without a subcommand): {SERVES}"
    ))]
    Serve(ServeArgs),
    /// Apply the database migrations and exit (`serve` also applies them at start).
    Migrate(StoreArgs),
    /// Write media posts from a JSON-lines file straight into the store; a running service
    /// evaluates them like any other post.
    Import(ImportArgs),
    /// Receive webhooks yourself: print each one, check its API key and signature (401 when
    /// either is wrong), fail or slow down on purpose, or pass it on to your own receiver.
    Listen(ListenArgs),
    /// Print this build's OpenAPI document (the one served at /openapi.json) and exit.
    Openapi,
    /// Ask a running service's /healthz and exit 0 when it answers 200, 1 otherwise: the
    /// container image's health probe (it has no shell or curl).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The health endpoint to ask.
    #[arg(
        long,
        env = "LC_HEALTHCHECK_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:8080/healthz",
        value_name = "URL"
    )]
    pub url: url::Url,
    /// How long to wait for the answer (a whole number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_HEALTHCHECK_TIMEOUT", hide_env_values = true, default_value = "3s", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// The address to receive webhooks on, IP:PORT or localhost:PORT; every path is accepted.
    #[arg(long, env = "LC_RECEIVER_LISTEN", hide_env_values = true, default_value = "127.0.0.1:9000", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// The API key webhooks must carry; a webhook without it is answered 401. Without this flag
    /// the key is shown (its last characters only), not checked.
    #[arg(
        long,
        env = "LC_RECEIVER_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// The header the key comes in, as the integration's authHeader.
    #[arg(long, env = "LC_RECEIVER_AUTH_HEADER", hide_env_values = true, default_value = crate::domain::DEFAULT_AUTH_HEADER, value_name = "NAME")]
    pub auth_header: String,
    /// What comes before the key in that header, as the integration's authPrefix.
    #[arg(long, env = "LC_RECEIVER_AUTH_PREFIX", hide_env_values = true, default_value = crate::domain::DEFAULT_AUTH_PREFIX, value_name = "TEXT")]
    pub auth_prefix: String,
    /// The integration's signing secret (`whsec_…`): every webhook's `webhook-signature` is
    /// checked, and a wrong or missing one is answered 401. Give it several times (or several,
    /// comma-separated, in LC_RECEIVER_SIGNING_SECRET) to accept any of them, as while a secret
    /// is rotated: a webhook verified by any one passes. Prefer LC_RECEIVER_SIGNING_SECRET: a
    /// flag leaves the secret in the command line (and in cargo's `Running` line).
    #[arg(long, env = "LC_RECEIVER_SIGNING_SECRET", hide_env_values = true, value_name = "SECRET", value_parser = parse_signing_secret, value_delimiter = ',', action = clap::ArgAction::Append)]
    pub signing_secret: Vec<String>,
    /// How far `webhook-timestamp` may be from this clock before a signed webhook is refused
    /// (a whole number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_RECEIVER_TOLERANCE", hide_env_values = true, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub tolerance: Duration,
    /// The share of webhooks (that passed the checks) answered 503 on purpose, 0.0 to 1.0, to
    /// watch retries happen.
    #[arg(long, env = "LC_RECEIVER_FAIL_RATE", hide_env_values = true, default_value_t = 0.0, value_name = "RATE", value_parser = parse_fail_rate)]
    pub fail_rate: f64,
    /// How long to wait before answering each webhook, to watch timeouts and slow receivers
    /// (a whole number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_RECEIVER_DELAY", hide_env_values = true, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Duration,
    /// Pass each webhook that passed the checks on to this URL (your own receiver), with its
    /// headers, and answer with what it answered.
    #[arg(
        long,
        env = "LC_RECEIVER_FORWARD_TO",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub forward_to: Option<url::Url>,
    /// Show only webhooks of this event type (repeat the flag for more: `--event-type
    /// sale.created --event-type post.tagged`). A webhook of another type that passes the checks
    /// is answered 200 and not printed, delayed, failed nor forwarded. Default: every type.
    #[arg(long = "event-type", value_name = "TYPE", value_parser = parse_event_type)]
    pub event_types: Vec<crate::domain::EventType>,
}

fn parse_event_type(s: &str) -> Result<crate::domain::EventType, String> {
    crate::domain::EventType::parse(s).ok_or_else(|| {
        format!(
            "`{s}` is not an event type (one of {})",
            crate::domain::EventType::ALL
                .map(crate::domain::EventType::as_str)
                .join(", ")
        )
    })
}

fn parse_signing_secret(s: &str) -> Result<String, String> {
    crate::domain::SigningSecret::parse(s.to_string())
        .map(|secret| secret.expose().to_string())
        .map_err(|e| e.message)
}

fn parse_fail_rate(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| {
            format!("`{s}` is not a share from 0.0 to 1.0 (0.25 fails one webhook in four)")
        })
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The database: `sqlite://PATH` (the file and its folder are created on first start) or
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE` (the database must exist).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, default_value = DEFAULT_SQLITE_URL, value_name = "URL")]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The posts: one JSON object per line, each the body of `POST /v1/media`
    /// (`{"creatorId": "…", "postType": "STORY", "platform"?, "postedAt"?, "externalId"?,
    /// "mediaType"?}`). A bad line writes nothing. A line whose platform and `externalId` are
    /// already stored (or came earlier in the file) is not stored or counted again.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address the API listens on: IP:PORT (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:8080`)
    /// or `localhost:PORT`. A non-loopback address needs --admin-token.
    #[arg(long, env = "LC_LISTEN", hide_env_values = true, default_value = "127.0.0.1:8080", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// When set, every `/v1` request needs `Authorization: Bearer <token>`. Without it the API
    /// is open, and the service refuses to listen on a non-loopback address.
    #[arg(
        long,
        env = "LC_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
    /// The waits between attempts of a delivery, comma-separated, each a duration (a whole
    /// number and a unit: ms, s, m, h or d). The first attempt is immediate, so N delays mean at
    /// most N + 1 attempts; `none` means a single attempt.
    #[arg(long, env = "LC_RETRY_SCHEDULE", hide_env_values = true, default_value = "5s,5m,30m,2h,5h,10h,10h", value_name = "DELAYS", value_parser = RetrySchedule::parse)]
    pub retry_schedule: RetrySchedule,
    /// How long one attempt may take, connecting included, before it counts as failed (a whole
    /// number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_HTTP_TIMEOUT", hide_env_values = true, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub http_timeout: Duration,
    /// How long a claimed delivery stays leased to this instance while it lives. If the
    /// instance dies, another (or the restarted one) sees it dead and sends its deliveries at
    /// once; the lease only bounds an instance that is alive but stalled. Must exceed
    /// --http-timeout (a whole number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_LEASE_TIME", hide_env_values = true, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub lease_time: Duration,
    /// Webhook sends in flight at once, over all integrations (1 or more). Sends are async: a
    /// send waiting for its answer costs a connection and about 40 KiB, not a thread. The service
    /// raises its soft open-file limit to fit, and warns when the hard limit is lower.
    #[arg(long, env = "LC_MAX_IN_FLIGHT", hide_env_values = true, default_value_t = DEFAULT_MAX_IN_FLIGHT as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight: u32,
    /// The most webhook sends in flight at once to one integration (1 or more), so a slow
    /// receiver cannot take every slot; an integration's `maxConcurrency` can set a lower one.
    /// Within it each integration's limit adapts to how its receiver answers.
    #[arg(long, env = "LC_MAX_IN_FLIGHT_PER_INTEGRATION", hide_env_values = true, default_value_t = DEFAULT_MAX_IN_FLIGHT_PER_INTEGRATION as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight_per_integration: u32,
    /// Also refuse loopback, private and shared addresses (127.0.0.0/8, ::1, 10/8, 172.16/12,
    /// 192.168/16, 100.64/10, fc00::/7) as webhook targets, on registration and on every
    /// connection. Turn it on wherever users you do not control register URLs. Link-local,
    /// metadata, unspecified and multicast addresses are refused always.
    #[arg(long, env = "LC_BLOCK_PRIVATE_TARGETS", hide_env_values = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub block_private_targets: bool,
    /// Exceptions to --block-private-targets: comma-separated CIDRs (`10.0.4.0/24,fd12::/64`)
    /// that webhooks may reach, such as an internal receiver.
    #[arg(long, env = "LC_ALLOW_TARGETS", hide_env_values = true, value_name = "CIDRS", value_delimiter = ',', value_parser = parse_cidr)]
    pub allow_targets: Vec<ipnet::IpNet>,
    /// Disable an integration automatically once every attempt to it has failed for this long
    /// (at least three attempts, none succeeded since the first); its deliveries wait until it
    /// is made active again (a whole number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_DISABLE_AFTER", hide_env_values = true, default_value = "5d", value_name = "DURATION", value_parser = parse_duration)]
    pub disable_after: Duration,
    /// How long the attempts (with their response bodies) of settled deliveries are kept; older
    /// ones are deleted in the background. Deliveries keep their summary, rewards are kept
    /// (a whole number and a unit: ms, s, m, h or d).
    #[arg(long, env = "LC_RETENTION", hide_env_values = true, default_value = "30d", value_name = "DURATION", value_parser = parse_duration)]
    pub retention: Duration,
    /// Export OpenTelemetry traces over OTLP/HTTP to this collector (`http://localhost:4318`;
    /// spans go to `/v1/traces` under it): one trace per post, from its request to every attempt
    /// of every webhook it earned, and each webhook carries a W3C `traceparent`. Off when unset.
    /// `OTEL_EXPORTER_OTLP_HEADERS` adds headers to the exports (an API key).
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub otel_endpoint: Option<url::Url>,
    /// How spans are encoded for the collector.
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_PROTOCOL",
        hide_env_values = true,
        value_enum,
        default_value = "http/protobuf",
        value_name = "PROTOCOL"
    )]
    pub otel_protocol: crate::traces::OtlpProtocol,
}

impl ServeArgs {
    /// Where to export traces, if anywhere.
    pub fn trace_export(&self) -> Option<crate::traces::TraceExport> {
        self.otel_endpoint
            .clone()
            .map(|endpoint| crate::traces::TraceExport {
                endpoint,
                protocol: self.otel_protocol,
            })
    }
}

fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{s}` is not a CIDR such as 10.0.4.0/24 or fd12::/64, or an address"))
}

/// Sends at once, in all: enough for ten thousand webhooks a second and more to receivers that
/// take a few hundred milliseconds (Little's law); a send waiting costs a socket and a few KiB
/// (BENCHMARKS.md).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8192;
/// Sends at once to one integration, at most: 2,048 at 200 ms is 10,000 a second.
pub const DEFAULT_MAX_IN_FLIGHT_PER_INTEGRATION: usize = 2048;

/// Everything the service needs to run; built from [`ServeArgs`] or directly by tests.
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
    pub targets: TargetPolicy,
    pub disable_after: Duration,
    pub retention: Duration,
    /// A cap on the SQLite file, in pages (`PRAGMA max_page_count`): lets tests fill the store.
    pub sqlite_max_pages: Option<u32>,
    /// "Now" for the charts' time buckets and the monthly schedule: the system's, or one a
    /// test sets.
    pub clock: Clock,
    /// How often the monthly schedule looks for months due (tests shorten it).
    pub monthly_tick: Duration,
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
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_in_flight_per_integration: DEFAULT_MAX_IN_FLIGHT_PER_INTEGRATION,
            poll_interval: Duration::from_millis(200),
            targets: TargetPolicy::default(),
            disable_after: Duration::from_secs(5 * 86_400),
            retention: Duration::from_secs(30 * 86_400),
            sqlite_max_pages: None,
            clock: Clock::system(),
            monthly_tick: Duration::from_secs(1),
        }
    }

    /// Settings that cannot work together.
    pub fn check(&self) -> Result<(), String> {
        if self.lease_time <= self.http_timeout {
            return Err(format!(
                "--lease-time / LC_LEASE_TIME ({:?}) must be longer than --http-timeout / \
                 LC_HTTP_TIMEOUT ({:?}), or a slow send would be sent twice",
                self.lease_time, self.http_timeout
            ));
        }
        self.check_listen_is_safe()
    }

    /// The API is open without a token, so it may only be reachable from this machine.
    pub fn check_listen_is_safe(&self) -> Result<(), String> {
        if self.admin_token.is_none() && !self.listen.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on non-loopback address {} without an admin token: set \
                 --admin-token or LC_ADMIN_TOKEN, or listen on 127.0.0.1",
                self.listen
            ));
        }
        Ok(())
    }
}

impl From<ServeArgs> for Settings {
    fn from(a: ServeArgs) -> Self {
        Settings {
            database_url: a.store.database_url,
            listen: a.listen,
            admin_token: a.admin_token.filter(|t| !t.is_empty()).map(Secret::new),
            retry_schedule: a.retry_schedule,
            http_timeout: a.http_timeout,
            lease_time: a.lease_time,
            max_in_flight: a.max_in_flight as usize,
            max_in_flight_per_integration: a.max_in_flight_per_integration as usize,
            targets: TargetPolicy::new(a.block_private_targets, a.allow_targets),
            disable_after: a.disable_after,
            retention: a.retention,
            ..Settings::new(String::new())
        }
    }
}

/// `IP:PORT`, or `localhost:PORT` (IPv4 loopback).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port = s
        .strip_prefix("localhost:")
        .and_then(|p| p.parse::<u16>().ok());
    match port {
        Some(port) => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)),
        None => Err(format!(
            "`{s}` is not an address to listen on: give IP:PORT, such as 127.0.0.1:8080, \
             [::1]:8080 or 0.0.0.0:8080, or localhost:PORT"
        )),
    }
}

/// What to do when an address cannot be listened on (`serve` and `listen` alike).
pub fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "; another process (another lc-webhooks?) holds that port: stop it or pick another"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "; this machine has no such address: use 127.0.0.1 or one of its own"
        }
        std::io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need privileges: pick a higher one"
        }
        _ => "",
    }
}

/// Parses `250ms`, `5s`, `5m`, `2h`, `5d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` has no unit (use ms, s, m, h or d, e.g. 10s)"))?;
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "`{s}` has unknown unit `{unit}` (use ms, s, m, h or d)"
            ))
        }
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is too long"))
}

/// A duration as `parse_duration` reads it, in the largest unit that holds it exactly: `500ms`,
/// `90s`, `5m`, `10h`, `5d`.
pub fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in units {
        if millis > 0 && millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_they_are_read() {
        for (text, back) in [
            ("500ms", "500ms"),
            ("43s", "43s"),
            ("5m", "5m"),
            ("90s", "90s"),
            ("120s", "2m"),
            ("48h", "2d"),
            ("0s", "0ms"),
        ] {
            let d = parse_duration(text).expect("parses");
            assert_eq!(format_duration(d), back, "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
    }

    #[test]
    fn durations_take_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(432_000)));
    }

    #[test]
    fn durations_without_a_known_unit_are_refused() {
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5w").is_err());
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

    #[test]
    fn listen_takes_localhost_and_explains_what_it_wants() {
        assert_eq!(
            parse_listen("localhost:8090"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8090)))
        );
        assert_eq!(
            parse_listen("[::1]:8090"),
            Ok("[::1]:8090".parse().expect("addr"))
        );
        let err = parse_listen("example.com:80").expect_err("a hostname");
        assert!(err.contains("IP:PORT"), "{err}");
        assert!(parse_listen("127.0.0.1").is_err());
    }

    #[test]
    fn private_targets_are_blocked_by_flag_with_exceptions() {
        let parsed = Cli::try_parse_from([
            "lc-webhooks",
            "--block-private-targets",
            "--allow-targets",
            "10.0.4.0/24,fd12::1",
            "--disable-after",
            "2s",
        ]);
        let settings = Settings::from(parsed.expect("parses").serve);
        let blocked = "127.0.0.1".parse().expect("ip");
        assert!(settings.targets.refusal(blocked).is_some());
        assert!(settings
            .targets
            .refusal("10.0.4.9".parse().expect("ip"))
            .is_none());
        assert!(settings
            .targets
            .refusal("fd12::1".parse().expect("ip"))
            .is_none());
        assert_eq!(settings.disable_after, Duration::from_secs(2));
        let open = Settings::from(Cli::try_parse_from(["lc-webhooks"]).expect("parses").serve);
        assert!(open.targets.refusal(blocked).is_none(), "open by default");
        assert!(Cli::try_parse_from(["lc-webhooks", "--allow-targets", "10.0.0.0/99"]).is_err());
    }

    #[test]
    fn zero_sends_in_flight_is_refused_not_rounded_up() {
        let parsed = Cli::try_parse_from(["lc-webhooks", "--max-in-flight", "0"]);
        let err = parsed.expect_err("0 is refused");
        assert!(err.to_string().contains("max-in-flight"), "{err}");
        let parsed = Cli::try_parse_from(["lc-webhooks", "serve", "--max-in-flight", "3"]);
        let Ok(Cli {
            command: Some(Command::Serve(args)),
            ..
        }) = parsed
        else {
            panic!("serve --max-in-flight 3 parses");
        };
        assert_eq!(args.max_in_flight, 3);
    }

    #[test]
    fn migrate_and_import_take_only_the_flags_they_use() {
        assert!(
            Cli::try_parse_from(["lc-webhooks", "migrate", "--listen", "127.0.0.1:1"]).is_err()
        );
        assert!(Cli::try_parse_from([
            "lc-webhooks",
            "import",
            "--file",
            "p.jsonl",
            "--database-url",
            "sqlite://x.db"
        ])
        .is_ok());
    }

    #[test]
    fn every_flag_says_what_it_does() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let mut commands = vec![&cli];
        commands.extend(cli.get_subcommands());
        for command in commands {
            assert!(
                command.get_about().is_some() || command.get_name() == "lc-webhooks",
                "{} has no description",
                command.get_name()
            );
            for arg in command.get_arguments() {
                if matches!(arg.get_id().as_str(), "help" | "version") {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "{} --{} has no description",
                    command.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
