//! Checking parsed queries: each filter's value read, each refusal at its column, the
//! limits of the whole query, and the repositories a query requires.

use super::*;

fn files(text: &str) -> Result<Clause, SearchError> {
    Ok(check_text(text, Scope::Files)?.expect("a query").clause)
}

fn commits(text: &str) -> Result<Clause, SearchError> {
    Ok(check_text(text, Scope::Commits)?.expect("a query").clause)
}

fn filter(clause: Clause) -> FilterClause {
    match clause {
        Clause::Filter(f) => f,
        other => panic!("not a filter: {other:?}"),
    }
}

/// The column of `error` and the error inside it.
fn placed(error: SearchError) -> (usize, SearchError) {
    match error {
        SearchError::InQuery { column, problem } => (column, *problem),
        SearchError::Syntax(e) => (e.column, SearchError::Syntax(e)),
        other => panic!("not placed: {other}"),
    }
}

#[test]
fn filter_values_are_read_and_normalised() {
    let cases: Vec<(&str, FilterClause)> = vec![
        ("lang:Rust", FilterClause::Language("rust".into())),
        ("lang:cpp", FilterClause::Language("c++".into())),
        (
            "lang:\"Visual Basic .NET\"",
            FilterClause::Language("visual basic .net".into()),
        ),
        ("extension:.RS", FilterClause::Extension("rs".into())),
        ("repo:acme-api", FilterClause::Repo("acme-api".into())),
        ("blob:998707*", FilterClause::Blob("998707".into())),
        ("blob:ABCDEF12", FilterClause::Blob("abcdef12".into())),
        (
            "path:/src/net",
            FilterClause::Path(PathFilter::Prefix("src/net".into())),
        ),
        (
            "path:*.rs",
            FilterClause::Path(PathFilter::Glob("*.rs".into())),
        ),
        (
            "filename:*_Spec.RB",
            FilterClause::FileName("br.ceps_*".into()),
        ),
        (
            "filename:Café.txt",
            FilterClause::FileName("txt.efac".into()),
        ),
        ("filename:a\\*b", FilterClause::FileName("b\\*a".into())),
    ];
    for (text, expected) in cases {
        assert_eq!(filter(files(text).unwrap()), expected, "{text}");
    }
    let cases: Vec<(&str, FilterClause)> = vec![
        ("sha:1A2B3C", FilterClause::Sha("1a2b3c".into())),
        (
            "after:2024-01-31",
            FilterClause::After("2024-01-31T23:59:59.999Z".into()),
        ),
        (
            "before:2024-01-31",
            FilterClause::Before("2024-01-31T00:00:00Z".into()),
        ),
        (
            "after:0001-01-01",
            FilterClause::After("0001-01-01T23:59:59.999Z".into()),
        ),
        (
            "before:9999-12-31",
            FilterClause::Before("9999-12-31T00:00:00Z".into()),
        ),
        (
            "after:2024-01-31T12:00:00+02:00",
            FilterClause::After("2024-01-31T10:00:00Z".into()),
        ),
        (
            "author:ada",
            FilterClause::Author(TextMatch {
                kind: TermKind::Word,
                text: "ada".into(),
            }),
        ),
        (
            "committer:\"Ada Lovelace\"",
            FilterClause::Committer(TextMatch {
                kind: TermKind::Phrase,
                text: "Ada Lovelace".into(),
            }),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(filter(commits(text).unwrap()), expected, "{text}");
    }
}

#[test]
fn refused_values_are_named_at_their_column() {
    let cases: Vec<(&str, usize, &str)> = vec![
        ("x lang:klingon", 3, "is not one trawl knows"),
        ("lang:rsut", 1, "did you mean `rust`"),
        ("a   repo:Bad_Id!", 5, "cannot be a repository id"),
        ("blob:xyz1", 1, "not hexadecimal"),
        ("blob:12", 1, "too short"),
        ("path:*a??????????????????b", 1, "too complex"),
        ("filename:b??????????????????a*", 1, "too complex"),
        ("filename:src/x.rs", 1, "no file name has"),
        ("filename:\"a b\"", 1, "holds a space"),
        ("lang:\u{1b}[2J", 1, "\\u{1b}"),
    ];
    for (text, column, says) in cases {
        let (at, error) = placed(files(text).unwrap_err());
        assert_eq!(at, column, "{text}: {error}");
        assert!(error.to_string().contains(says), "{text}: {error}");
    }
    let long = format!("extension:{}", "e".repeat(300));
    let (at, error) = placed(files(&format!("é {long}")).unwrap_err());
    assert_eq!(at, 3);
    assert!(
        matches!(error, SearchError::FilterTooLong { bytes: 300, .. }),
        "{error}"
    );
    let long_name = format!("filename:{}", "n".repeat(MAX_FILE_NAME_BYTES + 1));
    assert!(matches!(
        placed(files(&long_name).unwrap_err()).1,
        SearchError::FilterTooLong { .. }
    ));
    for (text, says) in [
        ("after:yesterday", "is not one trawl reads"),
        ("after:2024-13-01", "is not one trawl reads"),
        ("before:0000-12-31", "years 1 to 9999"),
        ("after:2024-01-31T12:00:00", "with its offset"),
        (
            "sha:12345678901234567890123456789012345678901234567890123456789012345",
            "too long",
        ),
    ] {
        let (at, error) = placed(commits(text).unwrap_err());
        assert_eq!(at, 1, "{text}");
        assert!(error.to_string().contains(says), "{text}: {error}");
    }
}

#[test]
fn syntax_errors_keep_the_parsers_message() {
    for (text, column) in [
        ("\"unclosed", 1),
        ("path:", 1),
        ("a | | b", 5),
        ("( unbalanced", 1),
        ("-", 1),
        ("x author:ada", 3),
    ] {
        let error = files(text).unwrap_err();
        assert!(matches!(error, SearchError::Syntax(_)), "{text}: {error}");
        assert_eq!(placed(error).0, column, "{text}");
    }
    let deep = format!("{}a{}", "(".repeat(1_000), ")".repeat(1_000));
    let error = files(&deep).unwrap_err().to_string();
    assert!(
        error.contains("column 7") && error.contains("6 deep"),
        "{error}"
    );
}

#[test]
fn the_whole_query_is_held_to_the_limits() {
    // 256 terms pass, a word more does not; the column is where the limit was passed.
    let words: Vec<String> = (0..256)
        .map(|i| format!("w{}", "x".repeat(i % 7 + 1)))
        .collect();
    assert!(files(&words.join(" | ")).is_ok());
    let past = format!("{} | extra", words.join(" | "));
    let error = files(&past).unwrap_err();
    assert!(
        matches!(error, SearchError::TooManyTerms { terms: 257, .. }),
        "{error}"
    );
    // Filters and patterns are counted across groups and negations.
    let filters = (0..=MAX_QUERY_FILTERS)
        .map(|i| format!("-extension:e{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(matches!(
        files(&filters).unwrap_err(),
        SearchError::TooManyFilters { count: 65 }
    ));
    let patterns = (0..=MAX_QUERY_PATTERNS)
        .map(|i| match i % 3 {
            0 => format!("p{i}*"),
            1 => format!("-path:d{i}/*"),
            _ => format!("(filename:*.e{i} | x)"),
        })
        .collect::<Vec<_>>()
        .join(" | ");
    assert!(matches!(
        files(&patterns).unwrap_err(),
        SearchError::TooManyPatterns { count: 17 }
    ));
    // Path parts: as many as the same text had as one phrase.
    let deep_path = format!("a{} b c", "/".repeat(255));
    assert!(files(&deep_path).is_ok());
    let deeper = format!("a{} b c", "/".repeat(300));
    assert!(matches!(
        files(&deeper).unwrap_err(),
        SearchError::TooManyPathParts { .. }
    ));
    assert!(commits(&deeper).is_ok(), "commits match no paths");
    let err = files(&"x ".repeat(MAX_QUERY_CHARS)).unwrap_err();
    assert!(matches!(err, SearchError::QueryTooLong { .. }), "{err}");
    // Control characters are text (punctuation to the analyzer); underscores alone and
    // runs past 255 units analyze to nothing.
    assert!(files("\u{1c}\u{1f}").is_ok());
    for nothing in ["___".to_owned(), "\u{1c}".repeat(300)] {
        let err = files(&nothing).unwrap_err().to_string();
        assert!(
            err.starts_with("at column 1 of the query") && err.contains("holds nothing"),
            "{err}"
        );
    }
    assert!(check_text(" \t", Scope::Files).unwrap().is_none());
}

#[test]
fn required_repositories_follow_the_boolean_structure() {
    let required = |text: &str| {
        check_text(text, Scope::Files)
            .unwrap()
            .unwrap()
            .required
            .map(|set| set.into_iter().collect::<Vec<_>>())
    };
    assert_eq!(required("x repo:a"), Some(vec!["a".to_owned()]));
    assert_eq!(
        required("x (repo:a | repo:b)"),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(required("repo:a repo:b"), Some(vec![]));
    assert_eq!(
        required("repo:a (repo:a | repo:b) x"),
        Some(vec!["a".to_owned()])
    );
    assert_eq!(required("repo:a | x"), None);
    assert_eq!(required("-repo:a x"), None);
    assert_eq!(required("x"), None);
}
