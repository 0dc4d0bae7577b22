//! The recursive-descent parser. It recurses only at `(`, and never deeper than the
//! caller's depth limit, so no input can exhaust the stack; everything else is a loop.

use crate::ast::{Expr, Filter, Node, Query, Span, Term, TermKind};
use crate::error::{ParseError, Problem};
use crate::key::{Key, Scope};

/// Characters a `\` makes literal inside a word.
const ESCAPABLE: [char; 9] = ['\\', '"', '(', ')', '|', '+', '-', '*', ':'];

impl Query {
    /// Parses `text` as a query of `scope`, with groups nested at most `max_depth` deep
    /// (the parser's recursion is bounded by it; `max_depth` above 64 counts as 64).
    pub fn parse(text: &str, scope: Scope, max_depth: usize) -> Result<Query, ParseError> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            scope,
            max_depth: max_depth.min(64),
        };
        parser.skip_space();
        if parser.peek().is_none() {
            return Ok(Query { root: None });
        }
        let root = parser.or(0)?;
        // `)` outside a group is text and `|` continues the *or*: nothing is left over.
        debug_assert!(parser.peek().is_none());
        Ok(Query { root: Some(root) })
    }
}

/// Where a term breaks off the one before it, as seen from the *and* loop: the white
/// space of the code tokenizer's pattern (Rust's white space but NEL, which Java's `\s`
/// and `\p{Z}` leave out).
fn is_space(c: char) -> bool {
    c.is_whitespace() && c != '\u{85}'
}

/// Whether a `-` or `+` directly before `c` is an operator (else it starts a word).
fn starts_operand(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '@' | '\\' | '"' | '(')
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    scope: Scope,
    max_depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn error(&self, at: usize, problem: Problem) -> ParseError {
        ParseError {
            column: at + 1,
            problem,
        }
    }

    /// Whether the character at `pos + offset` ends a term: a space, the end, or a `)`
    /// that closes the group being read.
    fn ends_term_at(&self, offset: usize, depth: usize) -> bool {
        match self.peek_at(offset) {
            None => true,
            Some(')') => depth > 0,
            Some(c) => is_space(c),
        }
    }

    /// `or = and { "|" and }`.
    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut items = vec![self.and(depth)?];
        loop {
            self.skip_space();
            if self.peek() != Some('|') {
                break;
            }
            let bar = self.pos;
            self.pos += 1;
            self.skip_space();
            self.expect_operand('|', bar, depth)?;
            items.push(self.and(depth)?);
        }
        Ok(combine(items, Join::Or))
    }

    /// `and = unary { (space | "+") unary }`.
    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut items = vec![self.unary(depth)?];
        loop {
            self.skip_space();
            match self.peek() {
                None | Some('|') => break,
                Some(')') if depth > 0 => break,
                Some('+') if self.ends_term_at(1, depth) => {
                    let plus = self.pos;
                    self.pos += 1;
                    self.skip_space();
                    self.expect_operand('+', plus, depth)?;
                }
                Some(_) => {}
            }
            items.push(self.unary(depth)?);
        }
        Ok(combine(items, Join::And))
    }

    /// After the operator at `at`: a term must follow (not the end, a `)`, or another
    /// operator).
    fn expect_operand(&self, operator: char, at: usize, depth: usize) -> Result<(), ParseError> {
        match self.peek() {
            None => Err(self.error(at, Problem::NothingAfter { operator })),
            Some(')') if depth > 0 => Err(self.error(at, Problem::NothingAfter { operator })),
            Some('|') => Err(self.error(
                self.pos,
                Problem::TwoOperators {
                    first: operator,
                    second: '|',
                },
            )),
            Some('+') if self.ends_term_at(1, depth) => Err(self.error(
                self.pos,
                Problem::TwoOperators {
                    first: operator,
                    second: '+',
                },
            )),
            Some(_) => Ok(()),
        }
    }

    /// `unary = "-" primary | "+" primary | primary`.
    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some('-') if self.ends_term_at(1, depth) => Err(self.error(start, Problem::LoneMinus)),
            Some('-') if self.peek_at(1).is_some_and(starts_operand) => {
                self.pos += 1;
                let inner = self.primary(depth)?;
                Ok(Expr {
                    span: Span {
                        start,
                        end: inner.span.end,
                    },
                    node: Node::Not(Box::new(inner)),
                })
            }
            Some('+') if self.ends_term_at(1, depth) => {
                Err(self.error(start, Problem::NothingBefore { operator: '+' }))
            }
            Some('+') if self.peek_at(1).is_some_and(starts_operand) => {
                self.pos += 1;
                let mut inner = self.primary(depth)?;
                inner.span.start = start;
                Ok(inner)
            }
            _ => self.primary(depth),
        }
    }

    /// `primary = group | phrase | filter | word`.
    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some('(') => self.group(depth),
            Some('"') => {
                let text = self.quoted()?;
                if text.chars().all(is_space) {
                    return Err(self.error(start, Problem::EmptyPhrase));
                }
                Ok(Expr {
                    node: Node::Term(Term {
                        kind: TermKind::Phrase,
                        text,
                    }),
                    span: Span {
                        start,
                        end: self.pos,
                    },
                })
            }
            Some('|') => Err(self.error(start, Problem::NothingBefore { operator: '|' })),
            _ => match self.key_here() {
                Some(key) => self.filter(key, depth),
                None => Ok(self.word(depth)),
            },
        }
    }

    /// `group = "(" or ")"`; the only place the parser recurses.
    fn group(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let open = self.pos;
        if depth >= self.max_depth {
            return Err(self.error(
                open,
                Problem::TooDeep {
                    max: self.max_depth,
                },
            ));
        }
        self.pos += 1;
        self.skip_space();
        match self.peek() {
            None => return Err(self.error(open, Problem::UnclosedGroup)),
            Some(')') => return Err(self.error(open, Problem::EmptyGroup)),
            Some(_) => {}
        }
        let mut inner = self.or(depth + 1)?;
        self.skip_space();
        if self.peek() != Some(')') {
            return Err(self.error(open, Problem::UnclosedGroup));
        }
        self.pos += 1;
        inner.span = Span {
            start: open,
            end: self.pos,
        };
        Ok(inner)
    }

    /// The text of a `"…"` starting here, with `\"` and `\\` resolved; the position moves
    /// past the closing quote.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(open, Problem::UnclosedQuote)),
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') if matches!(self.peek_at(1), Some('"' | '\\')) => {
                    text.extend(self.peek_at(1));
                    self.pos += 2;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// The key of a filter starting here: lowercase letters naming a key, then `:`, then
    /// not a second `:` (`path::Path` is a word).
    fn key_here(&self) -> Option<Key> {
        let letters = self.chars[self.pos..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase())
            .count();
        if letters == 0
            || self.peek_at(letters) != Some(':')
            || self.peek_at(letters + 1) == Some(':')
        {
            return None;
        }
        let name: String = self.chars[self.pos..self.pos + letters].iter().collect();
        Key::from_name(&name).filter(|key| key.recognized_in(self.scope))
    }

    /// `filter = key ":" (phrase | raw)`, the key already recognised.
    fn filter(&mut self, key: Key, depth: usize) -> Result<Expr, ParseError> {
        let start = self.pos;
        if !key.applies_to(self.scope) {
            return Err(self.error(
                start,
                Problem::WrongScope {
                    key,
                    scope: self.scope,
                },
            ));
        }
        self.pos += key.name().chars().count() + 1;
        let value_start = self.pos;
        let missing = self.error(start, Problem::MissingValue { key });
        if self.ends_term_at(0, depth) {
            return Err(missing);
        }
        let (value, quoted) = if self.peek() == Some('"') {
            (self.quoted()?, true)
        } else {
            (self.raw(depth), false)
        };
        if value.chars().all(is_space) {
            return Err(missing);
        }
        Ok(Expr {
            node: Node::Filter(Filter {
                key,
                value,
                quoted,
                value_span: Span {
                    start: value_start,
                    end: self.pos,
                },
            }),
            span: Span {
                start,
                end: self.pos,
            },
        })
    }

    /// A filter's raw value: verbatim up to a space or the `)` closing the group.
    fn raw(&mut self, depth: usize) -> String {
        let mut text = String::new();
        let mut open = 0usize;
        while let Some(c) = self.peek() {
            if is_space(c) || (c == ')' && open == 0 && depth > 0) {
                break;
            }
            match c {
                '\\' => {
                    text.push(c);
                    self.pos += 1;
                    if let Some(next) = self.peek().filter(|n| !is_space(*n)) {
                        text.push(next);
                        self.pos += 1;
                    }
                    continue;
                }
                '(' => open += 1,
                ')' => open = open.saturating_sub(1),
                _ => {}
            }
            text.push(c);
            self.pos += 1;
        }
        text
    }

    /// A word (or prefix, or `*`), up to a space or the `)` closing the group; at least
    /// one character, since the callers stand on one that starts no other primary.
    fn word(&mut self, depth: usize) -> Expr {
        let start = self.pos;
        let mut text = String::new();
        let mut open = 0usize;
        // Unescaped `*`s at the end of `text` so far.
        let mut stars = 0usize;
        while let Some(c) = self.peek() {
            if is_space(c) || (c == ')' && open == 0 && depth > 0) {
                break;
            }
            self.pos += 1;
            match c {
                '\\' if self.peek().is_some_and(|n| ESCAPABLE.contains(&n)) => {
                    text.extend(self.peek());
                    self.pos += 1;
                    stars = 0;
                    continue;
                }
                '(' => open += 1,
                ')' => open = open.saturating_sub(1),
                _ => {}
            }
            text.push(c);
            stars = if c == '*' { stars + 1 } else { 0 };
        }
        let span = Span {
            start,
            end: self.pos,
        };
        if stars == 0 {
            return Expr {
                node: Node::Term(Term {
                    kind: TermKind::Word,
                    text,
                }),
                span,
            };
        }
        let stem_len = text.len() - stars;
        text.truncate(stem_len);
        let node = if text.is_empty() {
            Node::Everything
        } else {
            Node::Term(Term {
                kind: TermKind::Prefix,
                text,
            })
        };
        Expr { node, span }
    }
}

/// How [`combine`] joins several expressions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Join {
    And,
    Or,
}

/// One expression, or several joined by `join` with nested ones of the same kind
/// flattened into it.
fn combine(mut items: Vec<Expr>, join: Join) -> Expr {
    if items.len() == 1 {
        return items.remove(0);
    }
    let span = Span {
        start: items[0].span.start,
        end: items[items.len() - 1].span.end,
    };
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item.node {
            Node::And(inner) if join == Join::And => flat.extend(inner),
            Node::Or(inner) if join == Join::Or => flat.extend(inner),
            node => flat.push(Expr {
                node,
                span: item.span,
            }),
        }
    }
    let node = match join {
        Join::And => Node::And(flat),
        Join::Or => Node::Or(flat),
    };
    Expr { node, span }
}
