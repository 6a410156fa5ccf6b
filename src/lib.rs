//! lc-webhooks: watches creator posts, grants rewards by rule, and delivers LoudCrowd's
//! webhook payload durably to every registered receiver.

pub mod api;
pub mod config;
pub mod console;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod evaluator;
pub mod import;
pub mod ingest;
pub mod listen;
pub mod payload;
pub mod retention;
pub mod rules;
pub mod schedule;
pub mod service;
pub mod store;
pub mod telemetry;
