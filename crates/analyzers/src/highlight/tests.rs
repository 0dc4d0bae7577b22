//! The emulation on cases whose engine output was read from OpenSearch 2.19.1 (the suite
//! holds it to the engine on whole repositories).

use serde_json::{Value, json};

use super::*;

const FIELD: &str = "blob.content";

/// `text` with the emulation's matches in brackets (`None`: no highlight).
fn marked(query: Value, text: &str, max_chars: Option<u64>) -> Option<String> {
    let highlight = plain_highlight(
        LuceneGeneration::DEFAULT,
        AnalyzerName::CodeAnalyzer,
        FIELD,
        &query,
        text,
        max_chars,
    )
    .unwrap()?;
    let text = &text[..highlight.text_len];
    let mut out = String::new();
    let mut at = 0;
    for m in &highlight.matches {
        out.push_str(&text[at..m.start]);
        out.push('[');
        out.push_str(&text[m.clone()]);
        out.push(']');
        at = m.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

const TEXT: &str = "int getHttpResponse(void) { return get_http_response(); }\n\
                    // http getHttp HTTP response getHttpClient\n";

fn span_term(term: &str) -> Value {
    json!({ "span_term": { FIELD: term } })
}

#[test]
fn a_term_marks_only_its_part_of_an_identifier() {
    assert_eq!(
        marked(json!({ "term": { FIELD: "http" } }), TEXT, None).unwrap(),
        "int get[Http]Response(void) { return get_[http]_response(); }\n\
         // [http] get[Http] [HTTP] response get[Http]Client\n"
    );
}

#[test]
fn a_span_marks_its_terms_inside_its_matches_only() {
    let near = json!({ "span_near": {
        "clauses": [span_term("get"), span_term("http")], "slop": 0, "in_order": true
    } });
    assert_eq!(
        marked(near, TEXT, None).unwrap(),
        "int [getHttp]Response(void) { return [get_http]_response(); }\n\
         // http [getHttp] HTTP response [getHttp]Client\n"
    );
}

#[test]
fn a_term_clause_wins_over_a_span_of_the_same_term() {
    let query = json!({ "bool": { "should": [
        { "span_near": { "clauses": [span_term("get"), span_term("http")] } },
        { "term": { FIELD: { "value": "http", "boost": 2.0 } } },
    ], "must_not": [ { "term": { FIELD: "response" } } ] } });
    assert_eq!(
        marked(query, TEXT, None).unwrap(),
        "int [getHttp]Response(void) { return [get_http]_response(); }\n\
         // [http] [getHttp] [HTTP] response [getHttp]Client\n"
    );
}

#[test]
fn nothing_scoring_is_no_highlight_and_other_fields_do_not_count() {
    assert_eq!(
        marked(json!({ "term": { FIELD: "absent" } }), TEXT, None),
        None
    );
    assert_eq!(
        marked(json!({ "term": { "blob.file_name": "http" } }), TEXT, None),
        None
    );
    let filtered = json!({ "bool": {
        "filter": [ { "terms": { "repo_id": ["a"] } }, { "wildcard": { "blob.path": "x*" } } ],
        "must": [ { "term": { FIELD: "void" } } ]
    } });
    assert!(
        marked(filtered, TEXT, None)
            .unwrap()
            .starts_with("int getHttpResponse([void])")
    );
}

#[test]
fn a_prefix_expands_to_the_smallest_terms_of_the_document() {
    let prefix = |terms: usize| {
        json!({ "span_multi": { "match": { "prefix": { FIELD: {
            "value": "gethttp", "rewrite": format!("top_terms_{terms}")
        } } } } })
    };
    // Terms starting with `gethttp`: gethttp, gethttpclient, gethttpresponse.
    assert_eq!(
        marked(prefix(2), TEXT, None).unwrap(),
        "int getHttpResponse(void) { return get_http_response(); }\n\
         // http [getHttp] HTTP response [getHttpClient]\n"
    );
}

#[test]
fn a_cap_cuts_the_text_before_analysis() {
    let text = "getHttpResponse x;\n".repeat(10);
    let out = marked(json!({ "term": { FIELD: "http" } }), &text, Some(22)).unwrap();
    // The second identifier is cut to `get`: no longer `http`.
    assert_eq!(out, "get[Http]Response x;\nget");
    assert_eq!(
        marked(
            json!({ "term": { FIELD: "x" } }),
            &"a ".repeat(20),
            Some(10)
        ),
        None
    );
}

#[test]
fn offsets_are_bytes_of_the_text() {
    let text = "é😀 getHttp";
    assert_eq!(
        marked(json!({ "term": { FIELD: "http" } }), text, None).unwrap(),
        "é😀 get[Http]"
    );
}

#[test]
fn unknown_clauses_on_the_field_are_refused() {
    let error = plain_highlight(
        LuceneGeneration::DEFAULT,
        AnalyzerName::CodeAnalyzer,
        FIELD,
        &json!({ "wildcard": { FIELD: "get*" } }),
        TEXT,
        None,
    )
    .unwrap_err();
    assert!(error.to_string().contains("wildcard"), "{error}");
    assert!(
        plain_highlight(
            LuceneGeneration::DEFAULT,
            AnalyzerName::CodeAnalyzer,
            FIELD,
            &json!({ "more_like_this": {} }),
            TEXT,
            None,
        )
        .is_err()
    );
}
