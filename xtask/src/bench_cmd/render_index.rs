//! The tables of `bench index`: reading, end to end and peak RSS.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_bench::index::IndexBenchReport;

pub(super) fn print_index(report: &IndexBenchReport) {
    let repo = |r: &trawl_bench::index::BenchRepo| {
        format!(
            "{} ({} files, {:.1} MB, {} commits{})",
            r.id,
            r.files,
            r.bytes as f64 / 1e6,
            r.commits,
            if r.generated { ", generated now" } else { "" }
        )
    };
    println!(
        "bench index on {}: large {}, small {}{}",
        report.engine,
        repo(&report.large),
        repo(&report.small),
        report
            .huge
            .as_ref()
            .map(|h| format!(", huge {}", repo(h)))
            .unwrap_or_default()
    );
    if let (Some(reading), Some(end_to_end)) = (&report.reading, &report.end_to_end) {
        print_index_throughput(report, reading, end_to_end);
    }
    print_index_memory(report);
}

pub(super) fn print_index_throughput(
    report: &IndexBenchReport,
    r: &trawl_bench::index::ReadingReport,
    e: &trawl_bench::index::EndToEndReport,
) {
    println!(
        "\n1. reading {} ({} rounds each, one thread)",
        report.large.id, r.rounds
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["reader", "blobs", "MB", "seconds", "blobs/s", "MB/s"]);
    for t in [&r.trawl, &r.git] {
        table.add_row([
            t.reader.to_owned(),
            t.blobs.to_string(),
            format!("{:.1}", t.bytes as f64 / 1e6),
            format!("{:.2}", t.seconds),
            format!("{:.0}", t.blobs_per_s),
            format!("{:.1}", t.mb_per_s),
        ]);
    }
    table.add_row([
        "trawl / git".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", r.blobs_ratio),
        format!("{:.2}", r.mb_ratio),
    ]);
    println!("{table}");

    println!(
        "\n2. indexing {} end to end ({} rounds each, interleaved; _bulk of {} MiB / {} ops, {} in flight; baseline: {} requests, {:.1} MB of NDJSON)",
        report.large.id,
        e.rounds,
        e.bulk_max_bytes / (1024 * 1024),
        e.bulk_max_ops,
        e.bulk_concurrency,
        e.baseline_requests,
        e.baseline_ndjson_bytes as f64 / 1e6
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "indexer",
        "docs",
        "content MB",
        "rounds (s)",
        "engine CPU s",
        "client CPU s",
        "docs/s",
        "MB/s",
    ]);
    for t in [&e.trawl, &e.baseline] {
        table.add_row([
            t.indexer.to_owned(),
            t.docs.to_string(),
            format!("{:.1}", t.content_bytes as f64 / 1e6),
            t.round_seconds
                .iter()
                .map(|s| format!("{s:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            format!("{:.1}", t.engine_cpu_s),
            format!("{:.1}", t.client_cpu_s),
            format!("{:.0}", t.docs_per_s),
            format!("{:.2}", t.mb_per_s),
        ]);
    }
    table.add_row([
        "trawl / baseline".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", e.docs_ratio),
        format!(
            "{:.2}{}",
            e.ratio,
            if e.ratio >= 0.9 { "" } else { " (aim: 0.9)" }
        ),
    ]);
    println!("{table}");
    println!(
        "  trawl's time by reader phase (all rounds): {}; rendering the baseline's NDJSON took {:.1} s (before its clock)",
        e.trawl
            .phases
            .iter()
            .map(|p| format!("{} {:.1} s", p.phase, p.seconds))
            .collect::<Vec<_>>()
            .join(", "),
        e.baseline_render_seconds
    );
}

pub(super) fn print_index_memory(report: &IndexBenchReport) {
    let p = &report.peak_rss;
    println!("\n3. peak RSS of the indexer process (VmHWM, polled every 50 ms)");
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "repository",
        "content MB",
        "docs",
        "seconds",
        "max RssAnon MB",
        "max RssFile MB",
        "peak RSS MB",
    ]);
    let real = report.real.as_ref().map(|r| &r.run);
    for s in [&p.small, &p.large].into_iter().chain(&p.huge).chain(real) {
        table.add_row([
            s.repo.clone(),
            format!("{:.1}", s.content_bytes as f64 / 1e6),
            s.docs.to_string(),
            format!("{:.1}", s.seconds),
            format!("{:.1}", s.peak_anon_mb),
            format!("{:.1}", s.peak_file_mb),
            format!("{:.1}", s.peak_rss_mb),
        ]);
    }
    table.add_row([
        "largest / small".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", p.worst_anon_growth),
        String::new(),
        format!(
            "{:.2}{}",
            p.worst_growth,
            if p.worst_growth <= 1.2 {
                ""
            } else {
                " (aim: 1.2)"
            }
        ),
    ]);
    println!("{table}");
    if let Some(real) = &report.real {
        println!(
            "\n{}: {:.1} MB of content in {:.1} s ({:.2} MB/s), {} documents; .git {:.1} MB; blobs + commits indices {:.1} MB force-merged = {:.2} × the content",
            real.path.display(),
            real.run.content_bytes as f64 / 1e6,
            real.run.seconds,
            real.mb_per_s,
            real.run.docs,
            real.git_dir_bytes as f64 / 1e6,
            real.index_bytes as f64 / 1e6,
            real.index_to_source
        );
    }
}
