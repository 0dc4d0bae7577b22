//! Blobs and commits as engine documents.
//!
//! A blob document is keyed by its repository and its path's exact bytes ([`blob_id`]),
//! a commit document `<repo_id>_<sha>` ([`commit_id`]); both are routed by repository.
//! Field names follow what users of GitLab's indexer expect.

mod definitions;

use serde::Serialize;
use serde_json::Value;
use sha2::Digest as _;
use trawl_analyzers::IndexKind;
use trawl_registry::{RepoId, Visibility};

use crate::git::{BlobContent, CommitInfo, EntryKind, GitTime, RepoPath, Signature, is_binary};

pub use definitions::{MAX_DEFINITIONS, definition_terms, definitions};

/// The engine's limit on `_id`, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// An extension longer than this many bytes is not one: `blob.extension` stays empty (the
/// file name is still searched). The longest extensions linguist knows are about 20 bytes
/// (`sublime-color-scheme`); what follows the last dot of `notes.this-is-a-sentence` is
/// not a file type, and a keyword term of thousands of bytes would only bloat the index.
pub const MAX_EXTENSION_BYTES: usize = 32;

/// The earliest commit time written: 0001-01-01T00:00:00Z.
const MIN_COMMIT_SECONDS: i64 = -62_135_596_800;
/// The latest commit time written: 9999-12-30T22:00:00Z, the last whole second `jiff`
/// represents (it keeps a day of room for UTC offsets).
const MAX_COMMIT_SECONDS: i64 = 253_402_207_200;

/// Bytes of content a language heuristic looks at, at most.
const LANGUAGE_SNIFF_BYTES: usize = 64 * 1024;

/// The id of a blob document: `<repo>:<path>` when the path is UTF-8 and the id fits the
/// engine's 512 bytes, otherwise `<repo>#<SHA-256 of the path's bytes, hex>`.
///
/// Different (repository, path) pairs never share an id: a repository id holds neither
/// `:` nor `#`, so the first of the two ends it and says which form follows; the
/// readable form carries the path itself, the hashed one a digest of its exact bytes (two
/// non-UTF-8 paths with the same lossy text differ in their bytes).
pub fn blob_id(repo: &RepoId, path: &RepoPath) -> String {
    if path.is_utf8() && repo.as_str().len() + 1 + path.as_str().len() <= MAX_ID_BYTES {
        return format!("{repo}:{}", path.as_str());
    }
    let digest = sha2::Sha256::digest(path.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{repo}#{hex}")
}

/// The id of a commit document. A sha holds no `_`, so the last `_` separates it from the
/// repository id and different (repository, sha) pairs never share an id.
pub fn commit_id(repo: &RepoId, sha: &str) -> String {
    format!("{repo}_{sha}")
}

/// The repository facts every document of it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoContext {
    pub id: RepoId,
    pub visibility: Visibility,
}

/// How a file's bytes became the `content` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedContent {
    pub text: String,
    /// `utf-8`, the detected encoding's name (e.g. `windows-1252`, `utf-16le`), or
    /// `unknown` when it could not be told and the text was converted lossily.
    pub encoding: &'static str,
    pub lossy: bool,
    pub binary: bool,
}

/// Turns a file's bytes into text: UTF-8 as is (a BOM dropped), UTF-16 with a BOM
/// decoded, NUL in the first 8000 bytes → binary with empty text, another encoding
/// converted when it can be told with confidence, otherwise a lossy UTF-8 conversion that
/// is flagged.
pub fn decode_content(bytes: &[u8]) -> DecodedContent {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return DecodedContent {
            text: text.into_owned(),
            encoding: bom_name(encoding),
            lossy: had_errors,
            binary: false,
        };
    }
    if is_binary(bytes) {
        return DecodedContent {
            text: String::new(),
            encoding: "binary",
            lossy: false,
            binary: true,
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return DecodedContent {
            text: text.to_string(),
            encoding: "utf-8",
            lossy: false,
            binary: false,
        };
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let (encoding, confident) = detector.guess_assess(None, false);
    if confident {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if !had_errors {
            return DecodedContent {
                text: text.into_owned(),
                encoding: encoding_label(encoding),
                lossy: false,
                binary: false,
            };
        }
    }
    DecodedContent {
        text: String::from_utf8_lossy(bytes).into_owned(),
        encoding: "unknown",
        lossy: true,
        binary: false,
    }
}

fn bom_name(encoding: &'static encoding_rs::Encoding) -> &'static str {
    if encoding == encoding_rs::UTF_16LE {
        "utf-16le"
    } else if encoding == encoding_rs::UTF_16BE {
        "utf-16be"
    } else {
        "utf-8"
    }
}

fn encoding_label(encoding: &'static encoding_rs::Encoding) -> &'static str {
    // encoding_rs names are WHATWG names ("windows-1252", "Shift_JIS", "EUC-KR"); the
    // keyword field stores them lowercase so filters need not guess the case.
    match encoding.name() {
        "Shift_JIS" => "shift_jis",
        "EUC-JP" => "euc-jp",
        "EUC-KR" => "euc-kr",
        "ISO-2022-JP" => "iso-2022-jp",
        "Big5" => "big5",
        "GBK" => "gbk",
        "gb18030" => "gb18030",
        "KOI8-R" => "koi8-r",
        "KOI8-U" => "koi8-u",
        "IBM866" => "ibm866",
        "UTF-8" => "utf-8",
        "UTF-16LE" => "utf-16le",
        "UTF-16BE" => "utf-16be",
        other if other.starts_with("ISO-") => iso_label(other),
        other => other_label(other),
    }
}

fn iso_label(name: &str) -> &'static str {
    // ISO-8859-n names; a small closed set, so map rather than allocate.
    match name {
        "ISO-8859-2" => "iso-8859-2",
        "ISO-8859-3" => "iso-8859-3",
        "ISO-8859-4" => "iso-8859-4",
        "ISO-8859-5" => "iso-8859-5",
        "ISO-8859-6" => "iso-8859-6",
        "ISO-8859-7" => "iso-8859-7",
        "ISO-8859-8" => "iso-8859-8",
        "ISO-8859-8-I" => "iso-8859-8-i",
        "ISO-8859-10" => "iso-8859-10",
        "ISO-8859-13" => "iso-8859-13",
        "ISO-8859-14" => "iso-8859-14",
        "ISO-8859-15" => "iso-8859-15",
        "ISO-8859-16" => "iso-8859-16",
        _ => "iso-8859",
    }
}

fn other_label(name: &'static str) -> &'static str {
    // windows-125x, macintosh, x-mac-cyrillic, … are lowercase already.
    name
}

/// Tie-breakers for extensions several languages claim, when the content does not say.
const PREFERRED_LANGUAGES: &[&str] = &[
    "Rust",
    "C",
    "C++",
    "Objective-C",
    "TypeScript",
    "JavaScript",
    "Markdown",
    "Perl",
    "PHP",
    "Python",
    "Ruby",
    "Go",
    "Java",
    "Kotlin",
    "Shell",
    "SQL",
    "YAML",
    "XML",
    "Text",
];

/// The file's language from its name and extension (linguist's data), lowercase, e.g.
/// `rust`, `c++`, `makefile`; ambiguous extensions (`.h`) are settled by a look at the
/// start of the content.
pub fn language(path: &str, content: &str) -> Option<String> {
    let candidates = linguist::detect_language(path, None).ok()?;
    let name = match candidates.len() {
        0 => return None,
        1 => candidates[0].name,
        _ => {
            let mut end = content.len().min(LANGUAGE_SNIFF_BYTES);
            while !content.is_char_boundary(end) {
                end -= 1;
            }
            linguist::disambiguate(path, &content[..end])
                .ok()
                .and_then(|found| found.first().map(|l| l.name))
                .unwrap_or_else(|| {
                    // Heuristics undecided (e.g. `.rs` is also RenderScript): prefer the
                    // language most code search corpora mean.
                    candidates
                        .iter()
                        .find(|c| PREFERRED_LANGUAGES.contains(&c.name))
                        .unwrap_or(&candidates[0])
                        .name
                })
        }
    };
    Some(name.to_lowercase())
}

/// The extension of a file name, lowercase, without the dot; `None` for `Makefile`, for
/// dot files such as `.gitignore`, and for what is too long ([`MAX_EXTENSION_BYTES`]) or
/// holds whitespace or control characters to be a file type.
pub fn extension(file_name: &str) -> Option<String> {
    let dot = file_name.rfind('.')?;
    let ext = &file_name[dot + 1..];
    if dot == 0
        || ext.is_empty()
        || ext.len() > MAX_EXTENSION_BYTES
        || ext.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    Some(ext.to_lowercase())
}

/// What is known about one file when its document is rendered.
#[derive(Debug)]
pub struct BlobInput<'a> {
    pub path: &'a RepoPath,
    pub oid: &'a str,
    pub kind: EntryKind,
    pub content: BlobContent,
    pub commit_sha: &'a str,
}

#[derive(Serialize)]
struct BlobFields<'a> {
    oid: &'a str,
    rid: &'a str,
    commit_sha: &'a str,
    path: &'a str,
    file_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<String>,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    size: u64,
    /// Lines of the decoded content (a last line without a newline counts); 0 for empty,
    /// binary and over-size files (their content is not indexed).
    line_count: u64,
    /// The names the content defines, as whole terms (see [`definition_terms`]), for
    /// ranking.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    defs: Vec<String>,
    binary: bool,
    truncated: bool,
    lossy: bool,
    encoding: &'static str,
    symlink: bool,
}

#[derive(Serialize)]
struct BlobDocument<'a> {
    #[serde(rename = "type")]
    doc_type: &'static str,
    repo_id: &'a str,
    visibility: Visibility,
    schema_version: u32,
    blob: BlobFields<'a>,
}

/// A rendered document: id, routing and source.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedDocument {
    pub id: String,
    pub routing: String,
    pub source: Value,
    /// Bytes of file content it carries (for progress and throughput).
    pub content_bytes: u64,
}

/// Renders a file (not a submodule) as a blob document. Over-size files (the reader
/// already declined to read them) and binary files keep their path with empty content; a
/// symlink's content is its target path.
pub fn render_blob(repo: &RepoContext, input: BlobInput<'_>) -> RenderedDocument {
    let path = input.path.as_str();
    let file_name = input.path.file_name();
    let symlink = input.kind == EntryKind::Symlink;
    let (decoded, size, truncated) = match input.content {
        BlobContent::TooLarge { size } => (
            DecodedContent {
                text: String::new(),
                encoding: "unknown",
                lossy: false,
                binary: false,
            },
            size,
            true,
        ),
        BlobContent::Content(bytes) => {
            let size = bytes.len() as u64;
            (decode_entry(&bytes, symlink), size, false)
        }
    };
    let language = if symlink || decoded.binary {
        None
    } else {
        language(path, &decoded.text)
    };
    let content_bytes = decoded.text.len() as u64;
    let line_count = line_count(&decoded.text);
    let defs = if symlink || decoded.binary {
        Vec::new()
    } else {
        definition_terms(language.as_deref(), &decoded.text)
    };
    let doc = BlobDocument {
        doc_type: "blob",
        repo_id: repo.id.as_str(),
        visibility: repo.visibility,
        schema_version: IndexKind::Blobs.schema_version(),
        blob: BlobFields {
            oid: input.oid,
            rid: repo.id.as_str(),
            commit_sha: input.commit_sha,
            path,
            file_name,
            extension: extension(file_name),
            content: decoded.text,
            language,
            size,
            line_count,
            defs,
            binary: decoded.binary,
            truncated,
            lossy: decoded.lossy,
            encoding: decoded.encoding,
            symlink,
        },
    };
    RenderedDocument {
        id: blob_id(&repo.id, input.path),
        routing: repo.id.to_string(),
        source: serde_json::to_value(doc).expect("a blob document serialises"),
        content_bytes,
    }
}

/// The `content` a file's bytes are indexed with ([`decode_content`]), or a symlink's
/// (its target path, converted lossily): what a search that reads contents from git must
/// make of the same bytes to mark the same matches.
pub fn decode_entry(bytes: &[u8], symlink: bool) -> DecodedContent {
    if symlink {
        DecodedContent {
            text: String::from_utf8_lossy(bytes).into_owned(),
            encoding: "utf-8",
            lossy: std::str::from_utf8(bytes).is_err(),
            binary: false,
        }
    } else {
        decode_content(bytes)
    }
}

/// Lines of `text`: its newlines, plus one for a last line without a newline.
pub fn line_count(text: &str) -> u64 {
    let newlines = text.bytes().filter(|&b| b == b'\n').count() as u64;
    newlines + u64::from(!text.is_empty() && !text.ends_with('\n'))
}

/// A commit time as written in a document: RFC 3339 in UTC, for times in the years 1 to
/// 9999 (a four-digit year, which every engine's `strict_date_optional_time` reads).
/// Outside them, or when the commit has no time that parses, `None`: the field is left
/// empty rather than clamped, since a clamped date would be one the commit does not
/// have (and the epoch, what a failed parse used to give, looks like a real one).
pub fn commit_time(time: Option<GitTime>) -> Option<String> {
    let seconds = time?.seconds;
    if !(MIN_COMMIT_SECONDS..=MAX_COMMIT_SECONDS).contains(&seconds) {
        return None;
    }
    jiff::Timestamp::from_second(seconds)
        .ok()
        .map(|t| t.to_string())
}

fn person(sig: &Signature) -> Value {
    serde_json::json!({ "name": sig.name, "email": sig.email, "time": commit_time(sig.time) })
}

/// Renders a commit document.
pub fn render_commit(repo: &RepoContext, commit: &CommitInfo) -> RenderedDocument {
    let sha = commit.id.to_string();
    let source = serde_json::json!({
        "type": "commit",
        "repo_id": repo.id.as_str(),
        "visibility": repo.visibility,
        "schema_version": IndexKind::Commits.schema_version(),
        "commit": {
            "sha": sha,
            "rid": repo.id.as_str(),
            "message": commit.message,
            "author": person(&commit.author),
            "committer": person(&commit.committer),
            "parents": commit.parents.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        }
    });
    RenderedDocument {
        id: commit_id(&repo.id, &sha),
        routing: repo.id.to_string(),
        content_bytes: commit.message.len() as u64,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_under_the_engine_limit() {
        let repo = RepoId::new("r").unwrap();
        assert_eq!(
            blob_id(&repo, &RepoPath::from("src/main.rs")),
            "r:src/main.rs"
        );
        let long = "d/".repeat(400);
        let id = blob_id(&repo, &RepoPath::from(long.as_str()));
        assert!(id.len() <= MAX_ID_BYTES && id.starts_with("r#"), "{id}");
        assert_ne!(
            blob_id(&repo, &RepoPath::from(format!("{long}x").as_str())),
            id
        );
        assert_eq!(commit_id(&repo, "abc"), "r_abc");
    }

    #[test]
    fn the_ids_that_collided_before_do_not() {
        // `acme_api` + `src/main.rs` and `acme` + `api_src/main.rs` were both
        // `acme_api_src/main.rs`.
        let a = blob_id(
            &RepoId::new("acme_api").unwrap(),
            &RepoPath::from("src/main.rs"),
        );
        let b = blob_id(
            &RepoId::new("acme").unwrap(),
            &RepoPath::from("api_src/main.rs"),
        );
        assert_ne!(a, b);
        // Two non-UTF-8 paths that read alike when converted lossily.
        let x = RepoPath::from_bytes(b"caf\xe9".to_vec());
        let y = RepoPath::from_bytes(b"caf\xff".to_vec());
        assert_eq!(
            String::from_utf8_lossy(x.as_bytes()),
            String::from_utf8_lossy(y.as_bytes())
        );
        let repo = RepoId::new("r").unwrap();
        assert_ne!(blob_id(&repo, &x), blob_id(&repo, &y));
    }

    mod ids {
        use super::*;
        use proptest::prelude::*;

        fn repo_id() -> impl Strategy<Value = RepoId> {
            "[a-z0-9][a-z0-9._-]{0,127}".prop_map(|s| RepoId::new(s).unwrap())
        }

        /// Paths: mostly text near the separators and the length limit, some raw bytes.
        fn path() -> impl Strategy<Value = RepoPath> {
            prop_oneof![
                "[a-z_:#./-]{1,12}".prop_map(|s| RepoPath::from(s.as_str())),
                "[a-z:#_/]{1,4}".prop_map(|s| RepoPath::from(s.repeat(200).as_str())),
                proptest::collection::vec(any::<u8>(), 1..40).prop_map(RepoPath::from_bytes),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]
            #[test]
            fn distinct_pairs_get_distinct_ids_under_the_limit(
                a in (repo_id(), path()),
                b in (repo_id(), path()),
            ) {
                let id_a = blob_id(&a.0, &a.1);
                let id_b = blob_id(&b.0, &b.1);
                prop_assert!(id_a.len() <= MAX_ID_BYTES);
                let same = a.0 == b.0 && a.1.as_bytes() == b.1.as_bytes();
                prop_assert_eq!(same, id_a == id_b, "{:?} {:?} -> {} {}", a, b, id_a, id_b);
            }

            #[test]
            fn prefixes_of_each_other_do_not_collide(
                repo in "[a-z0-9][a-z0-9._-]{1,20}",
                cut_seed in 0usize..1000,
                rest in "[a-z0-9._/:#-]{1,30}",
            ) {
                // `<repo>` + `<rest>` against `<repo[..cut]>` + `<repo[cut..]><rest>`: the
                // shape of the old collision.
                let cut = 1 + cut_seed % (repo.len() - 1);
                let whole = RepoId::new(repo.clone()).unwrap();
                let Ok(short) = RepoId::new(repo[..cut].to_string()) else { return Ok(()) };
                let p1 = RepoPath::from(rest.as_str());
                let p2 = RepoPath::from(format!("{}{rest}", &repo[cut..]).as_str());
                prop_assert_ne!(blob_id(&whole, &p1), blob_id(&short, &p2));
            }
        }
    }

    #[test]
    fn content_is_decoded_or_flagged() {
        let utf8 = decode_content("fn café() {}".as_bytes());
        assert_eq!(
            (utf8.text.as_str(), utf8.encoding, utf8.lossy),
            ("fn café() {}", "utf-8", false)
        );
        let bom = decode_content(b"\xEF\xBB\xBFhello");
        assert_eq!(bom.text, "hello");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("héllo".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let d = decode_content(&utf16);
        assert_eq!(
            (d.text.as_str(), d.encoding, d.binary),
            ("héllo", "utf-16le", false)
        );
        let binary = decode_content(b"PK\x03\x04\x00\x00");
        assert!(binary.binary && binary.text.is_empty());
        // Latin-1 text of some length: detected and converted.
        let latin1: Vec<u8> = "Le café est prêt. Où est la clé? Ça va très bien, merci à vous."
            .chars()
            .map(|c| c as u32 as u8)
            .collect();
        let d = decode_content(&latin1);
        assert!(!d.lossy, "{d:?}");
        assert!(d.text.contains("café") && d.text.contains("prêt"), "{d:?}");
        assert_eq!(d.encoding, "windows-1252");
        // Random high bytes: flagged lossy, never refused.
        let junk = decode_content(&[0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xC3, 0x28, 0xA0, 0xA1]);
        assert!(!junk.binary);
        assert!(junk.lossy || junk.encoding != "utf-8", "{junk:?}");
    }

    #[test]
    fn lines_are_counted_with_or_without_a_last_newline() {
        assert_eq!(line_count(""), 0);
        assert_eq!(line_count("one"), 1);
        assert_eq!(line_count("one\n"), 1);
        assert_eq!(line_count("one\ntwo"), 2);
        assert_eq!(line_count("\n\n"), 2);
    }

    #[test]
    fn language_and_extension_come_from_the_name() {
        assert_eq!(language("src/main.rs", "").as_deref(), Some("rust"));
        assert_eq!(language("Makefile", "").as_deref(), Some("makefile"));
        assert_eq!(
            language(
                "x/widget.h",
                "#include <iostream>\nclass Widget {};\nnamespace a {}\n"
            )
            .as_deref(),
            Some("c++")
        );
        assert_eq!(language("data.unknownext", ""), None);
        assert_eq!(extension("main.RS").as_deref(), Some("rs"));
        assert_eq!(extension(".gitignore"), None);
        assert_eq!(extension("Makefile"), None);
        assert_eq!(extension("a.tar.gz").as_deref(), Some("gz"));
        assert_eq!(
            extension("x.sublime-color-scheme").as_deref(),
            Some("sublime-color-scheme")
        );
        assert_eq!(
            extension(&format!("x.{}", "e".repeat(MAX_EXTENSION_BYTES))).map(|e| e.len()),
            Some(MAX_EXTENSION_BYTES)
        );
        assert_eq!(
            extension(&format!("x.{}", "e".repeat(MAX_EXTENSION_BYTES + 1))),
            None
        );
        assert_eq!(extension(&format!("x.{}", "e".repeat(40_000))), None);
        assert_eq!(extension("notes. and more"), None);
        assert_eq!(extension("evil.\u{1b}[2J"), None);
        assert_eq!(extension("trailing."), None);
    }

    #[test]
    fn commit_times_outside_years_1_to_9999_are_left_empty() {
        let at = |seconds| {
            commit_time(Some(GitTime {
                seconds,
                offset_seconds: 0,
            }))
        };
        assert_eq!(at(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(at(-5).as_deref(), Some("1969-12-31T23:59:55Z"));
        assert_eq!(
            at(MIN_COMMIT_SECONDS).as_deref(),
            Some("0001-01-01T00:00:00Z")
        );
        assert_eq!(
            at(MAX_COMMIT_SECONDS).as_deref(),
            Some("9999-12-30T22:00:00Z")
        );
        assert_eq!(MAX_COMMIT_SECONDS, jiff::Timestamp::MAX.as_second());
        assert_eq!(at(MAX_COMMIT_SECONDS + 1), None);
        assert_eq!(at(MIN_COMMIT_SECONDS - 1), None);
        assert_eq!(at(i64::MAX), None);
        assert_eq!(at(i64::MIN), None);
        assert_eq!(commit_time(None), None);
    }
}
