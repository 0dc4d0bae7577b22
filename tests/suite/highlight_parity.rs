//! Snippets from git against snippets from the engine's highlighter, through the whole
//! search: one repository indexed (the relevance and analysis fixtures, trawl's own
//! sources and files made to reach the highlighter's edges), then every query searched
//! twice, once with the engine's highlighter (the index keeps the content, so
//! [`SnippetSource::Index`] asks the engine) and once with [`SnippetSource::Git`], and
//! every hit compared field for field. No allow-list: one difference fails the test.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use trawl_indexer::CodeSearch;
use trawl_indexer::search::{BlobHit, BlobQuery, Page, SnippetOptions, SnippetSource};
use trawl_registry::Principal;
use trawl_tests::{
    register_and_index, require_services, test_indices_keeping_content, test_registry,
    workspace_root,
};

use crate::indexing::{TestRepo, indexer, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snippets_from_git_are_the_engines_for_every_query_and_hit() {
    let services = require_services!();
    let (set, _cleanup) = test_indices_keeping_content(&services, "hlparity")
        .await
        .unwrap();
    let repo = parity_repo();
    let indexer = indexer(&services, &set).await;
    register_and_index(&indexer, &spec("parity", &repo), Arc::default())
        .await
        .unwrap();
    let registry = test_registry(&services, &set).await.unwrap();
    let engine = CodeSearch::new(set.clone(), registry);
    let git = engine.clone().with_snippet_source(SnippetSource::Git);

    let queries = queries(&repo.path);
    assert!(queries.len() >= 300, "only {} queries", queries.len());
    let mut mismatches = Vec::new();
    let (mut searched, mut compared, mut marked) = (0, 0, 0);
    for (i, text) in queries.iter().enumerate() {
        // Pages of 100 get 20 000 highlighted characters per hit, pages of 10 100 000.
        let size = if i % 4 == 0 { 100 } else { 10 };
        let query = BlobQuery {
            page: Page { from: 0, size },
            snippets: SnippetOptions {
                max_lines: 50,
                context_lines: 1,
                fragment_size: 400,
            },
            ..BlobQuery::new(text.as_str())
        };
        let from_engine = engine.search_blobs(&Principal::Anonymous, &query).await;
        let from_git = git.search_blobs(&Principal::Anonymous, &query).await;
        let (from_engine, from_git) = match (from_engine, from_git) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(a), Err(b)) if a.to_string() == b.to_string() => continue,
            (a, b) => {
                let shown = |r: &Result<trawl_indexer::search::BlobResults, _>| match r {
                    Ok(page) => format!("{} hits", page.hits.len()),
                    Err(e) => format!("{e}"),
                };
                mismatches.push(format!("{text:?}: engine {}, git {}", shown(&a), shown(&b)));
                continue;
            }
        };
        searched += 1;
        if from_engine.hits.len() != from_git.hits.len() {
            mismatches.push(format!(
                "{text:?}: {} hits from the engine, {} from git",
                from_engine.hits.len(),
                from_git.hits.len()
            ));
            continue;
        }
        for (a, b) in from_engine.hits.iter().zip(&from_git.hits) {
            compared += 1;
            marked += usize::from(!a.snippets.is_empty());
            if a != b {
                mismatches.push(describe(text, a, b));
            }
        }
    }
    println!(
        "{searched} searches, {compared} hits compared, {marked} with snippets, {} differ",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} hits differ; the first:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        marked >= 1_000,
        "only {marked} hits with snippets were compared"
    );
}

/// Where two hits of the same query differ, shortly.
fn describe(query: &str, engine: &BlobHit, git: &BlobHit) -> String {
    let lines = |h: &BlobHit| -> Vec<String> {
        h.snippets
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|l| !l.matches.is_empty())
            .map(|l| {
                let ranges: Vec<String> = l
                    .matches
                    .iter()
                    .map(|m| format!("{}..{}", m.start, m.end))
                    .collect();
                format!("{}:[{}] {:?}", l.number, ranges.join(","), l.text)
            })
            .collect()
    };
    let (a, b) = (lines(engine), lines(git));
    let first = a.iter().zip(&b).find(|(x, y)| x != y);
    format!(
        "{query:?} {}: engine {} matching lines (cut {}), git {} (cut {}, unavailable {:?}); first difference: {:?}",
        engine.path,
        engine.matching_lines,
        engine.content_cut,
        git.matching_lines,
        git.content_cut,
        git.content_unavailable,
        first.map_or_else(
            || format!("{} vs {} lines", a.len(), b.len()),
            |(x, y)| format!("engine {x} / git {y}")
        )
    )
}

/// A repository of the fixtures, some of trawl's own sources, and files at the
/// highlighter's edges, committed once.
fn parity_repo() -> TestRepo {
    let repo = TestRepo::new();
    let root = workspace_root();
    for (from, to) in [
        ("fixtures/relevance/corpus", "relevance"),
        ("fixtures/analysis/corpus", "analysis"),
        ("crates/analyzers/src", "trawl/analyzers"),
        ("crates/query/src", "trawl/query"),
    ] {
        copy_dir(&root.join(from), &repo.path.join(to));
    }
    let edge = repo.path.join("edge");
    std::fs::create_dir_all(&edge).unwrap();
    // Longer than any page's highlight: matches before and after 20 000 and 100 000
    // characters, and an identifier across each limit.
    let mut long = String::new();
    while long.len() < 140_000 {
        long.push_str(&format!(
            "let getHttpResponse{n} = parse_http_header(value{n}); // HTTP status {n}\n",
            n = long.len()
        ));
    }
    std::fs::write(edge.join("long.rs"), &long).unwrap();
    // Latin-1, UTF-16 with a BOM, CRLF line ends, characters outside the BMP.
    let mut latin1 = b"// r\xe9sum\xe9 of getHttpResponse\nfn caf\xe9_http() {}\n".to_vec();
    latin1.extend_from_slice(b"let na\xefve = parse_http_header(x);\n");
    std::fs::write(edge.join("latin1.c"), latin1).unwrap();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "int getHttpResponse() { return parse_http_header(1); }\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    std::fs::write(edge.join("utf16.c"), utf16).unwrap();
    std::fs::write(
        edge.join("crlf.rs"),
        "fn a() {}\r\nfn getHttpResponse() { parse_http_header() }\r\n",
    )
    .unwrap();
    std::fs::write(
        edge.join("emoji.js"),
        "const 😀getHttpResponse = '🎉'; // 𝒽𝓉𝓉𝓅 http😀response\nparse_http_header('é😀')\n",
    )
    .unwrap();
    // An identifier of 60 parts, short enough to be indexed whole (255 characters): the
    // highlighter's groups hold 50 tokens. And 300 terms sharing a prefix (a highlighted
    // prefix expands to 256).
    let parts: Vec<String> = (0..60).map(|i| format!("p{i}")).collect();
    let mut many = format!("let {} = http;\n", parts.join("_"));
    for i in 0..300 {
        many.push_str(&format!("zzterm{i:03} zzTerm{i:03}Http;\n"));
    }
    std::fs::write(edge.join("many.py"), many).unwrap();
    std::fs::write(edge.join("binary.bin"), b"getHttpResponse\0\x01\x02").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        "../relevance/getHttpResponse/target.rs",
        edge.join("link.rs"),
    )
    .unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "parity corpus"]);
    repo
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// Queries of every shape over the repository's words: words as written, in lower and
/// upper case, prefixes, phrases of neighbouring words, exclusions and alternatives,
/// and fixed ones for the edge files.
fn queries(root: &Path) -> Vec<String> {
    let mut words = BTreeSet::new();
    let mut pairs = Vec::new();
    collect_words(root, &mut words, &mut pairs);
    let words: Vec<String> = words.into_iter().collect();
    let step = (words.len() / 120).max(1);
    let mut out: Vec<String> = [
        "getHttpResponse",
        "gethttpresponse",
        "http",
        "HTTP",
        "parse_http_header",
        "\"http header\"",
        "getHttp*",
        "get_http*",
        "zzterm*",
        "zz*",
        "zzTerm1*",
        "p1*",
        "p3_p4",
        "p10 p11 p12",
        "p49",
        "p55",
        "p48_p49_p50_p51",
        "p57*",
        "résumé",
        "café_http",
        "😀getHttpResponse",
        "http -header",
        "http | response",
        "(http response) -lang:markdown",
        "value1* status",
        "getHttpResponse path:edge",
    ]
    .map(str::to_owned)
    .to_vec();
    for word in words.iter().step_by(step) {
        out.push(word.clone());
        out.push(word.to_lowercase());
        out.push(word.to_uppercase());
        let stem: String = word.chars().take(4).collect();
        out.push(format!("{stem}*"));
    }
    for (a, b) in pairs.iter().step_by((pairs.len() / 60).max(1)) {
        out.push(format!("\"{a} {b}\""));
        out.push(format!("{a} {b}"));
        out.push(format!("{a} -{b}"));
        out.push(format!("{a} | {b}"));
    }
    out
}

/// The identifiers of the files under `dir` (three characters or more) and neighbouring
/// pairs of them on a line.
fn collect_words(dir: &Path, words: &mut BTreeSet<String>, pairs: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if entry.file_name() == ".git" || path.is_symlink() {
            continue;
        }
        if path.is_dir() {
            collect_words(&path, words, pairs);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let line_words: Vec<&str> = line
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.len() >= 3 && !w.starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            words.extend(line_words.iter().map(|w| (*w).to_owned()));
            if let [a, b, ..] = line_words[..] {
                pairs.push((a.to_owned(), b.to_owned()));
            }
        }
    }
}
