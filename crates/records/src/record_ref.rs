//! What the records queue carries: a ref naming one application record that was created,
//! updated or deleted (`issue:123`, `merge_request:7`, `note:9001`), or a project whose
//! visibility or members changed (`project:4`). A ref says *which* record, never what
//! happened to it: the worker reads the row's current state, and a missing row is a
//! delete. So a ref tracked many times before a worker takes it is one entry, and the
//! last state wins.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use trawl_indexer::{QueueError, QueueItem, QueueLane};

/// The kinds of records trawl tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Issue,
    MergeRequest,
    Note,
    /// A project's visibility or members: not a document, but the access of every record
    /// (and every repository document) of the project.
    Project,
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Issue,
        RecordKind::MergeRequest,
        RecordKind::Note,
        RecordKind::Project,
    ];

    /// The name in refs, tables' `noteable_type` and `--scope`: `issue`, `merge_request`,
    /// `note`, `project`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Issue => "issue",
            RecordKind::MergeRequest => "merge_request",
            RecordKind::Note => "note",
            RecordKind::Project => "project",
        }
    }

    /// Parses [`RecordKind::as_str`]'s names.
    pub fn parse(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record: its kind and its primary key (a positive `bigint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordRef {
    pub kind: RecordKind,
    pub id: i64,
}

impl RecordRef {
    /// A ref; `None` when `id` is not positive (no row has such a key).
    pub fn new(kind: RecordKind, id: i64) -> Option<RecordRef> {
        (id > 0).then_some(RecordRef { kind, id })
    }
}

const FORM: &str =
    "<kind>:<positive id>, kind one of issue, merge_request, note, project (e.g. issue:123)";

impl QueueItem for RecordRef {
    const LANE: QueueLane = QueueLane::Records;
    const FORM: &'static str = FORM;

    fn encode(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }

    fn decode(member: &str) -> Result<RecordRef, QueueError> {
        let bad = || QueueError::BadRef {
            member: member.to_string(),
            expected: FORM,
        };
        let (kind, id) = member.split_once(':').ok_or_else(bad)?;
        let kind = RecordKind::parse(kind).ok_or_else(bad)?;
        // Digits only: no sign, no spaces, no leading `+`, so one record has one member.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.starts_with('0') {
            return Err(bad());
        }
        let id: i64 = id.parse().map_err(|_| bad())?;
        RecordRef::new(kind, id).ok_or_else(bad)
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for RecordRef {
    type Err = QueueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordRef::decode(s)
    }
}

impl TryFrom<String> for RecordRef {
    type Error = QueueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RecordRef::decode(&value)
    }
}

impl From<RecordRef> for String {
    fn from(r: RecordRef) -> String {
        r.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_round_trip_and_refuse_every_other_spelling() {
        for kind in RecordKind::ALL {
            let r = RecordRef::new(kind, 123).unwrap();
            assert_eq!(RecordRef::decode(&r.encode()).unwrap(), r);
        }
        assert_eq!(RecordRef::decode("issue:123").unwrap().id, 123);
        assert_eq!(
            RecordRef::decode(&format!("note:{}", i64::MAX)).unwrap().id,
            i64::MAX
        );
        for bad in [
            "",
            "issue",
            "issue:",
            "issue:0",
            "issue:-1",
            "issue:+1",
            "issue:01",
            "issue: 1",
            "issue:1 ",
            "Issue:1",
            "issues:1",
            "repo:acme",
            "note:9223372036854775808",
            "note:1:2",
            "mergerequest:1",
            "issue:١",
        ] {
            assert!(RecordRef::decode(bad).is_err(), "{bad:?}");
        }
        assert!(RecordRef::new(RecordKind::Issue, 0).is_none());
        let e = RecordRef::decode("issue:x").unwrap_err().to_string();
        assert!(e.contains("issue:123"), "{e}");
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let r = RecordRef::new(RecordKind::Issue, 7).unwrap();
        assert_eq!(r.shard(16), r.shard(16));
        let mut counts = [0u32; 16];
        for id in 1..=1600 {
            counts[RecordRef::new(RecordKind::Note, id).unwrap().shard(16) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 40), "{counts:?}");
    }
}
