//! Which user the local Elasticsearch runs as. Elasticsearch refuses to run as root, so
//! when trawl itself runs as root it runs the server as a system user — `trawl-es`, or the
//! one named in `TRAWL_ES_RUN_AS` — creating `trawl-es` with `useradd --system` if it is
//! missing; otherwise it runs as trawl's own user.

use std::path::Path;
use std::process::Command;

use nix::unistd::{Uid, User};

use crate::{StackEnv, StackError};

/// The system user trawl creates when it runs as root and `TRAWL_ES_RUN_AS` is unset.
pub(crate) const DEFAULT_RUN_USER: &str = "trawl-es";

/// Environment variable: the user to run the local Elasticsearch as when trawl runs as root.
pub(crate) const ENV_RUN_AS: &str = "TRAWL_ES_RUN_AS";

/// Who the server runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunAs {
    /// trawl's own user (not root).
    Current,
    /// Another user: the server's files are handed to it and the process drops to it.
    User { name: String, uid: u32, gid: u32 },
}

/// What to do about the run user, decided from the facts alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunUserPlan {
    /// Not root: run as ourselves.
    Current,
    /// Root, and the user exists (with this uid and gid).
    Existing { name: String, uid: u32, gid: u32 },
    /// Root, and trawl's own system user is missing: create it.
    Create { name: String },
    /// Root, and a user named in `TRAWL_ES_RUN_AS` does not exist (or is root).
    Refuse { name: String, reason: String },
}

/// Decides the run user: `euid` is trawl's, `wanted` the name from `TRAWL_ES_RUN_AS` (or
/// the default), `found` that user's uid and gid if it exists.
pub(crate) fn plan(
    euid: u32,
    wanted: &str,
    explicit: bool,
    found: Option<(u32, u32)>,
) -> RunUserPlan {
    if euid != 0 {
        return RunUserPlan::Current;
    }
    match found {
        Some((0, _)) => RunUserPlan::Refuse {
            name: wanted.to_owned(),
            reason: "it is root (uid 0), and Elasticsearch refuses to run as root".into(),
        },
        Some((uid, gid)) => RunUserPlan::Existing {
            name: wanted.to_owned(),
            uid,
            gid,
        },
        None if explicit => RunUserPlan::Refuse {
            name: wanted.to_owned(),
            reason: format!("{ENV_RUN_AS} names it, but no such user exists"),
        },
        None => RunUserPlan::Create {
            name: wanted.to_owned(),
        },
    }
}

/// Finds (or, as root, creates) the run user. `progress` says when a user is created.
pub(crate) fn prepare(env: &StackEnv, progress: &dyn Fn(&str)) -> Result<RunAs, StackError> {
    let explicit = env.get(ENV_RUN_AS);
    let wanted = explicit.clone().unwrap_or_else(|| DEFAULT_RUN_USER.into());
    let lookup = |name: &str| -> Result<Option<(u32, u32)>, StackError> {
        User::from_name(name)
            .map(|u| u.map(|u| (u.uid.as_raw(), u.gid.as_raw())))
            .map_err(|e| StackError::RunUser {
                user: name.to_owned(),
                reason: format!("cannot look the user up: {e}"),
            })
    };
    let found = lookup(&wanted)?;
    match plan(
        Uid::effective().as_raw(),
        &wanted,
        explicit.is_some(),
        found,
    ) {
        RunUserPlan::Current => Ok(RunAs::Current),
        RunUserPlan::Existing { name, uid, gid } => Ok(RunAs::User { name, uid, gid }),
        RunUserPlan::Refuse { name, reason } => Err(StackError::RunUser { user: name, reason }),
        RunUserPlan::Create { name } => {
            progress(&format!(
                "Elasticsearch refuses to run as root: creating the system user '{name}' (useradd --system --no-create-home --user-group --shell /usr/sbin/nologin) to run it as"
            ));
            let output = Command::new("useradd")
                .args(["--system", "--no-create-home", "--user-group"])
                .args(["--shell", "/usr/sbin/nologin"])
                .args(["--comment", "trawl local Elasticsearch"])
                .arg(&name)
                .output()
                .map_err(|e| StackError::RunUser {
                    user: name.clone(),
                    reason: format!("useradd could not be run: {e}"),
                })?;
            // Another trawl may have created it at the same moment: look again either way.
            match lookup(&name)? {
                Some((uid, gid)) => Ok(RunAs::User { name, uid, gid }),
                None => Err(StackError::RunUser {
                    user: name,
                    reason: format!(
                        "useradd failed ({}): {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                }),
            }
        }
    }
}

/// Fails, naming the directory, when the run user cannot enter `path` or one of the
/// directories above it (a state directory under a 0700 home, a private temp dir): the
/// server would otherwise die at start with a bare "permission denied".
pub(crate) fn check_reachable(run_as: &RunAs, path: &Path) -> Result<(), StackError> {
    use std::os::unix::fs::MetadataExt as _;
    let RunAs::User { name, uid, gid } = run_as else {
        return Ok(());
    };
    for dir in path.ancestors() {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        if !may_enter(meta.mode(), meta.uid(), meta.gid(), *uid, *gid) {
            return Err(StackError::RunUser {
                user: name.clone(),
                reason: format!(
                    "it may not enter {} (mode {:o}, owner uid {}), which holds the server's files; make it reachable (chmod o+x), or choose another state directory with TRAWL_STATE_DIR",
                    dir.display(),
                    meta.mode() & 0o7777,
                    meta.uid()
                ),
            });
        }
    }
    Ok(())
}

/// Whether a directory with `mode`, owned by `owner`:`group`, lets `uid`:`gid` pass through.
fn may_enter(mode: u32, owner: u32, group: u32, uid: u32, gid: u32) -> bool {
    if owner == uid {
        mode & 0o100 != 0
    } else if group == gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// Hands `dir` and everything in it to the run user (nothing to do when running as ourselves).
pub(crate) fn hand_over(run_as: &RunAs, dir: &Path) -> Result<(), StackError> {
    let RunAs::User { uid, gid, .. } = run_as else {
        return Ok(());
    };
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        std::os::unix::fs::lchown(&path, Some(*uid), Some(*gid))
            .map_err(|e| StackError::io("cannot hand over to the Elasticsearch user", &path, e))?;
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| StackError::io("cannot read", &path, e))?;
        if meta.is_dir() {
            for entry in
                std::fs::read_dir(&path).map_err(|e| StackError::io("cannot list", &path, e))?
            {
                pending.push(
                    entry
                        .map_err(|e| StackError::io("cannot list", &path, e))?
                        .path(),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_directory_on_the_way_is_not_enterable() {
        assert!(may_enter(0o755, 0, 0, 999, 995));
        assert!(!may_enter(0o700, 0, 0, 999, 995));
        assert!(may_enter(0o750, 0, 995, 999, 995));
        assert!(may_enter(0o700, 999, 0, 999, 995));
        assert!(!may_enter(0o1770, 0, 0, 999, 995));
        assert!(may_enter(0o1777, 0, 0, 999, 995));
    }

    #[test]
    fn only_root_switches_users_and_only_trawls_own_user_is_created() {
        assert_eq!(
            plan(1000, DEFAULT_RUN_USER, false, None),
            RunUserPlan::Current
        );
        assert_eq!(
            plan(0, DEFAULT_RUN_USER, false, None),
            RunUserPlan::Create {
                name: DEFAULT_RUN_USER.into()
            }
        );
        assert_eq!(
            plan(0, DEFAULT_RUN_USER, false, Some((999, 995))),
            RunUserPlan::Existing {
                name: DEFAULT_RUN_USER.into(),
                uid: 999,
                gid: 995
            }
        );
        assert!(matches!(
            plan(0, "elastic", true, None),
            RunUserPlan::Refuse { reason, .. } if reason.contains(ENV_RUN_AS)
        ));
        assert!(matches!(
            plan(0, "root", true, Some((0, 0))),
            RunUserPlan::Refuse { reason, .. } if reason.contains("root")
        ));
    }
}
