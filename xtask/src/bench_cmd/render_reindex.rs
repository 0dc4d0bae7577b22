//! The progress line and tables of `bench reindex`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use trawl_bench::reindex::{ReindexBenchProgress, ReindexBenchReport};

use super::spinner;

/// One progress line for `bench reindex`: a spinner between counted phases, a bar while
/// filling and copying.
pub(super) struct ReindexBar {
    bar: ProgressBar,
    counting: std::cell::Cell<bool>,
}

impl ReindexBar {
    pub(super) fn new() -> Self {
        let bar = spinner();
        ReindexBar {
            bar,
            counting: std::cell::Cell::new(false),
        }
    }

    fn count_style(&self) {
        if !self.counting.replace(true) {
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} docs, {per_sec} [{elapsed}]",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            self.bar.reset();
        }
    }

    pub(super) fn show(&self, progress: ReindexBenchProgress<'_>) {
        match progress {
            ReindexBenchProgress::Phase(message) => {
                if self.counting.replace(false) {
                    self.bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                            .expect("valid template"),
                    );
                    self.bar.reset();
                }
                self.bar.set_message(message.to_owned());
            }
            ReindexBenchProgress::Fill { acked, total } => {
                self.count_style();
                self.bar.set_message("filling the source");
                self.bar.set_length(total);
                self.bar.set_position(acked.min(total));
            }
            ReindexBenchProgress::Copy {
                who,
                stage,
                done,
                total,
            } => {
                self.count_style();
                self.bar.set_message(format!("{who}: {stage}"));
                self.bar.set_length(total.max(1));
                self.bar.set_position(done.min(total));
            }
        }
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub(super) fn print_reindex(report: &ReindexBenchReport) {
    let f = &report.fill;
    println!(
        "bench reindex on {}: {} blob documents over {} repositories ({:.1} MB of content, {:.1} MB primary store), filled in {:.1} s ({:.0} docs/s, {} _bulk in flight)",
        report.engine,
        f.docs,
        f.repos,
        f.content_bytes as f64 / 1e6,
        f.primary_store_bytes as f64 / 1e6,
        f.seconds,
        f.docs_per_s,
        f.bulk_concurrency
    );
    let (p, t, s) = (&report.plain, &report.trawl, &report.search);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "copy",
        "docs",
        "seconds",
        "docs/s",
        "search p50 ms",
        "search p99 ms",
        "searches failed",
    ]);
    let window = |w: &trawl_bench::reindex::SearchWindow| {
        [
            format!("{:.1}", w.latency.p50_ms),
            format!("{:.1}", w.latency.p99_ms),
            format!("{}/{}", w.failed, w.searches),
        ]
    };
    let [p50, p99, failed] = window(&s.before);
    table.add_row([
        "none (before)".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        p50,
        p99,
        failed,
    ]);
    let [p50, p99, failed] = window(&s.during_plain);
    table.add_row([
        "plain _reindex (1 task, no slices)".to_owned(),
        p.docs.to_string(),
        format!("{:.1}", p.seconds),
        format!("{:.0}", p.docs_per_s),
        p50,
        p99,
        failed,
    ]);
    let [p50, p99, failed] = window(&s.during_trawl);
    table.add_row([
        format!(
            "trawl ({} slices, {} at once; to the swap)",
            t.slices, t.max_running_slices
        ),
        t.copy.docs.to_string(),
        format!("{:.1}", t.copy.seconds),
        format!("{:.0}", t.copy.docs_per_s),
        p50,
        p99,
        failed,
    ]);
    table.add_row([
        "trawl / plain; during trawl / before".to_owned(),
        String::new(),
        format!("{:.2}", report.time_ratio),
        format!("{:.2}", report.throughput_ratio),
        format!("{:.2}", s.p50_ratio),
        format!("{:.2}", s.p99_ratio),
        String::new(),
    ]);
    println!("{table}");

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "search window",
        "seconds",
        "searches",
        "per s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "failed",
        "changed totals",
    ]);
    for w in [&s.before, &s.during_plain, &s.during_trawl] {
        table.add_row([
            w.window.to_owned(),
            format!("{:.1}", w.seconds),
            w.searches.to_string(),
            format!("{:.1}", w.per_s),
            format!("{:.1}", w.latency.p50_ms),
            format!("{:.1}", w.latency.p95_ms),
            format!("{:.1}", w.latency.p99_ms),
            format!("{:.1}", w.latency.max_ms),
            if w.errors.is_empty() {
                w.failed.to_string()
            } else {
                format!(
                    "{} ({})",
                    w.failed,
                    w.errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            w.changed_totals.to_string(),
        ]);
    }
    println!(
        "search: {} queries in turn, {}\n{table}",
        s.queries,
        s.mode.replace('_', " ")
    );
    if let Some(a) = &s.during_trawl.around_swap {
        println!(
            "  within 2 s of the alias swap: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            a.p50_ms, a.p99_ms, a.max_ms
        );
    }
    if let Some(e) = &s.during_trawl.first_error {
        println!("  first failure during trawl's reindex: {e}");
    }
    println!(
        "trawl task {}: {:.1} s to the swap, {:.1} s in all; time to reach each stage: {}",
        t.task,
        t.copy.seconds,
        t.total_seconds,
        t.stages
            .iter()
            .map(|st| format!("{} {:.1} s", st.stage, st.seconds))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{}",
        if report.zero_downtime {
            "zero downtime: no search failed or changed its answer during trawl's reindex"
        } else {
            "NOT zero downtime: searches failed or changed their answers during trawl's reindex"
        }
    );
}
