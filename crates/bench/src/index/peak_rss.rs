//! Part 3 of `bench index`: the indexer's peak memory, run as its own process the way an
//! operator runs it (`trawl index <path> --id <id> --json`), on seeded repositories of
//! rising size and optionally on a real one (`--repo PATH`), whose index size over its
//! source is reported too.
//!
//! Memory is read from `/proc/<pid>/status` every 50 ms: `VmHWM` (the kernel's peak RSS),
//! and the largest `RssAnon` (heap, stacks: what the process owns) and `RssFile` (pages of
//! mapped files — the binary and the repository's pack files, which gix maps whole —
//! clean page cache the kernel can drop at any time and shares with every reader of the
//! same pack).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use trawl_analyzers::IndexKind;
use trawl_client::EngineRequest;
use trawl_indexer::IndexSet;

use super::{BenchRepo, IndexBenchError, IndexBenchOptions};

/// The indexer process on one repository.
#[derive(Clone, Debug, Serialize)]
pub struct RssSample {
    pub repo: String,
    pub content_bytes: u64,
    pub docs: u64,
    pub seconds: f64,
    /// Its last `VmHWM`, in MB (10^6 bytes).
    pub peak_rss_mb: f64,
    /// The largest `RssAnon` (heap) and `RssFile` (mapped files: the binary and the
    /// repository's packs, which gix maps whole) seen while polling, in MB.
    pub peak_anon_mb: f64,
    pub peak_file_mb: f64,
}

/// Part 3: the indexer's peak memory at rising repository sizes.
#[derive(Clone, Debug, Serialize)]
pub struct PeakRssReport {
    pub small: RssSample,
    pub large: RssSample,
    /// The `--huge-size` repository (1 GiB by default; absent with `--skip-huge`).
    pub huge: Option<RssSample>,
    /// Large over small peak RSS (flat is close to 1).
    pub growth: f64,
    /// The largest peak RSS over the small one's, over every size measured.
    pub worst_growth: f64,
    /// The same for `RssAnon` alone (what the process owns, not clean pack pages).
    pub worst_anon_growth: f64,
}

impl PeakRssReport {
    /// The samples in rising size, with the growths over the small one.
    pub fn new(small: RssSample, large: RssSample, huge: Option<RssSample>) -> Self {
        let others: Vec<&RssSample> = std::iter::once(&large).chain(huge.as_ref()).collect();
        let over = |f: fn(&RssSample) -> f64| {
            others
                .iter()
                .map(|s| f(s) / f(&small).max(f64::MIN_POSITIVE))
                .fold(0.0, f64::max)
        };
        PeakRssReport {
            growth: large.peak_rss_mb / small.peak_rss_mb.max(f64::MIN_POSITIVE),
            worst_growth: over(|s| s.peak_rss_mb),
            worst_anon_growth: over(|s| s.peak_anon_mb),
            small,
            large,
            huge,
        }
    }
}

/// A real repository indexed end to end by the `trawl` process (`--repo PATH`).
#[derive(Clone, Debug, Serialize)]
pub struct RealRepoReport {
    pub path: PathBuf,
    pub run: RssSample,
    pub mb_per_s: f64,
    /// Bytes of the repository's `.git` directory (packs and all).
    pub git_dir_bytes: u64,
    /// Blobs and commits indices, primary store, force-merged to one segment each.
    pub index_bytes: u64,
    /// `index_bytes` over the content bytes indexed.
    pub index_to_source: f64,
}

/// Indexes the repository at `path` with the `trawl` process into `set`, then force-merges
/// the set and weighs it.
pub(super) async fn real_repo(
    options: &IndexBenchOptions,
    set: &IndexSet,
    path: &Path,
    progress: &dyn Fn(&str),
) -> Result<RealRepoReport, IndexBenchError> {
    let repo = BenchRepo {
        id: "bench-real".to_owned(),
        path: path.to_path_buf(),
        files: 0,
        bytes: 0,
        commits: 0,
        generated: false,
    };
    let run = peak_rss(options, set, &repo, progress).await?;
    progress("weighing the real repository's indices (force-merged to one segment)");
    let mut index_bytes = 0;
    for kind in [IndexKind::Blobs, IndexKind::Commits] {
        let alias = set.alias(kind);
        set.client().refresh(&alias).await?;
        set.client()
            .send(
                &EngineRequest::post(format!("{alias}/_forcemerge"))
                    .query("max_num_segments", 1)
                    .query("flush", true)
                    .idempotent(true)
                    .timeout(Duration::from_secs(3600)),
            )
            .await?;
        set.client().refresh(&alias).await?;
    }
    for size in set.sizes().await? {
        if matches!(size.kind, IndexKind::Blobs | IndexKind::Commits) {
            index_bytes += size.primary_store_bytes;
        }
    }
    let git_dir = [path.join(".git"), path.to_path_buf()]
        .into_iter()
        .find(|p| p.join("objects").is_dir())
        .unwrap_or_else(|| path.to_path_buf());
    Ok(RealRepoReport {
        path: path.to_path_buf(),
        mb_per_s: run.content_bytes as f64 / 1e6 / run.seconds,
        git_dir_bytes: dir_bytes(&git_dir),
        index_to_source: index_bytes as f64 / (run.content_bytes as f64).max(1.0),
        index_bytes,
        run,
    })
}

/// Bytes of the files under `dir` (not following symlinks).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Runs the indexer process on `repo` into `set` and polls its `VmHWM` every 50 ms.
pub(super) async fn peak_rss(
    options: &IndexBenchOptions,
    set: &IndexSet,
    repo: &BenchRepo,
    progress: &dyn Fn(&str),
) -> Result<RssSample, IndexBenchError> {
    let program = &options.indexer_program;
    let failed = |reason: String| IndexBenchError::IndexerProcess {
        program: program.clone(),
        reason,
    };
    let label = format!("peak RSS: indexing {} in its own process", repo.id);
    progress(&label);
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .arg("index")
        .arg(&repo.path)
        .args(["--id", &repo.id, "--json"])
        .envs(options.indexer_env.iter().map(|(k, v)| (k, v)))
        .env("TRAWL_INDEX_PREFIX", set.names().prefix())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start it: {e}")))?;
    let pid = child.id().expect("a running child has a pid");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut buf).await;
        buf
    });
    let err = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut buf).await;
        buf
    });
    let status_file = PathBuf::from(format!("/proc/{pid}/status"));
    let mut peak_kb = 0u64;
    let (mut anon_kb, mut file_kb) = (0u64, 0u64);
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.map_err(|e| failed(e.to_string()))?,
            _ = ticker.tick() => {
                if let Ok(status) = std::fs::read_to_string(&status_file) {
                    if let Some(kb) = status_kb(&status, "VmHWM:") {
                        peak_kb = kb;
                    }
                    anon_kb = anon_kb.max(status_kb(&status, "RssAnon:").unwrap_or(0));
                    file_kb = file_kb.max(status_kb(&status, "RssFile:").unwrap_or(0));
                }
                progress(&format!("{label}: peak {:.0} MB, {:.0} s", peak_kb as f64 * 1024.0 / 1e6, started.elapsed().as_secs_f64()));
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = out.await.unwrap_or_default();
    let stderr = err.await.unwrap_or_default();
    if !status.success() {
        return Err(failed(format!(
            "{status}: {}{}",
            String::from_utf8_lossy(&stderr).trim(),
            String::from_utf8_lossy(&stdout).trim()
        )));
    }
    let reports: Value = serde_json::from_slice(&stdout)
        .map_err(|e| failed(format!("its --json output does not parse: {e}")))?;
    let report = &reports[0];
    if peak_kb == 0 {
        return Err(failed("its VmHWM could not be read from /proc".into()));
    }
    Ok(RssSample {
        repo: repo.id.clone(),
        content_bytes: report["content_bytes"].as_u64().unwrap_or(0),
        docs: report["docs_written"].as_u64().unwrap_or(0),
        seconds,
        peak_rss_mb: kb_to_mb(peak_kb),
        peak_anon_mb: kb_to_mb(anon_kb),
        peak_file_mb: kb_to_mb(file_kb),
    })
}

/// A `Key:   12345 kB` line of `/proc/<pid>/status` (e.g. `VmHWM:`), in kB.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The kernel's kB (1024 bytes) in MB (10^6 bytes).
fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kb() {
        let status = "Name:\txtask\nVmPeak:\t  300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(status_kb(status, "VmHWM:"), Some(51234));
        assert_eq!(status_kb(status, "VmRSS:"), Some(40000));
        assert_eq!(status_kb("Name:\tzombie\n", "VmHWM:"), None);
    }

    fn sample(rss: f64, anon: f64) -> RssSample {
        RssSample {
            repo: String::new(),
            content_bytes: 0,
            docs: 0,
            seconds: 1.0,
            peak_rss_mb: rss,
            peak_anon_mb: anon,
            peak_file_mb: rss - anon,
        }
    }

    #[test]
    fn growth_is_the_worst_size_over_the_small_one() {
        let report = PeakRssReport::new(
            sample(80.0, 40.0),
            sample(100.0, 44.0),
            Some(sample(120.0, 42.0)),
        );
        assert_eq!(report.growth, 1.25);
        assert_eq!(report.worst_growth, 1.5);
        assert_eq!(report.worst_anon_growth, 1.1);
        let without = PeakRssReport::new(sample(80.0, 40.0), sample(60.0, 20.0), None);
        assert_eq!(without.worst_growth, 0.75);
    }
}
