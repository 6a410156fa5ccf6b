//! The Dockerfile and docker-compose.yml, checked without a Docker engine: the compose file
//! parses, runs PostgreSQL, two replicas sharing it and a `listen` receiver, and sets only
//! variables the binary reads and the README documents; the image's health probe works.

use std::collections::BTreeSet;
use std::process::Command as Process;

use clap::CommandFactory;
use lc_webhooks::config::Cli;
use serde_yaml::Value;

use crate::common::{closed_port_url, Backend, TestApp};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn compose() -> Value {
    let mut doc: Value = serde_yaml::from_str(&read("docker-compose.yml")).expect("compose parses");
    doc.apply_merge().expect("merge keys resolve");
    doc
}

fn environment(service: &Value) -> Vec<(String, String)> {
    let env = service["environment"]
        .as_mapping()
        .expect("an environment map");
    env.iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other).expect("yaml"),
            };
            (k.as_str().expect("a name").to_string(), value)
        })
        .collect()
}

/// The environment variables a subcommand's flags read (`None`: the top level, i.e. serve).
fn envs_of(subcommand: Option<&str>) -> BTreeSet<String> {
    let cli = Cli::command();
    let command = match subcommand {
        Some(name) => cli.find_subcommand(name).expect("a subcommand").clone(),
        None => cli,
    };
    command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_compose_file_runs_postgres_two_replicas_and_a_receiver() {
    let doc = compose();
    let services = doc["services"].as_mapping().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["postgres", "lc-webhooks-a", "lc-webhooks-b", "listen"])
    );
    let serve_envs = envs_of(None);
    let mut urls = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for replica in ["lc-webhooks-a", "lc-webhooks-b"] {
        let s = &doc["services"][replica];
        assert_eq!(
            s["build"],
            Value::from("."),
            "{replica} is built from the Dockerfile"
        );
        let env = environment(s);
        for (name, _) in &env {
            assert!(
                serve_envs.contains(name) || name == "RUST_LOG",
                "{replica} sets {name}, which the service does not read"
            );
        }
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let url = get("DATABASE_URL").expect("DATABASE_URL");
        assert!(
            url.starts_with("postgres://") && url.contains("@postgres:5432/"),
            "{url}"
        );
        urls.insert(url);
        assert_eq!(get("LC_LISTEN").as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(
            get("LC_ADMIN_TOKEN").as_deref(),
            Some("${LC_ADMIN_TOKEN:-}"),
            "the token comes from the environment, empty when unset (the replica then refuses \
             to start): a required ${{…:?}} would stop `docker compose up -d postgres` too"
        );
        ports.insert(serde_yaml::to_string(&s["ports"]).expect("ports"));
        let waits = &s["depends_on"]["postgres"]["condition"];
        assert_eq!(waits, &Value::from("service_healthy"));
    }
    assert_eq!(urls.len(), 1, "both replicas share one database");
    assert_eq!(ports.len(), 2, "each replica has its own port");

    let listen = &doc["services"]["listen"];
    let command: Vec<&str> = listen["command"]
        .as_sequence()
        .expect("a command list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command[0], "listen");
    let mut argv = vec!["lc-webhooks"];
    argv.extend(&command);
    assert!(parses(&argv), "{argv:?} parses");
    let listen_envs = envs_of(Some("listen"));
    for (name, _) in environment(listen) {
        assert!(
            listen_envs.contains(&name),
            "listen sets {name}, which it does not read"
        );
    }
}

/// Every string in the file, wherever it is.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Mapping(map) => map.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        Value::Tagged(tagged) => strings(&tagged.value, out),
        _ => {}
    }
}

/// Compose interpolates the whole file for any command, so a variable it requires
/// (`${VAR:?…}`) or leaves unset without a default would stop or warn on
/// `docker compose up -d postgres`, which needs no variable at all.
#[test]
fn docker_compose_up_postgres_needs_no_variable() {
    let mut all = Vec::new();
    strings(&compose(), &mut all);
    let mut variables = 0;
    for s in &all {
        for (start, _) in s.match_indices("${") {
            variables += 1;
            let reference = &s[start..s[start..].find('}').map_or(s.len(), |end| start + end + 1)];
            assert!(
                reference.contains(":-"),
                "{reference} has no default, so compose needs it for every command"
            );
        }
    }
    assert!(variables > 0, "LC_ADMIN_TOKEN is read from the environment");
}

#[test]
fn an_unset_admin_token_stops_a_replica_with_a_message_naming_it() {
    use clap::Parser;
    let doc = compose();
    let env = environment(&doc["services"]["lc-webhooks-a"]);
    let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let listen = get("LC_LISTEN").expect("LC_LISTEN");
    // What `${LC_ADMIN_TOKEN:-}` becomes when the variable is unset.
    let cli = Cli::try_parse_from(["lc-webhooks", "--listen", &listen, "--admin-token", ""])
        .expect("parses");
    let refused = lc_webhooks::config::Settings::from(cli.serve)
        .check()
        .expect_err("no token beyond loopback");
    assert!(refused.contains("LC_ADMIN_TOKEN"), "{refused}");
}

/// The compose PostgreSQL is published beside, not over, a local one on 5432, and the README
/// gives the URL that reaches it.
#[test]
fn the_compose_postgres_does_not_take_port_5432_and_the_readme_says_where_it_is() {
    let doc = compose();
    let published: Vec<String> = doc["services"]["postgres"]["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    let parts: Vec<&str> = published[0].split(':').collect();
    assert_eq!(parts.len(), 3, "IP:HOST_PORT:CONTAINER_PORT: {published:?}");
    assert_eq!(parts[0], "127.0.0.1", "only this machine reaches it");
    assert_ne!(parts[1], "5432", "it would clash with a local PostgreSQL");
    let readme = read("README.md");
    let url = format!(
        "postgres://postgres:postgres@127.0.0.1:{}/lc_webhooks",
        parts[1]
    );
    assert!(readme.contains(&url), "README lacks {url}");
    assert!(readme.contains("docker compose up -d postgres"));
}

#[test]
fn the_readme_documents_the_services_and_variables_of_the_compose_file() {
    let readme = read("README.md");
    let doc = compose();
    for (name, service) in doc["services"].as_mapping().expect("services") {
        let name = name.as_str().expect("name");
        if name != "postgres" {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README does not name {name}"
            );
            for (var, _) in environment(service) {
                if var != "RUST_LOG" {
                    assert!(
                        readme.contains(&format!("`{var}`")),
                        "README does not name {var}"
                    );
                }
            }
        }
    }
    assert!(readme.contains("docker compose up"));
}

#[test]
fn the_image_is_multi_stage_non_root_and_probes_healthz() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).collect();
    let stages = lines.iter().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "a build stage and a runtime stage");
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(!matches!(user.trim(), "root" | "0"), "runs as {user}");
    let check = dockerfile
        .split("HEALTHCHECK")
        .nth(1)
        .and_then(|rest| rest.split("CMD").nth(1))
        .and_then(|cmd| cmd.lines().next())
        .expect("a HEALTHCHECK CMD");
    let argv: Vec<String> = serde_json::from_str(check.trim()).expect("CMD in exec form");
    assert!(argv.iter().any(|a| a.ends_with("/healthz")), "{argv:?}");
    let mut parsed = vec!["lc-webhooks".to_string()];
    parsed.extend(argv.into_iter().skip(1));
    assert!(parses(&parsed), "{parsed:?} parses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_command_exits_0_only_when_healthz_answers_200() {
    let app = TestApp::start(Backend::Sqlite).await.expect("starts");
    let bin = env!("CARGO_BIN_EXE_lc-webhooks");
    let ok = Process::new(bin)
        .args(["healthcheck", "--url", &app.url("/healthz")])
        .output()
        .expect("runs");
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"ok\""));
    let down = Process::new(bin)
        .args([
            "healthcheck",
            "--url",
            &closed_port_url(),
            "--timeout",
            "1s",
        ])
        .output()
        .expect("runs");
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("did not answer"));
    app.stop().await;
}

/// Whether the binary's flags take `argv`.
fn parses<S: AsRef<str>>(argv: &[S]) -> bool {
    use clap::Parser;
    Cli::try_parse_from(argv.iter().map(AsRef::as_ref)).is_ok()
}
