//! The parsed query: expressions with the spans of the text they came from.

use std::fmt;

use crate::key::Key;

/// Where a part of the query is in its text: characters (Unicode scalar values) from
/// `start` (0-based) to `end` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The 1-based column of the first character, as error messages name it.
    pub fn column(self) -> usize {
        self.start + 1
    }
}

/// A parsed query: nothing (empty or only spaces) or one expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub(crate) root: Option<Expr>,
}

impl Query {
    /// The expression, or `None` when the text held nothing but spaces.
    pub fn root(&self) -> Option<&Expr> {
        self.root.as_ref()
    }

    /// The expression, owned.
    pub fn into_root(self) -> Option<Expr> {
        self.root
    }
}

/// One expression and its place in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub node: Node,
    pub span: Span,
}

/// What an expression is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// `*` alone: every document (for a search by filters only).
    Everything,
    /// A word, phrase or prefix to look for in the text.
    Term(Term),
    /// An inline filter such as `path:src`.
    Filter(Filter),
    /// `-x`: documents `x` does not match.
    Not(Box<Expr>),
    /// Terms side by side or joined by `+`: documents every one matches. At least two,
    /// none of them an `And` itself.
    And(Vec<Expr>),
    /// Terms joined by `|`: documents any one matches. At least two, none of them an
    /// `Or` itself.
    Or(Vec<Expr>),
}

/// Text to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub kind: TermKind,
    /// The text with escapes resolved (for a prefix, without the `*`). Never empty.
    pub text: String,
}

/// How a [`Term`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    /// A bare word: code-aware matching of one word.
    Word,
    /// `"…"`: the words in this order.
    Phrase,
    /// `word*`: anything starting with the word.
    Prefix,
}

/// An inline filter: a key and its value, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub key: Key,
    /// The value: raw text verbatim (backslashes kept) or a quoted value with `\"` and
    /// `\\` resolved. Never empty or only spaces.
    pub value: String,
    /// Whether the value was quoted.
    pub quoted: bool,
    /// Where the value is (the filter's own span covers `key:` too).
    pub value_span: Span,
}

impl fmt::Display for Expr {
    /// A compact S-expression, for tests and debugging: `(and "a" (not path:"src"))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Node::Everything => write!(f, "*"),
            Node::Term(term) => match term.kind {
                TermKind::Word => write!(f, "{:?}", term.text),
                TermKind::Phrase => write!(f, "(phrase {:?})", term.text),
                TermKind::Prefix => write!(f, "(prefix {:?})", term.text),
            },
            Node::Filter(filter) => write!(f, "{}:{:?}", filter.key.name(), filter.value),
            Node::Not(inner) => write!(f, "(not {inner})"),
            Node::And(items) => list(f, "and", items),
            Node::Or(items) => list(f, "or", items),
        }
    }
}

fn list(f: &mut fmt::Formatter<'_>, name: &str, items: &[Expr]) -> fmt::Result {
    write!(f, "({name}")?;
    for item in items {
        write!(f, " {item}")?;
    }
    write!(f, ")")
}
