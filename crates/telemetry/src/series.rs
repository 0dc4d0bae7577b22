//! Every series trawl exports, by name, with its type, labels and help text: the one
//! place a name is spelled. Libraries record through the `metrics` macros with these
//! constants; [`SERIES`] describes them to the recorder and is what the dashboard test
//! checks PromQL against.
//!
//! | series | type | labels | what |
//! |---|---|---|---|
//! | `trawl_indexer_runs_total` | counter | `outcome` (`ok`, `error`) | indexing runs of one repository |
//! | `trawl_indexer_files_total` | counter | `kind` (`indexed`, `deleted`) | files a run wrote or removed |
//! | `trawl_indexer_content_bytes_total` | counter | | bytes of file content sent |
//! | `trawl_indexer_documents_total` | counter | | write operations the engine acknowledged |
//! | `trawl_indexer_freshness_seconds` | histogram | | from the push (enqueue) to the refresh that made the run searchable |
//! | `trawl_bulk_request_duration_seconds` | histogram | | one bulk request's round trip |
//! | `trawl_bulk_items_total` | counter | `outcome` (`ok`, `failed`) | bulk items settled |
//! | `trawl_queue_claimed_total` | counter | | refs claimed by workers |
//! | `trawl_queue_acked_total` | counter | | refs acknowledged after processing |
//! | `trawl_queue_retries_total` | counter | | failed attempts put in backoff for another try |
//! | `trawl_queue_dead_lettered_total` | counter | | refs moved to the dead letters |
//! | `trawl_queue_released_total` | counter | | refs given back without an attempt counted |
//! | `trawl_queue_depth` | gauge | `shard` | refs waiting in line (sampled from Redis at scrape) |
//! | `trawl_queue_leased` | gauge | `shard` | refs held by a worker (sampled) |
//! | `trawl_queue_delayed` | gauge | `shard` | refs in backoff (sampled) |
//! | `trawl_queue_dead` | gauge | `shard` | dead-lettered refs (sampled) |
//! | `trawl_queue_oldest_age_seconds` | gauge | `shard` | age of the oldest unprocessed push (sampled; 0 when none) |
//! | `trawl_queue_paused` | gauge | | 1 while the queue is paused (sampled) |
//! | `trawl_queue_sample_ok` | gauge | | 1 when the last scrape could read the queue's status from Redis |
//! | `trawl_client_slots_in_use` | gauge | | engine requests holding a slot |
//! | `trawl_client_slots_waiting` | gauge | | callers waiting for a slot |
//! | `trawl_client_pool_timeouts_total` | counter | | calls that gave up waiting for a slot |
//! | `trawl_client_request_timeouts_total` | counter | | calls whose request deadline passed |
//! | `trawl_client_retries_total` | counter | | attempts repeated after a retryable failure |
//! | `trawl_client_errors_total` | counter | `kind` (`connection`, `http`, `other`) | other failed calls |
//! | `trawl_client_partial_searches_total` | counter | | searches that came back partial |
//! | `trawl_migration_steps_total` | counter | `outcome` (`ok`, `error`) | migration steps (batches) run |
//! | `trawl_migrations_completed_total` | counter | | migrations completed |
//! | `trawl_migrations_halted_total` | counter | | migrations halted after their attempt budget |
//! | `trawl_reindex_stage_changes_total` | counter | `stage` | reindex tasks entering a stage |
//! | `trawl_reindex_documents_copied_total` | counter | | documents copied by finished reindex slices |

/// What kind of series a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    Counter,
    Gauge,
    Histogram,
}

/// One series: its name, kind, label names and help text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Series {
    pub name: &'static str,
    pub kind: SeriesKind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const INDEXER_RUNS: &str = "trawl_indexer_runs_total";
pub const INDEXER_FILES: &str = "trawl_indexer_files_total";
pub const INDEXER_CONTENT_BYTES: &str = "trawl_indexer_content_bytes_total";
pub const INDEXER_DOCUMENTS: &str = "trawl_indexer_documents_total";
pub const INDEXER_FRESHNESS: &str = "trawl_indexer_freshness_seconds";
pub const BULK_REQUEST_DURATION: &str = "trawl_bulk_request_duration_seconds";
pub const BULK_ITEMS: &str = "trawl_bulk_items_total";
pub const QUEUE_CLAIMED: &str = "trawl_queue_claimed_total";
pub const QUEUE_ACKED: &str = "trawl_queue_acked_total";
pub const QUEUE_RETRIES: &str = "trawl_queue_retries_total";
pub const QUEUE_DEAD_LETTERED: &str = "trawl_queue_dead_lettered_total";
pub const QUEUE_RELEASED: &str = "trawl_queue_released_total";
pub const QUEUE_DEPTH: &str = "trawl_queue_depth";
pub const QUEUE_LEASED: &str = "trawl_queue_leased";
pub const QUEUE_DELAYED: &str = "trawl_queue_delayed";
pub const QUEUE_DEAD: &str = "trawl_queue_dead";
pub const QUEUE_OLDEST_AGE: &str = "trawl_queue_oldest_age_seconds";
pub const QUEUE_PAUSED: &str = "trawl_queue_paused";
pub const QUEUE_SAMPLE_OK: &str = "trawl_queue_sample_ok";
pub const CLIENT_SLOTS_IN_USE: &str = "trawl_client_slots_in_use";
pub const CLIENT_SLOTS_WAITING: &str = "trawl_client_slots_waiting";
pub const CLIENT_POOL_TIMEOUTS: &str = "trawl_client_pool_timeouts_total";
pub const CLIENT_REQUEST_TIMEOUTS: &str = "trawl_client_request_timeouts_total";
pub const CLIENT_RETRIES: &str = "trawl_client_retries_total";
pub const CLIENT_ERRORS: &str = "trawl_client_errors_total";
pub const CLIENT_PARTIAL_SEARCHES: &str = "trawl_client_partial_searches_total";
pub const MIGRATION_STEPS: &str = "trawl_migration_steps_total";
pub const MIGRATIONS_COMPLETED: &str = "trawl_migrations_completed_total";
pub const MIGRATIONS_HALTED: &str = "trawl_migrations_halted_total";
pub const REINDEX_STAGE_CHANGES: &str = "trawl_reindex_stage_changes_total";
pub const REINDEX_DOCUMENTS_COPIED: &str = "trawl_reindex_documents_copied_total";

use SeriesKind::{Counter, Gauge, Histogram};

const fn series(
    name: &'static str,
    kind: SeriesKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Series {
    Series {
        name,
        kind,
        labels,
        help,
    }
}

/// Every series trawl defines (the module's table, as data).
pub const SERIES: &[Series] = &[
    series(
        INDEXER_RUNS,
        Counter,
        &["outcome"],
        "Indexing runs of one repository, by outcome (ok, error).",
    ),
    series(
        INDEXER_FILES,
        Counter,
        &["kind"],
        "Files an indexing run wrote (indexed) or removed (deleted).",
    ),
    series(
        INDEXER_CONTENT_BYTES,
        Counter,
        &[],
        "Bytes of file content sent to the engine.",
    ),
    series(
        INDEXER_DOCUMENTS,
        Counter,
        &[],
        "Write operations of indexing runs the engine acknowledged.",
    ),
    series(
        INDEXER_FRESHNESS,
        Histogram,
        &[],
        "Seconds from a push (enqueue) to the refresh that made its indexing run searchable.",
    ),
    series(
        BULK_REQUEST_DURATION,
        Histogram,
        &[],
        "Seconds one bulk request took, retries included.",
    ),
    series(
        BULK_ITEMS,
        Counter,
        &["outcome"],
        "Bulk items settled, by outcome (ok, failed).",
    ),
    series(QUEUE_CLAIMED, Counter, &[], "Refs claimed by workers."),
    series(
        QUEUE_ACKED,
        Counter,
        &[],
        "Refs acknowledged after processing.",
    ),
    series(
        QUEUE_RETRIES,
        Counter,
        &[],
        "Failed attempts put in backoff for another try.",
    ),
    series(
        QUEUE_DEAD_LETTERED,
        Counter,
        &[],
        "Refs moved to the dead letters after their attempt budget.",
    ),
    series(
        QUEUE_RELEASED,
        Counter,
        &[],
        "Refs given back without an attempt counted (shutdown, repository locked elsewhere).",
    ),
    series(
        QUEUE_DEPTH,
        Gauge,
        &["shard"],
        "Refs waiting in line per shard (read from Redis at scrape time).",
    ),
    series(
        QUEUE_LEASED,
        Gauge,
        &["shard"],
        "Refs held by a worker per shard (read from Redis at scrape time).",
    ),
    series(
        QUEUE_DELAYED,
        Gauge,
        &["shard"],
        "Refs in backoff per shard (read from Redis at scrape time).",
    ),
    series(
        QUEUE_DEAD,
        Gauge,
        &["shard"],
        "Dead-lettered refs per shard (read from Redis at scrape time).",
    ),
    series(
        QUEUE_OLDEST_AGE,
        Gauge,
        &["shard"],
        "Age in seconds of the oldest unprocessed push per shard, 0 when none (read at scrape time).",
    ),
    series(
        QUEUE_PAUSED,
        Gauge,
        &[],
        "1 while the queue is paused, else 0 (read at scrape time).",
    ),
    series(
        QUEUE_SAMPLE_OK,
        Gauge,
        &[],
        "1 when this scrape read the queue's status from Redis, 0 when it could not.",
    ),
    series(
        CLIENT_SLOTS_IN_USE,
        Gauge,
        &[],
        "Engine requests holding a request slot.",
    ),
    series(
        CLIENT_SLOTS_WAITING,
        Gauge,
        &[],
        "Callers waiting for a request slot.",
    ),
    series(
        CLIENT_POOL_TIMEOUTS,
        Counter,
        &[],
        "Engine calls that gave up waiting for a request slot.",
    ),
    series(
        CLIENT_REQUEST_TIMEOUTS,
        Counter,
        &[],
        "Engine calls whose request deadline passed.",
    ),
    series(
        CLIENT_RETRIES,
        Counter,
        &[],
        "Engine request attempts repeated after a retryable failure.",
    ),
    series(
        CLIENT_ERRORS,
        Counter,
        &["kind"],
        "Other failed engine calls, by kind (connection, http, other).",
    ),
    series(
        CLIENT_PARTIAL_SEARCHES,
        Counter,
        &[],
        "Searches that came back partial (shard timeout or failed shards).",
    ),
    series(
        MIGRATION_STEPS,
        Counter,
        &["outcome"],
        "Migration steps (batches) run, by outcome (ok, error).",
    ),
    series(MIGRATIONS_COMPLETED, Counter, &[], "Migrations completed."),
    series(
        MIGRATIONS_HALTED,
        Counter,
        &[],
        "Migrations halted after their attempt budget.",
    ),
    series(
        REINDEX_STAGE_CHANGES,
        Counter,
        &["stage"],
        "Reindex tasks entering a stage (created, copying, swapped, done, failed, ...).",
    ),
    series(
        REINDEX_DOCUMENTS_COPIED,
        Counter,
        &[],
        "Documents copied by finished reindex slices.",
    ),
];

/// The series `name` stands for, where `name` may carry a histogram's `_bucket`,
/// `_sum` or `_count` suffix.
pub fn find(name: &str) -> Option<&'static Series> {
    SERIES.iter().find(|s| s.name == name).or_else(|| {
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            SERIES
                .iter()
                .find(|s| s.name == base && s.kind == SeriesKind::Histogram)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for s in SERIES {
            assert!(seen.insert(s.name), "{} defined twice", s.name);
            assert!(s.name.starts_with("trawl_"), "{}", s.name);
            assert!(
                s.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                s.name
            );
            assert_eq!(
                s.kind == SeriesKind::Counter,
                s.name.ends_with("_total"),
                "{}: counters and only counters end in _total",
                s.name
            );
            if s.kind == SeriesKind::Histogram {
                assert!(s.name.ends_with("_seconds"), "{}", s.name);
            }
            for label in s.labels {
                assert!(
                    ["shard", "kind", "outcome", "stage"].contains(label),
                    "{}: label {label} is not one of the low-cardinality labels",
                    s.name
                );
            }
        }
    }

    #[test]
    fn module_table_lists_every_series() {
        let doc = include_str!("series.rs");
        for s in SERIES {
            assert!(
                doc.contains(&format!("//! | `{}` |", s.name)),
                "{} is missing from the table in the module doc",
                s.name
            );
        }
    }

    #[test]
    fn histogram_suffixes_resolve() {
        assert_eq!(
            find("trawl_indexer_freshness_seconds_bucket").map(|s| s.name),
            Some(INDEXER_FRESHNESS)
        );
        assert!(find("trawl_queue_depth_bucket").is_none());
        assert!(find("trawl_nonexistent").is_none());
    }
}
