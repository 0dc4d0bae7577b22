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
//! A token is released once every token that could leave its start node or arrive at its
//! end node has been read, i.e. once the input has moved on to its end node.

use std::collections::{BTreeMap, VecDeque};

use super::Tok;

struct Buffered {
    tok: Tok,
    from: i64,
    to: i64,
}

pub(super) struct FlattenGraph<I> {
    input: I,
    buffered: VecDeque<Buffered>,
    /// Largest start offset of the tokens leaving each node.
    node_start: BTreeMap<i64, u32>,
    /// Smallest end offset of the tokens arriving at each node.
    node_end: BTreeMap<i64, u32>,
    /// The node the last read token leaves from.
    input_from: i64,
    last_output_from: i64,
    last_start_offset: u32,
    done: bool,
}

impl<I: Iterator<Item = Tok>> FlattenGraph<I> {
    pub(super) fn new(input: I) -> Self {
        FlattenGraph {
            input,
            buffered: VecDeque::new(),
            node_start: BTreeMap::new(),
            node_end: BTreeMap::new(),
            input_from: -1,
            last_output_from: -1,
            last_start_offset: 0,
            done: false,
        }
    }

    fn release(&mut self) -> Option<Tok> {
        let front = self.buffered.front()?;
        if front.to > self.input_from && !self.done {
            return None;
        }
        let Buffered { mut tok, from, to } = self.buffered.pop_front()?;
        let start = self.last_start_offset.max(self.node_start[&from]);
        let end = start.max(self.node_end[&to]);
        self.last_start_offset = start;
        tok.start = start;
        tok.end = end;
        tok.pos_inc = (from - self.last_output_from) as u32;
        tok.pos_len = (to - from) as u32;
        self.last_output_from = from;
        // Nodes before this one are finished with.
        while self
            .node_start
            .first_key_value()
            .is_some_and(|(node, _)| *node < from)
        {
            self.node_start.pop_first();
        }
        while self
            .node_end
            .first_key_value()
            .is_some_and(|(node, _)| *node <= from)
        {
            self.node_end.pop_first();
        }
        Some(tok)
    }
}

impl<I: Iterator<Item = Tok>> Iterator for FlattenGraph<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        loop {
            if let Some(tok) = self.release() {
                return Some(tok);
            }
            if self.done {
                return None;
            }
            match self.input.next() {
                Some(tok) => {
                    self.input_from += i64::from(tok.pos_inc);
                    let from = self.input_from;
                    let to = from + i64::from(tok.pos_len);
                    let start = self.node_start.entry(from).or_insert(tok.start);
                    *start = (*start).max(tok.start);
                    let end = self.node_end.entry(to).or_insert(tok.end);
                    *end = (*end).min(tok.end);
                    self.buffered.push_back(Buffered { tok, from, to });
                }
                None => self.done = true,
            }
        }
    }
}
