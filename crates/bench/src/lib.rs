//! trawl-bench: the scenarios behind `cargo xtask bench`. Each one measures trawl and a
//! baseline doing the same work in the same run, and reports ratios — never absolute
//! numbers alone, which say little on a shared 2-core machine.

pub mod access;
pub mod analyze;
pub mod corpus;
pub mod fleet;
pub mod index;
mod interrupt;
pub mod latency;
mod owned_keys;
pub mod queue;
pub mod records;
pub mod reindex;
pub mod relevance;
pub mod search;
pub mod search_scale;
pub mod snippets;
