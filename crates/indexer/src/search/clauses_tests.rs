//! The clauses built from checked queries: where each operator and filter goes, how
//! prefixes are bounded, and how clauses are counted.

use super::*;
use crate::search::parsed::check_text;

fn clause(text: &str, scope: Scope) -> Clause {
    check_text(text, scope).unwrap().unwrap().clause
}

fn files(text: &str) -> Value {
    expression(
        &clause(text, Scope::Files),
        Scope::Files,
        Purpose::Find,
        true,
    )
}

#[test]
fn operators_become_must_should_and_must_not() {
    let and = files("alpha -beta path:src -lang:rust");
    let bool = &and["bool"];
    assert_eq!(bool["must"].as_array().unwrap().len(), 1);
    assert_eq!(
        bool["filter"][0]["bool"]["should"][0],
        json!({ "term": { "blob.path.keyword": "src" } })
    );
    assert_eq!(bool["must_not"].as_array().unwrap().len(), 2);
    assert_eq!(
        bool["must_not"][1],
        json!({ "bool": { "filter": [{ "term": { "blob.language": "rust" } }] } })
    );
    assert!(bool["should"].is_null(), "one word: no phrase");

    let or = files("alpha | lang:rust | -beta");
    let should = or["bool"]["should"].as_array().unwrap();
    assert_eq!(or["bool"]["minimum_should_match"], 1);
    assert_eq!(should.len(), 3);
    assert_eq!(
        should[1],
        json!({ "bool": { "filter": [{ "term": { "blob.language": "rust" } }] } })
    );
    assert!(should[2]["bool"]["must_not"].is_array());

    assert_eq!(files("*"), json!({ "match_all": {} }));
    let word = files("alpha");
    assert_eq!(
        word["bool"]["should"][0],
        code_word("blob.content", "alpha", 1.0)
    );
    let phrase = files("\"alpha beta\"");
    assert_eq!(
        phrase["bool"]["should"][1],
        code_phrase("blob.file_name", "alpha beta", FILE_NAME_BOOST)
    );
}

#[test]
fn side_by_side_words_also_score_as_a_phrase() {
    let and = files("http response \"x y\" z*");
    assert_eq!(
        and["bool"]["should"][0],
        code_phrase("blob.content", "http response", PROXIMITY_BOOST)
    );
    let without = expression(
        &clause("http response", Scope::Files),
        Scope::Files,
        Purpose::Find,
        false,
    );
    assert!(without["bool"]["should"].is_null());
    let commits = expression(
        &clause("fix race", Scope::Commits),
        Scope::Commits,
        Purpose::Find,
        true,
    );
    assert_eq!(
        commits["bool"]["should"][0],
        code_phrase("commit.message", "fix race", PROXIMITY_BOOST)
    );
}

#[test]
fn commit_filters_match_people_and_times() {
    let q = expression(
        &clause("author:ada after:2024-01-01 -sha:abcd", Scope::Commits),
        Scope::Commits,
        Purpose::Find,
        true,
    );
    let filter = &q["bool"]["filter"];
    assert_eq!(
        filter[0]["bool"]["should"][0],
        code_word("commit.author.name", "ada", 1.0)
    );
    assert_eq!(
        filter[0]["bool"]["should"][1],
        code_word("commit.author.email", "ada", 1.0)
    );
    assert_eq!(
        filter[1],
        json!({ "range": { "commit.committer.time": { "gt": "2024-01-01T23:59:59.999Z" } } })
    );
    assert_eq!(
        q["bool"]["must_not"][0],
        json!({ "bool": { "filter": [{ "prefix": { "commit.sha": { "value": "abcd" } } }] } })
    );
}

#[test]
fn prefixes_are_the_whole_token_or_the_parts_with_a_bounded_last() {
    assert_eq!(
        prefix("f", "HTTP", 1.0, Purpose::Find),
        json!({ "prefix": { "f": { "value": "http", "boost": 1.0 } } })
    );
    // Two runs, no whole token: the first, then a term starting with the second (never
    // any term starting with `std`).
    assert_eq!(
        prefix("f", "std::", 1.0, Purpose::Find),
        json!({ "span_near": { "clauses": [
            { "span_term": { "f": "std" } },
            { "span_multi": { "match": { "prefix": { "f": {
                "value": "::", "rewrite": format!("top_terms_{PREFIX_PART_TERMS}")
            } } } } }
        ], "slop": 0, "in_order": true, "boost": 1.0 } })
    );
    let parts = prefix("f", "getHttp", 2.0, Purpose::Find);
    let should = &parts["bool"]["should"];
    assert_eq!(
        should[0],
        json!({ "prefix": { "f": { "value": "gethttp", "boost": 2.0 } } })
    );
    assert_eq!(
        should[1]["span_near"]["clauses"],
        json!([
            { "span_term": { "f": "get" } },
            { "span_multi": { "match": { "prefix": { "f": {
                "value": "http", "rewrite": format!("top_terms_{PREFIX_PART_TERMS}")
            } } } } }
        ])
    );
    let lit = prefix("f", "getHttp", 1.0, Purpose::Highlight).to_string();
    assert!(
        !lit.contains("\"prefix\":{\"f\":{\"value\":\"gethttp\",\"boost\""),
        "{lit}"
    );
    assert!(
        lit.contains(&format!("top_terms_{HIGHLIGHT_PREFIX_TERMS}")),
        "{lit}"
    );
    assert_eq!(
        prefix("f", "__", 1.0, Purpose::Find),
        json!({ "match_none": {} })
    );
    assert!(has_prefix(&clause("a (b | -c*)", Scope::Files)));
    assert!(!has_prefix(&clause("a (b | -c)", Scope::Files)));
}

#[test]
fn clauses_are_counted_as_the_engine_counts_them() {
    assert_eq!(engine_clauses(&json!({ "term": { "f": "x" } })), 1);
    assert_eq!(
        engine_clauses(&code_phrase("blob.content", "getHttpResponse", 1.0)),
        3
    );
    assert_eq!(
        engine_clauses(&json!({ "match": { "blob.path": { "query": "a/b/c" } } })),
        3
    );
    assert_eq!(
        engine_clauses(&prefix("f", "getHttp", 1.0, Purpose::Find)),
        PATTERN_CLAUSES + 1 + PREFIX_PART_TERMS
    );
    // A word: its tokens on content and name, its path part, its definition term.
    let word = files("getHttpResponse");
    assert_eq!(engine_clauses(&word), 4 + 4 + 1 + 1);
}

#[test]
fn a_word_with_a_slash_also_matches_the_directories_a_path_runs_through() {
    let with_dirs = files("/Lib/Router/");
    let path = &with_dirs["bool"]["should"][2]["bool"]["should"];
    assert_eq!(
        path[1],
        json!({ "prefix": { "blob.path": { "value": "lib/router/", "boost": PATH_BOOST } } })
    );
    let plain = files("router");
    assert!(plain["bool"]["should"][2]["match"].is_object(), "{plain}");
    let phrase = files("\"lib/router x\"");
    assert!(phrase["bool"]["should"][2]["match"].is_object(), "{phrase}");
}

#[test]
fn a_word_also_ranks_the_files_that_define_it() {
    let word = files("BlockClient");
    assert_eq!(
        word["bool"]["should"][3],
        json!({ "term": { "blob.defs": { "value": "blockclient", "boost": DEFINITION_BOOST } } })
    );
    for text in ["std::io", "\"block client\"", "block*"] {
        let clause = files(text).to_string();
        assert!(!clause.contains("blob.defs"), "{text}: {clause}");
    }
    let commits = expression(
        &clause("blockClient", Scope::Commits),
        Scope::Commits,
        Purpose::Find,
        true,
    );
    assert!(!commits.to_string().contains("blob.defs"));
}
