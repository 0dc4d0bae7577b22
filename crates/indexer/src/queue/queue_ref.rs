//! What the queue carries: a ref naming something that changed, its encoding as a Redis
//! member, and its shard.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{QueueError, QueueItem};
use crate::redis_keys::QueueLane;
use trawl_registry::RepoId;

/// Something that changed and must be (re)indexed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum QueueRef {
    /// A repository's ref moved: bring its documents to the new head.
    Repo(RepoId),
    /// A repository's documents must be written again with the current definitions, in
    /// place (a backfill of a field a new definition added): see
    /// [`RepoIndexer::rerender`](crate::RepoIndexer::rerender).
    Rerender(RepoId),
}

impl QueueItem for QueueRef {
    const LANE: QueueLane = QueueLane::Repos;
    const FORM: &'static str = "repo:<repository id> (e.g. repo:acme-api)";

    /// The member stored in Redis, e.g. `repo:acme-api`.
    fn encode(&self) -> String {
        match self {
            QueueRef::Repo(id) => format!("repo:{id}"),
            QueueRef::Rerender(id) => format!("rerender:{id}"),
        }
    }

    /// Parses a stored member.
    fn decode(member: &str) -> Result<QueueRef, QueueError> {
        let bad = || QueueError::BadRef {
            member: member.to_string(),
            expected: Self::FORM,
        };
        match member.split_once(':') {
            Some(("repo", id)) => RepoId::new(id).map(QueueRef::Repo).map_err(|_| bad()),
            Some(("rerender", id)) => RepoId::new(id).map(QueueRef::Rerender).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for QueueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl TryFrom<String> for QueueRef {
    type Error = QueueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        QueueRef::decode(&value)
    }
}

impl From<QueueRef> for String {
    fn from(r: QueueRef) -> String {
        r.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::MAX_SHARDS;

    #[test]
    fn refs_round_trip_and_shard_stably() {
        let r = QueueRef::Repo(RepoId::new("acme-api").unwrap());
        assert_eq!(r.encode(), "repo:acme-api");
        assert_eq!(QueueRef::decode("repo:acme-api").unwrap(), r);
        assert!(QueueRef::decode("blob:x").is_err());
        assert!(QueueRef::decode("repo:Bad Id").is_err());
        assert!(QueueRef::decode("").is_err());
        assert!(QueueRef::decode("repo:").is_err());
        let rerender = QueueRef::Rerender(RepoId::new("acme-api").unwrap());
        assert_eq!(rerender.encode(), "rerender:acme-api");
        assert_eq!(QueueRef::decode("rerender:acme-api").unwrap(), rerender);
        assert_ne!(rerender, r, "a re-render is not merged into an update");
        assert!(QueueRef::decode("rerender:").is_err());
        assert!(QueueRef::decode("rerender:Bad Id").is_err());
        assert_eq!(r.shard(16), r.shard(16));
        assert!(r.shard(4) < 4);
        assert_eq!(r.shard(1), 0);
        assert_eq!(r.shard(0), 0, "no shards reads as one");
        assert!(r.shard(u16::MAX) < MAX_SHARDS);
        // Spread: 1000 repos over 16 shards, none empty.
        let mut counts = [0u32; 16];
        for i in 0..1000 {
            counts[QueueRef::Repo(RepoId::new(format!("r{i}")).unwrap()).shard(16) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 30), "{counts:?}");
    }
}
