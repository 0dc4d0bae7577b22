//! Tree-to-tree diffs, streamed: the changes come one at a time, depth first in git's
//! tree order, under the same [`WalkLimits`] as a walk, so a diff of any size holds only
//! the trees along its current path.
//!
//! A diff agrees with two walks: a file a walk leaves out for its path is left out here
//! too (named when it was added or changed; a deleted one never had a document). Where the
//! diff cannot tell what changed within the limits (a tree too large to hold, the read
//! budget spent, a malformed or unsorted tree on both sides), it ends with
//! [`Diffed::Incomplete`]: the caller then compares whole trees instead.

use gix::ObjectId;
use gix::objs::tree::name_order;

use super::tree::{MalformedTree, RawEntry, RawTree};
use super::walk::{LeftOutEntry, LeftOutReason, TreeRead, TreeReads, WalkLimits, named_path};
use super::{Change, EntryKind, GitError, GitReader, RepoPath, TreeEntry};

/// What a diff yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diffed {
    Change(Change),
    /// A changed file (or directory) the limits keep out.
    LeftOut(LeftOutEntry),
    /// The diff stopped here: what changed cannot be told within the limits. Nothing
    /// follows.
    Incomplete(LeftOutEntry),
}

/// Iterator over the changes from one tree to another; see [`GitReader::changes`].
pub struct TreeChanges<'r> {
    reads: TreeReads<'r>,
    frames: Vec<Frame>,
    /// Yielded before going on.
    pending: Vec<Diffed>,
    ended: bool,
}

/// Which side a subtree present on one side only is on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Added,
    Deleted,
}

/// A directory being compared.
enum Frame {
    /// Present on both sides with different contents.
    Both {
        prefix: Vec<u8>,
        old: Cursor,
        new: Cursor,
    },
    /// Present on one side only: every file below is added or deleted.
    One {
        prefix: Vec<u8>,
        side: Side,
        tree: Cursor,
    },
}

/// A tree read entry by entry, with one entry of look-ahead; for a merge of two sides,
/// with a check that the entries come in git's order (the merge relies on it; a walk does
/// not care).
struct Cursor {
    tree: RawTree,
    peeked: Option<RawEntry>,
    last: Option<RawEntry>,
    check_order: bool,
    ended: bool,
}

impl Cursor {
    fn new(tree: RawTree, check_order: bool) -> Cursor {
        Cursor {
            tree,
            peeked: None,
            last: None,
            check_order,
            ended: false,
        }
    }

    fn peek(&mut self) -> Result<Option<RawEntry>, LeftOutReason> {
        if self.peeked.is_none() && !self.ended {
            match self.tree.next_entry() {
                Ok(Some(entry)) => {
                    if self.check_order
                        && let Some(last) = &self.last
                        && name_order(
                            self.tree.name(last),
                            last.mode.is_tree(),
                            self.tree.name(&entry),
                            entry.mode.is_tree(),
                        ) != std::cmp::Ordering::Less
                    {
                        self.ended = true;
                        return Err(LeftOutReason::UnsortedTree);
                    }
                    self.peeked = Some(entry);
                }
                Ok(None) => self.ended = true,
                Err(MalformedTree) => {
                    self.ended = true;
                    return Err(LeftOutReason::MalformedTree);
                }
            }
        }
        Ok(self.peeked)
    }

    fn take(&mut self) -> RawEntry {
        let entry = self.peeked.take().expect("peeked first");
        self.last = Some(entry);
        entry
    }

    fn name(&self, entry: &RawEntry) -> &[u8] {
        self.tree.name(entry)
    }
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(prefix.len() + name.len() + 1);
    path.extend_from_slice(prefix);
    path.extend_from_slice(name);
    path
}

impl<'r> TreeChanges<'r> {
    pub(super) fn new(
        reader: &'r GitReader,
        old: ObjectId,
        new: ObjectId,
        limits: WalkLimits,
    ) -> Result<Self, GitError> {
        let mut diff = TreeChanges {
            reads: TreeReads::new(reader, limits),
            frames: Vec::new(),
            pending: Vec::new(),
            ended: false,
        };
        if old != new {
            diff.enter_both(Vec::new(), old, new)?;
        }
        Ok(diff)
    }

    fn incomplete(&mut self, prefix: &[u8], name: &[u8], reason: LeftOutReason) {
        self.pending.push(Diffed::Incomplete(LeftOutEntry {
            path: named_path(prefix, name),
            reason,
        }));
    }

    fn left_out(&mut self, prefix: &[u8], name: &[u8], reason: LeftOutReason) {
        self.pending.push(Diffed::LeftOut(LeftOutEntry {
            path: named_path(prefix, name),
            reason,
        }));
    }

    /// Compares directory `prefix` (with its trailing `/`) of both sides.
    fn enter_both(
        &mut self,
        prefix: Vec<u8>,
        old: ObjectId,
        new: ObjectId,
    ) -> Result<(), GitError> {
        let old_tree = match self.reads.open(old)? {
            TreeRead::Tree(tree) => tree,
            TreeRead::LeftOut(reason) => {
                self.incomplete(&prefix, b"", reason);
                return Ok(());
            }
        };
        let new_tree = match self.reads.open(new)? {
            TreeRead::Tree(tree) => tree,
            TreeRead::LeftOut(reason) => {
                self.reads.release(&old_tree);
                self.incomplete(&prefix, b"", reason);
                return Ok(());
            }
        };
        self.frames.push(Frame::Both {
            prefix,
            old: Cursor::new(old_tree, true),
            new: Cursor::new(new_tree, true),
        });
        Ok(())
    }

    /// An entry present on one side only; with `modified`, a file present on both sides
    /// whose id or mode changed, given from the new side.
    fn one_sided(
        &mut self,
        side: Side,
        prefix: &[u8],
        name: &[u8],
        entry: RawEntry,
        modified: bool,
    ) -> Result<(), GitError> {
        let path_len = prefix.len() + name.len();
        let limit = self.reads.limits().max_path_bytes;
        match EntryKind::from_mode(entry.mode) {
            Some(kind) => {
                if path_len > limit {
                    // A deleted file this long never had a document.
                    if side == Side::Added {
                        let reason = LeftOutReason::PathTooLong {
                            bytes: path_len,
                            limit,
                        };
                        self.left_out(prefix, name, reason);
                    }
                    return Ok(());
                }
                let entry = TreeEntry {
                    path: RepoPath::from_bytes(join(prefix, name)),
                    oid: entry.oid,
                    kind,
                };
                self.pending.push(Diffed::Change(match (side, modified) {
                    (Side::Added, false) => Change::Added(entry),
                    (Side::Added, true) => Change::Modified(entry),
                    (Side::Deleted, _) => Change::Deleted(entry),
                }));
            }
            None if path_len + 2 > limit => {
                if side == Side::Added {
                    let reason = LeftOutReason::DirectoryTooDeep {
                        bytes: path_len,
                        limit,
                    };
                    self.left_out(prefix, name, reason);
                }
            }
            None => match self.reads.open(entry.oid)? {
                TreeRead::Tree(tree) => {
                    let mut prefix = join(prefix, name);
                    prefix.push(b'/');
                    self.frames.push(Frame::One {
                        prefix,
                        side,
                        tree: Cursor::new(tree, false),
                    });
                }
                // Not a tree: a walk leaves it out, so it has no documents and gets none.
                TreeRead::LeftOut(reason @ LeftOutReason::NotATree { .. }) => {
                    if side == Side::Added {
                        self.left_out(prefix, name, reason);
                    }
                }
                TreeRead::LeftOut(reason) => self.incomplete(prefix, name, reason),
            },
        }
        Ok(())
    }

    /// Advances the innermost directory by one entry (or leaves it).
    fn advance(&mut self) -> Result<(), GitError> {
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        match frame {
            Frame::One { prefix, side, tree } => {
                let side = *side;
                let entry = match tree.peek() {
                    Ok(Some(_)) => tree.take(),
                    Ok(None) => return self.leave(),
                    // The rest of a deleted directory was left out by the walk that
                    // indexed it: nothing to delete there.
                    Err(_) if side == Side::Deleted => return self.leave(),
                    Err(reason) => {
                        let dir = std::mem::take(prefix);
                        self.leave()?;
                        let path = dir.strip_suffix(b"/").unwrap_or(&dir).to_vec();
                        self.left_out(&path, b"", reason);
                        return Ok(());
                    }
                };
                let (prefix, name) = (prefix.clone(), tree.name(&entry).to_vec());
                self.one_sided(side, &prefix, &name, entry, false)
            }
            Frame::Both { prefix, old, new } => {
                let (a, b) = match (old.peek(), new.peek()) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(reason), _) | (_, Err(reason)) => {
                        let dir = prefix.clone();
                        self.incomplete(&dir, b"", reason);
                        return Ok(());
                    }
                };
                let order = match (&a, &b) {
                    (None, None) => return self.leave(),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(a), Some(b)) => {
                        name_order(old.name(a), a.mode.is_tree(), new.name(b), b.mode.is_tree())
                    }
                };
                let prefix = prefix.clone();
                match order {
                    std::cmp::Ordering::Less => {
                        let entry = old.take();
                        let name = old.name(&entry).to_vec();
                        self.one_sided(Side::Deleted, &prefix, &name, entry, false)
                    }
                    std::cmp::Ordering::Greater => {
                        let entry = new.take();
                        let name = new.name(&entry).to_vec();
                        self.one_sided(Side::Added, &prefix, &name, entry, false)
                    }
                    std::cmp::Ordering::Equal => {
                        let (a, b) = (old.take(), new.take());
                        if a.oid == b.oid && a.mode == b.mode {
                            return Ok(());
                        }
                        let name = new.name(&b).to_vec();
                        if !b.mode.is_tree() {
                            return self.one_sided(Side::Added, &prefix, &name, b, true);
                        }
                        let path_len = prefix.len() + name.len();
                        let limit = self.reads.limits().max_path_bytes;
                        if path_len + 2 > limit {
                            let reason = LeftOutReason::DirectoryTooDeep {
                                bytes: path_len,
                                limit,
                            };
                            self.left_out(&prefix, &name, reason);
                            return Ok(());
                        }
                        let mut dir = join(&prefix, &name);
                        dir.push(b'/');
                        self.enter_both(dir, a.oid, b.oid)
                    }
                }
            }
        }
    }

    /// Done with the innermost directory.
    fn leave(&mut self) -> Result<(), GitError> {
        match self.frames.pop() {
            Some(Frame::One { tree, .. }) => self.reads.release(&tree.tree),
            Some(Frame::Both { old, new, .. }) => {
                self.reads.release(&old.tree);
                self.reads.release(&new.tree);
            }
            None => {}
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Diffed>, GitError> {
        loop {
            if !self.pending.is_empty() {
                let item = self.pending.remove(0);
                if matches!(item, Diffed::Incomplete(_)) {
                    self.ended = true;
                    self.pending.clear();
                    self.frames.clear();
                }
                return Ok(Some(item));
            }
            if self.ended || self.frames.is_empty() {
                return Ok(None);
            }
            self.advance()?;
        }
    }
}

impl Iterator for TreeChanges<'_> {
    type Item = Result<Diffed, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended && self.pending.is_empty() {
            return None;
        }
        match self.step() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.ended = true;
                self.frames.clear();
                self.pending.clear();
                Some(Err(e))
            }
        }
    }
}
