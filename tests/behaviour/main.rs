//! The behaviour suite, in one test binary (each file used to compile and link `common` into a
//! binary of its own). Most tests run once on SQLite and once on PostgreSQL (`both_stores!`).
//! Apart, in binaries of their own: `security.rs` (it captures the process's logs), `api_fuzz.rs`
//! (minutes of schemathesis), `faults/` (real processes) and `postgres_restart.rs` (it stops the
//! server the others use).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod adaptive;
mod api_reference;
mod claims;
mod cli;
mod concurrency;
mod console;
mod delivery_log;
mod deployment;
mod disable_replay;
mod external_ids;
mod full_disk;
mod import;
mod ingest;
mod inspection;
mod integrations;
mod leases;
mod listen;
mod migrations;
mod monthly;
mod ops;
mod payload_format;
mod programs;
mod readme;
mod retention;
mod retries;
mod rewards;
mod rule_options;
mod stats;
mod target_guard;
mod test_send;
mod validation;
