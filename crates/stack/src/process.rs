//! Child processes that outlive the command that started them, and how to recognise and
//! stop them again.
//!
//! Each runs in its own process group. trawl knows its own processes by what it recorded
//! when it started them — the pid, the process's start time (field 22 of
//! `/proc/<pid>/stat`, clock ticks after boot) and the program of its command line. A
//! recorded pid whose start time or program differs now belongs to another process (the pid
//! was reused) and is left alone. Where a process runs never makes it trawl's; but one that
//! does not run inside the state directory is not *this* state directory's, even when the
//! record matches — a record copied along with another checkout's `target/` names that
//! checkout's processes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::StackError;

/// A process as trawl recorded it when it started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    /// Its pid, which also leads its process group.
    pub pid: u32,
    /// When it started: field 22 of `/proc/<pid>/stat`. 0 in records of older trawl
    /// versions, which are then recognised by their working directory alone.
    #[serde(default)]
    pub start_ticks: u64,
    /// The program of its command line: the first word, which stays when a server
    /// rewrites the rest of its title (`redis-server` and `postgres` do).
    #[serde(default)]
    pub program: String,
}

/// What a recorded pid is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The very process that was recorded, still running.
    Ours,
    /// No live process has that pid.
    Gone,
    /// Another live process has that pid now; the text says which.
    Other(String),
}

/// Starts `cmd` in its own process group, with `cwd` as its working directory and its
/// output appended to `log`, and reads its identity. It keeps running after the caller exits.
pub(crate) fn spawn_detached(
    mut cmd: Command,
    cwd: &Path,
    log: &Path,
) -> Result<(Child, ProcessIdentity), StackError> {
    use std::os::unix::process::CommandExt as _;
    let out = File::create(log).map_err(|e| StackError::io("cannot create log file", log, e))?;
    let err = out
        .try_clone()
        .map_err(|e| StackError::io("cannot open log file", log, e))?;
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // argv[0] is the program as given; a server that rewrites its title keeps it as the
    // first word. (Read from /proc right after the exec, the title may be half rewritten.)
    let program = program_of(cmd.get_program().as_encoded_bytes());
    let child = cmd
        .spawn()
        .map_err(|e| StackError::io("cannot start", PathBuf::from(&program), e))?;
    let pid = child.id();
    let start_ticks = observe(pid).map_or(0, |(ticks, _)| ticks);
    Ok((
        child,
        ProcessIdentity {
            pid,
            start_ticks,
            program,
        },
    ))
}

/// Waits until the process has exec'ed `program` (a launcher script that ends in
/// `exec java …`), and records that as its program: the identity must name what the pid
/// runs for the rest of its life. Fails if it exits first or takes longer than `wait`.
pub(crate) fn settle_program(
    identity: &mut ProcessIdentity,
    program: &Path,
    wait: Duration,
) -> Result<(), String> {
    let expected = program.display().to_string();
    let started = Instant::now();
    loop {
        match observe(identity.pid) {
            Some((ticks, now)) if ticks == identity.start_ticks && now == expected => {
                identity.program = expected;
                return Ok(());
            }
            Some(_) if is_alive(identity.pid) => {}
            _ => return Err(format!("it exited before it ran {expected}")),
        }
        if started.elapsed() >= wait {
            return Err(format!("it did not run {expected} within {wait:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the recorded process still runs, is gone, or its pid now names another one.
/// `state_dir` serves records of older trawl versions only (see [`ProcessIdentity`]).
pub(crate) fn find(identity: &ProcessIdentity, state_dir: &Path) -> Found {
    let pid = identity.pid;
    if !is_alive(pid) {
        return Found::Gone;
    }
    let Some((start_ticks, program)) = observe(pid) else {
        // No /proc to ask: a live pid is all there is to go by.
        return if Path::new("/proc/self/stat").exists() {
            Found::Gone
        } else {
            Found::Ours
        };
    };
    let legacy = identity.start_ticks == 0 && identity.program.is_empty();
    let runs_here =
        std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(state_dir));
    // An empty command line is a title being rewritten at this very moment.
    let same = legacy
        || (start_ticks == identity.start_ticks
            && (program == identity.program || program.is_empty()));
    if same && runs_here {
        Found::Ours
    } else if same {
        Found::Other(format!(
            "pid {pid} ({program}) does not run inside {}: it belongs to another state directory (a copied record?)",
            state_dir.display()
        ))
    } else {
        Found::Other(format!(
            "pid {pid} now runs {program}, started at tick {start_ticks}{}",
            if legacy {
                String::new()
            } else {
                format!(
                    "; trawl recorded {} started at tick {}",
                    identity.program, identity.start_ticks
                )
            }
        ))
    }
}

/// Stops the recorded process group if the pid still names the recorded process: `signal`
/// first, SIGKILL after `grace`. Returns what the pid was found to be.
pub(crate) fn stop(
    identity: &ProcessIdentity,
    state_dir: &Path,
    signal: Signal,
    grace: Duration,
) -> Found {
    let found = find(identity, state_dir);
    if found == Found::Ours {
        terminate(identity.pid, signal, grace);
    }
    found
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub(crate) fn is_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // Reap it if it is our own exited child, so it does not linger as a zombie.
    let _ = waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG));
    if nix::sys::signal::kill(Pid::from_raw(raw), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_fields(&stat)
            .and_then(|fields| fields.first().copied())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

/// The start time and program of `pid`, from `/proc`.
fn observe(pid: u32) -> Option<(u64, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start_ticks = start_ticks(&stat)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some((start_ticks, program_of(&cmdline)))
}

/// Fields 3 onwards of a `/proc/<pid>/stat` line (after the parenthesised command name,
/// which may itself hold spaces and parentheses).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// Field 22, the start time in clock ticks after boot.
fn start_ticks(stat: &str) -> Option<u64> {
    stat_fields(stat)?.get(22 - 3)?.parse().ok()
}

/// The first word of a NUL-separated command line (a rewritten title separates with spaces).
fn program_of(cmdline: &[u8]) -> String {
    String::from_utf8_lossy(cmdline)
        .split(['\0', ' '])
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// Stops the process group led by `pid`: `signal`, then SIGKILL after `grace`.
/// Returns once the leader is gone.
fn terminate(pid: u32, signal: Signal, grace: Duration) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let group = Pid::from_raw(raw);
    if killpg(group, signal).is_err() {
        // Not a group leader (or already gone): signal the process alone.
        let _ = nix::sys::signal::kill(group, signal);
    }
    let started = Instant::now();
    while is_alive(pid) {
        if started.elapsed() >= grace {
            tracing::warn!(pid, "did not stop after {signal}; sending SIGKILL");
            let _ = killpg(group, Signal::SIGKILL);
            let _ = nix::sys::signal::kill(group, Signal::SIGKILL);
            let killed = Instant::now();
            while is_alive(pid) && killed.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Finds `program` on `PATH`.
pub(crate) fn which(program: &str, env: &crate::StackEnv) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&env.get("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let stat = "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(start_ticks(stat), Some(987654));
    }

    #[test]
    fn a_rewritten_title_keeps_its_program() {
        assert_eq!(
            program_of(b"/usr/bin/redis-server 127.0.0.1:6379\0\0\0"),
            "/usr/bin/redis-server"
        );
        assert_eq!(program_of(b"/usr/bin/java\0-Xmx1g\0"), "/usr/bin/java");
        assert_eq!(program_of(b""), "");
    }

    #[test]
    fn a_reused_pid_is_not_ours() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        // Right after the exec, and for as long as the loaded machine does not schedule
        // the child, its command line may still read empty: wait for the program.
        let deadline = Instant::now() + Duration::from_secs(10);
        let (ticks, program) = loop {
            let (ticks, program) = observe(child.id()).unwrap();
            if !program.is_empty() {
                break (ticks, program);
            }
            assert!(
                Instant::now() < deadline,
                "sleep never showed its command line"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let here = Path::new("/");
        let mut recorded = ProcessIdentity {
            pid: child.id(),
            start_ticks: ticks,
            program: program.clone(),
        };
        assert_eq!(find(&recorded, here), Found::Ours);
        // The very process, but recorded for another state directory.
        assert!(matches!(
            find(&recorded, Path::new("/nonexistent/state")),
            Found::Other(_)
        ));
        recorded.start_ticks = ticks.saturating_sub(1);
        assert!(matches!(find(&recorded, here), Found::Other(_)));
        assert!(matches!(
            stop(&recorded, here, Signal::SIGTERM, Duration::from_secs(1)),
            Found::Other(_)
        ));
        assert!(
            is_alive(child.id()),
            "a process that was not ours was stopped"
        );
        recorded.start_ticks = ticks;
        recorded.program = "/usr/bin/something-else".into();
        assert!(matches!(find(&recorded, here), Found::Other(_)));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(find(&recorded, here), Found::Gone);
    }
}
