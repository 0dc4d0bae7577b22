//! trawl's end-to-end suite: one test binary, one module per area, all against real
//! services (see `trawl_tests` for how they are found).

mod access_filter;
mod analysis;
mod analysis_parity;
mod client;
mod client_faults;
mod content_from_git;
mod deployment;
mod dist;
mod engine;
mod es8_security;
mod highlight_parity;
mod hostile;
mod indexing;
mod info;
mod local_engines;
mod metrics;
mod migrations;
mod query;
mod queue;
mod records_relay;
mod records_search;
mod records_worker;
mod redis_cluster;
mod redis_store;
mod reindex;
mod relevance;
mod rerender;
mod search;
mod stack;
mod verify;
mod worker;
