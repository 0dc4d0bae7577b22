//! trawl-query: the search query language, parsed into an AST with source spans.
//!
//! The syntax is GitLab's Advanced Search syntax for code, commits and application records
//! (issues, merge requests, notes), made to fit code:
//! words, `"phrases"`, `-exclusion`, `a | b`, `+` (and), `( )` groups, a trailing `*` for
//! a prefix, and inline filters (`path:src/net`, `-extension:md`, `author:ada`, …). This
//! crate only reads the text: it knows the grammar and which filters a search of files or
//! of commits has, and nothing about analyzers, limits or the engine. The search side
//! (`trawl_indexer::search`) checks each part against its limits and turns it into engine
//! clauses, naming the column of what it refuses from the spans kept here. No I/O.
//!
//! # Grammar
//!
//! ```text
//! query   = [ space ] [ or ] [ space ] ;
//! or      = and { [ space ] "|" [ space ] and } ;
//! and     = unary { ( space | [ space ] "+" space ) unary } ;
//! unary   = "-" primary | "+" primary | primary ;
//! primary = group | phrase | filter | word ;
//! group   = "(" [ space ] or [ space ] ")" ;
//! phrase  = '"' { char - '"' | '\"' | '\\' } '"' ;
//! filter  = key ":" ( phrase | raw ) ;
//! key     = "filename" | "path" | "extension" | "lang" | "repo" | "blob"      (* files *)
//!         | "author" | "committer" | "after" | "before" | "sha" | "repo"      (* commits *)
//!         | "state" | "label" | "author" | "repo" ;                           (* records *)
//! word    = wordchar { wordchar } ;
//! ```
//!
//! The rules the EBNF does not say:
//!
//! - **Operators are their own words.** `|` is *or* where a term may start (`a | b`, also
//!   `a |b`); inside a word it is text (`a|b`, `x||y`). `-` and `+` are prefixes only when
//!   followed directly by a letter, digit, `_`, `$`, `@`, `\`, `"` or `(` (`-vendor`,
//!   `-"a b"`, `-(a | b)`, `+banner`): `->`, `--verbose`, `-=`, `++` and `i++` are words.
//!   A `-` or `+` standing alone (before a space or the end) is an error, except that
//!   `a + b` joins two terms like a space does.
//! - **Precedence**: `-`/`+` bind tightest, then *and* (a space or `+`), then `|`:
//!   `a b | c` is `(a b) | c`.
//! - **Groups**: `(` opens a group where a term starts; inside a word it is text
//!   (`foo(bar)`, `println!(`). `)` closes the innermost open group where a word is not
//!   itself holding an unclosed `(`: in `(call(x) | y)` the first `)` belongs to the word
//!   `call(x)`. Outside any group `)` is text (`);`). Groups nest at most as deep as the
//!   caller allows ([`Query::parse`]); the parser never recurses further.
//! - **Words** run to the next space (or to the `)` closing their group). `\` makes the
//!   next character text when it is one of `\ " ( ) | + - * :` (`\-x`, `foo\*`,
//!   `path\:x`); before any other character it is itself text (`\n`, `C:\dir`). A
//!   trailing unescaped `*` makes the word a prefix (`http*`); `*` alone matches
//!   everything (`* path:src`), a `*` elsewhere is text (`*ptr`, `a*b`).
//! - **Filters** are a known key, in lowercase, followed by `:` and a value with no space
//!   between. A word whose `key` is not known stays a word (`std::io`, `TODO:`, `http://x`,
//!   `Path:x`), and so does a known key followed by a second `:` (`path::Path`); the
//!   records' own keys (`state:`, `label:`) are words outside a record search. A filter
//!   of the other kind of search (`author:` on files, `path:` on commits) is an error. A
//!   raw value is kept verbatim up to a space (or the closing `)` of its group),
//!   backslashes included (so a glob's `\*` stays an escape); a quoted value
//!   (`path:"my dir/"`) may hold spaces, with `\"` and `\\` as in phrases.
//! - **Spaces** are what the code analyzer's tokenizer separates on: Unicode separators
//!   and tab, line feed, vertical tab, form feed and carriage return (Java's `\s` and
//!   `\p{Z}`). Other control characters (U+001C–U+001F, NEL) are text, as they are in
//!   the index.
//!
//! Columns in errors and [`Span`]s count characters (Unicode scalar values), 1-based in
//! messages. Nested *and*s and *or*s are flattened: `a (b c)` is one *and* of three.

mod ast;
mod error;
mod key;
mod parser;

pub use ast::{Expr, Filter, Node, Query, Span, Term, TermKind};
pub use error::{ParseError, Problem};
pub use key::{Key, Scope};

#[cfg(test)]
mod tests;
