//! The shipped post-receive hook and the `trawl` binary against hostile names: a bare
//! repository whose directory reads as an option (`--all.git`) or as shell syntax never
//! steers `trawl queue enqueue`, and the push still succeeds.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use trawl_dist::Profile;
use trawl_tests::{require_services, test_indices, workspace_root};

/// The dev build of `trawl` (built now if it is not current; quick when it is).
fn trawl_binary() -> PathBuf {
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    trawl_dist::build(&cargo, &workspace_root(), Profile::Debug).expect("builds trawl")
}

/// Runs the hook in `repo` as git would after a push of `refs/heads/main`.
fn run_hook(repo: &Path, env: &[(String, String)]) -> Output {
    let mut child = Command::new("bash")
        .arg(workspace_root().join("fixtures/hooks/post-receive"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs the hook");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 refs/heads/main\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_named_like_an_option_cannot_enqueue_everything() {
    let services = require_services!();
    let (set, _cleanup) = test_indices(&services, "hook").await.unwrap();
    let prefix = set.names().prefix().to_owned();
    let binary = tokio::task::spawn_blocking(trawl_binary).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();

    let mut env: Vec<(String, String)> = services
        .env_vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push(("PATH".into(), "/usr/bin:/bin".into()));
    env.push(("TRAWL_INDEX_PREFIX".into(), prefix.clone()));
    env.push(("TRAWL_BIN".into(), binary.display().to_string()));
    let trawl = |args: &[&str]| {
        Command::new(&binary)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    // One registered repository: what `queue enqueue --all` would enqueue.
    let victim = scratch.path().join("victim");
    for args in [
        vec!["init", "-q", victim.to_str().unwrap()],
        vec![
            "-C",
            victim.to_str().unwrap(),
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@e",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
    ] {
        assert!(Command::new("git").args(&args).status().unwrap().success());
    }
    let added = trawl(&[
        "repo",
        "add",
        victim.to_str().unwrap(),
        "--id",
        "victim",
        "--visibility",
        "public",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    for name in [
        "--all.git",
        "-h.git",
        "$(touch pwned) x.git",
        "a;touch pwned.git",
    ] {
        let bare = scratch.path().join(name);
        std::fs::create_dir_all(&bare).unwrap();
        let out = run_hook(&bare, &env);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{name}: the hook failed the push: {said}"
        );
        assert!(said.contains("could not enqueue"), "{name}: {said}");
        assert!(!bare.join("pwned").exists() && !scratch.path().join("pwned").exists());
        let status = trawl(&["queue", "status", "--json"]);
        assert!(status.status.success());
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status["pending"], 0, "{name} enqueued something: {status}");
    }

    // The same hook in a well-named repository enqueues it.
    let good = scratch.path().join("Victim.git");
    std::fs::create_dir_all(&good).unwrap();
    let out = run_hook(&good, &env);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = trawl(&["queue", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["pending"], 1, "{status}");
}

/// `trawl` with a hostile or broken `--config`, and a reader that closes its output early:
/// every refusal names the key or the path and the fix, no secret is echoed, the
/// environment overrides the file, and a closed stdout ends the command quietly.
#[tokio::test(flavor = "multi_thread")]
async fn trawl_config_files_are_checked_and_a_closed_stdout_is_quiet() {
    let binary = tokio::task::spawn_blocking(trawl_binary).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let run = |config: &Path, env: &[(&str, &str)], args: &[&str]| {
        Command::new(&binary)
            .arg("--config")
            .arg(config)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().copied())
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .output()
            .expect("runs trawl")
    };
    let write = |name: &str, text: &str| {
        let path = scratch.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    let inline = write(
        "inline.toml",
        "[engine]\nhosts = [\"https://es:9200\"]\npassword = \"hunter2-secret\"\n",
    );
    let out = run(&inline, &[], &["config", "show"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("engine.password") && stderr.contains("password_file"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");

    let in_url = write(
        "in-url.toml",
        "[redis]\nurl = \"redis://:hunter2-secret@127.0.0.1:6379\"\n",
    );
    let out = run(&in_url, &[], &["config", "show"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");

    for (text, key) in [
        ("prefix = \"*\"\n", "prefix"),
        ("[queue]\nshards = 0\n", "queue.shards"),
        ("[queue]\nshards = 1000000000\n", "queue.shards"),
        ("[engine]\nhost = \"typo\"\n", "host"),
        (
            "[indices.blobs]\ncodec = \"lz4\\u001b[2J\"\n",
            "indices.blobs.codec",
        ),
        ("[indices.blobs\n", "trawl.toml"),
    ] {
        let path = write("trawl.toml", text);
        let out = run(&path, &[], &["config", "show"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text:?} was accepted");
        assert!(stderr.contains(key), "{text:?}: {stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "{text:?} echoed an escape: {stderr}"
        );
    }

    let missing = scratch.path().join("nowhere.toml");
    let out = run(&missing, &[], &["config", "show"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("nowhere.toml"), "{stderr}");

    let good = write(
        "good.toml",
        "prefix = \"cfg-\"\n[engine]\nhosts = [\"http://127.0.0.1:9\"]\n[queue]\nshards = 2\n",
    );
    let out = run(
        &good,
        &[("TRAWL_QUEUE_SHARDS", "3")],
        &["config", "show", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["prefix"]["value"], "\"cfg-\"");
    assert_eq!(shown["queue.shards"]["value"], "3");
    assert_eq!(
        shown["queue.shards"]["source"],
        "environment variable TRAWL_QUEUE_SHARDS"
    );

    // The reader is gone before trawl prints a byte.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(&binary)
        .arg("--config")
        .arg(&good)
        .args(["config", "show"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `--config` reaches every part of a command, the queue included: a file naming the
/// prefix and the shard count (and no environment variable naming them) pauses this
/// deployment's queue, never the default deployment's.
#[tokio::test(flavor = "multi_thread")]
async fn a_config_file_prefix_reaches_the_queue() {
    let services = require_services!();
    let prefix = format!("{}-", trawl_tests::unique_name("cfgq"));
    let _cleanup = trawl_tests::deployment_cleanup(&services, &prefix).unwrap();
    let binary = tokio::task::spawn_blocking(trawl_binary).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // Not `trawl.toml`: only `--config` names it, never the working directory.
    let path = scratch.path().join("deploy.toml");
    let text = format!("prefix = \"{prefix}\"\n[queue]\nshards = 2\n");
    std::fs::write(&path, &text).unwrap();
    let trawl = |args: &[&str]| {
        let out = Command::new(&binary)
            .arg("--config")
            .arg(&path)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(services.env_vars())
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .output()
            .expect("runs trawl");
        assert!(
            out.status.success(),
            "trawl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let config = trawl_deployment::Config::resolve(Some((&path, &text)), &|_| None).unwrap();
    let config = trawl_tests::with_services(config, &services).unwrap();
    let deployment = trawl_deployment::Deployment::connect(&config)
        .await
        .unwrap();
    let queue = deployment.queue().unwrap();

    trawl(&["queue", "pause"]);
    assert!(
        queue.status().await.unwrap().paused,
        "the file's deployment is not paused"
    );
    trawl(&["queue", "resume"]);
    assert!(!queue.status().await.unwrap().paused);

    // What the hook does: enqueue a registered repository through the file alone.
    let repo = scratch.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &[
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
    ] {
        let status = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(status.success());
    }
    trawl(&["repo", "add", repo.to_str().unwrap(), "--id", "cfgq-repo"]);
    trawl(&["queue", "enqueue", "cfgq-repo"]);
    let status = queue.status().await.unwrap();
    assert_eq!(
        status.pending, 1,
        "the ref went to another deployment's queue"
    );
    assert_eq!(
        status.shards.len(),
        2,
        "the file's shard count was not used"
    );
}
