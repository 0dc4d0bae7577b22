//! trawl-analyzers: the code-aware analysis chain and index definitions, as data.
//!
//! Its job (issue 4): the settings and mappings of every index trawl owns, and an
//! offline Rust emulation of the analyzers held token-for-token against `_analyze`.
//! It must not talk to the engine itself.
