//! Inputs nobody here wrote, against the real services: users doing things in any order
//! (registrations, visibility flips, removals), hostile repositories, queries and
//! arguments, service URLs and processes. Each module is one area.

mod access;
mod access_filter;
mod cli;
mod emulation;
mod metrics;
mod migrations;
mod queries;
mod queue;
mod records_relay;
mod records_search;
mod records_worker;
mod registry;
mod repos;
mod search_scale;
mod size;
mod stack;
mod verify;

use std::process::{Command, Output, Stdio};

/// Runs the built `cargo xtask` binary for the deployment `prefix` (the services come from
/// the test's environment).
pub(crate) fn xtask(prefix: &str, args: &[&str]) -> Output {
    Command::new(crate::indexing::xtask_binary())
        .args(args)
        .env("TRAWL_INDEX_PREFIX", prefix)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("runs xtask")
}

/// Like [`xtask`], and fails unless it exited 0; returns stdout.
pub(crate) fn xtask_ok(prefix: &str, args: &[&str]) -> String {
    let out = xtask(prefix, args);
    assert!(
        out.status.success(),
        "cargo xtask {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
