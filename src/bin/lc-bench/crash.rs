//! `lc-bench crash`: an instance killed with `kill -9` mid-run. Restart (default): it is started
//! again at once on the same database. `--takeover` (PostgreSQL): a second instance shares the
//! database and the killed one stays dead. Prints the seconds from the restart (or the kill)
//! to the last webhook's first arrival and to every delivery recorded as succeeded (polled every
//! 50 ms), how many never arrived (lost) and how many arrived twice (resent).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::db::{create_pg_database, with_database, Db};
use crate::http::{post_json, wait_ready};
use crate::procs::{free_port, service_bin, unix_micros, Children};
use crate::receiver::ReceiverClient;
use crate::workload::{create_creators, media_batch};
use crate::{Backend, ADMIN_POSTGRES_URL};

#[derive(Debug, clap::Args)]
pub(crate) struct CrashArgs {
    #[arg(long, value_enum)]
    backend: Backend,
    /// Two instances on one PostgreSQL database; the one the posts went to is killed and not
    /// restarted, the other must deliver its work.
    #[arg(long)]
    takeover: bool,
    /// Rewards earned (one post each, one integration): the webhooks to deliver.
    #[arg(long, default_value_t = 600)]
    rewards: u64,
    /// The kill comes once the receiver has seen this many webhooks.
    #[arg(long, default_value_t = 120)]
    kill_after: u64,
    /// The receiver holds each webhook this long before answering 200.
    #[arg(long, default_value_t = 20)]
    receiver_delay_ms: u64,
    /// Give up waiting for the webhooks after this many seconds.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    /// A flag for every `lc-webhooks` process, as `--service-flag=--lease-time=5s` (repeatable).
    #[arg(long, allow_hyphen_values = true)]
    service_flag: Vec<String>,
    #[arg(long, default_value = ADMIN_POSTGRES_URL)]
    postgres_url: String,
    /// Path of the `lc-webhooks` binary (default: next to this one).
    #[arg(long)]
    service_bin: Option<PathBuf>,
}

pub(crate) fn main(args: &CrashArgs) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let mut children = Children::default();
    let result = rt.block_on(run(args, &mut children));
    children.clean_up(&rt, &args.postgres_url);
    result
}

struct Setup {
    service_bin: PathBuf,
    database_url: String,
    temp: PathBuf,
    flags: Vec<String>,
}

impl Setup {
    /// Starts an instance and waits until it answers `/healthz`.
    async fn start(&self, client: &reqwest::Client, name: &str) -> Result<(String, Child)> {
        let port = free_port()?;
        let log = std::fs::File::create(self.temp.join(format!("{name}.log")))?;
        let mut child = Command::new(&self.service_bin)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &self.database_url])
            .args(&self.flags)
            .env_remove("LC_RETRY_SCHEDULE")
            .env_remove("LC_ADMIN_TOKEN")
            .env_remove("DATABASE_URL")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.service_bin.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        if let Err(e) = wait_ready(client, &format!("{base}/healthz"), &mut child).await {
            let log =
                std::fs::read_to_string(self.temp.join(format!("{name}.log"))).unwrap_or_default();
            bail!("{name}: {e:#}\n{log}");
        }
        Ok((base, child))
    }
}

async fn run(args: &CrashArgs, children: &mut Children) -> Result<()> {
    if args.takeover && args.backend == Backend::Sqlite {
        bail!("--takeover needs --backend postgres (SQLite is one process's store)");
    }
    let exe = std::env::current_exe()?;
    let service_bin = service_bin(args.service_bin.as_deref())?;
    let temp = std::env::temp_dir().join(format!("lc-crash-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&temp)?;
    children.temp_dir = Some(temp.clone());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    let rport = free_port()?;
    let mut rchild = Command::new(&exe)
        .args(["--receiver-only", "--port", &rport.to_string()])
        .args(["--receiver-delay-ms", &args.receiver_delay_ms.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the receiver")?;
    let receiver_base = format!("http://127.0.0.1:{rport}");
    wait_ready(&client, &format!("{receiver_base}/count"), &mut rchild).await?;
    children.procs.push(("receiver".into(), rchild));
    let receiver = ReceiverClient {
        client: client.clone(),
        base: receiver_base.clone(),
        healthy_only: false,
    };

    let database_url = match args.backend {
        Backend::Sqlite => format!("sqlite://{}", temp.join("crash.db").display()),
        Backend::Postgres => {
            let name = format!("lcw_crash_{}", uuid::Uuid::now_v7().simple());
            create_pg_database(&args.postgres_url, &name).await?;
            children.pg_database = Some(name.clone());
            with_database(&args.postgres_url, &name)?
        }
    };
    let setup = Setup {
        service_bin,
        database_url,
        temp,
        flags: args.service_flag.clone(),
    };
    let (victim, victim_child) = setup.start(&client, "victim").await?;
    let victim_pid = victim_child.id();
    children.procs.push(("victim".into(), victim_child));
    if args.takeover {
        let (_, survivor) = setup.start(&client, "survivor").await?;
        children.procs.push(("survivor".into(), survivor));
    }
    post_json(
        &client,
        &format!("{victim}/v1/integrations"),
        &json!({"name": "crash", "url": format!("{receiver_base}/hook/0"), "apiKey": "crash-key"}),
    )
    .await?;
    post_json(
        &client,
        &format!("{victim}/v1/rules"),
        &json!({"name":"crash","postTypes":[],"count":1,"repeatable":true,"reward":{"type":"DISCOUNT_CODE"}}),
    )
    .await?;
    let creators = create_creators(&client, &[(victim.clone(), victim_pid)], 50).await?;

    // Every post goes to the victim, so the deliveries are leased to it.
    let mut start = 0;
    while start < args.rewards {
        let len = (args.rewards - start).min(1000) as usize;
        post_json(
            &client,
            &format!("{victim}/v1/media/batch"),
            &media_batch(&creators, start, len, None),
        )
        .await?;
        start += len as u64;
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    while receiver.count().await? < args.kill_after {
        if Instant::now() > deadline {
            bail!("the receiver never saw {} webhooks", args.kill_after);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (_, mut child) = children
        .procs
        .iter()
        .position(|(name, _)| name == "victim")
        .map(|i| children.procs.remove(i))
        .ok_or_else(|| anyhow!("no victim"))?;
    child.kill()?; // SIGKILL
    let killed_at = unix_micros();
    child.wait()?;
    let seen_at_kill = receiver.count().await?;
    let (reference, restart_ready_secs) = if args.takeover {
        (killed_at, None)
    } else {
        let restarted_at = unix_micros();
        let (_, again) = setup.start(&client, "restarted").await?;
        children.procs.push(("restarted".into(), again));
        let ready = (unix_micros() - restarted_at) as f64 / 1e6;
        (restarted_at, Some(ready))
    };
    // Done when every webhook has arrived and every delivery is recorded as succeeded: one
    // sent but not recorded would be sent again once its lease ran out.
    let db = Db::connect(&setup.database_url).await?;
    let mut distinct = 0;
    let mut succeeded = 0;
    let mut all_recorded_at = None;
    while Instant::now() < deadline {
        distinct = first_receipts(&receiver.events(0).await?).len() as u64;
        succeeded = db
            .count("SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'")
            .await?;
        if succeeded as u64 >= args.rewards {
            all_recorded_at.get_or_insert(unix_micros());
            if distinct >= args.rewards {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
    let events = receiver.events(0).await?;
    let firsts = first_receipts(&events);
    let last = firsts.values().copied().max().unwrap_or(reference);
    let resent = events.len() as u64 - firsts.len() as u64;
    let resent_ids: Vec<&String> = {
        let mut seen: HashMap<&String, u32> = HashMap::new();
        for (id, _, _) in &events {
            *seen.entry(id).or_default() += 1;
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(id, _)| id)
            .collect()
    };
    // How long before the kill the resent webhooks had first arrived.
    let mut resent_first_ms: Vec<f64> = resent_ids
        .iter()
        .filter_map(|id| firsts.get(*id))
        .map(|at| (killed_at - at) as f64 / 1e3)
        .collect();
    resent_first_ms.sort_by(f64::total_cmp);
    let secs = (last - reference) as f64 / 1e6;
    let recorded_secs = all_recorded_at.map(|at| ((at - reference) as f64 / 1e3).round() / 1e3);
    let figures = json!({
        "mode": if args.takeover { "takeover" } else { "restart" },
        "backend": match args.backend { Backend::Sqlite => "sqlite", Backend::Postgres => "postgres" },
        "rewards": args.rewards,
        "seen_at_kill": seen_at_kill,
        "secs_to_last_delivery": (secs * 1000.0).round() / 1000.0,
        "secs_to_all_recorded": recorded_secs,
        "restart_ready_secs": restart_ready_secs,
        "lost": args.rewards.saturating_sub(distinct.max(firsts.len() as u64)),
        "resent": resent,
        "resent_first_arrived_ms_before_kill_max": resent_first_ms.last().copied(),
        "succeeded_rows": succeeded,
        "service_flags": args.service_flag,
    });
    if let Value::Object(map) = &figures {
        for (name, value) in map {
            println!("{name}: {value}");
        }
    }
    println!("{figures}");
    Ok(())
}

/// When each `webhook-id` first arrived (unix µs).
fn first_receipts(events: &[(String, String, i64)]) -> HashMap<String, i64> {
    let mut firsts: HashMap<String, i64> = HashMap::new();
    for (id, _, at) in events {
        firsts
            .entry(id.clone())
            .and_modify(|t| *t = (*t).min(*at))
            .or_insert(*at);
    }
    firsts
}
