//! The tables of `bench fleet`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

pub(super) fn print_fleet(report: &trawl_bench::fleet::FleetBenchReport) {
    let tiers: Vec<String> = report
        .tiers
        .iter()
        .map(|t| {
            format!(
                "{} {} ({} files, {:.0} kB, {} commits)",
                t.repos,
                t.name,
                t.files,
                t.bytes as f64 / 1e3,
                t.history
            )
        })
        .collect();
    println!(
        "bench fleet on {}: {} repositories{}: {}; {:.1} MB of content, {} documents; rendering them all on one thread took {:.1} s",
        report.engine,
        report.repos,
        if report.generated {
            " (generated now)"
        } else {
            ""
        },
        tiers.join(", "),
        report.content_bytes as f64 / 1e6,
        report.docs,
        report.render_seconds
    );
    println!(
        "\nceiling: raw _bulk of the pre-rendered documents ({} requests, {:.1} MB of NDJSON), then refresh",
        report.bulk_requests,
        report.ndjson_bytes as f64 / 1e6
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "in flight",
        "seconds",
        "MB/s",
        "docs/s",
        "CPU s engine / bench",
        ENGINE_WORK,
    ]);
    for c in &report.ceiling {
        table.add_row([
            c.concurrency.to_string(),
            format!("{:.1}", c.seconds),
            format!("{:.2}", c.mb_per_s),
            format!("{:.0}", c.docs_per_s),
            format!("{:.1} / {:.1}", c.cpu.engine_s, c.cpu.own_s),
            engine_work(&c.engine_work),
        ]);
    }
    println!("{table}");
    println!("\ntrawl: all enqueued at once, one worker drains the queue");
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "concurrency",
        "seconds",
        "repos/min",
        "MB/s",
        "docs/s",
        "push→searchable p50 / p99 (s)",
        "failed attempts",
        "CPU s engine / worker",
        ENGINE_WORK,
        "/ best ceiling",
    ]);
    for r in &report.trawl {
        table.add_row([
            r.concurrency.to_string(),
            format!("{:.1}", r.seconds),
            format!("{:.0}", r.repos_per_min),
            format!("{:.2}", r.mb_per_s),
            format!("{:.0}", r.docs_per_s),
            format!(
                "{:.1} / {:.1}",
                r.push_to_searchable.p50_ms / 1e3,
                r.push_to_searchable.p99_ms / 1e3
            ),
            r.failed_attempts.to_string(),
            format!("{:.1} / {:.1}", r.cpu.engine_s, r.cpu.own_s),
            engine_work(&r.engine_work),
            format!("{:.2}", r.ratio_to_ceiling),
        ]);
    }
    println!("{table}");
    println!(
        "\nwhere the time goes (seconds summed over runs; share of concurrency × wall time, where a finishing run waits for its refresh and status outside its slot, so shares may pass 100%; reader threads beside)"
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["stage".to_owned()];
    header.extend(report.trawl.iter().map(|r| format!("c={}", r.concurrency)));
    table.set_header(header);
    let Some(first) = report.trawl.first() else {
        return;
    };
    let row = |name: String, cell: &dyn Fn(&trawl_bench::fleet::FleetRun) -> String| {
        let mut row = vec![name];
        row.extend(report.trawl.iter().map(cell));
        row
    };
    for (i, s) in first.slot_stages.iter().enumerate() {
        table.add_row(row(format!("{:?}", s.stage), &|r| {
            let s = &r.slot_stages[i];
            format!("{:.1} ({:.0}%)", s.seconds, s.share * 100.0)
        }));
    }
    table.add_row(row("queue, ack, idle slots".into(), &|r| {
        format!(
            "{:.1} ({:.0}%)",
            r.other_seconds,
            100.0 * r.other_seconds / (r.seconds * r.concurrency as f64)
        )
    }));
    for (i, s) in first.reader_stages.iter().enumerate() {
        table.add_row(row(format!("reader: {:?}", s.stage), &|r| {
            format!("{:.1}", r.reader_stages[i].seconds)
        }));
    }
    println!("{table}");
    println!(
        "\nbest trawl / best ceiling: {:.2} (the aim is 0.9 or more)",
        report.best_ratio
    );
}

const ENGINE_WORK: &str = "refreshes (s) / merges (s) / indexing s";

fn engine_work(work: &trawl_bench::fleet::EngineWork) -> String {
    format!(
        "{} ({:.1}) / {} ({:.1}) / {:.1}",
        work.refreshes,
        work.refresh_seconds,
        work.merges,
        work.merge_seconds,
        work.indexing_seconds
    )
}
