//! The tarball: its name and layout, the files beside the binary, and its checksum.

use std::fs::File;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::DistError;

/// The example post-receive hook: enqueues the pushed repository with `trawl queue enqueue`.
const HOOK: &str = include_str!("../../../fixtures/hooks/post-receive");
/// Every key of trawl.toml, commented.
const CONFIG_EXAMPLE: &str = include_str!("../files/trawl.toml.example");
/// What the tarball holds and how to install it.
const README: &str = include_str!("../files/README.md");

/// The names of a distribution: `trawl-<version>-<target>.tar.gz` holding `trawl-<version>/…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveLayout {
    /// The package version (`0.1.0`).
    pub version: String,
    /// The target triple the binary was built for (`x86_64-unknown-linux-gnu`).
    pub target: String,
}

impl ArchiveLayout {
    /// `trawl-<version>-<target>.tar.gz`.
    pub fn file_name(&self) -> String {
        format!("trawl-{}-{}.tar.gz", self.version, self.target)
    }

    /// The directory every entry lies under: `trawl-<version>`.
    pub fn root(&self) -> String {
        format!("trawl-{}", self.version)
    }

    /// The entries besides the binary: (path under the root, contents, mode).
    pub fn files(&self) -> [(&'static str, &'static str, u32); 3] {
        [
            ("hooks/post-receive", HOOK, 0o755),
            ("trawl.toml.example", CONFIG_EXAMPLE, 0o644),
            ("README.md", README, 0o644),
        ]
    }
}

/// A written distribution.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The tarball.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
    /// What `ldd` said the binary links (checked free of OpenSSL).
    pub ldd: String,
}

/// Checks that `binary` links no OpenSSL, then writes `<out_dir>/<layout.file_name()>`
/// (created whole under a temporary name, then renamed, so a reader never sees half a
/// tarball) holding `bin/trawl`, the hook, the example configuration and the README.
pub fn package(
    binary: &Path,
    layout: &ArchiveLayout,
    out_dir: &Path,
) -> Result<Artifact, DistError> {
    let ldd = crate::build::linked_libraries(binary)?;
    crate::build::refuse_openssl(binary, &ldd)?;
    std::fs::create_dir_all(out_dir).map_err(|e| DistError::io("create", out_dir, e))?;
    let path = out_dir.join(layout.file_name());
    let partial = out_dir.join(format!(
        ".{}.partial-{}",
        layout.file_name(),
        std::process::id()
    ));
    let written = write_archive(binary, layout, &partial).and_then(|()| {
        std::fs::rename(&partial, &path).map_err(|e| DistError::io("write", &path, e))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let (bytes, sha256) = digest(&path)?;
    Ok(Artifact {
        path,
        bytes,
        sha256,
        ldd,
    })
}

fn write_archive(binary: &Path, layout: &ArchiveLayout, to: &Path) -> Result<(), DistError> {
    let io = |e| DistError::io("write", to, e);
    let file = File::create(to).map_err(io)?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let binary_bytes = std::fs::read(binary).map_err(|e| DistError::io("read", binary, e))?;
    // Every entry carries the binary's modification time: the same build packs the same.
    let mtime = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let root = layout.root();
    let mut entries: Vec<(String, &[u8], u32)> =
        vec![(format!("{root}/bin/trawl"), &binary_bytes, 0o755)];
    for (name, text, mode) in layout.files() {
        entries.push((format!("{root}/{name}"), text.as_bytes(), mode));
    }
    for (name, bytes, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &name, bytes).map_err(io)?;
    }
    let gz = tar.into_inner().map_err(io)?;
    let mut out = gz.finish().map_err(io)?;
    out.flush().map_err(io)?;
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)
}

/// The size and SHA-256 of the file at `path`.
fn digest(path: &Path) -> Result<(u64, String), DistError> {
    let io = |e| DistError::io("read", path, e);
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes, sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_version_and_target() {
        let layout = ArchiveLayout {
            version: "0.1.0".into(),
            target: "x86_64-unknown-linux-gnu".into(),
        };
        assert_eq!(
            layout.file_name(),
            "trawl-0.1.0-x86_64-unknown-linux-gnu.tar.gz"
        );
        assert_eq!(layout.root(), "trawl-0.1.0");
    }

    #[test]
    fn the_hook_calls_trawl_and_the_example_holds_no_secret() {
        assert!(HOOK.contains("queue enqueue"));
        assert!(
            !HOOK.contains("cargo xtask"),
            "the shipped hook needs no checkout"
        );
        for line in CONFIG_EXAMPLE.lines() {
            let key = line.trim_start_matches('#').trim_start();
            assert!(
                !key.starts_with("password =") && !key.starts_with("password="),
                "an inline password in the example: {line}"
            );
        }
    }

    #[test]
    fn digest_is_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"abc").unwrap();
        let (bytes, sha) = digest(&path).unwrap();
        assert_eq!(bytes, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
