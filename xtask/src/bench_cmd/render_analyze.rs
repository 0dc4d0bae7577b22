//! The table of `bench analyze`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

pub(super) fn print_analyze(report: &trawl_bench::analyze::AnalyzeBenchReport) {
    let first = report.analyzers.first();
    println!(
        "bench analyze: {} lines, {:.2} MB of fixtures/analysis on {}; engine with {} requests in flight",
        first.map_or(0, |a| a.lines),
        first.map_or(0.0, |a| a.bytes as f64 / 1e6),
        report.engine,
        report.engine_concurrency
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "analyzer",
        "tokens",
        "emulation tok/s",
        "emulation MB/s",
        "engine tok/s",
        "engine MB/s",
        "emulation/engine",
    ]);
    for a in &report.analyzers {
        table.add_row([
            a.analyzer.to_string(),
            a.tokens.to_string(),
            format!("{:.0}", a.emulation_tokens_per_s),
            format!("{:.1}", a.emulation_mb_per_s),
            format!("{:.0}", a.engine_tokens_per_s),
            format!("{:.2}", a.engine_mb_per_s),
            format!("{:.0}x", a.ratio),
        ]);
    }
    println!("{table}");
}
