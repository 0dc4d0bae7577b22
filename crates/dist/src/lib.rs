//! The operator distribution of trawl: production runs the `trawl` binary, not a checkout
//! with a Rust toolchain. [`build`] compiles `trawl` with cargo, [`package`] writes
//! `trawl-<version>-<target>.tar.gz` holding `trawl-<version>/bin/trawl`,
//! `hooks/post-receive`, `trawl.toml.example` and a `README`, and [`openssl_libraries`]
//! tells whether a binary links OpenSSL (it must not: TLS is rustls).

mod archive;
mod build;

pub use archive::{ArchiveLayout, Artifact, package};
pub use build::{
    Profile, build, host_triple, linked_libraries, openssl_libraries, parse_host_triple,
};

use std::path::PathBuf;

/// What went wrong while building or packaging, naming the input and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// A program (cargo, rustc, ldd) could not be started.
    #[error("cannot run {program}: {source}; is it installed and on PATH?")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// A program ran but failed.
    #[error("{program} failed ({status}){detail}")]
    Failed {
        /// The command line.
        program: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it said, when that helps (prefixed with `: `).
        detail: String,
    },
    /// cargo finished without naming the `trawl` executable.
    #[error(
        "cargo built no `trawl` executable (no compiler-artifact message for it); build it by hand with `cargo build -p trawl-cli --bin trawl` to see why"
    )]
    NoExecutable,
    /// `rustc -vV` had no `host:` line.
    #[error("`rustc -vV` printed no host triple; its output was: {0}")]
    NoHostTriple(String),
    /// The binary links OpenSSL, which the distribution must not need.
    #[error(
        "{binary} links OpenSSL ({libraries}); trawl uses rustls only — find the dependency that enables native TLS (`cargo tree -p trawl-cli -i openssl-sys`) and turn it off"
    )]
    LinksOpenSsl {
        /// The binary.
        binary: PathBuf,
        /// The OpenSSL libraries `ldd` listed.
        libraries: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", "create").
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl DistError {
    fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DistError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
