//! Reading commits gix refuses: header by header, keeping what parses.
//!
//! A repository is untrusted input, and git itself reads such commits (`git log` shows a
//! commit whose committer line has no `<>`; only `fsck` complains). gix stops at them,
//! both when decoding a commit and when walking a history through one, which would make
//! the repository unindexable. Here a commit's parents are the `parent` lines that hold an
//! id, its signatures are `name <email> seconds offset` as far as they go, and a walk
//! skips parents that are missing.

use std::collections::{HashSet, VecDeque};

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::commits::{
    CommitInfo, GitTime, MAX_MESSAGE_BYTES, MAX_SIGNATURE_FIELD_BYTES, Signature,
};
use super::{GitError, GitReader};

/// A commit read header by header: parents that parse, the first `author` and
/// `committer` lines as far as they go, the message after the first blank line.
pub(super) fn commit(id: ObjectId, data: &[u8]) -> CommitInfo {
    let (headers, message) = split(data);
    let mut parents = Vec::new();
    let (mut author, mut committer) = (None, None);
    for line in headers.split(|&b| b == b'\n') {
        if let Some(hex) = line.strip_prefix(b"parent ") {
            if let Ok(parent) = ObjectId::from_hex(hex.trim()) {
                parents.push(parent);
            }
        } else if let Some(raw) = line.strip_prefix(b"author ") {
            author.get_or_insert_with(|| signature(raw));
        } else if let Some(raw) = line.strip_prefix(b"committer ") {
            committer.get_or_insert_with(|| signature(raw));
        }
    }
    let unknown = || Signature {
        name: String::new(),
        email: String::new(),
        time: None,
    };
    CommitInfo {
        id,
        parents,
        author: author.unwrap_or_else(unknown),
        committer: committer.unwrap_or_else(unknown),
        message: text_prefix(message, MAX_MESSAGE_BYTES),
    }
}

/// Headers and message of a commit object.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.find(b"\n\n") {
        Some(end) => (&data[..end], &data[end + 2..]),
        None => (data, &[][..]),
    }
}

/// `name <email> seconds offset`, as far as it goes: without the brackets the whole text
/// is the name.
fn signature(raw: &[u8]) -> Signature {
    let (name, email, rest) = match (raw.find_byte(b'<'), raw.rfind_byte(b'>')) {
        (Some(open), Some(close)) if open < close => {
            (&raw[..open], &raw[open + 1..close], &raw[close + 1..])
        }
        _ => (raw, &[][..], &[][..]),
    };
    Signature {
        name: text_prefix(name.trim(), MAX_SIGNATURE_FIELD_BYTES),
        email: text_prefix(email.trim(), MAX_SIGNATURE_FIELD_BYTES),
        time: time(rest),
    }
}

fn time(raw: &[u8]) -> Option<GitTime> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|text| text.parse::<gix::date::Time>().ok())
        .map(|time| GitTime {
            seconds: time.seconds,
            offset_seconds: time.offset,
        })
}

/// The first `max` bytes of `bytes` as text (lossy), cut at a character boundary.
pub(super) fn text_prefix(bytes: &[u8], max: usize) -> String {
    let mut cut = &bytes[..bytes.len().min(max)];
    if cut.len() < bytes.len()
        && let Err(e) = std::str::from_utf8(cut)
        && e.error_len().is_none()
    {
        cut = &cut[..e.valid_up_to()];
    }
    cut.to_str_lossy().into_owned()
}

/// Parents and committer time of a commit, as far as they parse.
fn header(reader: &GitReader, id: ObjectId) -> Result<Option<(Vec<ObjectId>, i64)>, GitError> {
    let Some(object) = reader
        .repo
        .try_find_object(id)
        .map_err(|e| reader.read_error(&format!("read commit {id}"), e))?
    else {
        return Ok(None);
    };
    if object.kind != gix::object::Kind::Commit {
        return Ok(None);
    }
    let (headers, _) = split(&object.data);
    let mut parents = Vec::new();
    let mut seconds = None;
    for line in headers.split(|&b| b == b'\n') {
        if let Some(hex) = line.strip_prefix(b"parent ") {
            if let Ok(parent) = ObjectId::from_hex(hex.trim()) {
                parents.push(parent);
            }
        } else if let Some(raw) = line.strip_prefix(b"committer ")
            && seconds.is_none()
        {
            seconds = signature(raw).time.map(|t| t.seconds);
        }
    }
    Ok(Some((parents, seconds.unwrap_or(i64::MIN))))
}

/// Every commit reachable from `start` and not in `hidden` (missing objects and
/// non-commits skipped), with its committer time.
fn reachable(
    reader: &GitReader,
    start: ObjectId,
    hidden: &HashSet<ObjectId>,
) -> Result<Vec<(i64, ObjectId)>, GitError> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(id) = queue.pop_front() {
        if hidden.contains(&id) || !seen.insert(id) {
            continue;
        }
        if let Some((parents, seconds)) = header(reader, id)? {
            found.push((seconds, id));
            queue.extend(parents);
        }
    }
    Ok(found)
}

/// The commits reachable from `to` and not from `from`, newest committer time first (a
/// commit without a time last; ties by id): the range of `git rev-list from..to`, read
/// without gix's decoding. It holds the whole range (and `from`'s whole history) in
/// memory, which only a repository gix cannot walk costs.
pub(super) fn walk(
    reader: &GitReader,
    from: Option<ObjectId>,
    to: ObjectId,
) -> Result<Vec<ObjectId>, GitError> {
    let hidden: HashSet<ObjectId> = match from {
        Some(from) => reachable(reader, from, &HashSet::new())?
            .into_iter()
            .map(|(_, id)| id)
            .collect(),
        None => HashSet::new(),
    };
    let mut commits = reachable(reader, to, &hidden)?;
    commits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(commits.into_iter().map(|(_, id)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_gix_refuses_keep_what_they_have() {
        let sig = signature(b"nobody 123 +0000");
        assert_eq!(
            (sig.name.as_str(), sig.email.as_str()),
            ("nobody 123 +0000", "")
        );
        assert_eq!(sig.time, None);
        let sig = signature(b"Ada <ada@x> 99999999999999999999999 +0000");
        assert_eq!((sig.name.as_str(), sig.email.as_str()), ("Ada", "ada@x"));
        assert_eq!(
            sig.time, None,
            "not a number of seconds: no time, not the epoch"
        );
        let sig = signature(b"Ada <ada@x> -5 +9999");
        assert_eq!(sig.time.map(|t| t.seconds), Some(-5));
    }

    #[test]
    fn commits_gix_refuses_are_read_header_by_header() {
        let parent = "0123456789012345678901234567890123456789";
        let data = format!(
            "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent {parent}\nparent zz\nauthor broken\ncommitter C <c@x> 1700000000 +0100\n\nsubject\n\nbody\n"
        );
        let id = ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap();
        let info = commit(id, data.as_bytes());
        assert_eq!(
            info.parents,
            vec![ObjectId::from_hex(parent.as_bytes()).unwrap()]
        );
        assert_eq!(info.author.name, "broken");
        assert_eq!(info.committer.time.map(|t| t.seconds), Some(1_700_000_000));
        assert_eq!(info.message, "subject\n\nbody\n");
        let bare = commit(id, b"tree x");
        assert_eq!((bare.author.name.as_str(), bare.message.as_str()), ("", ""));
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let text = "é".repeat(10);
        assert_eq!(text_prefix(text.as_bytes(), 5), "éé");
        assert_eq!(text_prefix(b"abc", 10), "abc");
        assert_eq!(text_prefix(b"ab\xffcd", 10), "ab\u{fffd}cd");
    }
}
