//! Child processes that outlive the command that started them, and how to find and stop
//! them again. Each runs in its own process group with its working directory under the
//! state directory; that directory is how trawl recognises its own processes later.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use crate::StackError;

/// Starts `cmd` in its own process group, with `cwd` as its working directory and its
/// output appended to `log`. It keeps running after the caller exits.
pub(crate) fn spawn_detached(
    mut cmd: Command,
    cwd: &Path,
    log: &Path,
) -> Result<Child, StackError> {
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
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.spawn()
        .map_err(|e| StackError::io("cannot start", PathBuf::from(program), e))
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
        // Field 3, after the parenthesised command name, is the state.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

/// Whether the live process `pid` was started by trawl under `state_dir` (its working
/// directory lies inside it), so that a recycled pid is never mistaken for ours.
/// Where `/proc` is missing the pid is trusted.
pub(crate) fn is_ours(pid: u32, state_dir: &Path) -> bool {
    if !is_alive(pid) {
        return false;
    }
    if !Path::new("/proc/self/cwd").exists() {
        return true;
    }
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => cwd.starts_with(state_dir),
        Err(_) => false,
    }
}

/// Every live process whose working directory lies inside `state_dir` (Linux only):
/// leftovers of a run that crashed before it could record or stop them.
pub(crate) fn find_ours(state_dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(state_dir))
        })
        .filter(|&pid| is_alive(pid))
        .collect()
}

/// Stops the process group led by `pid`: SIGTERM, then SIGKILL after `grace`.
/// Returns once the leader is gone.
pub(crate) fn terminate(pid: u32, grace: Duration) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let group = Pid::from_raw(raw);
    if killpg(group, Signal::SIGTERM).is_err() {
        // Not a group leader (or already gone): signal the process alone.
        let _ = nix::sys::signal::kill(group, Signal::SIGTERM);
    }
    let started = Instant::now();
    while is_alive(pid) {
        if started.elapsed() >= grace {
            tracing::warn!(pid, "did not stop after SIGTERM; sending SIGKILL");
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
