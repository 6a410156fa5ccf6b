//! The README's walkthrough ("Five minutes with curl" and the sections under it), run as it is
//! written, against the real binary: its shell blocks are read from README.md, so the README
//! cannot drift from what happens. `cargo run --release` becomes this build's binary, the fixed
//! ports (8080, 9000, 9001) free ones, and the checkout a fresh folder (its `./data/`). What the
//! README says the user sees (the start-up line, the webhook `listen` prints, `imported 2 posts`,
//! `signature valid`) is compared with what the commands print. It needs bash, curl, jq and
//! openssl, like the README; under `CI=true` their absence fails the test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::WAIT;
use regex::Regex;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const README: &str = include_str!("../../README.md");

/// The walkthrough: from "Five minutes with curl" to the next top-level section.
fn walkthrough() -> &'static str {
    let start = README
        .find("## Five minutes with curl")
        .expect("the README has its walkthrough");
    let end = README[start..]
        .find("\n## ")
        .map_or(README.len(), |i| start + i);
    &README[start..end]
}

/// The shell blocks of the walkthrough, in order.
fn blocks() -> Vec<&'static str> {
    walkthrough()
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split("```").next().expect("a closed block"))
        .collect()
}

/// The one block that contains `needle`.
fn block_with(needle: &str) -> &'static str {
    let found: Vec<_> = blocks()
        .into_iter()
        .filter(|b| b.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one README block holds {needle:?}: {found:?}"
    );
    found[0]
}

/// The one block that is exactly `command`.
fn block_exactly(command: &str) -> &'static str {
    blocks()
        .into_iter()
        .find(|b| b.trim() == command)
        .unwrap_or_else(|| panic!("no README block is just `{command}`"))
}

/// A README sentence's inline code, with its line breaks read as Markdown reads them (spaces).
fn quoted_after(lead: &str) -> String {
    let at = walkthrough().find(lead).expect("the sentence") + lead.len();
    let rest = &walkthrough()[at..];
    let code = rest.split('`').nth(1).expect("an inline code span");
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The README's commands as this test runs them: its binary, its ports.
struct Adapt {
    ports: [(u16, u16); 3],
}

impl Adapt {
    fn new() -> Adapt {
        Adapt {
            ports: [
                (8080, free_port()),
                (9000, free_port()),
                (9001, free_port()),
            ],
        }
    }

    fn port(&self, readme_port: u16) -> u16 {
        self.ports
            .iter()
            .find(|(p, _)| *p == readme_port)
            .expect("a README port")
            .1
    }

    /// `text` with this run's ports.
    fn ports(&self, text: &str) -> String {
        self.ports.iter().fold(text.to_string(), |t, (from, to)| {
            t.replace(&format!("127.0.0.1:{from}"), &format!("127.0.0.1:{to}"))
        })
    }

    /// A block as a script; a block that ends in a long-running command `exec`s it, so stopping
    /// the script stops it.
    fn script(&self, block: &str, long_running: bool) -> String {
        let mut lines: Vec<String> = self
            .ports(block)
            .lines()
            .map(|l| {
                l.replace("cargo run --release --", "\"$LCW\"")
                    .replace("cargo run --release", "\"$LCW\"")
            })
            .collect();
        if long_running {
            let last = lines.last_mut().expect("a command");
            assert!(last.starts_with("\"$LCW\""), "{last}");
            *last = format!("exec {last}");
        }
        lines.join("\n")
    }

    fn bash(&self, dir: &Path, script: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("LCW", env!("CARGO_BIN_EXE_lc-webhooks"))
            .env("LC_LISTEN", format!("127.0.0.1:{}", self.port(8080)))
            .env(
                "LC_RECEIVER_LISTEN",
                format!("127.0.0.1:{}", self.port(9000)),
            )
            .env("TMPDIR", dir)
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .env_remove("DATABASE_URL")
            .env_remove("LC_ADMIN_TOKEN")
            .env_remove("LC_RETRY_SCHEDULE")
            .env_remove("LC_RECEIVER_API_KEY")
            .env_remove("LC_RECEIVER_SIGNING_SECRET")
            .env_remove("RUST_LOG")
            .kill_on_drop(true);
        command
    }
}

/// A terminal running one long-running block, its output (stdout and stderr) collected.
struct Terminal {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Terminal {
    fn start(adapt: &Adapt, dir: &Path, block: &str) -> Terminal {
        let mut child = adapt
            .bash(dir, &adapt.script(block, true))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash");
        let out = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("stdout"), out.clone());
        collect(child.stderr.take().expect("stderr"), out.clone());
        Terminal { child, out }
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    async fn wait_for(&self, needle: &str) {
        let waited = tokio::time::timeout(WAIT, async {
            while !self.text().contains(needle) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "no {needle:?} in:\n{}", self.text());
    }

    /// Ctrl-C, as the README says.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, out: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = out.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

/// Terminal 3: each block runs in a fresh bash that starts from the variables the earlier ones
/// set (`API`, `J`, `CREATOR`, …), as one shell would keep them.
struct Shell {
    vars: BTreeMap<String, String>,
}

impl Shell {
    async fn run(&mut self, adapt: &Adapt, dir: &Path, block: &str) -> String {
        let assigned: Vec<String> = Regex::new(r"(?m)^([A-Z][A-Z_0-9]*)=")
            .expect("regex")
            .captures_iter(block)
            .map(|c| c[1].to_string())
            .collect();
        let mut script: String = self.vars.values().cloned().collect::<Vec<_>>().join("\n");
        script.push('\n');
        script.push_str(&adapt.script(block, false));
        script.push_str("\necho '--- variables'\n");
        for name in &assigned {
            script.push_str(&format!("declare -p {name}\n"));
        }
        let out = tokio::time::timeout(Duration::from_secs(60), adapt.bash(dir, &script).output())
            .await
            .expect("the block finishes within 60 s")
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{block}\nstdout: {stdout}\nstderr: {stderr}"
        );
        let (printed, declared) = stdout.split_once("--- variables\n").expect("the marker");
        for (name, line) in assigned.iter().zip(declared.lines()) {
            self.vars.insert(name.clone(), line.to_string());
        }
        format!("{printed}{stderr}")
    }
}

/// Output with what changes from run to run (times, ids, codes) masked.
fn masked(text: &str) -> String {
    let masks = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z?", "<timestamp>"),
        (r"\b\d\d:\d\d:\d\d\.\d{3}\b", "<time>"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "<id>",
        ),
        (r"LC-[0-9A-Z]{8}", "<code>"),
    ];
    masks.iter().fold(text.to_string(), |t, (re, by)| {
        Regex::new(re)
            .expect("regex")
            .replace_all(&t, *by)
            .into_owned()
    })
}

/// The sample of `listen`'s output the README shows after the first reward.
fn readme_sample_webhook() -> String {
    let after = walkthrough()
        .split("Terminal 1 now shows the webhook")
        .nth(1)
        .expect("the sample's sentence");
    let sample = after.split("```\n").nth(1).expect("the sample block");
    sample.to_string()
}

fn tools_missing() -> Option<String> {
    ["bash", "curl", "jq", "openssl"]
        .into_iter()
        .find_map(|tool| {
            let found = std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            (!found).then(|| tool.to_string())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_runs_as_written_and_shows_what_it_says() {
    if let Some(tool) = tools_missing() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "the README walkthrough needs {tool} under CI=true"
        );
        eprintln!("skipping the README walkthrough: {tool} is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("a fresh checkout folder");
    let dir = dir.path();
    let adapt = Adapt::new();
    let mut shell = Shell {
        vars: BTreeMap::new(),
    };

    // Terminal 1 and terminal 2.
    let receiver = Terminal::start(&adapt, dir, block_with("listen --api-key sk_test_123"));
    receiver.wait_for("listening for webhooks").await;
    let service = Terminal::start(&adapt, dir, block_exactly("cargo run --release"));
    service.wait_for("lc-webhooks listening").await;
    let start_up = adapt.ports(&quoted_after("It says where everything is in one line:"));
    assert!(
        service.text().contains(&start_up),
        "the README's start-up line `{start_up}` is not what the service says: {}",
        service.text()
    );

    // Terminal 3: the first reward, then the log.
    let out = shell
        .run(&adapt, dir, block_with("\"name\": \"my shop\""))
        .await;
    assert!(out.contains("\"name\": \"2 Story posts\""), "{out}");
    receiver.wait_for("-> 200").await;
    let shown = masked(&readme_sample_webhook());
    let printed = masked(&receiver.text());
    assert!(
        printed.contains(&shown),
        "listen does not print what the README shows.\nREADME:\n{shown}\nlisten:\n{printed}"
    );
    let out = shell
        .run(&adapt, dir, block_with("deliveries?status=succeeded"))
        .await;
    assert!(out.contains("\"status\": \"succeeded\""), "{out}");
    assert!(out.contains("\"success\": true"), "the Test send: {out}");

    // Watching a retry: the service again with the short schedule, the receiver stopped.
    service.stop().await;
    let service = Terminal::start(&adapt, dir, block_with("--retry-schedule 3s,10s,30s"));
    service.wait_for("lc-webhooks listening").await;
    let schedule = quoted_after("Its start-up line says what that means:");
    assert!(
        service.text().contains(&schedule),
        "`{schedule}`: {}",
        service.text()
    );
    receiver.stop().await;
    let out = shell.run(&adapt, dir, block_with("bea@example.com")).await;
    assert!(out.contains("\"attemptCount\": 1"), "{out}");
    assert!(out.contains("\"lastError\": \"connection failed"), "{out}");

    // Signed webhooks: terminal 1 makes the integration and runs its receiver; terminal 3 tests.
    let signed = Terminal::start(&adapt, dir, block_with("LC_RECEIVER_SIGNING_SECRET="));
    signed.wait_for("checking signatures").await;
    assert!(
        signed.text().lines().any(|l| l == "true"),
        "`signing` is true: {}",
        signed.text()
    );
    assert!(
        !signed.text().contains("whsec_"),
        "the secret was shown: {}",
        signed.text()
    );
    let out = shell
        .run(&adapt, dir, block_with("select(.name == \"signed\")"))
        .await;
    assert!(out.contains("\"responseStatus\": 200"), "{out}");
    signed.wait_for("signed@example.com").await;
    let said = "ok    signature valid";
    assert!(walkthrough().contains(&format!("`{said}`")));
    signed.wait_for(said).await;

    // Posts from another process.
    let out = shell.run(&adapt, dir, block_with("import --file")).await;
    assert!(walkthrough().contains("`imported 2 posts`"));
    assert!(out.contains("imported 2 posts"), "{out}");
    assert!(
        out.contains("\"discountCode\": \"LC-"),
        "Dan's reward: {out}"
    );
    signed.wait_for("dan@example.com").await;

    // The same post twice: one post, the second answer a 200.
    let out = shell
        .run(&adapt, dir, block_with("for attempt in 1 2"))
        .await;
    assert!(walkthrough().contains("answer `201`, then `200`"));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines.get(..2), Some(&["201", "200"][..]), "{out}");
    assert_eq!(
        out.matches("\"externalId\": \"17895695668004550\"").count(),
        1,
        "one post stored: {out}"
    );

    // Programs.
    let out = shell
        .run(&adapt, dir, block_with("\"approval\": \"MANUAL\""))
        .await;
    let said = r#"{"followers":12500,"segments":["EU"],"memberships":["APPROVED"]}"#;
    assert!(walkthrough().contains(&format!("`{said}`")));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["PENDING", "APPROVED", "invalid_transition", said],
        "{out}"
    );
    // A monthly tiered program: run by hand once, tier 2, then nothing new.
    let out = shell
        .run(&adapt, dir, block_with("\"schedule\": \"MONTHLY\""))
        .await;
    assert!(walkthrough().contains("`\"fulfillments\":0`"));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[0], "APPROVED", "{out}");
    let month = Regex::new(r#"^\{"month":"(\d{4}-\d\d)","fulfillments":1\}$"#)
        .expect("regex")
        .captures(lines[1])
        .unwrap_or_else(|| panic!("the first run grants one fulfillment: {out}"))[1]
        .to_string();
    assert_eq!(
        lines[2],
        format!(r#"{{"month":"{month}","fulfillments":0}}"#),
        "the second run grants nothing: {out}"
    );
    assert_eq!(
        lines[3],
        format!(r#"{{"month":"{month}","fulfillments":1,"startedBy":"HAND"}}"#),
        "{out}"
    );
    assert!(
        Regex::new(&format!(
            r#"^\{{"month":"{month}","tier":2,"discountCode":"GOLD-[0-9A-Z]{{8}}"\}}$"#
        ))
        .expect("regex")
        .is_match(lines[4]),
        "Mia's fulfillment is tier 2: {out}"
    );
    signed.wait_for("mia@example.com").await;
    signed.wait_for("3 posts (REEL, REEL, REEL)").await;

    let left: Vec<String> = std::fs::read_dir(dir)
        .expect("the folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["data"], "the walkthrough left files behind");

    signed.stop().await;
    service.stop().await;
}
