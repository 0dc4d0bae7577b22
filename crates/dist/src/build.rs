//! Building `trawl` with cargo, the target triple it is built for, and what it links.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::DistError;

/// The cargo profile to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `--release`: what production runs.
    Release,
    /// The dev profile (quick to build; for tests of the packaging).
    Debug,
}

/// Builds the `trawl` binary of the workspace at `workspace` with `cargo` (the program to
/// run; `$CARGO` under cargo) and returns the executable's path. Cargo's own progress and
/// diagnostics go to this process's stderr.
pub fn build(cargo: &Path, workspace: &Path, profile: Profile) -> Result<PathBuf, DistError> {
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--package",
            "trawl-cli",
            "--bin",
            "trawl",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_a_crate) {
            command.env_remove(name);
        }
    }
    if profile == Profile::Release {
        command.arg("--release");
    }
    let program = format!("{} build --package trawl-cli --bin trawl", cargo.display());
    let output = command.output().map_err(|source| DistError::Spawn {
        program: program.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(DistError::Failed {
            program,
            status: output.status,
            detail: String::new(),
        });
    }
    executable_of(&String::from_utf8_lossy(&output.stdout)).ok_or(DistError::NoExecutable)
}

/// Whether `name` is a variable cargo sets for the crate it runs or builds (a test, `cargo
/// run`): left in the environment of a nested `cargo build`, build scripts that watch it
/// (ring's watches `CARGO_PKG_NAME` and `CARGO_MANIFEST_DIR`) would rebuild, and the
/// outer build after them again.
fn set_by_cargo_for_a_crate(name: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
        "CARGO_CFG_",
    ];
    const NAMES: [&str; 4] = [
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// The `trawl` executable named in cargo's JSON messages (the last compiler artifact of
/// the `trawl` binary target).
fn executable_of(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "trawl")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
}

/// The host triple of `rustc` (the target `cargo build` builds for without `--target`).
pub fn host_triple(rustc: &Path) -> Result<String, DistError> {
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .map_err(|source| DistError::Spawn {
            program: format!("{} -vV", rustc.display()),
            source,
        })?;
    if !output.status.success() {
        return Err(DistError::Failed {
            program: format!("{} -vV", rustc.display()),
            status: output.status,
            detail: String::new(),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    parse_host_triple(&text).ok_or_else(|| DistError::NoHostTriple(text.into_owned()))
}

/// The `host:` line of `rustc -vV` output, checked to be a plain triple (it becomes part
/// of a file name).
pub fn parse_host_triple(rustc_vv: &str) -> Option<String> {
    let triple = rustc_vv
        .lines()
        .find_map(|line| line.strip_prefix("host:"))?
        .trim();
    let plain = !triple.is_empty()
        && triple
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    plain.then(|| triple.to_owned())
}

/// What `ldd` says `binary` links (its whole output, one library a line). A statically
/// linked binary gives `ldd`'s "not a dynamic executable" answer as a line too.
pub fn linked_libraries(binary: &Path) -> Result<String, DistError> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|source| DistError::Spawn {
            program: "ldd".into(),
            source,
        })?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(text)
}

/// The OpenSSL libraries (`libssl`, `libcrypto`) among `ldd` output lines.
pub fn openssl_libraries(ldd: &str) -> Vec<&str> {
    ldd.lines()
        .map(str::trim)
        .filter(|line| {
            let name = line.split_whitespace().next().unwrap_or("");
            name.starts_with("libssl.") || name.starts_with("libcrypto.")
        })
        .collect()
}

/// Fails with [`DistError::LinksOpenSsl`] when `ldd` output shows OpenSSL.
pub(crate) fn refuse_openssl(binary: &Path, ldd: &str) -> Result<(), DistError> {
    let found = openssl_libraries(ldd);
    if found.is_empty() {
        Ok(())
    } else {
        Err(DistError::LinksOpenSsl {
            binary: binary.to_path_buf(),
            libraries: found.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_of_the_calling_crate_are_not_passed_on() {
        for name in [
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "OUT_DIR",
            "CARGO_TARGET_TMPDIR",
            "CARGO_BIN_EXE_trawl",
        ] {
            assert!(set_by_cargo_for_a_crate(name), "{name}");
        }
        for name in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "CARGO",
            "PATH",
            "RUSTFLAGS",
        ] {
            assert!(!set_by_cargo_for_a_crate(name), "{name}");
        }
    }

    #[test]
    fn host_triple_from_rustc() {
        let vv = "rustc 1.89.0 (29483883e 2025-08-04)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.89.0\n";
        assert_eq!(
            parse_host_triple(vv).as_deref(),
            Some("x86_64-unknown-linux-gnu")
        );
        assert_eq!(parse_host_triple("rustc 1.89.0\n"), None);
        assert_eq!(parse_host_triple("host: ../../etc\n"), None);
        assert_eq!(parse_host_triple("host: a/b\n"), None);
        assert_eq!(parse_host_triple("host:   \n"), None);
    }

    #[test]
    fn openssl_is_found_in_ldd_output() {
        let clean = "\tlinux-vdso.so.1 (0x00007ffc)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x1)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)\n";
        assert!(openssl_libraries(clean).is_empty());
        assert!(refuse_openssl(Path::new("trawl"), clean).is_ok());
        let dirty = format!(
            "{clean}\tlibssl.so.3 => /lib/libssl.so.3 (0x3)\n\tlibcrypto.so.3 => /lib/libcrypto.so.3 (0x4)\n"
        );
        assert_eq!(openssl_libraries(&dirty).len(), 2);
        let err = refuse_openssl(Path::new("trawl"), &dirty).unwrap_err();
        assert!(err.to_string().contains("libssl.so.3"), "{err}");
        assert!(openssl_libraries("\tnot a dynamic executable\n").is_empty());
    }

    #[test]
    fn the_trawl_executable_is_read_from_cargo_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"name":"trawl_cli","kind":["lib"]},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"name":"trawl","kind":["bin"]},"executable":"/t/debug/trawl"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\nnot json\n"
        );
        assert_eq!(
            executable_of(messages),
            Some(PathBuf::from("/t/debug/trawl"))
        );
        assert_eq!(executable_of(""), None);
    }
}
