//! `cargo xtask test`: services up once, the workspace tests with their URLs in the
//! environment, services down again, and the tests' exit status.

use std::process::ExitCode;

use anyhow::Context as _;
use trawl_stack::{Owner, Stack};

use crate::stack_cmd::{UpArgs, bring_up};

/// Tells the tests why no services were given, so that they can say why they skip.
pub const ENV_UNAVAILABLE: &str = "TRAWL_SERVICES_UNAVAILABLE";

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    #[command(flatten)]
    up: UpArgs,
    /// Arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

pub async fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let stack = Stack::new(crate::state_dir()?);
    let request = args.up.request(Owner::Run { pid: std::process::id() });

    let (env, started) = match bring_up(&stack, &request).await {
        Ok(outcome) => {
            let started = outcome.started_anything();
            (outcome.services.env_vars(), started)
        }
        Err(e) if ci => return Err(e).context("CI is set, so the tests need real services"),
        Err(e) => {
            eprintln!("warning: no services ({e:#}); tests that need them will skip");
            (vec![(ENV_UNAVAILABLE, format!("{e:#}"))], false)
        }
    };

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = tokio::process::Command::new(cargo);
    cmd.current_dir(crate::workspace_root())
        .args(["test", "--workspace"])
        .args(&args.cargo_args);
    for (key, value) in &env {
        cmd.env(key, value);
    }
    let outcome = run_until_interrupted(cmd).await;

    if started {
        match stack.down().await {
            Ok(report) => eprintln!("services down: {}", report.stopped.join(", ")),
            Err(e) => eprintln!("warning: taking the services down failed: {e}"),
        }
    }
    let status = outcome?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Runs the child; on Ctrl-C or SIGTERM waits for it to stop so that teardown follows.
async fn run_until_interrupted(mut cmd: tokio::process::Command) -> anyhow::Result<std::process::ExitStatus> {
    let mut child = cmd.spawn().context("cannot start cargo test")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        status = child.wait() => Ok(status?),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; stopping the tests and the services");
            let _ = child.start_kill();
            Ok(child.wait().await?)
        }
        _ = term.recv() => {
            let _ = child.start_kill();
            Ok(child.wait().await?)
        }
    }
}
