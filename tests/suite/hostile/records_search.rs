//! Hostile input to record search, against the real engine and registry: wildcards,
//! huge and deeply nested queries, control characters, code-only and unknown filters,
//! author filters naming other users to fish for confidential records, pages at and past
//! their bounds, and searches running at once. Every answer is either trawl's own input
//! error (never the engine's refusal) or hits each readable by the rule.

use futures::future::join_all;
use trawl_indexer::search::{MAX_QUERY_CHARS, Page, SearchError};
use trawl_records::{RecordQuery, RecordScope, RecordSearchError};
use trawl_registry::Principal;
use trawl_tests::require_services;

use crate::records_search::{USERS, World, principals};

/// Whether `e` is trawl's refusal of the input (not the engine's, the registry's or a
/// missing index).
fn refused_input(e: &RecordSearchError) -> bool {
    match e {
        RecordSearchError::Search(
            SearchError::Engine { .. }
            | SearchError::Refused { .. }
            | SearchError::Registry(_)
            | SearchError::NotIndexed { .. },
        ) => false,
        RecordSearchError::InQuery { problem, .. } => refused_input(problem),
        _ => true,
    }
}

/// Searches `query` as `principal`: an input error, or hits each readable (by the ground
/// truth) — never an engine failure.
async fn answered(
    world: &World,
    principal: &Principal,
    query: &RecordQuery,
) -> Result<usize, String> {
    match world.search.search(principal, query).await {
        Ok(results) => {
            for hit in &results.hits {
                let record = world
                    .records
                    .iter()
                    .find(|r| r.id == hit.id)
                    .expect("a hit is a written record");
                assert!(
                    world.readable(principal, record),
                    "{principal} found {record:?} with {query:?}"
                );
            }
            Ok(results.hits.len())
        }
        Err(e) => {
            assert!(refused_input(&e), "{query:?}: not an input error: {e}");
            Err(e.to_string())
        }
    }
}

fn query(scope: RecordScope, text: &str) -> RecordQuery {
    let mut q = RecordQuery::new(scope, text);
    q.page.size = 100;
    q
}

#[tokio::test]
async fn hostile_record_queries_get_input_errors_or_readable_hits() {
    let services = require_services!();
    let world = World::build(&services, "records-hostile", 23, 40, 15).await;
    let principals = principals();
    let long_word = "a".repeat(200);
    let huge_word = "b".repeat(MAX_QUERY_CHARS);
    let many_words = vec!["zebu"; 400].join(" ");
    let too_long = "c ".repeat(MAX_QUERY_CHARS);
    let long_prefix = format!("{}*", "d".repeat(300));
    let deep = format!("{}zebu{}", "(".repeat(10), ")".repeat(10));
    let texts: Vec<&str> = vec![
        "*",
        "* *",
        "**",
        "*a",
        "a*b",
        "?",
        "-*",
        "zebu*",
        "\\*",
        "(zebu)",
        "a|b",
        "'",
        "\"zebu\"",
        "zebu -",
        "-",
        "|",
        "( )",
        "\"",
        "zebu\u{0}",
        "\u{1b}[2J zebu",
        "zebu\u{7}\u{8}\u{7f}",
        "\u{85}zebu\u{2028}",
        "zebu \u{FEFF}",
        "\u{E000}zebu\u{E001}",
        "foo:bar zebu",
        "state:",
        "label:\"\"",
        "author:\"\"",
        "repo:",
        "repo:../x",
        "state:\u{0}",
        "label:\"a\\\"b\"",
        "author:ada\\\" OR",
        "zebu +",
        "+zebu",
        &long_word,
        &huge_word,
        &many_words,
        &too_long,
        &long_prefix,
        &deep,
    ];
    let mut answers = 0;
    for (n, text) in texts.iter().enumerate() {
        let principal = &principals[n % principals.len()];
        for scope in RecordScope::ALL {
            if answered(&world, principal, &query(scope, text))
                .await
                .is_ok()
            {
                answers += 1;
            }
        }
    }
    assert!(answers > 0);
    // The refusals that matter name what to fix.
    let refusal = |text: &str, scope| {
        let world = &world;
        let text = text.to_owned();
        async move {
            answered(world, &Principal::Anonymous, &query(scope, &text))
                .await
                .expect_err(&text)
        }
    };
    assert!(
        refusal(&too_long, RecordScope::Issues)
            .await
            .contains("characters long")
    );
    assert!(
        refusal(&many_words, RecordScope::Issues)
            .await
            .contains("search terms")
    );
    assert!(
        refusal(&long_prefix, RecordScope::Notes)
            .await
            .contains("bytes long")
    );
    assert!(refusal(&deep, RecordScope::Issues).await.contains("deep"));
    for code_only in [
        "zebu path:src",
        "lang:rust",
        "sha:abcd",
        "filename:x.rs",
        "extension:rs",
        "blob:abcd",
        "committer:ada",
        "after:2024-01-01",
        "before:2024-01-01",
    ] {
        let key = code_only
            .rsplit(' ')
            .next()
            .unwrap()
            .split(':')
            .next()
            .unwrap();
        let message = refusal(code_only, RecordScope::Issues).await;
        assert!(message.contains(&format!("`{key}:`")), "{message}");
        assert!(message.contains("not records"), "{message}");
    }
    assert!(
        refusal("state:bogus", RecordScope::Issues)
            .await
            .contains("opened, closed")
    );
    assert!(
        refusal("state:merged", RecordScope::Issues)
            .await
            .contains("no state")
    );
    assert!(
        refusal("label:bug", RecordScope::Notes)
            .await
            .contains("notes have no label")
    );
    // Flags are checked as strictly.
    let mut q = query(RecordScope::Issues, "zebu");
    q.labels = vec![" ".into()];
    assert!(
        world
            .search
            .search(&Principal::Anonymous, &q)
            .await
            .is_err()
    );
    q.labels = vec!["bug".into(); 65];
    assert!(
        world
            .search
            .search(&Principal::Anonymous, &q)
            .await
            .is_err()
    );
    let mut q = query(RecordScope::Notes, "zebu");
    q.state = Some("opened".into());
    assert!(
        world
            .search
            .search(&Principal::Anonymous, &q)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn author_filters_do_not_fish_confidential_records() {
    let services = require_services!();
    let world = World::build(&services, "records-fish", 29, 50, 10).await;
    for principal in principals() {
        for author in USERS {
            for scope in [RecordScope::Issues, RecordScope::Notes] {
                let in_text = query(scope, &format!("author:{author}"));
                let mut as_flag = query(scope, "");
                as_flag.author = Some(author.to_owned());
                for q in [in_text, as_flag] {
                    world.check(&principal, &q, &|r| r.author == author).await;
                }
            }
        }
        // Naming a confidential reader as the label or text finds nothing more.
        for text in [
            "confidential_readers:ada",
            "confidential:true",
            "visibility:private",
        ] {
            world
                .check(&principal, &query(RecordScope::Issues, text), &|_| false)
                .await;
        }
    }
}

#[tokio::test]
async fn pages_at_and_past_their_bounds() {
    let services = require_services!();
    let world = World::build(&services, "records-pages", 31, 40, 5).await;
    let ada = Principal::parse("ada").unwrap();
    let page = |from, size| {
        let mut q = query(RecordScope::Issues, "zebu");
        q.page = Page { from, size };
        q
    };
    for (from, size, ok) in [
        (0, 0, false),
        (0, 101, false),
        (0, 100, true),
        (9_999, 1, true),
        (9_900, 100, true),
        (9_901, 100, false),
        (10_000, 1, false),
        (usize::MAX, 1, false),
        (usize::MAX - 1, 100, false),
    ] {
        let answer = answered(&world, &ada, &page(from, size)).await;
        assert_eq!(answer.is_ok(), ok, "from {from} size {size}: {answer:?}");
    }
    // Pages of 7 put together are the whole answer, in one order, without repeats.
    let whole = world.search.search(&ada, &page(0, 100)).await.unwrap();
    let mut joined = Vec::new();
    let mut from = 0;
    loop {
        let results = world.search.search(&ada, &page(from, 7)).await.unwrap();
        if results.hits.is_empty() {
            break;
        }
        joined.extend(results.hits.iter().map(|h| h.id));
        from += 7;
    }
    let all: Vec<i64> = whole.hits.iter().map(|h| h.id).collect();
    assert_eq!(joined, all);
}

#[tokio::test]
async fn searches_at_once_each_get_their_own_answer() {
    let services = require_services!();
    let world = World::build(&services, "records-parallel", 37, 30, 10).await;
    let principals = principals();
    let runs = (0..24).map(|n| {
        let principal = principals[n % principals.len()].clone();
        let scope = RecordScope::ALL[n % 3];
        let world = &world;
        async move {
            world
                .check(&principal, &query(scope, "zebu"), &|_| true)
                .await;
        }
    });
    join_all(runs).await;
}

#[tokio::test]
async fn huge_and_odd_prose_is_found_and_shown_cut() {
    let services = require_services!();
    let mut world = World::build(&services, "records-huge", 41, 5, 0).await;
    let public = world
        .projects
        .iter()
        .position(|p| p.visibility == trawl_registry::Visibility::Public)
        .unwrap();
    // The largest texts trawl's render writes (a longer row is cut to these limits before
    // it reaches the engine): a title of MAX_SHORT_BYTES, more than a hit shows, and a
    // description of MAX_PROSE_BYTES whose only match lies past the characters the
    // highlighter reads (HIGHLIGHT_MAX_CHARS).
    let huge_title = format!(
        "zebu {}",
        "word ".repeat(trawl_records::render::MAX_SHORT_BYTES / 5 - 1)
    );
    let tail = " zebu getHttpResponse";
    let lines = (trawl_records::render::MAX_PROSE_BYTES - tail.len()) / 5;
    let huge_description = format!("{}{tail}", "line\n".repeat(lines));
    assert!(huge_title.len() <= trawl_records::render::MAX_SHORT_BYTES);
    assert!(huge_title.chars().count() > trawl_records::MAX_TITLE_CHARS);
    assert!(huge_description.len() <= trawl_records::render::MAX_PROSE_BYTES);
    assert!(lines * 5 > trawl_records::HIGHLIGHT_MAX_CHARS as usize);
    let sentences = "Fix the crash. Then the timeout appears! zebu".to_owned();
    let controls = "zebu \u{0}\u{1b}[2J\u{7} \u{E000}marker\u{E001}".to_owned();
    let docs = [
        (9001, huge_title.clone(), huge_description),
        (9002, sentences.clone(), String::new()),
        (9003, controls.clone(), controls.clone()),
    ];
    let alias = world.set.alias(trawl_analyzers::IndexKind::Issues);
    let mut ops = Vec::new();
    for (id, title, description) in docs {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let doc = trawl_records::IssueDoc {
            access: trawl_records::RecordAccess {
                repo_id: world.projects[public].repo.clone(),
                visibility: "public".into(),
                project_id: public as i64 + 1,
                confidential: false,
                confidential_readers: Vec::new(),
            },
            id,
            iid: id as i32,
            title,
            description,
            state: "opened".into(),
            labels: Vec::new(),
            author: "ada".into(),
            assignees: Vec::new(),
            created_at: at,
            updated_at: at,
            schema_version: trawl_records::RECORD_SCHEMA_VERSION,
        };
        ops.push(trawl_client::BulkOp::index(
            &alias,
            trawl_records::document_id(id),
            serde_json::to_value(doc).unwrap(),
        ));
        world.records.push(crate::records_search::Record {
            scope: RecordScope::Issues,
            id,
            project: public,
            author: "ada".into(),
            confidential: false,
            readers: Vec::new(),
            state: Some("opened".into()),
            labels: Vec::new(),
            words: vec!["zebu"],
        });
    }
    let summary = world
        .set
        .client()
        .bulk_write(ops, &world.set.bulk_options())
        .await;
    assert_eq!(summary.failed, 0, "{:?}", summary.failures);
    world.set.client().refresh(&alias).await.unwrap();
    for text in ["zebu", "timeout", "gethttpresponse", "word", "marker"] {
        let results = world
            .search
            .search(&Principal::Anonymous, &query(RecordScope::Issues, text))
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        for hit in &results.hits {
            let title = hit.title.as_ref().unwrap();
            assert!(title.text.chars().count() <= trawl_records::MAX_TITLE_CHARS);
            assert!(hit.excerpt.text.chars().count() <= trawl_records::MAX_TITLE_CHARS);
            match hit.id {
                9001 => assert!(title.text.starts_with("zebu word"), "{text}: {title:?}"),
                9002 => assert_eq!(title.text, sentences, "{text}"),
                _ => {}
            }
        }
        if text == "gethttpresponse" {
            assert!(
                results.hits.iter().any(|h| h.id == 9001),
                "found past the highlighter's cap"
            );
        }
        if text == "timeout" {
            assert!(results.hits.iter().any(|h| h.id == 9002));
        }
    }
}
