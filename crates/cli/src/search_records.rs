//! `trawl search --scope issues|merge_requests|notes`: application records as a
//! principal, as a table (reference, repository, state, title and excerpt with matches
//! highlighted, author, labels, last update) or `--json`.

use std::process::ExitCode;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use trawl_records::{
    Highlighted, RecordHit, RecordQuery, RecordResults, RecordScope, RecordSearch,
};
use trawl_registry::Principal;

use crate::search_cmd::Style;
use crate::terminal::one_line;

/// Searches `query` as `principal` and prints the page.
pub async fn run(
    query: &RecordQuery,
    principal: &Principal,
    json: bool,
    style: Style,
) -> anyhow::Result<ExitCode> {
    // Bad input is refused before any service is needed.
    query.validate()?;
    let services = crate::connect::services()?;
    let search = RecordSearch::new(
        crate::connect::index_set(&services).await?,
        crate::connect::registry(&services).await?,
    );
    let results = search.search(principal, query).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_table(&results, style);
        println!("{}", summary(&results, principal));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(results: &RecordResults, style: Style) {
    if results.hits.is_empty() {
        return;
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let text_header = match results.scope {
        RecordScope::Notes => "note",
        _ => "title / description",
    };
    table.set_header([
        "ref",
        "repository",
        "state",
        text_header,
        "author",
        "labels",
        "updated",
    ]);
    for hit in &results.hits {
        table.add_row([
            reference(hit),
            one_line(&hit.repo_id).into_owned(),
            hit.state.clone().unwrap_or_default(),
            text(hit, style),
            one_line(&hit.author).into_owned(),
            one_line(&hit.labels.join(", ")).into_owned(),
            hit.updated_at
                .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
        ]);
    }
    println!("{table}");
}

/// `#12` for issues, `!7` for merge requests (GitLab's references), `note 9001 on #…`.
fn reference(hit: &RecordHit) -> String {
    let mut reference = match (hit.scope, hit.iid) {
        (RecordScope::Issues, Some(iid)) => format!("#{iid}"),
        (RecordScope::MergeRequests, Some(iid)) => format!("!{iid}"),
        _ => format!("note {}", hit.id),
    };
    if let Some(on) = hit.noteable {
        reference.push_str(&format!(" on {} {}", on.kind, on.id));
    }
    if hit.confidential {
        reference.push_str(" (confidential)");
    }
    reference
}

fn text(hit: &RecordHit, style: Style) -> String {
    let excerpt = highlighted(&hit.excerpt, style);
    match &hit.title {
        Some(title) if excerpt.is_empty() => highlighted(title, style),
        Some(title) => format!("{}\n{}", highlighted(title, style), style.dim(&excerpt)),
        None => excerpt,
    }
}

/// `text` on one line with its matches painted; control characters escaped.
fn highlighted(text: &Highlighted, style: Style) -> String {
    let mut out = String::new();
    let mut at = 0;
    let t = &text.text;
    for m in &text.matches {
        let (start, end) = (m.start.min(t.len()), m.end.min(t.len()));
        if start < at || !t.is_char_boundary(start) || !t.is_char_boundary(end) {
            continue;
        }
        out.push_str(&one_line(&t[at..start]));
        out.push_str(&style.matched(&one_line(&t[start..end])));
        at = end;
    }
    out.push_str(&one_line(&t[at..]));
    out
}

fn summary(results: &RecordResults, principal: &Principal) -> String {
    let total = if results.total_is_lower_bound {
        format!("{}+", results.total)
    } else {
        results.total.to_string()
    };
    let shown = results.hits.len();
    let mut line = if shown == 0 {
        format!(
            "no {} on this page (from {}) of {total} {principal} may read",
            results.scope, results.from
        )
    } else {
        format!(
            "{}–{} of {total} {} {principal} may read",
            results.from + 1,
            results.from + shown,
            results.scope
        )
    };
    if results.partial {
        line.push_str(" (partial: the server's timeout or failed shards cut the search short)");
    }
    line
}
