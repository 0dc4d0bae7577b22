//! trawl-analyzers: the code-aware analysis chain and index definitions, as data, and an
//! offline Rust emulation of every analyzer that produces exactly what the engine's
//! `_analyze` produces (text, position, position length, offsets, type) — for the Lucene
//! generation the engine runs, which the caller names ([`LuceneGeneration`]).
//!
//! It does no I/O: the settings are JSON values for the caller to send, and the emulation
//! runs in process. Offsets are counted in UTF-16 code units, as the engine counts them.

pub mod analysis;
pub mod emulate;
mod highlight;
pub mod indices;
mod lucene;
mod storage;

pub use analysis::{AnalyzerName, analysis_settings};
pub use emulate::{Token, analyze, analyze_code, analyze_terms, whole_token};
pub use highlight::{Highlight, HighlightError, plain_highlight};
pub use indices::{
    ANALYSIS_VERSION, ContentVariant, IndexKind, IndexOptions, KindSettings, analysis_index_body,
};
pub use lucene::{LuceneGeneration, UnknownLuceneGeneration};
pub use storage::{
    BlobStorage, CODECS, DEFAULT_CODEC, Lever, LeverError, source_keeps_blob_content,
};
