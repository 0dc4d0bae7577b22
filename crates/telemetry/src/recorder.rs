//! The process's metrics recorder: installed once, renders the Prometheus text format.
//!
//! trawl records through the `metrics` facade (`metrics::counter!` and friends in the
//! libraries where things happen) and renders with `metrics-exporter-prometheus`. The
//! facade was chosen over `prometheus-client` because a library records without being
//! handed a registry: the client, the queue, the indexer and the migrations count where
//! the work happens, and only the process that serves `/metrics` installs a recorder
//! (without one, recording is a no-op, so library users who do not export pay nothing).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::series::{self, SERIES, SeriesKind};

/// Bucket bounds of the push→searchable histogram, in seconds: from a refresh interval to
/// an hour of backlog.
pub const FRESHNESS_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Bucket bounds of one bulk request's duration, in seconds.
pub const BULK_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Could not install the recorder.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error(
        "another metrics recorder is already installed in this process, so trawl's series would not be exported; install trawl's first (trawl_telemetry::install) or run without --metrics-addr"
    )]
    AlreadyInstalled,
    #[error("the metrics recorder refused its bucket configuration: {0}")]
    Build(String),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs trawl's recorder as the process's global one (once; later calls return the
/// same handle) and describes every series of [`SERIES`].
pub fn install() -> Result<PrometheusHandle, RecorderError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(series::INDEXER_FRESHNESS.into()),
            FRESHNESS_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(series::BULK_REQUEST_DURATION.into()),
                BULK_BUCKETS,
            )
        })
        .map_err(|e| RecorderError::Build(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    // Two threads racing here: one wins the global slot, the other reports it taken and
    // then finds the winner's handle.
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE.get().cloned().ok_or(RecorderError::AlreadyInstalled);
    }
    let handle = HANDLE.get_or_init(|| handle).clone();
    describe();
    Ok(handle)
}

fn describe() {
    for s in SERIES {
        match s.kind {
            SeriesKind::Counter => metrics::describe_counter!(s.name, s.help),
            SeriesKind::Gauge => metrics::describe_gauge!(s.name, s.help),
            SeriesKind::Histogram => metrics::describe_histogram!(s.name, s.help),
        }
    }
}
