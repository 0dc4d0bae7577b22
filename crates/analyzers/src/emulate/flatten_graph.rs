//! `flatten_graph` (Lucene's FlattenGraphFilter) for the graphs word_delimiter_graph makes.
//!
//! Those graphs have no holes and every side path rejoins the main one (an original token
//! spans exactly the chain of its parts), so flattening keeps every position and position
//! length; what it changes is offsets. Each graph node gets the largest start offset of the
//! tokens leaving it and the smallest end offset of the tokens arriving at it ("shrink
//! wrapping", so the most restrictive offsets win), and every token takes its from-node's
//! start and its to-node's end (never going backwards). So an original like `--foo.`
//! ends up with the offsets of `foo`.
//!
//! Lucene releases a token once every token that could leave its start node or arrive at
//! its end node has been read, i.e. once the input has moved on to its end node. The graphs
//! of two input tokens share no such node (the next one's tokens all leave from its end
//! node or later), so this reads one input token's graph (a group: tokens up to the first
//! that leaves from the group's last node or later), settles its nodes, then releases it —
//! the same offsets, with the nodes in a small array instead of a map.

use std::collections::VecDeque;

use super::Tok;

struct Buffered {
    tok: Tok,
    from: i64,
    to: i64,
}

pub(super) struct FlattenGraph<I> {
    input: I,
    /// The current group, not yet released.
    group: VecDeque<Buffered>,
    /// The node the current group's first token leaves from.
    group_from: i64,
    /// Largest start offset of the tokens leaving each node of the group (by node minus
    /// `group_from`).
    node_start: Vec<u32>,
    /// Smallest end offset of the tokens arriving at each node of the group.
    node_end: Vec<u32>,
    /// The first token of the next group, read to find the current one's end.
    ahead: Option<Tok>,
    /// The node the last read token leaves from.
    input_from: i64,
    last_output_from: i64,
    last_start_offset: u32,
}

impl<I: Iterator<Item = Tok>> FlattenGraph<I> {
    pub(super) fn new(input: I) -> Self {
        FlattenGraph {
            input,
            group: VecDeque::new(),
            group_from: 0,
            node_start: Vec::new(),
            node_end: Vec::new(),
            ahead: None,
            input_from: -1,
            last_output_from: -1,
            last_start_offset: 0,
        }
    }

    /// Reads the next group and settles its nodes' offsets; leaves the group empty at the
    /// end of the input.
    fn read_group(&mut self) {
        let Some(mut tok) = self.ahead.take().or_else(|| self.input.next()) else {
            return;
        };
        self.group_from = self.input_from + i64::from(tok.pos_inc);
        self.node_start.clear();
        self.node_end.clear();
        let mut group_to = self.group_from;
        loop {
            self.input_from += i64::from(tok.pos_inc);
            let from = self.input_from;
            let to = from + i64::from(tok.pos_len);
            let (at_from, at_to) = (
                (from - self.group_from) as usize,
                (to - self.group_from) as usize,
            );
            if self.node_start.len() <= at_to {
                self.node_start.resize(at_to + 1, 0);
                self.node_end.resize(at_to + 1, u32::MAX);
            }
            self.node_start[at_from] = self.node_start[at_from].max(tok.start);
            self.node_end[at_to] = self.node_end[at_to].min(tok.end);
            group_to = group_to.max(to);
            self.group.push_back(Buffered { tok, from, to });
            match self.input.next() {
                Some(next) if self.input_from + i64::from(next.pos_inc) < group_to => tok = next,
                next => {
                    self.ahead = next;
                    return;
                }
            }
        }
    }
}

impl<I: Iterator<Item = Tok>> Iterator for FlattenGraph<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        if self.group.is_empty() {
            self.read_group();
        }
        let Buffered { mut tok, from, to } = self.group.pop_front()?;
        let node = |at: i64| (at - self.group_from) as usize;
        let start = self.last_start_offset.max(self.node_start[node(from)]);
        let end = start.max(self.node_end[node(to)]);
        self.last_start_offset = start;
        tok.start = start;
        tok.end = end;
        tok.pos_inc = (from - self.last_output_from) as u32;
        tok.pos_len = (to - from) as u32;
        self.last_output_from = from;
        Some(tok)
    }
}
