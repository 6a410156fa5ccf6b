//! The binary as a user meets it: `--help` they can work from, start-up errors that name the
//! flag and the fix, and logs on stderr without colour codes when not on a terminal.

use std::process::Stdio;
use std::time::Duration;

use crate::common::{Backend, TestDb};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn lc_webhooks(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lc-webhooks"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("LC_LISTEN")
        .env_remove("LC_ADMIN_TOKEN")
        .env_remove("LC_RETRY_SCHEDULE")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    command
}

/// Runs to the end; (success, stdout, stderr).
async fn run(args: &[&str]) -> (bool, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(30), lc_webhooks(args).output())
        .await
        .expect("finished within 30 s")
        .expect("ran");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn help_names_every_flag_with_its_variable_and_default() {
    let (ok, help, _) = run(&["--help"]).await;
    assert!(ok);
    for (flag, env) in [
        ("--database-url", "DATABASE_URL"),
        ("--listen", "LC_LISTEN"),
        ("--admin-token", "LC_ADMIN_TOKEN"),
        ("--retry-schedule", "LC_RETRY_SCHEDULE"),
        ("--http-timeout", "LC_HTTP_TIMEOUT"),
        ("--lease-time", "LC_LEASE_TIME"),
        ("--max-in-flight", "LC_MAX_IN_FLIGHT"),
        (
            "--max-in-flight-per-integration",
            "LC_MAX_IN_FLIGHT_PER_INTEGRATION",
        ),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}: {help}");
        assert!(
            help.contains(&format!("env: {env}")),
            "--help lacks {env}: {help}"
        );
    }
    for words in [
        "[default: 10s]",
        "[default: 127.0.0.1:8080]",
        "ms",
        "serve",
        "migrate",
        "import",
        "openapi",
        "listen",
    ] {
        assert!(help.contains(words), "--help lacks {words}: {help}");
    }
    let (ok, listen, _) = run(&["listen", "--help"]).await;
    assert!(ok);
    for flag in [
        "--api-key",
        "--signing-secret",
        "--fail-rate",
        "--delay",
        "--forward-to",
        "LC_RECEIVER_LISTEN",
    ] {
        assert!(
            listen.contains(flag),
            "listen --help lacks {flag}: {listen}"
        );
    }
    let (ok, migrate, _) = run(&["migrate", "--help"]).await;
    assert!(ok);
    assert!(migrate.contains("--database-url"));
    assert!(
        !migrate.contains("--listen"),
        "migrate lists serve's flags: {migrate}"
    );
    let (ok, import, _) = run(&["import", "--help"]).await;
    assert!(ok);
    assert!(
        import.contains("--file") && import.contains("JSON"),
        "{import}"
    );
}

#[tokio::test]
async fn bad_flags_say_what_they_want() {
    for (args, expected) in [
        (vec!["--listen", "localhost"], "IP:PORT"),
        (vec!["--listen", "example.com:80"], "IP:PORT"),
        (vec!["--max-in-flight", "0"], "--max-in-flight"),
        (vec!["--retry-schedule", ""], "none"),
        (vec!["--http-timeout", "10"], "unit"),
    ] {
        let (ok, _, err) = run(&args).await;
        assert!(!ok, "{args:?} was accepted");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

/// One line, naming where and the variable, without a chain of `Caused by`.
fn assert_one_clear_line(err: &str, needles: &[&str]) {
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("lc-webhooks:"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(!err.contains("Caused by"), "{err}");
    for needle in needles {
        assert!(lines[0].contains(needle), "`{needle}` missing from: {err}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_with_where_and_the_flag() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("postgres://postgres:pw-never-shown@127.0.0.1:{port}/lc");
    let started = std::time::Instant::now();
    let (ok, _, err) = run(&["--database-url", &url, "--listen", "127.0.0.1:0"]).await;
    assert!(!ok);
    assert_one_clear_line(&err, &[&format!("127.0.0.1:{port}"), "DATABASE_URL"]);
    assert!(!err.contains("pw-never-shown"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "it waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_missing_postgres_database_says_how_to_create_it() {
    // A reachable server (or, outside CI, a skip): then a database on it that does not exist.
    let Some(_db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let url = "postgres://postgres@127.0.0.1:5432/lc_no_such_database";
    let (ok, _, err) = run(&["migrate", "--database-url", url]).await;
    assert!(!ok);
    assert_one_clear_line(&err, &["lc_no_such_database", "does not exist", "createdb"]);
}

#[tokio::test]
async fn a_port_in_use_names_the_flag() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = held.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/cli.db", dir.path().display());
    let (ok, _, err) = run(&["--database-url", &url, "--listen", &addr]).await;
    assert!(!ok);
    assert_one_clear_line(&err, &[&addr, "--listen"]);
}

#[tokio::test]
async fn logs_go_to_stderr_without_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/logs.db", dir.path().display());
    let mut child = lc_webhooks(&["--database-url", &url, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = stderr.next_line().await.expect("read stderr") {
            if line.contains("listening") {
                return line;
            }
        }
        panic!("stderr closed before the service said it listens");
    })
    .await
    .expect("the service starts within 20 s");
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a log file: {line:?}"
    );
    child.kill().await.expect("kill");
    let out = child.wait_with_output().await.expect("wait");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn openapi_prints_the_document() {
    let (ok, out, _) = run(&["openapi"]).await;
    assert!(ok);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
}
