//! trawl-inspect: what a deployment is, and what indexing it would take.
//!
//! [`info`] gathers one typed picture of a deployment (engine, indices and their
//! settings, queue, migrations, reindex task, configuration without secrets) for
//! `cargo xtask info`. [`estimate`] indexes a sample of the registered repositories into
//! a scratch index set and projects the cluster size and shard count for all of them.
//! Gathering talks to the services; the decisions (the projection, the shard rule) are
//! pure functions.

pub mod estimate;
pub mod info;
