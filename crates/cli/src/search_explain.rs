//! `trawl search --explain` and `--explain-path`: the query's leaves with the terms
//! each field gets from them, which leaves each hit matched (where, and as a whole word or
//! as its parts), and for one named file why it is found or not.

use trawl_analyzers::{LuceneGeneration, Token};
use trawl_indexer::search::{
    LeafKind, LeafMatch, LeafOutcome, MatchedAs, PathExplanation, QueryLeaf, WordExplanation,
    WordMatch, query_tokens,
};

use crate::search_cmd::Style;
use crate::terminal::one_line;

/// A `--explain-path` value: `REPO:PATH`.
#[derive(Clone, Debug)]
pub struct RepoPath {
    pub repo: trawl_registry::RepoId,
    pub path: String,
}

impl std::str::FromStr for RepoPath {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let Some((repo, path)) = value.split_once(':') else {
            return Err(format!(
                "{value:?} names no file: give the repository and the path as REPO:PATH, e.g. `acme-api:src/net/client.rs`"
            ));
        };
        if path.is_empty() {
            return Err(format!(
                "{value:?} has no path after the `:`: give it as REPO:PATH, e.g. `{repo}:src/main.rs`"
            ));
        }
        let repo = repo.parse().map_err(|e| format!("{e}"))?;
        Ok(RepoPath {
            repo,
            path: path.to_owned(),
        })
    }
}

/// The leaves of the query and the terms each field gets from the text ones, as the
/// engine (on `lucene`) makes them.
pub fn print_leaves(leaves: &[QueryLeaf], lucene: LuceneGeneration, style: Style) {
    if leaves.is_empty() {
        println!(
            "{}",
            style.dim("query: no words or filters (the flags alone)")
        );
        println!();
        return;
    }
    println!(
        "{}",
        style.dim("query, as searched (leaves numbered as the hits cite them):")
    );
    for leaf in leaves {
        println!("  {}", leaf_line(leaf));
        if leaf.kind == LeafKind::Filter {
            continue;
        }
        for field in query_tokens(lucene, &leaf.text) {
            let name = match field.field {
                "blob.content" => "content",
                "blob.file_name" => "file name",
                _ => "path",
            };
            if leaf.kind == LeafKind::Prefix && name == "path" {
                continue;
            }
            let terms = terms(&field.tokens);
            println!("{}", style.dim(&format!("       {name:<9} {terms}")));
        }
    }
    println!();
}

/// One hit's matched leaves, under its header.
pub fn print_matched(matched: &[LeafMatch], score: Option<f64>, style: Style) {
    let mut parts: Vec<String> = matched
        .iter()
        .map(|m| {
            let how = match m.how {
                Some(MatchedAs::Whole) => " (whole word)",
                Some(MatchedAs::Parts) => " (parts)",
                None => "",
            };
            format!("{} {}{how}", m.leaf, m.field.label())
        })
        .collect();
    if parts.is_empty() {
        parts.push("no leaf by name (the filters and flags alone)".into());
    }
    let score = score.map_or(String::new(), |s| format!("   score {s:.3}"));
    println!(
        "{}",
        style.dim(&format!("  matched: {}{score}", parts.join(", ")))
    );
}

/// Why one file is found or not.
pub fn print_path(explanation: &PathExplanation, style: Style) {
    let verdict = if explanation.found {
        "found: the query and the flags hold for it"
    } else {
        "not found: the query or a flag does not hold for it"
    };
    println!(
        "{}:{}  {}",
        style.repo(&explanation.repo_id),
        style.path(&one_line(&explanation.path)),
        verdict
    );
    if !explanation.content_indexed {
        println!(
            "{}",
            style.dim("  its content is not indexed (binary or over the size limit): only its name and path can match")
        );
    }
    if let Some(reason) = &explanation.content_unavailable {
        println!(
            "{}",
            style.dim(&format!(
                "  its content's terms are not shown: {} (`index` the repository again to bring the file up to date)",
                one_line(reason)
            ))
        );
    }
    for outcome in &explanation.leaves {
        print_outcome(outcome, style);
    }
    for flag in &explanation.flags {
        let mark = if flag.matched { "✓" } else { "✗" };
        println!("  {mark} {}", flag.flag);
    }
}

fn print_outcome(outcome: &LeafOutcome, style: Style) {
    let leaf = &outcome.leaf;
    let mark = if outcome.matched.is_empty() {
        "✗"
    } else {
        "✓"
    };
    let where_ = if outcome.matched.is_empty() {
        "matches nowhere".to_owned()
    } else {
        let fields: Vec<String> = outcome
            .matched
            .iter()
            .map(|m| match m.how {
                Some(MatchedAs::Whole) => format!("{} (whole word)", m.field.label()),
                Some(MatchedAs::Parts) => format!("{} (parts)", m.field.label()),
                None => m.field.label().to_owned(),
            })
            .collect();
        format!("matches in {}", fields.join(", "))
    };
    let effect = match (leaf.negated, outcome.matched.is_empty()) {
        (true, false) => " — excluded by `-`, so this leaf rules the file out",
        (true, true) => " — excluded by `-`, so this leaf holds",
        _ => "",
    };
    println!("  {mark} {}  {where_}{effect}", leaf_line(leaf));
    for (field, word) in [
        ("content", &outcome.content),
        ("file name", &outcome.file_name),
    ] {
        if let Some(word) = word {
            println!(
                "{}",
                style.dim(&format!("       {field:<9} {}", word_line(word)))
            );
        }
    }
}

fn leaf_line(leaf: &QueryLeaf) -> String {
    let kind = match leaf.kind {
        LeafKind::Word => "word",
        LeafKind::Phrase => "phrase",
        LeafKind::Prefix => "prefix",
        LeafKind::Filter => "filter",
    };
    let text = match leaf.kind {
        LeafKind::Phrase => format!("\"{}\"", leaf.text),
        LeafKind::Prefix => format!("{}*", leaf.text),
        _ => leaf.text.clone(),
    };
    let minus = if leaf.negated { "-" } else { "" };
    format!("{:>2} {kind:<6} {minus}{}", leaf.leaf, one_line(&text))
}

/// Terms as `whole: x · parts: a b c` (several terms at one position joined by `|`).
fn terms(tokens: &[Token]) -> String {
    if tokens.is_empty() {
        return "(no terms)".into();
    }
    let wholes: Vec<&str> = tokens
        .iter()
        .filter(|t| t.position_length > 1)
        .map(|t| t.token.as_str())
        .collect();
    let mut parts: Vec<(u32, Vec<&str>)> = Vec::new();
    for t in tokens.iter().filter(|t| t.position_length == 1) {
        match parts.iter_mut().find(|(p, _)| *p == t.position) {
            Some((_, terms)) if !terms.contains(&t.token.as_str()) => terms.push(&t.token),
            Some(_) => {}
            None => parts.push((t.position, vec![&t.token])),
        }
    }
    parts.sort_by_key(|(p, _)| *p);
    let parts: Vec<String> = parts.into_iter().map(|(_, t)| t.join("|")).collect();
    let parts = parts.join(" ");
    let parts = one_line(&parts);
    if wholes.is_empty() {
        format!("`{parts}`")
    } else {
        format!("whole `{}` · parts `{parts}`", one_line(&wholes.join("|")))
    }
}

fn word_line(word: &WordExplanation) -> String {
    match &word.outcome {
        WordMatch::Whole { line } => format!(
            "whole word `{}` on line {line}",
            one_line(word.whole.as_deref().unwrap_or(&word.word))
        ),
        WordMatch::Parts { line } => format!(
            "parts `{}` in order from line {line}",
            one_line(&word.parts.join(" "))
        ),
        WordMatch::Partial {
            matched,
            of,
            line,
            expected,
            found,
        } => format!(
            "{matched} of {of} parts in order from line {line}, then `{}` expected where the file has {}",
            one_line(expected),
            found
                .as_deref()
                .map_or("nothing (it ends)".to_owned(), |f| format!(
                    "`{}`",
                    one_line(f)
                ))
        ),
        WordMatch::Absent => format!(
            "absent: not even `{}`",
            one_line(
                word.parts
                    .first()
                    .map_or(word.word.as_str(), String::as_str)
            )
        ),
    }
}
