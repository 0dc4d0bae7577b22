//! Commit metadata and history walks.

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

use super::{GitError, GitReader};

/// A point in time as git records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitTime {
    /// Seconds since the Unix epoch (UTC).
    pub seconds: i64,
    /// The author's or committer's UTC offset in seconds (east positive: +0200 is 7200).
    pub offset_seconds: i32,
}

/// An author or committer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Name, trimmed; lossy UTF-8.
    pub name: String,
    /// Email without the angle brackets, trimmed; lossy UTF-8.
    pub email: String,
    /// When. A timestamp git itself could not parse is read leniently (seconds, offset 0).
    pub time: GitTime,
}

/// A commit's metadata and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit id.
    pub id: ObjectId,
    /// Parent ids, first parent first (empty for a root commit).
    pub parents: Vec<ObjectId>,
    /// Who wrote the change.
    pub author: Signature,
    /// Who made the commit.
    pub committer: Signature,
    /// The full message as stored (summary, body, trailers, usually a final newline),
    /// converted to UTF-8 lossily; an `encoding` header is not applied.
    pub message: String,
}

/// Iterator over commits; see [`GitReader::commits_between`]. Reads one commit at a time.
pub struct Commits<'r> {
    reader: &'r GitReader,
    walk: gix::revision::Walk<'r>,
    failed: bool,
}

impl<'r> Commits<'r> {
    pub(super) fn new(
        reader: &'r GitReader,
        from: Option<ObjectId>,
        to: ObjectId,
    ) -> Result<Self, GitError> {
        let walk = reader
            .repo
            .rev_walk([to])
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .with_hidden(from)
            .all()
            .map_err(|e| {
                let range = match from {
                    Some(from) => format!("{from}..{to}"),
                    None => to.to_string(),
                };
                reader.read_error(&format!("walk the history {range}"), e)
            })?;
        Ok(Commits {
            reader,
            walk,
            failed: false,
        })
    }
}

impl Iterator for Commits<'_> {
    type Item = Result<CommitInfo, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = match self.walk.next()? {
            Ok(info) => commit_info(self.reader, info.id),
            Err(e) => Err(self.reader.read_error("walk the commit history", e)),
        };
        self.failed = result.is_err();
        Some(result)
    }
}

pub(super) fn commit_info(reader: &GitReader, id: ObjectId) -> Result<CommitInfo, GitError> {
    let commit = reader.find_commit(id)?;
    let decode_error = |e: gix::Error| reader.read_error(&format!("decode commit {id}"), e);
    let decoded = commit.decode().map_err(decode_error)?;
    let author = signature(decoded.author().map_err(decode_error)?);
    let committer = signature(decoded.committer().map_err(decode_error)?);
    Ok(CommitInfo {
        id,
        parents: decoded.parents().collect(),
        author,
        committer,
        message: decoded.message.to_str_lossy().into_owned(),
    })
}

fn signature(sig: gix::actor::SignatureRef<'_>) -> Signature {
    let sig = sig.trim();
    let time = match sig.time() {
        Ok(time) => GitTime {
            seconds: time.seconds,
            offset_seconds: time.offset,
        },
        Err(_) => GitTime {
            seconds: sig.seconds(),
            offset_seconds: 0,
        },
    };
    Signature {
        name: sig.name.to_str_lossy().into_owned(),
        email: sig.email.to_str_lossy().into_owned(),
        time,
    }
}
