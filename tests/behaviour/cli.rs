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
        "--event-type",
        "LC_RECEIVER_LISTEN",
    ] {
        assert!(
            listen.contains(flag),
            "listen --help lacks {flag}: {listen}"
        );
    }
    // Several secrets, as while one is rotated.
    assert!(
        listen.contains("several times") && listen.contains("rotated"),
        "listen --help does not say --signing-secret may be given several times: {listen}"
    );
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
    assert_one_clear_line(
        &err,
        &[
            &addr,
            "--listen",
            "holds that port: stop it or pick another",
        ],
    );
}

/// Starts the service with `args`; the child and its start-up line.
async fn start_up_line(args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = lc_webhooks(args)
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
    (child, line)
}

#[tokio::test]
async fn logs_go_to_stderr_without_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/logs.db", dir.path().display());
    let (mut child, line) =
        start_up_line(&["--database-url", &url, "--listen", "127.0.0.1:0"]).await;
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

/// The address a start-up line says it listens on.
fn listening_on(line: &str) -> &str {
    line.split_once("listening on ")
        .and_then(|(_, rest)| rest.split_once(": console"))
        .map(|(addr, _)| addr)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

#[tokio::test]
async fn the_start_up_line_names_the_console_the_reference_the_database_and_the_schedule() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = format!("{}/start.db", dir.path().display());
    let url = format!("sqlite://{path}");
    let (mut child, line) = start_up_line(&[
        "--database-url",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--retry-schedule",
        "3s,10s,30s",
    ])
    .await;
    child.kill().await.expect("kill");
    let addr = listening_on(&line);
    for needed in [
        format!("console http://{addr}/,"),
        format!("API reference http://{addr}/docs"),
        format!("database: SQLite {path}"),
        "retry schedule 3s,10s,30s (4 attempts, the last 43s after the first)".to_string(),
    ] {
        assert!(line.contains(&needed), "`{needed}` missing from {line:?}");
    }

    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    // Trust authentication ignores the password, which must still never be shown.
    let with_password = db.url.replace("postgres@", "postgres:pw-never-shown@");
    let (mut child, line) =
        start_up_line(&["--database-url", &with_password, "--listen", "127.0.0.1:0"]).await;
    child.kill().await.expect("kill");
    let name = db.url.rsplit('/').next().expect("a database name");
    assert!(
        line.contains(&format!(
            "database: PostgreSQL database \"{name}\" at 127.0.0.1:5432"
        )),
        "{line}"
    );
    assert!(
        line.contains("retry schedule 5s,5m,30m,2h,5h,10h,10h (8 attempts"),
        "{line}"
    );
    assert!(!line.contains("pw-never-shown"), "{line}");
}

/// Every help page, as `lc-webhooks <subcommand> --help` prints it.
async fn every_help() -> Vec<(String, String)> {
    let mut pages = Vec::new();
    for sub in [
        "",
        "serve",
        "migrate",
        "import",
        "listen",
        "openapi",
        "healthcheck",
    ] {
        let mut args: Vec<&str> = Vec::new();
        if !sub.is_empty() {
            args.push(sub);
        }
        args.push("--help");
        let (ok, help, err) = run(&args).await;
        assert!(ok, "{args:?}: {err}");
        pages.push((sub.to_string(), help));
    }
    pages
}

#[tokio::test]
async fn help_never_shows_an_environment_value_not_even_an_empty_one() {
    let mut command = lc_webhooks(&["--help"]);
    command.env(
        "DATABASE_URL",
        "postgres://postgres:pw-never-shown@127.0.0.1:5432/lc",
    );
    let out = command.output().await.expect("ran");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[env: DATABASE_URL]"), "{help}");
    assert!(!help.contains("pw-never-shown"), "{help}");
    for (sub, help) in every_help().await {
        assert!(
            !help.contains("=]"),
            "`{sub} --help` shows an environment value: {help}"
        );
    }
}

#[tokio::test]
async fn every_duration_flag_lists_the_units_its_parser_takes() {
    use clap::CommandFactory;
    use lc_webhooks::config::{Cli, DURATION_UNITS};
    let cli = Cli::command();
    let mut found = 0;
    let mut commands = vec![(None, &cli)];
    commands.extend(cli.get_subcommands().map(|c| (Some(c.get_name()), c)));
    for (sub, command) in commands {
        for arg in command.get_arguments() {
            let is_duration = arg
                .get_value_names()
                .is_some_and(|names| names.iter().any(|n| n == "DURATION"));
            if !is_duration {
                continue;
            }
            found += 1;
            let flag = format!("--{}", arg.get_long().expect("a long flag"));
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(
                help.contains(DURATION_UNITS),
                "{sub:?} {flag} does not list the units: {help}"
            );
            // Every unit it lists is one it takes.
            for value in ["500ms", "90s", "5m", "2h", "1d"] {
                let mut argv = vec!["lc-webhooks"];
                argv.extend(sub);
                argv.extend([flag.as_str(), value]);
                if let Err(e) = <Cli as clap::Parser>::try_parse_from(&argv) {
                    panic!("{argv:?} is refused: {e}");
                }
            }
        }
    }
    assert!(found >= 7, "only {found} duration flags found");
    let (_, help, _) = run(&["--help"]).await;
    assert!(
        help.matches(DURATION_UNITS).count() >= 4,
        "the binary's --help: {help}"
    );
}

#[tokio::test]
async fn serve_help_has_the_layout_of_the_top_level_and_both_name_the_console() {
    let pages = every_help().await;
    let page = |name: &str| {
        pages
            .iter()
            .find(|(sub, _)| sub == name)
            .map(|(_, help)| help.clone())
            .expect("a help page")
    };
    // The options of serve, from --database-url to the end of --retention's entry.
    let options = |help: &str| {
        let start = help.find("      --database-url").expect("--database-url");
        let end = help.find("  -h, --help").expect("--help");
        help[start..end].to_string()
    };
    let (top, serve) = (page(""), page("serve"));
    assert_eq!(
        options(&top),
        options(&serve),
        "top level:\n{top}\nserve:\n{serve}"
    );
    for help in [&top, &serve] {
        assert!(help.contains("web console at /"), "{help}");
        assert!(help.contains("http://127.0.0.1:8080/"), "{help}");
    }
    let healthcheck = page("healthcheck");
    assert!(healthcheck.contains("LC_HEALTHCHECK_URL"), "{healthcheck}");
    assert!(
        healthcheck.contains("LC_HEALTHCHECK_TIMEOUT"),
        "{healthcheck}"
    );
}

#[tokio::test]
async fn listen_on_a_taken_port_says_what_to_do() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = held.local_addr().expect("addr").to_string();
    let (ok, _, err) = run(&["listen", "--listen", &addr]).await;
    assert!(!ok);
    assert_one_clear_line(
        &err,
        &[
            &addr,
            "--listen",
            "holds that port: stop it or pick another",
        ],
    );
}

/// The service started by `sh` after `limits` (`ulimit` commands); its stderr up to the
/// start-up line, and the child.
#[cfg(target_os = "linux")]
async fn start_under(limits: &str, url: &str) -> (tokio::process::Child, Vec<String>) {
    let script =
        format!("set -e; {limits}; exec \"$0\" --database-url \"$1\" --listen 127.0.0.1:0");
    let mut child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_lc-webhooks"), url])
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let lines = tokio::time::timeout(Duration::from_secs(20), async {
        let mut seen = Vec::new();
        while let Some(line) = stderr.next_line().await.expect("read stderr") {
            let done = line.contains("listening");
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("stderr closed before the service said it listens: {seen:?}");
    })
    .await
    .expect("the service starts within 20 s");
    (child, lines)
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_open_file_limit_is_raised_to_fit_the_sends_in_flight_or_the_service_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/files.db", dir.path().display());

    // A soft limit of 256 below a hard one of 16384: raised to fit 8192 sends and the rest.
    let (mut child, lines) = start_under("ulimit -Sn 256; ulimit -Hn 16384", &url).await;
    let pid = child.id().expect("pid");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .expect("a soft open-file limit");
    assert!(soft > 8192, "soft open-file limit still {soft}: {limits}");
    assert!(
        !lines.iter().any(|l| l.contains("open-file limit")),
        "warned though the limit fits: {lines:?}"
    );
    child.kill().await.expect("kill");

    // A hard limit below what 8192 sends need: the service starts and says what to do.
    let (mut child, lines) = start_under("ulimit -Sn 256; ulimit -Hn 1000", &url).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("open-file limit") && l.contains("--max-in-flight")),
        "no warning naming the flag: {lines:?}"
    );
    child.kill().await.expect("kill");
}
