//! The local provider's PostgreSQL: Debian's server programs, a fresh cluster from
//! `initdb` under `<state>/postgres/data`, and `postgres` as a child process listening on
//! 127.0.0.1 only, with dev settings sized for a small machine (no fsync: a throwaway
//! cluster, never a place for data that matters).
//!
//! PostgreSQL refuses to run as root; as root, initdb and the server run as the
//! `postgres` system user, which owns the data and socket directories.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::unistd::{Gid, Uid, User};

use crate::postgres_endpoint::{PostgresEndpoint, TRAWL_DATABASE};
use crate::process::{self, ProcessIdentity};
use crate::state::{Handle, ServiceKind, ServiceRecord, StateDir};
use crate::{ProviderKind, StackEnv, StackError, ports, postgres_probe};

/// Environment variable: the directory holding `initdb` and `postgres`.
pub const ENV_PG_BIN: &str = "TRAWL_PG_BIN";

/// How long the server may take to answer after it was started.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Settings for a development server on a 2-core machine: few background workers, small
/// memory, and no durability work (fsync, full page writes, synchronous commit off).
const DEV_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "127.0.0.1"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("shared_buffers", "128MB"),
    ("max_connections", "100"),
    ("max_worker_processes", "4"),
    ("max_parallel_workers", "2"),
    ("max_parallel_workers_per_gather", "1"),
    ("max_wal_size", "256MB"),
    ("autovacuum_max_workers", "2"),
];

/// A started local PostgreSQL.
pub(crate) struct StartedPostgres {
    pub endpoint: PostgresEndpoint,
    pub record: ServiceRecord,
}

/// Creates a fresh cluster and starts the server on a free (or the given) port; returns
/// once it answers `SELECT 1` and the `trawl` database exists.
pub(crate) async fn start_postgres(
    env: &StackEnv,
    dir: &StateDir,
    port: Option<u16>,
    progress: &dyn Fn(&str),
) -> Result<StartedPostgres, StackError> {
    let bin = bin_dir(env)?;
    let run_as = unprivileged_user()?;
    let home = dir.subdir("postgres")?;
    let data = home.join("data");
    let sockets = home.join("socket");
    for d in [&data, &sockets] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(|e| StackError::io("cannot clear", d, e))?;
        }
        std::fs::create_dir_all(d).map_err(|e| StackError::io("cannot create", d, e))?;
    }
    let password = dir.new_postgres_password()?;
    if let Some(user) = &run_as {
        reachable_by(user, dir.path(), &home)?;
        for d in [&data, &sockets] {
            std::os::unix::fs::chown(d, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .map_err(|e| StackError::io("cannot hand to the postgres user", d, e))?;
        }
    }

    progress("creating a PostgreSQL cluster (initdb)");
    initdb(&bin, &home, &data, &password, run_as.as_ref()).await?;

    let mut tried = Vec::new();
    let mut last_error = None;
    // A port chosen free can be taken before the server binds it: then another is tried.
    let attempts = if port.is_some() { 1 } else { 3 };
    for _ in 0..attempts {
        let port = match port {
            Some(p) => ports::require_free("PostgreSQL", p, "--pg-port")?,
            None => ports::any_free_except(&tried)?,
        };
        tried.push(port);
        progress(&format!("starting PostgreSQL on 127.0.0.1:{port}"));
        let server = Server {
            bin: &bin,
            home: &home,
            data: &data,
            sockets: &sockets,
            run_as: run_as.as_ref(),
        };
        match server.run(dir, port, &password).await {
            Ok(started) => return Ok(started),
            Err(e) if port_lost(&e) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.expect("at least one attempt"))
}

/// Where the server's programs and files are, and whom it runs as.
struct Server<'a> {
    bin: &'a Path,
    home: &'a Path,
    data: &'a Path,
    sockets: &'a Path,
    run_as: Option<&'a User>,
}

impl Server<'_> {
    /// Starts the server on `port` and waits until it answers as itself.
    async fn run(
        &self,
        dir: &StateDir,
        port: u16,
        password: &trawl_service_url::Secret,
    ) -> Result<StartedPostgres, StackError> {
        let Server {
            bin,
            home,
            data,
            sockets,
            run_as,
        } = *self;
        let log = home.join("postgres.log");
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D").arg(data).args(["-p", &port.to_string()]);
        // A unix socket path must fit in 107 bytes; a deeper state directory gets TCP only.
        let socket_path = sockets.join(format!(".s.PGSQL.{port}"));
        if socket_path.as_os_str().len() < 100 {
            cmd.arg("-k").arg(sockets);
        } else {
            cmd.args(["-c", "unix_socket_directories="]);
        }
        for (name, value) in DEV_SETTINGS {
            cmd.args(["-c", &format!("{name}={value}")]);
        }
        as_user(&mut cmd, run_as);
        let (mut child, identity) = process::spawn_detached(cmd, home, &log)?;
        dir.register(ServiceKind::Postgres, &identity)?;
        let endpoint = PostgresEndpoint::local(port, password.clone());
        let log_text = log.display().to_string();
        let ready =
            postgres_probe::wait_for_local(&endpoint, data, START_DEADLINE, &log_text, || {
                match child.try_wait() {
                    Ok(Some(status)) => Err(StackError::ExitedEarly {
                        service: "postgres",
                        status: status.to_string(),
                        log: log.clone(),
                        tail: process::tail(&log, 25),
                    }),
                    _ => Ok(()),
                }
            })
            .await;
        match ready {
            Ok(_version) => Ok(StartedPostgres {
                record: ServiceRecord {
                    provider: ProviderKind::Local,
                    url: endpoint.url().to_string(),
                    handle: Handle::Process(identity),
                    log: Some(log),
                },
                endpoint,
            }),
            Err(e) => {
                stop_now(dir, &identity);
                Err(e)
            }
        }
    }
}

/// Stops a server that failed to come up, and forgets it.
fn stop_now(dir: &StateDir, identity: &ProcessIdentity) {
    process::stop(
        identity,
        dir.path(),
        ServiceKind::Postgres.stop_signal(),
        Duration::from_secs(10),
    );
    let _ = dir.unregister(&[identity.pid]);
}

/// Whether the server failed because something else had its port.
fn port_lost(e: &StackError) -> bool {
    match e {
        StackError::Foreign { .. } => true,
        StackError::ExitedEarly { tail, .. } => {
            tail.contains("could not bind") || tail.contains("already in use")
        }
        _ => false,
    }
}

/// `initdb` with the `trawl` superuser and a password (scram-sha-256 for every
/// connection), UTF-8, no locale, no fsync of the new files.
async fn initdb(
    bin: &Path,
    home: &Path,
    data: &Path,
    password: &trawl_service_url::Secret,
    run_as: Option<&User>,
) -> Result<(), StackError> {
    // initdb reads the password from a file its user can read; it goes away at once.
    let pwfile = home.join("initdb-password");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::remove_file(&pwfile);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&pwfile)
            .and_then(|mut f| f.write_all(password.expose().as_bytes()))
            .map_err(|e| StackError::io("cannot write", &pwfile, e))?;
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&pwfile, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .map_err(|e| StackError::io("cannot hand to the postgres user", &pwfile, e))?;
        }
    }
    let log = home.join("initdb.log");
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D")
        .arg(data)
        .args(["-U", TRAWL_DATABASE, "--auth=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["-E", "UTF8", "--no-locale", "--no-sync"])
        .current_dir(home);
    as_user(&mut cmd, run_as);
    let output = tokio::process::Command::from(cmd).output().await;
    let _ = std::fs::remove_file(&pwfile);
    let output = output.map_err(|e| StackError::io("cannot run", bin.join("initdb"), e))?;
    let mut transcript = output.stdout;
    transcript.extend_from_slice(&output.stderr);
    std::fs::write(&log, &transcript).map_err(|e| StackError::io("cannot write", &log, e))?;
    if !output.status.success() {
        return Err(StackError::InitdbFailed {
            status: output.status.to_string(),
            tail: process::tail(&log, 15),
            log,
        });
    }
    Ok(())
}

fn as_user(cmd: &mut Command, run_as: Option<&User>) {
    use std::os::unix::process::CommandExt as _;
    if let Some(user) = run_as {
        // (Supplementary groups stay root's: setting them needs `setgroups`, not stable.)
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        cmd.env("HOME", &user.dir).env("USER", &user.name);
    }
}

/// `TRAWL_PG_BIN`, else `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`
/// — whichever holds both `initdb` and `postgres`.
fn bin_dir(env: &StackEnv) -> Result<PathBuf, StackError> {
    let complete = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = env.get(ENV_PG_BIN) {
        let dir = PathBuf::from(dir);
        return if complete(&dir) {
            Ok(dir)
        } else {
            Err(StackError::PostgresMissing {
                found: format!(
                    "{ENV_PG_BIN} is {}, which lacks initdb or postgres",
                    dir.display()
                ),
            })
        };
    }
    if let Some(pg_config) = process::which("pg_config", env)
        && let Ok(out) = Command::new(pg_config).arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if complete(&dir) {
            return Ok(dir);
        }
    }
    newest_debian_bin(Path::new("/usr/lib/postgresql"), complete).ok_or_else(|| {
        StackError::PostgresMissing {
            found:
                "no initdb and postgres under /usr/lib/postgresql/*/bin or from pg_config --bindir"
                    .into(),
        }
    })
}

/// The `bin` directory of the highest numeric version under `root` that passes `complete`.
fn newest_debian_bin(root: &Path, complete: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Vec<u32> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// As root, the `postgres` system user to run the server as; otherwise `None`.
fn unprivileged_user() -> Result<Option<User>, StackError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) if !user.uid.is_root() => Ok(Some(user)),
        Ok(Some(_)) => Err(StackError::PostgresUser {
            reason: "the 'postgres' user has uid 0".into(),
        }),
        Ok(None) => Err(StackError::PostgresUser {
            reason: "there is no 'postgres' system user to run it as".into(),
        }),
        Err(e) => Err(StackError::PostgresUser {
            reason: format!("the 'postgres' user cannot be looked up ({e})"),
        }),
    }
}

/// The postgres user must be able to reach `home` through every directory above it. The
/// state directory itself (often a private temp dir) is opened for traversal (o+x, no
/// listing); a directory above it that shuts the user out is an error naming it.
fn reachable_by(user: &User, state_dir: &Path, home: &Path) -> Result<(), StackError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    for dir in [state_dir, home] {
        let meta = std::fs::metadata(dir).map_err(|e| StackError::io("cannot inspect", dir, e))?;
        if meta.mode() & 0o001 == 0 {
            let mut perms = meta.permissions();
            perms.set_mode(meta.mode() | 0o001);
            std::fs::set_permissions(dir, perms)
                .map_err(|e| StackError::io("cannot open for traversal", dir, e))?;
        }
    }
    for dir in state_dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        let can = if meta.uid() == user.uid.as_raw() {
            meta.mode() & 0o100 != 0
        } else if Gid::from_raw(meta.gid()) == user.gid {
            meta.mode() & 0o010 != 0
        } else {
            meta.mode() & 0o001 != 0
        };
        if !can {
            return Err(StackError::PostgresUser {
                reason: format!(
                    "the 'postgres' user it runs as cannot reach {} (grant it with chmod o+x {}, or set TRAWL_STATE_DIR elsewhere)",
                    state_dir.display(),
                    dir.display()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_numeric_version_wins() {
        let root = std::env::temp_dir().join(format!("trawl-pgbin-{}", std::process::id()));
        for v in ["9.6", "15", "13", "not-a-version", "16"] {
            std::fs::create_dir_all(root.join(v).join("bin")).unwrap();
        }
        let all = |_: &Path| true;
        assert_eq!(newest_debian_bin(&root, all), Some(root.join("16/bin")));
        let not16 = |p: &Path| !p.starts_with(root.join("16"));
        assert_eq!(newest_debian_bin(&root, not16), Some(root.join("15/bin")));
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(newest_debian_bin(&root, all), None);
    }
}
