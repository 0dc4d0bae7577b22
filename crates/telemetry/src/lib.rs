//! trawl's Prometheus metrics: the series it defines ([`series`], with a table of every
//! one), the process's recorder ([`install`]), gauges sampled at scrape time
//! ([`exposition`]) and the worker's `/metrics`, `/healthz`, `/readyz` server
//! ([`server`]).
//!
//! Libraries record with the `metrics` facade macros and the names in [`series`]; a
//! process that exports calls [`install`] once and starts a [`MetricsServer`]. The
//! facade and `metrics-exporter-prometheus` were chosen over `prometheus-client` so that
//! the client, the queue, the indexer and the migrations can count where the work
//! happens without a registry handed through every constructor; without an installed
//! recorder their recording does nothing.

#[cfg(test)]
mod dashboard;
pub mod exposition;
mod recorder;
pub mod series;
pub mod server;

pub use metrics_exporter_prometheus::PrometheusHandle;
pub use recorder::{BULK_BUCKETS, FRESHNESS_BUCKETS, RecorderError, install};
pub use server::{Check, MetricsServer, Probe, Readiness, ServerError, parse_metrics_addr, serve};
