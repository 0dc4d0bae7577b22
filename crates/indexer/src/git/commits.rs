//! Commit metadata and history walks.
//!
//! Commits are read leniently: a commit gix cannot decode (a signature without `<>`, no
//! author line, …) is read again header by header (see `lenient`), a history gix cannot
//! walk is walked that way too, and a time that is not a number is `None` rather than
//! the epoch. Messages, names and e-mail addresses are kept up to a
//! limit ([`MAX_MESSAGE_BYTES`], [`MAX_SIGNATURE_FIELD_BYTES`]), so one absurd commit
//! neither fills memory nor makes a document the engine refuses.

use gix::ObjectId;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

use super::lenient;
use super::{GitError, GitReader};

/// A commit message is kept up to this many bytes (cut at a character boundary): 1 MiB,
/// the size up to which a file's content is indexed. Real messages are a few KB; a larger
/// one is generated, and one of 100 MB would pass the engine's request size limit
/// (`http.max_content_length`, 100 MB by default) and fail every run of the repository.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// An author's or committer's name or e-mail address is kept up to this many bytes: a
/// name is a few dozen bytes; the exact-match `keyword` subfields ignore values over 256
/// characters anyway.
pub const MAX_SIGNATURE_FIELD_BYTES: usize = 1024;

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
    /// Name, trimmed; lossy UTF-8, at most [`MAX_SIGNATURE_FIELD_BYTES`].
    pub name: String,
    /// Email without the angle brackets, trimmed; lossy UTF-8, at most
    /// [`MAX_SIGNATURE_FIELD_BYTES`]. Empty when the signature has none.
    pub email: String,
    /// When; `None` when the signature has no time that parses as a number of seconds (an
    /// unparsable offset reads as +0000).
    pub time: Option<GitTime>,
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
    /// The message as stored (summary, body, trailers, usually a final newline), converted
    /// to UTF-8 lossily and cut to [`MAX_MESSAGE_BYTES`]; an `encoding` header is not
    /// applied.
    pub message: String,
}

/// Iterator over commits; see [`GitReader::commits_between`]. Reads one commit at a time.
///
/// The walk is gix's, ordered by commit time. When gix cannot decode a commit on the way
/// (a committer line without `<>`, a header it refuses), the iterator goes on with
/// [`lenient::walk`] over the whole range: the commits gix had yielded come again (writing
/// them twice is harmless), and since both walks are deterministic, so is the sequence,
/// which a checkpoint's count of commits done relies on.
pub struct Commits<'r> {
    reader: &'r GitReader,
    from: Option<ObjectId>,
    to: ObjectId,
    walk: Walk<'r>,
    failed: bool,
}

enum Walk<'r> {
    Gix(gix::revision::Walk<'r>),
    Lenient(std::vec::IntoIter<ObjectId>),
}

impl<'r> Commits<'r> {
    pub(super) fn new(
        reader: &'r GitReader,
        from: Option<ObjectId>,
        to: ObjectId,
    ) -> Result<Self, GitError> {
        let walk = match reader
            .repo
            .rev_walk([to])
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .with_hidden(from)
            .all()
        {
            Ok(walk) => Walk::Gix(walk),
            Err(e) => {
                tracing::info!(repo = %reader.location.display(), error = %e, "gix cannot walk this history; reading it leniently");
                Walk::Lenient(lenient::walk(reader, from, to)?.into_iter())
            }
        };
        Ok(Commits {
            reader,
            from,
            to,
            walk,
            failed: false,
        })
    }

    fn next_id(&mut self) -> Option<Result<ObjectId, GitError>> {
        match &mut self.walk {
            Walk::Gix(walk) => match walk.next()? {
                Ok(info) => Some(Ok(info.id)),
                Err(e) => {
                    tracing::info!(repo = %self.reader.location.display(), error = %e, "gix cannot walk this history; reading it leniently");
                    match lenient::walk(self.reader, self.from, self.to) {
                        Ok(ids) => {
                            self.walk = Walk::Lenient(ids.into_iter());
                            self.next_id()
                        }
                        Err(e) => Some(Err(e)),
                    }
                }
            },
            Walk::Lenient(ids) => ids.next().map(Ok),
        }
    }
}

impl Iterator for Commits<'_> {
    type Item = Result<CommitInfo, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.next_id()?.and_then(|id| commit_info(self.reader, id));
        self.failed = result.is_err();
        Some(result)
    }
}

pub(super) fn commit_info(reader: &GitReader, id: ObjectId) -> Result<CommitInfo, GitError> {
    let commit = reader.find_commit(id)?;
    if let Ok(decoded) = commit.decode()
        && let (Ok(author), Ok(committer)) = (decoded.author(), decoded.committer())
    {
        return Ok(CommitInfo {
            id,
            parents: decoded.parents().collect(),
            author: signature(author),
            committer: signature(committer),
            message: lenient::text_prefix(decoded.message, MAX_MESSAGE_BYTES),
        });
    }
    Ok(lenient::commit(id, &commit.data))
}

fn signature(sig: gix::actor::SignatureRef<'_>) -> Signature {
    let sig = sig.trim();
    Signature {
        name: lenient::text_prefix(sig.name, MAX_SIGNATURE_FIELD_BYTES),
        email: lenient::text_prefix(sig.email, MAX_SIGNATURE_FIELD_BYTES),
        time: sig.time().ok().map(|time| GitTime {
            seconds: time.seconds,
            offset_seconds: time.offset,
        }),
    }
}
