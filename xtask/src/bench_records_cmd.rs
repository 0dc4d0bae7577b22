//! `cargo xtask bench records`: arguments to options, trawl-bench's records scenario on a
//! scratch deployment beside the configured one, and its report as tables (or JSON).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_bench::records::{RecordsBenchOptions, RecordsBenchReport};
use trawl_cli::ranges::int_in;
use trawl_indexer::IndexNames;

/// The arguments of `bench records`.
#[derive(clap::Args, Debug)]
pub struct RecordsArgs {
    /// Records generated, tracked and written in the throughput part (100 to 1 000 000).
    #[arg(long, default_value_t = 20_000, value_parser = int_in::<usize>(100..=1_000_000))]
    pub records: usize,
    /// Refs the worker claims per shard per run (1 to 1 000).
    #[arg(long, default_value_t = 1_000, value_parser = int_in::<usize>(1..=1_000))]
    pub batch: usize,
    /// Changes measured track → searchable in the stream part, one per 100 ms (2 to
    /// 100 000).
    #[arg(long, default_value_t = 60, value_parser = int_in::<usize>(2..=100_000))]
    pub samples: usize,
    /// Other refs tracked with every measured change (0 to 10 000).
    #[arg(long, default_value_t = 100, value_parser = int_in::<usize>(0..=10_000))]
    pub stream_batch: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: RecordsArgs) -> anyhow::Result<ExitCode> {
    let prefix = format!("bench-records-{}-", std::process::id());
    let schema = format!("bench_records_{}", std::process::id());
    let config =
        trawl_cli::connect::config()?.with_names(IndexNames::new(prefix)?, "bench records");
    let deployment = trawl_deployment::Deployment::connect(&config)
        .await
        .context("bench records needs the engine, Redis and PostgreSQL: `cargo xtask up`")?;
    let options = RecordsBenchOptions {
        records: args.records,
        batch: args.batch,
        samples: args.samples,
        stream_batch: args.stream_batch,
        interval: Duration::from_millis(100),
    };
    let spinner = crate::bench_cmd::spinner();
    let report = trawl_bench::records::run(&deployment, &schema, &options, &|m| {
        spinner.set_message(m.to_owned())
    })
    .await;
    spinner.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(report: &RecordsBenchReport) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "path",
        "documents",
        "seconds",
        "documents/s",
        "vs raw _bulk",
    ]);
    for (name, rate, ratio) in [
        ("raw _bulk of the same documents", &report.raw_bulk, 1.0),
        ("track → worker → _bulk → ack", &report.trawl, report.ratio),
    ] {
        table.add_row([
            name.to_string(),
            rate.documents.to_string(),
            format!("{:.2}", rate.seconds),
            format!("{:.0}", rate.per_s),
            format!("{ratio:.2}"),
        ]);
    }
    println!(
        "throughput ({} records, worker batch {} per shard)\n{table}",
        report.records, report.batch
    );
    let s = &report.worker.stages;
    println!(
        "worker time: claim {} ms, load {} ms, locks {} ms, registry {} ms, render {} ms, write {} ms, cascade {} ms, settle {} ms",
        s.claim_ms,
        s.load_ms,
        s.locks_ms,
        s.registry_ms,
        s.render_ms,
        s.write_ms,
        s.cascade_ms,
        s.settle_ms
    );
    let f = &report.track_to_searchable;
    println!(
        "stream ({} measured changes, {:.0} refs/s tracked): track → searchable p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        report.samples, report.stream_per_s, f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms
    );
}
