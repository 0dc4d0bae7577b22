//! The search-quality tables (golden queries and identifier cases) that
//! `index-size-change` shows, and `trawl bench relevance` too.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trawl_bench::relevance::quality::QualityReport;

use crate::terminal::one_line;

/// The golden queries and identifier cases (also shown by `index-size-change`).
pub fn print_quality(q: &QualityReport) {
    let corpus: Vec<String> = q
        .corpus
        .iter()
        .map(|r| format!("{} ({} files)", r.id, r.files))
        .collect();
    println!(
        "\ngolden queries on the relevance corpus ({}): recall@10 {:.3}, MRR {:.3}, nDCG@10 {:.3}, recall against git grep {:.3}",
        corpus.join(", "),
        q.recall_at_10,
        q.mrr,
        q.ndcg_at_10,
        q.golden_grep_recall
    );
    let mut t = table(&[
        "query",
        "recall@10",
        "RR",
        "nDCG@10",
        "first hit",
        "git grep recall",
        "missed (git grep)",
    ]);
    for g in &q.golden {
        t.add_row([
            one_line(&g.text).into_owned(),
            format!("{:.2}", g.recall_at_10),
            format!("{:.2}", g.reciprocal_rank),
            format!("{:.2}", g.ndcg_at_10),
            g.top
                .first()
                .map_or_else(|| "-".to_owned(), |f| one_line(f).into_owned()),
            format!("{:.2} ({}/{})", g.grep.recall, g.grep.found, g.grep.truth),
            one_line(&g.grep.missed.join(" ")).into_owned(),
        ]);
    }
    println!("{t}");
    println!(
        "identifier cases (fixtures/relevance/identifiers.toml): mean recall {:.3}, {}/{} complete, precision {}",
        q.identifier_recall,
        q.identifier_cases_complete,
        q.cases.len(),
        opt(q.identifier_precision)
    );
    let mut t = table(&[
        "query",
        "git grep files",
        "found",
        "recall",
        "returned",
        "precision",
        "missed",
    ]);
    for c in &q.cases {
        let o = &c.outcome;
        t.add_row([
            one_line(&o.query).into_owned(),
            o.truth.to_string(),
            o.found.to_string(),
            format!("{:.2}", o.recall),
            o.answers.returned().to_string(),
            opt(o.answers.precision()),
            one_line(&o.missed.join(" ")).into_owned(),
        ]);
    }
    println!("{t}");
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(header.to_vec());
    table
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}
