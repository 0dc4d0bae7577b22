//! `cargo xtask test`: services up once, the workspace tests with their URLs in the
//! environment (`TRAWL_ES_URL`, `TRAWL_REDIS_URL`, `TRAWL_PG_URL` and the engine's
//! credentials), services down again, and the tests' exit status.

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
    /// Then run the end-to-end suite against every other engine and Redis flavour
    /// (`cargo xtask matrix`) and print the compatibility table.
    #[arg(long)]
    matrix: bool,
    /// Arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

pub async fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let stack = Stack::new(crate::state_dir()?);
    let request = args.up.request(Owner::Run {
        pid: std::process::id(),
    });

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
    cmd.stdout(std::process::Stdio::piped());
    let tests_started = std::time::Instant::now();
    let outcome = run_until_interrupted(cmd).await;
    let test_secs = tests_started.elapsed().as_secs_f64();
    let services = if args.matrix {
        crate::matrix::describe(&stack).await
    } else {
        String::new()
    };

    if started {
        match stack.down().await {
            Ok(report) => {
                eprintln!("services down: {}", report.stopped.join(", "));
                for line in report.left_alone {
                    eprintln!("left alone: {line}");
                }
            }
            Err(e) => eprintln!("warning: taking the services down failed: {e}"),
        }
    }
    let (status, totals, lines) = outcome?;
    // One closing line for humans and CI alike, summed over every test binary.
    println!(
        "summary: {} passed, {} failed, {} ignored",
        totals.passed, totals.failed, totals.ignored
    );
    let code = match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    };
    if !args.matrix {
        return Ok(code);
    }
    let matrix = crate::matrix::after_default_run(&lines, test_secs, services).await?;
    Ok(if status.success() { matrix } else { code })
}

/// Test counts summed over libtest's `test result:` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds `test result: ok. 9 passed; 0 failed; 1 ignored; ...` if `line` is one.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

/// Runs the child, echoing and counting its stdout, and keeping its `test …` lines; on
/// Ctrl-C or SIGTERM waits for it to stop so that teardown follows.
pub(crate) async fn run_until_interrupted(
    mut cmd: tokio::process::Command,
) -> anyhow::Result<(std::process::ExitStatus, Totals, Vec<String>)> {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = cmd.spawn().context("cannot start cargo test")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let echo = tokio::spawn(async move {
        let mut totals = Totals::default();
        let mut kept = Vec::new();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("{line}");
            totals.add_line(&line);
            if line.starts_with("test ") {
                kept.push(line);
            }
        }
        (totals, kept)
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted; stopping the tests and the services");
            let _ = child.start_kill();
            child.wait().await?
        }
        _ = term.recv() => {
            let _ = child.start_kill();
            child.wait().await?
        }
    };
    let (totals, lines) = echo.await.unwrap_or_default();
    Ok((status, totals, lines))
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn libtest_result_lines_are_summed() {
        let mut totals = Totals::default();
        totals.add_line("test result: ok. 9 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s");
        totals.add_line("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 4 filtered out; finished in 1.2s");
        totals.add_line("test stack::x ... ok");
        assert_eq!(
            totals,
            Totals {
                passed: 12,
                failed: 2,
                ignored: 1
            }
        );
    }
}
