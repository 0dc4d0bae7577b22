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

use smallvec::SmallVec;

use super::Tok;

struct Buffered {
    tok: Tok,
    from: i64,
    to: i64,
}

pub(super) struct FlattenGraph<I> {
    input: I,
    /// The current group, not yet released, the next token last.
    group: SmallVec<[Buffered; 4]>,
    /// The node the current group's first token leaves from.
    group_from: i64,
    /// Largest start offset of the tokens leaving each node of the group (by node minus
    /// `group_from`).
    node_start: SmallVec<[u32; 8]>,
    /// Smallest end offset of the tokens arriving at each node of the group.
    node_end: SmallVec<[u32; 8]>,
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
            group: SmallVec::new(),
            group_from: 0,
            node_start: SmallVec::new(),
            node_end: SmallVec::new(),
            ahead: None,
            input_from: -1,
            last_output_from: -1,
            last_start_offset: 0,
        }
    }

    /// Reads the rest of the group `first` starts (`second` is the token after it, if
    /// any) and records its nodes' offsets; the group's tokens go in `group`, last first.
    fn read_group(&mut self, first: Tok, second: Option<Tok>) {
        self.group_from = self.input_from + i64::from(first.pos_inc);
        self.node_start.clear();
        self.node_end.clear();
        let mut group_to = self.group_from;
        let (mut tok, mut next) = (first, second);
        loop {
            self.input_from += i64::from(tok.pos_inc);
            let from = self.input_from;
            let to = from + i64::from(tok.pos_len);
            let (at_from, at_to) = (
                (from - self.group_from) as usize,
                (to - self.group_from) as usize,
            );
            while self.node_start.len() <= at_to {
                self.node_start.push(0);
                self.node_end.push(u32::MAX);
            }
            self.node_start[at_from] = self.node_start[at_from].max(tok.start);
            self.node_end[at_to] = self.node_end[at_to].min(tok.end);
            group_to = group_to.max(to);
            self.group.push(Buffered { tok, from, to });
            match next {
                Some(following) if self.input_from + i64::from(following.pos_inc) < group_to => {
                    tok = following;
                    next = self.input.next();
                }
                following => {
                    self.ahead = following;
                    self.group.reverse();
                    return;
                }
            }
        }
    }

    /// `tok`, leaving node `from` for node `to`, with the settled offsets of those nodes.
    fn release(&mut self, mut tok: Tok, from: i64, to: i64, node_start: u32, node_end: u32) -> Tok {
        let start = self.last_start_offset.max(node_start);
        let end = start.max(node_end);
        self.last_start_offset = start;
        tok.start = start;
        tok.end = end;
        tok.pos_inc = (from - self.last_output_from) as u32;
        tok.pos_len = (to - from) as u32;
        self.last_output_from = from;
        tok
    }
}

impl<I: Iterator<Item = Tok>> Iterator for FlattenGraph<I> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        if let Some(Buffered { tok, from, to }) = self.group.pop() {
            let node = |at: i64| (at - self.group_from) as usize;
            let (start, end) = (self.node_start[node(from)], self.node_end[node(to)]);
            return Some(self.release(tok, from, to, start, end));
        }
        let tok = self.ahead.take().or_else(|| self.input.next())?;
        let next = self.input.next();
        let from = self.input_from + i64::from(tok.pos_inc);
        let to = from + i64::from(tok.pos_len);
        if next
            .as_ref()
            .is_none_or(|next| from + i64::from(next.pos_inc) >= to)
        {
            // A group of one (a token the word delimiter left whole): its nodes are its own.
            self.input_from = from;
            self.ahead = next;
            let (start, end) = (tok.start, tok.end);
            return Some(self.release(tok, from, to, start, end));
        }
        self.read_group(tok, next);
        self.next()
    }
}
