//! The operator distribution, used as an operator would: `trawl_dist` builds and packages
//! `trawl` (what `cargo xtask dist --debug` does), the tarball is unpacked outside the
//! checkout, and with nothing but that binary on PATH and the services in the
//! environment the main job runs: index a repository, a push through the shipped
//! post-receive hook enqueues it, `trawl worker` indexes the push, `trawl search` finds
//! it, `trawl index-size` reports the indices, `trawl info` shows the deployment and
//! `trawl verify` finds the index exact.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use trawl_dist::{ArchiveLayout, Profile};
use trawl_tests::{require_services, test_indices, workspace_root};

/// A process killed (and reaped) on drop, so that a failing test leaves no worker behind.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How the unpacked `trawl` runs: a minimal environment (PATH = the unpacked bin
/// directory and /usr/bin:/bin, no CARGO*, HOME in the scratch directory), the services'
/// variables and the test's prefix, in `cwd`.
struct OperatorEnv {
    vars: Vec<(String, String)>,
    cwd: PathBuf,
}

impl OperatorEnv {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        for (key, value) in &self.vars {
            command.env(key, value);
        }
        command
    }

    fn trawl(&self, args: &[&str]) -> Output {
        self.command("trawl")
            .args(args)
            .output()
            .expect("runs trawl")
    }

    fn trawl_ok(&self, args: &[&str]) -> String {
        let out = self.trawl(args);
        assert!(
            out.status.success(),
            "trawl {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        let out = self
            .command("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("runs git");
        assert!(
            out.status.success(),
            "git {args:?} in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_unpacked_tarball_indexes_a_push_and_searches_it() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "dist").await.unwrap();
    let prefix = set.names().prefix().to_owned();
    let scratch = tempfile::tempdir().unwrap();
    let scratch_path = scratch.path().canonicalize().unwrap();
    assert!(
        !scratch_path.starts_with(workspace_root()),
        "the scratch directory must lie outside the checkout"
    );

    // Build and package, as `cargo xtask dist --debug` does.
    let started = Instant::now();
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let rustc = PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    let binary = tokio::task::spawn_blocking(move || {
        trawl_dist::build(&cargo, &workspace_root(), Profile::Debug)
    })
    .await
    .unwrap()
    .unwrap();
    let layout = ArchiveLayout {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        target: trawl_dist::host_triple(&rustc).unwrap(),
    };
    let artifact = trawl_dist::package(&binary, &layout, &scratch_path.join("dist")).unwrap();
    assert_eq!(artifact.sha256.len(), 64);
    assert!(trawl_dist::openssl_libraries(&artifact.ldd).is_empty());
    eprintln!(
        "built and packaged in {:.1} s: {} ({} bytes)",
        started.elapsed().as_secs_f64(),
        artifact.path.display(),
        artifact.bytes
    );

    // Unpack it outside the checkout.
    let unpacked = scratch_path.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&artifact.path)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = unpacked.join(layout.root());
    for file in [
        "bin/trawl",
        "hooks/post-receive",
        "trawl.toml.example",
        "README.md",
    ] {
        assert!(
            root.join(file).is_file(),
            "{file} is missing from the tarball"
        );
    }

    let work = scratch_path.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut vars = vec![
        (
            "PATH".to_owned(),
            format!("{}:/usr/bin:/bin", root.join("bin").display()),
        ),
        ("HOME".to_owned(), scratch_path.display().to_string()),
        ("NO_COLOR".to_owned(), "1".to_owned()),
        ("TRAWL_INDEX_PREFIX".to_owned(), prefix.clone()),
    ];
    vars.extend(
        services
            .env_vars()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    let env = OperatorEnv { vars, cwd: work };

    // A bare repository (what a git server holds) with one commit, pushed from a clone.
    let bare = scratch_path.join("distrepo.git");
    let clone = scratch_path.join("clone");
    env.git(&scratch_path, &["init", "--bare", bare.to_str().unwrap()]);
    env.git(&scratch_path, &["init", clone.to_str().unwrap()]);
    std::fs::create_dir_all(clone.join("src")).unwrap();
    std::fs::write(
        clone.join("src/alpha.rs"),
        "pub fn dist_alpha_marker() -> u32 { 1 }\n",
    )
    .unwrap();
    env.git(&clone, &["add", "."]);
    env.git(&clone, &["commit", "-m", "alpha"]);
    env.git(
        &clone,
        &["push", bare.to_str().unwrap(), "HEAD:refs/heads/main"],
    );

    // `trawl index` registers and indexes it (the id is the directory name).
    let said = env.trawl_ok(&["index", bare.to_str().unwrap(), "--visibility", "public"]);
    assert!(said.contains("distrepo"), "{said}");
    let found = env.trawl_ok(&["search", "dist_alpha_marker", "--json"]);
    assert!(found.contains("src/alpha.rs"), "{found}");

    // The shipped hook, installed as a git server would, enqueues the next push.
    std::fs::copy(
        root.join("hooks/post-receive"),
        bare.join("hooks/post-receive"),
    )
    .unwrap();
    std::fs::write(
        clone.join("src/beta.rs"),
        "pub fn dist_beta_pushed_marker() -> u32 { 2 }\n",
    )
    .unwrap();
    env.git(&clone, &["add", "."]);
    env.git(&clone, &["commit", "-m", "beta"]);
    let push = env.git(
        &clone,
        &["push", bare.to_str().unwrap(), "HEAD:refs/heads/main"],
    );
    let push_said = String::from_utf8_lossy(&push.stderr);
    assert!(
        !push_said.contains("trawl:"),
        "the hook reported a failure: {push_said}"
    );
    let status = env.trawl_ok(&["queue", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["pending"], 1, "the push was not enqueued: {status}");

    // `trawl worker` drains the queue; the push becomes searchable; SIGTERM stops it.
    let worker = env
        .command("trawl")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns trawl worker");
    let mut worker = ChildGuard(Some(worker));
    let deadline = Instant::now() + Duration::from_secs(90);
    let hit = loop {
        let found = env.trawl_ok(&["search", "dist_beta_pushed_marker", "--json"]);
        if found.contains("src/beta.rs") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let child = worker.0.take().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let stopped = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        hit,
        "the pushed file was not searchable within 90 s; worker said:\n{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(
        stopped.status.success(),
        "trawl worker did not stop cleanly on SIGTERM ({}):\n{}",
        stopped.status,
        String::from_utf8_lossy(&stopped.stderr)
    );

    // The human listing names the file; index-size reports this deployment's indices.
    let listing = env.trawl_ok(&["search", "dist_beta_pushed_marker"]);
    assert!(listing.contains("src/beta.rs"), "{listing}");
    let sizes = env.trawl_ok(&["index-size"]);
    assert!(sizes.contains(&prefix), "{sizes}");
    let sizes = env.trawl_ok(&["index-size", "--json"]);
    let sizes: serde_json::Value = serde_json::from_str(&sizes).unwrap();
    assert!(sizes.as_array().is_some_and(|a| !a.is_empty()), "{sizes}");

    // info shows this deployment (its aliases, no secret); verify finds the index exact.
    let info = env.trawl_ok(&["info", "--json"]);
    assert!(info.contains(&prefix), "{info}");
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert!(
        info["indices"].as_array().is_some_and(|a| !a.is_empty()),
        "{info}"
    );
    let verified = env.trawl(&["verify", "--json"]);
    assert!(
        verified.status.success(),
        "trawl verify found drift or failed ({}):\n{}\n{}",
        verified.status,
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[test]
fn the_shipped_hook_never_fails_a_push_without_trawl() {
    // No trawl on PATH and no TRAWL_BIN: the hook says so and exits 0.
    let scratch = tempfile::tempdir().unwrap();
    let hook = workspace_root().join("fixtures/hooks/post-receive");
    let mut child = Command::new("bash")
        .arg(&hook)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(scratch.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"0000 1111 refs/heads/main\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no trawl binary"), "{said}");

    // A push of tags only enqueues nothing, not even a lookup of the binary.
    let mut child = Command::new("bash")
        .arg(&hook)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(scratch.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"0000 1111 refs/tags/v1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
