//! The `_search` bodies of file and commit searches, built only from checked queries
//! ([`CheckedBlobQuery`], [`CheckedCommitQuery`]) and the search's access filters.
//!
//! **Highlighting is bounded per hit and per page.** The content of a hit comes back once,
//! inside its highlight, for exact line numbers (see [`super`]); the engine reads and
//! returns at most [`highlight_chars`] characters of it: [`HIGHLIGHT_MAX_CHARS`] per hit,
//! less on large pages so that a page never carries more than
//! [`HIGHLIGHT_CHARS_PER_PAGE`] (100 000 per hit up to 20 hits a page, 20 000 at 100).
//! Matches further into a file still make it a hit but are not in its snippets.
//!
//! **Phrases are built from the analyzer's terms.** The code analyzer keeps an
//! identifier and its parts (`getHttpResponse` → `gethttpresponse`, `get`, `http`,
//! `response`), a token graph; the engine turns a `match_phrase` over such a graph into
//! span queries that fail to match a phrase of three or more split identifiers even in a
//! file that holds it verbatim (measured on OpenSearch 2.19: `getaResponse getbResponse
//! getcResponse` does not find itself). So trawl runs the analyzer itself (the offline
//! emulation, token for token the engine's) and asks for the parts in order, one per
//! position, with `span_near` (slop 0, in order): what the index holds at consecutive
//! positions for any spelling of the words.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use trawl_analyzers::{analyze_code, whole_token};
use trawl_client::HighlightOffset;

use trawl_query::Scope;

use super::SnippetSource;
use super::clauses::{Purpose, expression, has_prefix, named_expression};
use super::facets::{blob_aggregations, commit_aggregations};
use super::query::{CheckedBlobQuery, CheckedCommitQuery};

/// Characters of a file's content highlighted per hit, at most.
pub const HIGHLIGHT_MAX_CHARS: u64 = 100_000;

/// Characters of content highlighted per page, at most (spread over its hits).
pub const HIGHLIGHT_CHARS_PER_PAGE: u64 = 2_000_000;

/// How much a match on the file name weighs against one in the content.
pub(super) const FILE_NAME_BOOST: f64 = 5.0;

/// How much a match on a trailing part of the path weighs.
pub(super) const PATH_BOOST: f64 = 2.0;

/// Repository ids per `terms` clause (the engine's `index.max_terms_count` is 65 536).
pub(super) const TERMS_CHUNK: usize = 50_000;

/// Marks the start of a match in highlighted text (a private-use character: not in code).
pub(super) const MARK_START: char = '\u{E000}';
/// Marks the end of a match in highlighted text.
pub(super) const MARK_END: char = '\u{E001}';

/// Explicitly requested repositories up to which a search is routed to their shards only.
const ROUTING_MAX_REPOS: usize = 32;

/// Bytes of the routing value at most: it travels in the URL, whose request line the
/// engine refuses past 4096 bytes (`http.max_initial_line_length`), and every `,` is
/// three bytes there. 32 ids of 128 bytes would pass it.
const ROUTING_MAX_BYTES: usize = 1_024;

/// The routing of a file search over `scope` when the caller `named` repositories (by
/// flag or by the query's `repo:`): their ids, when few and short enough for the URL;
/// otherwise none (every shard is asked, the filter still narrows).
pub(super) fn routing(named: bool, scope: &[String]) -> Option<String> {
    if !named || scope.len() > ROUTING_MAX_REPOS {
        return None;
    }
    let joined = scope.join(",");
    (joined.len() + 2 * scope.len() <= ROUTING_MAX_BYTES).then_some(joined)
}

/// Characters of content highlighted per hit on a page of `page_size` hits.
pub fn highlight_chars(page_size: usize) -> u64 {
    let hits = u64::try_from(page_size.max(1)).unwrap_or(u64::MAX);
    (HIGHLIGHT_CHARS_PER_PAGE / hits).min(HIGHLIGHT_MAX_CHARS)
}

/// The highlight request parameter that caps analysed characters, per engine (without
/// it, a longer content fails the whole search).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HighlightCap {
    /// OpenSearch ≥ 2.2: `max_analyzer_offset`.
    OpenSearch,
    /// Elasticsearch ≥ 7.12: `max_analyzed_offset`.
    Elasticsearch,
    /// Older engines: no cap; the index setting (1 000 000 characters) applies, and the
    /// whole content of each hit comes back.
    None,
}

impl HighlightCap {
    pub(super) fn of(capabilities: &trawl_client::Capabilities) -> HighlightCap {
        match capabilities.highlight_offset {
            Some(HighlightOffset::MaxAnalyzerOffset) => HighlightCap::OpenSearch,
            Some(HighlightOffset::MaxAnalyzedOffset) => HighlightCap::Elasticsearch,
            None => HighlightCap::None,
        }
    }

    /// The characters highlighted per hit under this cap: `chars`, or `None` (the whole
    /// content) on an engine that cannot cap.
    pub(super) fn max_chars(self, chars: u64) -> Option<u64> {
        match self {
            HighlightCap::OpenSearch | HighlightCap::Elasticsearch => Some(chars),
            HighlightCap::None => None,
        }
    }

    fn apply(self, field: &mut Value, chars: u64) {
        match self {
            HighlightCap::OpenSearch => field["max_analyzer_offset"] = json!(chars),
            HighlightCap::Elasticsearch => field["max_analyzed_offset"] = json!(chars),
            HighlightCap::None => {}
        }
    }
}

/// The filter that keeps only documents of `repos` (which may be empty: then nothing).
pub(super) fn repo_filter<S: AsRef<str> + serde::Serialize>(repos: &[S]) -> Value {
    if repos.len() <= TERMS_CHUNK {
        return json!({ "terms": { "repo_id": repos } });
    }
    let should: Vec<Value> = repos
        .chunks(TERMS_CHUNK)
        .map(|chunk| json!({ "terms": { "repo_id": chunk } }))
        .collect();
    json!({ "bool": { "should": should, "minimum_should_match": 1 } })
}

/// The clause that matches `text` on `field` (a `code_analyzer` field) as a phrase: the
/// analyzer's single-position terms in order (see the module docs), or `match_phrase`
/// when the terms do not form one unbroken chain of positions.
pub(super) fn code_phrase(field: &str, text: &str, boost: f64) -> Value {
    let tokens = analyze_code(text);
    let mut at: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for token in &tokens {
        if token.position_length == 1 {
            at.entry(token.position)
                .or_default()
                .push(token.token.to_string());
        }
    }
    let every_position = tokens.iter().map(|t| t.position);
    let (first, last) = (every_position.clone().min(), every_position.max());
    let unbroken = match (first, last) {
        (Some(first), Some(last)) => at.len() as u64 == u64::from(last - first) + 1,
        _ => false,
    };
    if !unbroken {
        return json!({ "match_phrase": { field: { "query": text, "boost": boost } } });
    }
    let mut clauses: Vec<Value> = at
        .into_values()
        .map(|mut terms| {
            terms.dedup();
            if terms.len() == 1 {
                json!({ "span_term": { field: terms[0] } })
            } else {
                let any: Vec<Value> = terms
                    .iter()
                    .map(|t| json!({ "span_term": { field: t } }))
                    .collect();
                json!({ "span_or": { "clauses": any } })
            }
        })
        .collect();
    if clauses.len() == 1 {
        let mut only = clauses.remove(0);
        if let Some(term) = only.get("span_term").and_then(|t| t.get(field)).cloned() {
            return json!({ "term": { field: { "value": term, "boost": boost } } });
        }
        only["span_or"]["boost"] = json!(boost);
        return only;
    }
    json!({ "span_near": {
        "clauses": clauses, "slop": 0, "in_order": true, "boost": boost
    } })
}

/// How much a word matched as one whole token (an identifier in any casing, `blockclient`
/// for `blockClient`) weighs against the same word matched as a sequence of its parts.
const WHOLE_WORD_BOOST: f64 = 2.0;

/// The clause that matches one word of a query (text without spaces) on `field`: the
/// analyzer's token for the whole word (an identifier is indexed whole, lowercased, beside
/// its parts) or, inside longer identifiers and other spellings, its parts in order (see
/// [`code_phrase`]). Whole-token matches rank higher.
pub(super) fn code_word(field: &str, word: &str, boost: f64) -> Value {
    match code_word_clauses(field, word, boost) {
        (Some(whole), parts) => json!({ "bool": {
            "should": [whole, parts],
            "minimum_should_match": 1
        } }),
        (None, parts) => parts,
    }
}

/// The two ways [`code_word`] matches: the word's whole token, when it has one beside its
/// parts, and its parts in order.
pub(super) fn code_word_clauses(field: &str, word: &str, boost: f64) -> (Option<Value>, Value) {
    let phrase = code_phrase(field, word, boost);
    let tokens = analyze_code(word);
    // Only beside parts: a word of one part is its phrase's single term already.
    let whole = whole_token(&tokens)
        .filter(|t| t.position_length > 1)
        .map(|token| {
            json!({ "term": { field: { "value": token.token, "boost": boost * WHOLE_WORD_BOOST } } })
        });
    (whole, phrase)
}

/// The `_search` body of a file search under `access` (the access filters, see
/// [`super::access`]): the query's clause (see [`super::clauses`]) under the access filter
/// and the flags' filters, with highlighting and the facets' aggregations. With
/// [`SnippetSource::Git`] the engine highlights file names only; the content's matches
/// are marked locally for [`content_highlight_query`].
pub(super) fn blob_body(
    query: &CheckedBlobQuery,
    access: Vec<Value>,
    cap: HighlightCap,
    snippets: SnippetSource,
) -> Value {
    let mut filters = access;
    if let Some(language) = &query.language {
        filters.push(json!({ "term": { "blob.language": language } }));
    }
    if let Some(ext) = &query.extension {
        filters.push(json!({ "term": { "blob.extension": ext } }));
    }
    if let Some(path) = &query.path {
        filters.push(path.clause());
    }
    let clause = |purpose| {
        query
            .text
            .as_ref()
            .map(|t| expression(&t.clause, Scope::Files, purpose, query.extras))
    };
    let find = match &query.text {
        Some(t) if query.explain => Some(named_expression(&t.clause, Scope::Files, query.extras)),
        _ => clause(Purpose::Find),
    };
    let mut search = json!({ "filter": filters });
    if let Some(clause) = find {
        search["must"] = json!([clause]);
    }
    let mut content_highlight = json!({ "type": "plain", "number_of_fragments": 0 });
    cap.apply(&mut content_highlight, highlight_chars(query.page.size));
    let mut fields = json!({ "blob.file_name": { "type": "plain", "number_of_fragments": 0 } });
    if snippets == SnippetSource::Index {
        fields["blob.content"] = content_highlight;
    }
    let mut highlight = json!({
        "pre_tags": [MARK_START.to_string()],
        "post_tags": [MARK_END.to_string()],
        "encoder": "default",
        "fields": fields
    });
    if query.text.as_ref().is_some_and(|t| has_prefix(&t.clause)) {
        highlight["highlight_query"] = clause(Purpose::Highlight).unwrap_or(Value::Null);
    }
    json!({
        "query": { "bool": search },
        "_source": { "includes": [
            "repo_id", "visibility", "blob.path", "blob.file_name", "blob.language", "blob.extension",
            "blob.commit_sha", "blob.binary", "blob.truncated", "blob.size", "blob.oid", "blob.symlink"
        ] },
        "highlight": highlight,
        "aggs": blob_aggregations(),
        "sort": [
            { "_score": "desc" },
            { "repo_id": "asc" },
            { "blob.path.keyword": "asc" }
        ],
        "track_scores": true,
        "from": query.page.from,
        "size": query.page.size,
    })
}

/// The query the engine highlights a file search's content with: the body's
/// `highlight_query` (a query with prefixes has one), else its query.
pub(super) fn content_highlight_query(body: &Value) -> &Value {
    match &body["highlight"]["highlight_query"] {
        Value::Null => &body["query"],
        query => query,
    }
}

/// The `_search` body of a commit search under `access` (the access filters).
pub(super) fn commit_body(query: &CheckedCommitQuery, access: Vec<Value>) -> Value {
    let mut filters = access;
    if let Some(sha) = &query.sha_prefix {
        filters.push(json!({ "prefix": { "commit.sha": { "value": sha } } }));
    }
    let must = match &query.text {
        Some(text) => expression(&text.clause, Scope::Commits, Purpose::Find, query.extras),
        None => json!({ "match_all": {} }),
    };
    json!({
        "query": { "bool": { "must": [must], "filter": filters } },
        "_source": { "includes": [
            "repo_id", "visibility", "commit.sha", "commit.message", "commit.author", "commit.committer"
        ] },
        "aggs": commit_aggregations(),
        "sort": [
            { "_score": "desc" },
            { "commit.committer.time": { "order": "desc", "unmapped_type": "date" } },
            { "repo_id": "asc" },
            { "commit.sha": "asc" }
        ],
        "track_scores": true,
        "from": query.page.from,
        "size": query.page.size,
    })
}

#[cfg(test)]
mod tests {
    use super::super::query::{BlobQuery, CommitQuery};
    use super::*;

    fn repos(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn filters(body: &Value) -> &Vec<Value> {
        body["query"]["bool"]["filter"].as_array().expect("filters")
    }

    fn blob(query: &BlobQuery, repos: &[String], cap: HighlightCap) -> Value {
        blob_body(
            &query.checked().unwrap(),
            vec![repo_filter(repos)],
            cap,
            SnippetSource::Index,
        )
    }

    #[test]
    fn every_blob_query_carries_the_repo_filter_first() {
        let body = blob(
            &BlobQuery::new("x"),
            &repos(&["a", "b"]),
            HighlightCap::None,
        );
        assert_eq!(
            filters(&body)[0],
            json!({ "terms": { "repo_id": ["a", "b"] } })
        );
        // No readable repository: a filter that matches nothing, never no filter.
        let body = blob(&BlobQuery::new("x"), &[], HighlightCap::None);
        assert_eq!(filters(&body)[0], json!({ "terms": { "repo_id": [] } }));
        let many: Vec<String> = (0..TERMS_CHUNK + 5).map(|i| format!("r{i}")).collect();
        let body = blob(&BlobQuery::new("x"), &many, HighlightCap::None);
        let chunks = filters(&body)[0]["bool"]["should"].as_array().unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1]["terms"]["repo_id"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn blob_query_matches_each_word_in_content_name_and_path() {
        let body = blob(
            &BlobQuery::new("  http response "),
            &repos(&["a"]),
            HighlightCap::OpenSearch,
        );
        let and = &body["query"]["bool"]["must"][0]["bool"];
        for (i, word) in ["http", "response"].iter().enumerate() {
            let should = &and["must"][i]["bool"]["should"];
            assert_eq!(should[0], code_word("blob.content", word, 1.0));
            assert_eq!(
                should[1],
                code_word("blob.file_name", word, FILE_NAME_BOOST)
            );
            assert_eq!(should[2]["match"]["blob.path"]["query"], *word);
            assert_eq!(should[2]["match"]["blob.path"]["boost"], PATH_BOOST);
        }
        // The words in order score as a phrase too.
        assert_eq!(
            and["should"][0]["span_near"]["clauses"],
            json!([
                { "span_term": { "blob.content": "http" } },
                { "span_term": { "blob.content": "response" } }
            ])
        );
        assert!(body["aggs"]["languages"].is_object());
        assert!(body["highlight"]["highlight_query"].is_null());
        let content = &body["highlight"]["fields"]["blob.content"];
        assert_eq!(content["number_of_fragments"], 0);
        assert_eq!(content["type"], "plain");
        assert_eq!(content["max_analyzer_offset"], HIGHLIGHT_MAX_CHARS);
        let includes = body["_source"]["includes"].as_array().unwrap();
        assert!(!includes.contains(&json!("blob.content")));
        let es = blob(&BlobQuery::new("x"), &[], HighlightCap::Elasticsearch);
        assert!(es["highlight"]["fields"]["blob.content"]["max_analyzed_offset"].is_u64());
        // A prefix gets a highlight query of its own, with bounded expansions.
        let prefixed = blob(&BlobQuery::new("http*"), &[], HighlightCap::None);
        let highlight = prefixed["highlight"]["highlight_query"].to_string();
        assert!(highlight.contains("top_terms_256"), "{highlight}");
        // Filters only: no `must`, every filter under the access filter.
        let only = BlobQuery {
            text: String::new(),
            language: Some("rust".into()),
            ..BlobQuery::default()
        };
        let body = blob(&only, &repos(&["a"]), HighlightCap::None);
        assert!(body["query"]["bool"]["must"].is_null());
        assert_eq!(filters(&body).len(), 2);
    }

    #[test]
    fn phrases_are_the_analyzers_parts_in_order() {
        let parts = |text: &str| {
            code_phrase("f", text, 1.0)["span_near"]["clauses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["span_term"]["f"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(parts("getHttpResponse"), ["get", "http", "response"]);
        assert_eq!(
            parts("getaResponse get_b_response"),
            ["geta", "response", "get", "b", "response"]
        );
        // Punctuation runs are tokens of their own, so they take part in the phrase.
        assert_eq!(
            parts("std::io::Read x"),
            ["std", "::", "io", "::", "read", "x"]
        );
        assert_eq!(
            code_phrase("f", "::", 2.0),
            json!({ "term": { "f": { "value": "::", "boost": 2.0 } } })
        );
        assert_eq!(
            code_phrase("f", "Café", 1.0),
            json!({ "term": { "f": { "value": "cafe", "boost": 1.0 } } })
        );
        let near = code_phrase("f", "a b", 2.0);
        assert_eq!(
            (
                near["span_near"]["slop"].clone(),
                near["span_near"]["boost"].clone()
            ),
            (json!(0), json!(2.0))
        );
        assert_eq!(near["span_near"]["in_order"], true);
    }

    #[test]
    fn a_word_matches_whole_or_as_its_parts() {
        // One position: the term itself.
        assert_eq!(
            code_word("f", "blockclient", 1.0),
            json!({ "term": { "f": { "value": "blockclient", "boost": 1.0 } } })
        );
        // Several parts: the whole token, boosted, or the parts in order.
        let word = code_word("f", "blockClient", 1.0);
        let should = word["bool"]["should"].as_array().unwrap();
        assert_eq!(should[0]["term"]["f"]["value"], "blockclient");
        assert_eq!(should[0]["term"]["f"]["boost"], WHOLE_WORD_BOOST);
        assert_eq!(should[1], code_phrase("f", "blockClient", 1.0));
    }

    #[test]
    fn routing_stays_short_enough_for_the_url() {
        let named = true;
        assert_eq!(routing(named, &repos(&["a", "b"])), Some("a,b".into()));
        assert_eq!(
            routing(false, &repos(&["a"])),
            None,
            "nothing named: every shard"
        );
        let many: Vec<String> = (0..33).map(|i| format!("r{i}")).collect();
        assert_eq!(routing(named, &many), None);
        let long: Vec<String> = (0..32).map(|i| format!("{i:0>128}")).collect();
        assert_eq!(routing(named, &long), None, "32 ids of 128 bytes");
        let fits: Vec<String> = (0..7).map(|i| format!("{i:0>128}")).collect();
        assert!(routing(named, &fits).is_some_and(|r| r.len() + 2 * 7 <= ROUTING_MAX_BYTES));
    }

    #[test]
    fn highlighting_is_bounded_per_page() {
        assert_eq!(highlight_chars(1), HIGHLIGHT_MAX_CHARS);
        assert_eq!(highlight_chars(20), HIGHLIGHT_MAX_CHARS);
        assert_eq!(highlight_chars(100), 20_000);
        assert_eq!(highlight_chars(0), HIGHLIGHT_MAX_CHARS);
        assert_eq!(highlight_chars(usize::MAX), 0);
        for size in 1..=100 {
            assert!(highlight_chars(size) * size as u64 <= HIGHLIGHT_CHARS_PER_PAGE);
        }
        let mut q = BlobQuery::new("x");
        q.page.size = 100;
        let body = blob(&q, &[], HighlightCap::OpenSearch);
        assert_eq!(
            body["highlight"]["fields"]["blob.content"]["max_analyzer_offset"],
            20_000
        );
    }

    #[test]
    fn blob_filters_are_normalised() {
        let query = BlobQuery {
            language: Some(" Rust ".into()),
            extension: Some(".RS".into()),
            path: Some("/src/net".into()),
            ..BlobQuery::new("x")
        };
        let body = blob(&query, &repos(&["a"]), HighlightCap::None);
        let f = filters(&body);
        assert_eq!(f[1], json!({ "term": { "blob.language": "rust" } }));
        assert_eq!(f[2], json!({ "term": { "blob.extension": "rs" } }));
        assert_eq!(
            f[3]["bool"]["should"][0],
            json!({ "term": { "blob.path.keyword": "src/net" } })
        );
        assert_eq!(
            f[3]["bool"]["should"][1]["prefix"]["blob.path.keyword"]["value"],
            "src/net/"
        );
    }

    #[test]
    fn commit_queries_filter_by_repo_and_sha() {
        let q = CommitQuery {
            sha_prefix: Some("ABCDEF".into()),
            ..CommitQuery::default()
        };
        let body = commit_body(&q.checked().unwrap(), vec![repo_filter(&repos(&["a"]))]);
        let f = filters(&body);
        assert_eq!(f[0], json!({ "terms": { "repo_id": ["a"] } }));
        assert_eq!(
            f[1],
            json!({ "prefix": { "commit.sha": { "value": "abcdef" } } })
        );
        assert_eq!(body["query"]["bool"]["must"][0], json!({ "match_all": {} }));
        let q = CommitQuery {
            text: Some("fix parser".into()),
            ..CommitQuery::default()
        };
        let body = commit_body(&q.checked().unwrap(), vec![repo_filter::<String>(&[])]);
        let and = &body["query"]["bool"]["must"][0]["bool"];
        assert_eq!(and["must"][0], code_word("commit.message", "fix", 1.0));
        assert_eq!(and["must"][1], code_word("commit.message", "parser", 1.0));
        assert_eq!(
            and["should"][0],
            code_phrase("commit.message", "fix parser", 2.0)
        );
        assert!(body["aggs"]["repositories"].is_object());
    }
}
