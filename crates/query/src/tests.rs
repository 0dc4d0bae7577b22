//! Table tests of the parser: every construct with the tree it gives, every error with its
//! column, and properties over arbitrary text.

use proptest::prelude::*;

use crate::{Expr, Key, Node, ParseError, Problem, Query, Scope, Span, TermKind};

const DEPTH: usize = 6;

fn files(text: &str) -> Result<Query, ParseError> {
    Query::parse(text, Scope::Files, DEPTH)
}

fn tree(scope: Scope, text: &str) -> String {
    match Query::parse(text, scope, DEPTH) {
        Ok(query) => query.root().map_or("<empty>".into(), Expr::to_string),
        Err(e) => panic!("{text:?} does not parse: {e}"),
    }
}

#[test]
fn every_construct_parses_to_its_tree() {
    let cases: &[(&str, &str)] = &[
        // Words, phrases, and the default *and*.
        ("getHttpResponse", r#""getHttpResponse""#),
        ("  http   response ", r#"(and "http" "response")"#),
        (r#""http response""#, r#"(phrase "http response")"#),
        (r#""say \"hi\" \\ \n""#, r#"(phrase "say \"hi\" \\ \\n")"#),
        (r#"a"b c"d"#, r#"(and "a\"b" "c\"d")"#),
        (r#""a b"c"#, r#"(and (phrase "a b") "c")"#),
        // Exclusion.
        ("display -banner", r#"(and "display" (not "banner"))"#),
        (r#"-"a b""#, r#"(not (phrase "a b"))"#),
        ("-(a | b)", r#"(not (or "a" "b"))"#),
        (
            "-_x -$y -@z -9",
            r#"(and (not "_x") (not "$y") (not "@z") (not "9"))"#,
        ),
        ("-é", r#"(not "é")"#),
        // Dashes that are text.
        (
            "a->b -> --verbose -= -.5 -*",
            r#"(and "a->b" "->" "--verbose" "-=" "-.5" (prefix "-"))"#,
        ),
        // Or, and its precedence below *and*.
        ("a | b", r#"(or "a" "b")"#),
        ("a |b", r#"(or "a" "b")"#),
        ("a b | c", r#"(or (and "a" "b") "c")"#),
        ("a | b c", r#"(or "a" (and "b" "c"))"#),
        ("a|b x||y a| b", r#"(and "a|b" "x||y" "a|" "b")"#),
        // Explicit *and*.
        ("display +banner", r#"(and "display" "banner")"#),
        ("a + b", r#"(and "a" "b")"#),
        ("+a", r#""a""#),
        ("i++ ++ +=", r#"(and "i++" "++" "+=")"#),
        // Groups, flattened where the operator repeats.
        (
            "bug | (display +banner)",
            r#"(or "bug" (and "display" "banner"))"#,
        ),
        ("a (b c)", r#"(and "a" "b" "c")"#),
        ("(a | b) | c", r#"(or "a" "b" "c")"#),
        ("((a))", r#""a""#),
        ("( a | b )", r#"(or "a" "b")"#),
        ("(a b) | (c d)", r#"(or (and "a" "b") (and "c" "d"))"#),
        // Parentheses that are text.
        ("foo(bar) println!(", r#"(and "foo(bar)" "println!(")"#),
        ("(call(x) | y)", r#"(or "call(x)" "y")"#),
        ("(call(x)) z", r#"(and "call(x)" "z")"#),
        ("); a) )", r#"(and ");" "a)" ")")"#),
        // Prefixes and `*`.
        ("http*", r#"(prefix "http")"#),
        (
            "getHttp** std::*",
            r#"(and (prefix "getHttp") (prefix "std::"))"#,
        ),
        ("*", "*"),
        ("* path:src", r#"(and * path:"src")"#),
        ("*ptr a*b", r#"(and "*ptr" "a*b")"#),
        (r"foo\*", r#""foo*""#),
        (r"foo\**", r#"(prefix "foo*")"#),
        // Escapes.
        (
            r"\-x \+y \|z \(w\) \\ \: \n C:\dir",
            r#"(and "-x" "+y" "|z" "(w)" "\\" ":" "\\n" "C:\\dir")"#,
        ),
        (r"path\:src", r#""path:src""#),
        // Filters, raw and quoted, negated.
        ("helper path:lib/git", r#"(and "helper" path:"lib/git")"#),
        (
            "rails -filename:gemfile.lock",
            r#"(and "rails" (not filename:"gemfile.lock"))"#,
        ),
        (
            "helper -extension:yml -extension:js",
            r#"(and "helper" (not extension:"yml") (not extension:"js"))"#,
        ),
        (
            "blob:998707* lang:c++ repo:acme-api",
            r#"(and blob:"998707*" lang:"c++" repo:"acme-api")"#,
        ),
        (r#"path:"my dir/" x"#, r#"(and path:"my dir/" "x")"#),
        (r#"path:"a\"b\\c""#, r#"path:"a\"b\\c""#),
        (
            r"path:a\*b path:a\ b",
            r#"(and path:"a\\*b" path:"a\\" "b")"#,
        ),
        ("(x path:src)", r#"(and "x" path:"src")"#),
        ("(x path:f(1))", r#"(and "x" path:"f(1)")"#),
        // Words that look like filters.
        (
            "std::io path::Path TODO: http://x Path:x foo:bar",
            r#"(and "std::io" "path::Path" "TODO:" "http://x" "Path:x" "foo:bar")"#,
        ),
        ("", "<empty>"),
        (" \t\u{b}\u{3000} ", "<empty>"),
        ("a\u{2028}b", r#"(and "a" "b")"#),
        ("a\u{1f}b", r#""a\u{1f}b""#),
    ];
    for (text, expected) in cases {
        assert_eq!(tree(Scope::Files, text), *expected, "{text:?}");
    }
}

#[test]
fn commit_filters_parse_in_commit_searches() {
    assert_eq!(
        tree(
            Scope::Commits,
            "fix race author:ada committer:\"Ada L\" after:2024-01-01 before:2024-02-01T00:00:00Z sha:1a2b repo:x"
        ),
        r#"(and "fix" "race" author:"ada" committer:"Ada L" after:"2024-01-01" before:"2024-02-01T00:00:00Z" sha:"1a2b" repo:"x")"#
    );
}

#[test]
fn spans_count_characters() {
    let query = files("é -path:ü/x \"ab\"").unwrap();
    let Some(Node::And(items)) = query.root().map(|r| &r.node) else {
        panic!("an and");
    };
    assert_eq!(items[0].span, Span { start: 0, end: 1 });
    assert_eq!(items[1].span, Span { start: 2, end: 11 });
    let Node::Not(inner) = &items[1].node else {
        panic!("a not")
    };
    let Node::Filter(filter) = &inner.node else {
        panic!("a filter")
    };
    assert_eq!((filter.key, filter.quoted), (Key::Path, false));
    assert_eq!(filter.value_span, Span { start: 8, end: 11 });
    assert_eq!(items[2].span, Span { start: 12, end: 16 });
    assert_eq!(items[2].span.column(), 13);
    let Node::Term(term) = &items[2].node else {
        panic!("a term")
    };
    assert_eq!(term.kind, TermKind::Phrase);
}

/// The column and problem of the error `text` gives.
fn error(scope: Scope, text: &str) -> (usize, Problem) {
    match Query::parse(text, scope, DEPTH) {
        Ok(query) => panic!("{text:?} parsed: {:?}", query.root().map(Expr::to_string)),
        Err(e) => (e.column, e.problem),
    }
}

#[test]
fn every_error_names_its_column() {
    use Problem::*;
    let cases: Vec<(&str, usize, Problem)> = vec![
        (r#""unclosed"#, 1, UnclosedQuote),
        (r#"ok "a b"#, 4, UnclosedQuote),
        (r#"a "x\""#, 3, UnclosedQuote),
        (r#"path:"src"#, 6, UnclosedQuote),
        (r#""""#, 1, EmptyPhrase),
        (r#"a "  ""#, 3, EmptyPhrase),
        ("path:", 1, MissingValue { key: Key::Path }),
        ("x lang: rust", 3, MissingValue { key: Key::Lang }),
        (r#"filename:"""#, 1, MissingValue { key: Key::FileName }),
        ("(x repo:)", 4, MissingValue { key: Key::Repo }),
        (
            "a | | b",
            5,
            TwoOperators {
                first: '|',
                second: '|',
            },
        ),
        (
            "a || b",
            4,
            TwoOperators {
                first: '|',
                second: '|',
            },
        ),
        (
            "a + + b",
            5,
            TwoOperators {
                first: '+',
                second: '+',
            },
        ),
        (
            "a | + b",
            5,
            TwoOperators {
                first: '|',
                second: '+',
            },
        ),
        (
            "a + | b",
            5,
            TwoOperators {
                first: '+',
                second: '|',
            },
        ),
        ("| a", 1, NothingBefore { operator: '|' }),
        ("(|a)", 2, NothingBefore { operator: '|' }),
        ("+ a", 1, NothingBefore { operator: '+' }),
        ("a |", 3, NothingAfter { operator: '|' }),
        ("(a | )", 4, NothingAfter { operator: '|' }),
        ("a +", 3, NothingAfter { operator: '+' }),
        ("( unbalanced", 1, UnclosedGroup),
        ("a (b (c) d", 3, UnclosedGroup),
        ("((a)", 1, UnclosedGroup),
        ("(", 1, UnclosedGroup),
        ("()", 1, EmptyGroup),
        ("x (  )", 3, EmptyGroup),
        ("-", 1, LoneMinus),
        ("a - b", 3, LoneMinus),
        ("(a -)", 4, LoneMinus),
        ("(((((((a)))))))", 7, TooDeep { max: DEPTH }),
        (
            "author:ada",
            1,
            WrongScope {
                key: Key::Author,
                scope: Scope::Files,
            },
        ),
        (
            "x -sha:1a2b",
            4,
            WrongScope {
                key: Key::Sha,
                scope: Scope::Files,
            },
        ),
        (
            "é after:2024-01-01",
            3,
            WrongScope {
                key: Key::After,
                scope: Scope::Files,
            },
        ),
    ];
    for (text, column, problem) in cases {
        assert_eq!(error(Scope::Files, text), (column, problem), "{text:?}");
    }
    for (text, column, problem) in [
        (
            "fix path:src",
            5,
            WrongScope {
                key: Key::Path,
                scope: Scope::Commits,
            },
        ),
        (
            "lang:rust",
            1,
            WrongScope {
                key: Key::Lang,
                scope: Scope::Commits,
            },
        ),
        ("author:", 1, MissingValue { key: Key::Author }),
    ] {
        assert_eq!(error(Scope::Commits, text), (column, problem), "{text:?}");
    }
    // Six groups deep is allowed.
    assert!(files("((((((a))))))").is_ok());
}

#[test]
fn messages_say_the_column_and_the_fix() {
    for (text, says) in [
        (r#""unclosed"#, ["column 1", "closing `\"`"]),
        ("path:", ["column 1", "`path:src/net`"]),
        ("a | | b", ["column 5", "remove one"]),
        ("( unbalanced", ["column 1", "add a `)`"]),
        ("-", ["column 1", "`-vendor`"]),
        ("author:x", ["column 1", "--commits"]),
        ("(((((((a)))))))", ["column 7", "more than 6 deep"]),
    ] {
        let message = files(text).unwrap_err().to_string();
        for s in says {
            assert!(message.contains(s), "{text:?}: {message}");
        }
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

#[test]
fn a_thousand_nested_parentheses_are_refused_without_recursing() {
    let deep = format!("{}a{}", "(".repeat(1_000), ")".repeat(1_000));
    assert_eq!(
        files(&deep).unwrap_err(),
        ParseError {
            column: DEPTH + 1,
            problem: Problem::TooDeep { max: DEPTH }
        }
    );
    // A caller's huge limit is capped: the parser still does not recurse without end.
    let deeper = "(".repeat(100_000);
    let err = Query::parse(&deeper, Scope::Files, usize::MAX).unwrap_err();
    assert_eq!(err.problem, Problem::TooDeep { max: 64 });
    let unclosed = "-(".repeat(50_000);
    assert!(files(&unclosed).is_err());
}

#[test]
fn long_flat_queries_parse_in_loops() {
    let words = vec!["w"; 200_000].join(" | ");
    let Some(Node::Or(items)) = files(&words).unwrap().into_root().map(|e| e.node) else {
        panic!("an or");
    };
    assert_eq!(items.len(), 200_000);
}

/// The deepest nesting of groups in `expr`.
fn depth(expr: &Expr) -> usize {
    match &expr.node {
        Node::Not(inner) => depth(inner),
        Node::And(items) | Node::Or(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

proptest! {
    #[test]
    fn any_text_parses_or_names_a_column_inside_it(text in "[ a-c\\-+|()\"*:\\\\é\u{1c}]{0,40}|\\PC{0,40}") {
        match Query::parse(&text, Scope::Files, 3) {
            Ok(query) => {
                if let Some(root) = query.root() {
                    // And/or nest at most two levels per group plus the top.
                    prop_assert!(depth(root) <= 2 * 3 + 2, "{root}");
                    prop_assert!(root.span.end <= text.chars().count());
                }
            }
            Err(e) => {
                prop_assert!(e.column >= 1 && e.column <= text.chars().count(), "{e}");
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn words_without_operators_are_one_term_each(words in proptest::collection::vec("[a-zA-Z0-9_./]{1,12}", 1..8)) {
        let text = words.join(" ");
        let root = Query::parse(&text, Scope::Files, 3).unwrap().into_root().unwrap();
        let count = match root.node {
            Node::And(items) => items.len(),
            _ => 1,
        };
        prop_assert_eq!(count, words.len());
    }
}

#[test]
fn records_have_their_own_filters_and_refuse_code_ones() {
    assert_eq!(
        tree(
            Scope::Records,
            "crash state:opened label:\"needs review\" -author:ada"
        ),
        r#"(and "crash" state:"opened" label:"needs review" (not author:"ada"))"#
    );
    assert_eq!(
        tree(Scope::Records, "repo:acme x"),
        r#"(and repo:"acme" "x")"#
    );
    // The records' own keys stay text in code and commit searches.
    assert_eq!(tree(Scope::Files, "state:opened"), r#""state:opened""#);
    assert_eq!(tree(Scope::Commits, "label:bug"), r#""label:bug""#);
    for (text, key) in [
        ("x path:src", Key::Path),
        ("x lang:rust", Key::Lang),
        ("x sha:1a2b", Key::Sha),
    ] {
        let e = Query::parse(text, Scope::Records, DEPTH).unwrap_err();
        assert_eq!(
            e.problem,
            Problem::WrongScope {
                key,
                scope: Scope::Records
            }
        );
        let message = e.to_string();
        assert!(message.contains(&format!("`{}:`", key.name())), "{message}");
        assert!(message.contains("not records"), "{message}");
    }
}
