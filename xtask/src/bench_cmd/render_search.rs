//! The tables of `bench search`, `bench search-scale` and `bench access`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_bench::search::SearchBenchReport;

pub(super) fn print_search(report: &SearchBenchReport) {
    println!(
        "bench search: {} documents on {}; trawl-client with its defaults (max_in_flight {})",
        report.documents, report.engine, report.client_max_in_flight
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "concurrency",
        "client",
        "ok",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
    ]);
    for level in &report.levels {
        let errors = if level.errors.is_empty() {
            "-".to_owned()
        } else {
            level
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.add_row([
            level.concurrency.to_string(),
            level.client.to_owned(),
            format!("{}/{}", level.ok, level.requests),
            format!("{:.0}", level.throughput_rps),
            format!("{:.1}", level.latency.p50_ms),
            format!("{:.1}", level.latency.p95_ms),
            format!("{:.1}", level.latency.p99_ms),
            errors,
        ]);
    }
    println!("{table}");

    let mut ratios = Table::new();
    ratios.load_preset(UTF8_FULL_CONDENSED);
    ratios.set_header([
        "concurrency",
        "throughput trawl/reqwest",
        "p50 trawl/reqwest",
        "p99 trawl/reqwest",
    ]);
    for c in &report.comparisons {
        ratios.add_row([
            c.concurrency.to_string(),
            format!("{:.2}", c.throughput_ratio),
            format!("{:.2}", c.p50_ratio),
            format!("{:.2}", c.p99_ratio),
        ]);
    }
    println!("{ratios}");

    let b = &report.pool_timeout_burst;
    println!(
        "burst: {} concurrent slow searches (one alone: {:.0} ms), {} slots, slot deadline {} ms, request timeout {} ms",
        b.concurrent, b.single_search_ms, b.max_in_flight, b.pool_timeout_ms, b.request_timeout_ms
    );
    println!(
        "  ok {}, PoolTimeout {}, RequestTimeout {}, other {} → {}",
        b.ok,
        b.pool_timeouts,
        b.request_timeouts,
        b.other_errors,
        if b.reproduced {
            "reproduced: waiting for a slot failed as PoolTimeout, never as RequestTimeout"
        } else {
            "NOT reproduced"
        }
    );
}

pub(super) fn print_search_scale(report: &trawl_bench::search_scale::SearchScaleReport) {
    use trawl_bench::search_scale::plan::{MEMBER, MEMBER_OF, WIDE, Who};
    println!(
        "engine: {}; {} timed rounds after {} warm-up; corpus seeded in {:.1} s",
        report.engine, report.sizes.rounds, report.warmup_rounds, report.seed_seconds
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "deployment",
        "registrations",
        "with documents",
        "readable: anonymous / member / wide",
        "wide reads private",
        "registered s",
        "indexed s",
        "blobs / commits",
    ]);
    for d in [&report.small, &report.large] {
        table.add_row([
            d.label.to_owned(),
            d.registrations.to_string(),
            d.corpus.to_string(),
            format!(
                "{} / {} / {}",
                d.readable.anonymous, d.readable.member, d.readable.wide
            ),
            d.readable.wide_private.to_string(),
            format!("{:.1}", d.register_seconds),
            format!("{:.1}", d.index_seconds),
            format!("{} / {}", d.blob_documents, d.commit_documents),
        ]);
    }
    println!("{table}");
    println!(
        "principals: anonymous; {MEMBER} (reads {MEMBER_OF} private corpus repositories); {WIDE} (reads {} private repositories in the large deployment and all {} private ones in the small one, where fewer exist)",
        report.large.readable.wide_private, report.small.readable.wide_private
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "principal",
        "search",
        "hits",
        "small p50/p99 ms",
        "large p50/p99 ms",
        "ratio p50 / p99",
        "goal p50 <= 1.5x",
    ]);
    for row in &report.rows {
        let principal = match row.principal {
            Who::Anonymous => "anonymous",
            Who::Member => MEMBER,
            Who::Wide => WIDE,
        };
        let c = &row.comparison;
        table.add_row([
            principal.to_owned(),
            format!(
                "{}: {}",
                row.search,
                trawl_cli::terminal::one_line(&row.query)
            ),
            format!(
                "{}{}",
                row.hits,
                if row.hits_lower_bound { "+" } else { "" }
            ),
            format!("{:.1} / {:.1}", c.small.p50_ms, c.small.p99_ms),
            format!("{:.1} / {:.1}", c.large.p50_ms, c.large.p99_ms),
            format!("{:.2} / {:.2}", c.ratio_p50, c.ratio_p99),
            if c.goal_met { "met" } else { "not met" }.to_owned(),
        ]);
    }
    println!("search latency, large deployment over small (hit counts equal in both)\n{table}");
    println!(
        "goal met by {} of {} rows",
        report.goals_met,
        report.rows.len()
    );
}

pub(super) fn print_access(report: &trawl_bench::access::AccessBenchReport) {
    println!(
        "engine: {}; {:.1} s to register the large round in the registry (bulk)",
        report.engine, report.register_seconds
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "registrations",
        "principal",
        "readable",
        "registry p50/p99 ms",
        "engine scroll p50/p99 ms",
        "ratio p50",
        "ratio p99",
        "access query p50/p99 ms",
        "access / registry p50",
    ]);
    for row in &report.lookups {
        table.add_row([
            row.registrations.to_string(),
            row.principal.clone(),
            row.readable.to_string(),
            format!("{:.1} / {:.1}", row.registry.p50_ms, row.registry.p99_ms),
            format!(
                "{:.1} / {:.1}",
                row.engine_scroll.p50_ms, row.engine_scroll.p99_ms
            ),
            format!("{:.2}", row.ratio_p50),
            format!("{:.2}", row.ratio_p99),
            format!("{:.1} / {:.1}", row.access.p50_ms, row.access.p99_ms),
            format!("{:.2}", row.access_ratio_p50),
        ]);
    }
    println!("who may read what (lower ratio: the registry is faster)\n{table}");
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "registrations",
        "principal",
        "CodeSearch p50/p99 ms",
        "engine query alone p50/p99 ms",
        "ratio p50",
    ]);
    for row in &report.searches {
        table.add_row([
            row.registrations.to_string(),
            row.principal.clone(),
            format!(
                "{:.1} / {:.1}",
                row.code_search.p50_ms, row.code_search.p99_ms
            ),
            format!(
                "{:.1} / {:.1}",
                row.engine_only.p50_ms, row.engine_only.p99_ms
            ),
            format!("{:.2}", row.ratio_p50),
        ]);
    }
    println!("a code search end to end\n{table}");
}

pub(super) fn print_snippets(report: &trawl_bench::snippets::SnippetsReport) {
    println!(
        "engine: {}; repositories: {}; text indexed: {:.1} MiB",
        report.engine,
        report.repos.join(", "),
        report.text_bytes as f64 / (1024.0 * 1024.0)
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["blobs index", "documents", "size (merged)", "x text"]);
    for side in &report.sides {
        table.add_row([
            side.label.to_owned(),
            side.blob_documents.to_string(),
            format!("{:.2} MiB", side.blobs_bytes as f64 / (1024.0 * 1024.0)),
            format!("{:.3}", side.blobs_over_text),
        ]);
    }
    println!("{table}");
    println!(
        "content in git / content in _source: {:.2}x the size",
        report.size_ratio
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "page size",
        "searches",
        "hits compared",
        "engine highlights p50/p99 ms",
        "git + emulation p50/p99 ms",
        "ratio p50 / p99",
    ]);
    for row in &report.pages {
        table.add_row([
            row.page_size.to_string(),
            row.searches.to_string(),
            row.hits.to_string(),
            format!("{:.1} / {:.1}", row.engine.p50_ms, row.engine.p99_ms),
            format!("{:.1} / {:.1}", row.git.p50_ms, row.git.p99_ms),
            format!("{:.2} / {:.2}", row.p50_ratio, row.p99_ratio),
        ]);
    }
    println!("{table}");
}
