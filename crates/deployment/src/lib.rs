//! trawl-deployment: one deployment of trawl, configured and connected in one place.
//!
//! [`Config`] is `trawl.toml` (every key optional) with environment variables over it,
//! resolved and checked by a pure function ([`Config::resolve`]); secrets are only ever
//! referenced (a `*_file` path or the environment) and never shown ([`Config::masked`]).
//! [`Deployment`] connects the engine, Redis and the registry once and hands out
//! everything built on them — names, Redis keys, index set with its write routes, queue,
//! locks, search, reindex driver and migration context — all from the same settings, so
//! the worker and the migrations cannot disagree on, say, the queue's shard count.

mod config;
mod deployment;
mod error;
mod masked;

pub use config::{CONFIG_ENV, Config, DEFAULT_FILE, ENV_VARS, IndexingLimits};
pub use deployment::{Deployment, DeploymentError};
pub use error::ConfigError;
pub use masked::{MASK, MaskedConfig, MaskedValue, Origin};
