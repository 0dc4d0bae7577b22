//! Which Java runs a local engine: the facts (every Java trawl can see and its major
//! version) are gathered first, then [`choose_java`] decides — purely, so the rules are
//! unit-tested without a JDK.
//!
//! Where trawl looks, in order: `TRAWL_JAVA_HOME` (an explicit choice, used or refused,
//! never second-guessed), `JAVA_HOME`, `java` on `PATH`, then every JDK installed under
//! `/usr/lib/jvm`. The first of `JAVA_HOME`/`PATH` new enough wins; else the installed JDK
//! with the lowest major version that is new enough (the closest to what the engine was
//! built for).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{StackEnv, StackError};

/// Where installed JDKs live on Debian and Ubuntu (`/usr/lib/jvm/<name>/bin/java`).
pub(crate) const INSTALLED_JDKS: &str = "/usr/lib/jvm";

/// The variable that names the one JDK to use.
pub const ENV_JAVA_HOME: &str = "TRAWL_JAVA_HOME";

/// Where a Java was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JavaSource {
    /// `TRAWL_JAVA_HOME`.
    Override,
    /// `JAVA_HOME`.
    JavaHome,
    /// `java` on `PATH`.
    Path,
    /// A JDK under [`INSTALLED_JDKS`].
    Installed,
}

/// One Java trawl looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JavaFound {
    pub source: JavaSource,
    /// The `java` program.
    pub java: PathBuf,
    /// Its major version, or why it is not known (missing, does not run, unreadable).
    pub major: Result<u32, String>,
}

/// Picks the Java for an engine that needs `needed` or newer; the error names the Java
/// to install and every place looked at.
pub(crate) fn choose_java<'f>(
    needed: u32,
    engine: &str,
    found: &'f [JavaFound],
) -> Result<&'f JavaFound, StackError> {
    let new_enough = |f: &&JavaFound| f.major.as_ref().is_ok_and(|&m| m >= needed);
    let missing = || StackError::JavaMissing {
        engine: engine.to_owned(),
        needed,
        looked: describe(found),
    };
    if let Some(explicit) = found.iter().find(|f| f.source == JavaSource::Override) {
        return Some(explicit).filter(new_enough).ok_or_else(missing);
    }
    if let Some(f) = found
        .iter()
        .filter(|f| matches!(f.source, JavaSource::JavaHome | JavaSource::Path))
        .find(new_enough)
    {
        return Ok(f);
    }
    found
        .iter()
        .filter(|f| f.source == JavaSource::Installed)
        .filter(new_enough)
        .min_by_key(|f| f.major.clone().unwrap_or(u32::MAX))
        .ok_or_else(missing)
}

/// Every Java in the places trawl looks (see the module doc), each with its version.
pub(crate) fn gather(env: &StackEnv, installed_root: &Path) -> Vec<JavaFound> {
    let mut found = Vec::new();
    if let Some(home) = env.get(ENV_JAVA_HOME) {
        found.push(inspect(
            JavaSource::Override,
            Path::new(&home).join("bin/java"),
        ));
        // An explicit choice is the only one considered.
        return found;
    }
    if let Some(home) = env.get("JAVA_HOME") {
        found.push(inspect(
            JavaSource::JavaHome,
            Path::new(&home).join("bin/java"),
        ));
    }
    match crate::process::which("java", env) {
        Some(java) => found.push(inspect(JavaSource::Path, java)),
        None => found.push(JavaFound {
            source: JavaSource::Path,
            java: "java".into(),
            major: Err("not on PATH".into()),
        }),
    }
    let mut installed: Vec<PathBuf> = std::fs::read_dir(installed_root)
        .map(|dir| {
            dir.flatten()
                .map(|entry| entry.path().join("bin/java"))
                .filter(|java| java.is_file())
                .collect()
        })
        .unwrap_or_default();
    installed.sort();
    // `java-17-openjdk-amd64` and its alias `java-1.17.0-openjdk-amd64` are one JDK.
    let mut seen: Vec<PathBuf> = found
        .iter()
        .filter_map(|f| f.java.canonicalize().ok())
        .collect();
    for java in installed {
        let real = java.canonicalize().unwrap_or_else(|_| java.clone());
        if !seen.contains(&real) {
            seen.push(real);
            found.push(inspect(JavaSource::Installed, java));
        }
    }
    found
}

/// The major version of the `java` at `java`: from its JDK's `release` file when there is
/// one (no process to start), else from `java -version`.
fn inspect(source: JavaSource, java: PathBuf) -> JavaFound {
    let major = if !java.is_file() {
        Err("does not exist".into())
    } else {
        let release = java
            .canonicalize()
            .ok()
            .and_then(|real| Some(real.parent()?.parent()?.join("release")))
            .and_then(|file| std::fs::read_to_string(file).ok())
            .and_then(|text| parse_release_major(&text));
        match release {
            Some(major) => Ok(major),
            None => version_of(&java),
        }
    };
    JavaFound {
        source,
        java,
        major,
    }
}

fn version_of(java: &Path) -> Result<u32, String> {
    let output = Command::new(java)
        .arg("-version")
        .output()
        .map_err(|e| format!("does not run: {e}"))?;
    let text = String::from_utf8_lossy(&output.stderr);
    parse_java_major(&text).ok_or_else(|| {
        format!(
            "unreadable version '{}'",
            text.lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect::<String>()
        )
    })
}

/// `JAVA_VERSION="17.0.15"` in a JDK's `release` file → 17.
fn parse_release_major(release: &str) -> Option<u32> {
    let line = release
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION="))?;
    parse_java_major(line)
}

/// `openjdk version "17.0.15" 2025-04-15` → 17; `java version "1.8.0_392"` → 8.
fn parse_java_major(version_output: &str) -> Option<u32> {
    let quoted = version_output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// `TRAWL_JAVA_HOME … (does not exist); JAVA_HOME … (Java 17); …`.
fn describe(found: &[JavaFound]) -> String {
    if found.is_empty() {
        return format!("nothing: JAVA_HOME is unset, no java on PATH, none in {INSTALLED_JDKS}");
    }
    found
        .iter()
        .map(|f| {
            let source = match f.source {
                JavaSource::Override => ENV_JAVA_HOME,
                JavaSource::JavaHome => "JAVA_HOME",
                JavaSource::Path => "PATH",
                JavaSource::Installed => "installed",
            };
            let what = match &f.major {
                Ok(major) => format!("Java {major}"),
                Err(why) => why.clone(),
            };
            format!("{source} {} ({what})", f.java.display())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: JavaSource, java: &str, major: Result<u32, &str>) -> JavaFound {
        JavaFound {
            source,
            java: java.into(),
            major: major.map_err(str::to_owned),
        }
    }

    fn chosen(needed: u32, facts: &[JavaFound]) -> Result<String, String> {
        choose_java(needed, "opensearch 3.4.0", facts)
            .map(|f| f.java.display().to_string())
            .map_err(|e| e.to_string())
    }

    /// This machine: Java 17 as JAVA_HOME and on PATH, Temurin 25 installed beside it.
    fn debian_with_temurin() -> Vec<JavaFound> {
        vec![
            found(
                JavaSource::JavaHome,
                "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                Ok(17),
            ),
            found(JavaSource::Path, "/usr/bin/java", Ok(17)),
            found(
                JavaSource::Installed,
                "/usr/lib/jvm/openjdk-17/bin/java",
                Ok(17),
            ),
            found(
                JavaSource::Installed,
                "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java",
                Ok(25),
            ),
        ]
    }

    #[test]
    fn the_usual_java_serves_when_new_enough() {
        assert_eq!(
            chosen(17, &debian_with_temurin()).unwrap(),
            "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
        );
        let path_only = [
            found(
                JavaSource::JavaHome,
                "/opt/jdk/bin/java",
                Err("does not exist"),
            ),
            found(JavaSource::Path, "/usr/bin/java", Ok(17)),
        ];
        assert_eq!(chosen(17, &path_only).unwrap(), "/usr/bin/java");
    }

    #[test]
    fn a_too_old_default_gives_way_to_the_closest_installed_jdk() {
        assert_eq!(
            chosen(21, &debian_with_temurin()).unwrap(),
            "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"
        );
        let mut more = debian_with_temurin();
        more.push(found(
            JavaSource::Installed,
            "/usr/lib/jvm/zulu-21/bin/java",
            Ok(21),
        ));
        assert_eq!(chosen(21, &more).unwrap(), "/usr/lib/jvm/zulu-21/bin/java");
    }

    #[test]
    fn an_explicit_override_is_used_or_refused_never_replaced() {
        let mut facts = debian_with_temurin();
        facts.insert(
            0,
            found(JavaSource::Override, "/opt/jdk-21/bin/java", Ok(21)),
        );
        assert_eq!(chosen(21, &facts).unwrap(), "/opt/jdk-21/bin/java");
        facts[0].major = Ok(17);
        let err = chosen(21, &facts).unwrap_err();
        assert!(
            err.contains("Java 21")
                && err.contains("TRAWL_JAVA_HOME /opt/jdk-21/bin/java (Java 17)"),
            "{err}"
        );
    }

    #[test]
    fn no_suitable_java_names_the_major_to_install_and_where_trawl_looked() {
        let facts = [
            found(JavaSource::JavaHome, "/opt/old/bin/java", Ok(11)),
            found(JavaSource::Path, "java", Err("not on PATH")),
            found(
                JavaSource::Installed,
                "/usr/lib/jvm/broken/bin/java",
                Err("does not run: x"),
            ),
        ];
        let err = chosen(21, &facts).unwrap_err();
        for part in [
            "opensearch 3.4.0 needs Java 21 or newer",
            "JAVA_HOME /opt/old/bin/java (Java 11)",
            "PATH java (not on PATH)",
            "/usr/lib/jvm/broken/bin/java (does not run: x)",
            "/usr/lib/jvm",
            "TRAWL_JAVA_HOME",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert!(chosen(17, &[]).unwrap_err().contains("Java 17"));
    }

    #[test]
    fn versions_parse_from_java_and_release_files() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(
            parse_java_major("openjdk version \"25\" 2025-09-16"),
            Some(25)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(parse_java_major("garbage"), None);
        assert_eq!(parse_java_major("\"99999999999999\""), None);
        assert_eq!(
            parse_release_major("IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.1\"\n"),
            Some(25)
        );
        assert_eq!(parse_release_major("JAVA_RUNTIME_VERSION=\"17\""), None);
    }
}
