//! zoekt beside trawl: its index size and its recall on the same identifiers.
//!
//! zoekt is not built or fetched here: the benchmark uses `zoekt-index` and `zoekt` from a
//! directory it is given (`--zoekt-bin`, else `TRAWL_ZOEKT_BIN`, else `PATH`). It indexes
//! the commit's tree written out as plain files (`zoekt-index` reads directories), with
//! trawl's file size limit (`-file_limit`) and without ctags (trawl has no symbols), and
//! searches each identifier as `case:no content:\bident\b` — whole word, any case, in
//! file contents, which is what `git grep -w -i` does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use trawl_indexer::git::DEFAULT_MAX_FILE_SIZE;

/// The two zoekt programs.
#[derive(Clone, Debug)]
pub struct Zoekt {
    index_program: PathBuf,
    search_program: PathBuf,
}

/// Why zoekt could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ZoektError {
    #[error(
        "zoekt is not measured: {0}. Give the directory holding zoekt's `zoekt-index` and `zoekt` programs with --zoekt-bin DIR (or TRAWL_ZOEKT_BIN), or put them on PATH"
    )]
    Missing(String),
    #[error("{program} {action} failed: {detail}")]
    Failed {
        program: String,
        action: String,
        detail: String,
    },
}

impl Zoekt {
    /// Finds `zoekt-index` and `zoekt` in `dir` when given, else on `PATH`.
    pub fn find(dir: Option<&Path>) -> Result<Zoekt, ZoektError> {
        let find = |name: &str| -> Result<PathBuf, ZoektError> {
            let candidates: Vec<PathBuf> = match dir {
                Some(dir) => vec![dir.join(name)],
                None => std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
                    .unwrap_or_default(),
            };
            candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
                ZoektError::Missing(match dir {
                    Some(dir) => format!("no `{name}` in {}", dir.display()),
                    None => format!("no `{name}` on PATH"),
                })
            })
        };
        Ok(Zoekt {
            index_program: find("zoekt-index")?,
            search_program: find("zoekt")?,
        })
    }

    /// Indexes the plain files under `tree` into `index_dir` (made empty first); returns
    /// the bytes of the shards written.
    pub fn index(&self, tree: &Path, index_dir: &Path) -> Result<u64, ZoektError> {
        let _ = std::fs::remove_dir_all(index_dir);
        std::fs::create_dir_all(index_dir).map_err(|e| self.failed("index", e.to_string()))?;
        let out = Command::new(&self.index_program)
            .arg("-index")
            .arg(index_dir)
            .arg("-file_limit")
            .arg(DEFAULT_MAX_FILE_SIZE.to_string())
            .arg("-disable_ctags")
            .arg(tree)
            .output()
            .map_err(|e| self.failed("index", e.to_string()))?;
        if !out.status.success() {
            return Err(self.failed("index", String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        let mut bytes = 0;
        let entries =
            std::fs::read_dir(index_dir).map_err(|e| self.failed("index", e.to_string()))?;
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "zoekt") {
                bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        if bytes == 0 {
            return Err(self.failed("index", "no shard was written".into()));
        }
        Ok(bytes)
    }

    /// The files whose content has `ident` as a whole word in any case.
    pub fn files_with(
        &self,
        index_dir: &Path,
        ident: &str,
    ) -> Result<BTreeSet<String>, ZoektError> {
        let out = Command::new(&self.search_program)
            .arg("-index_dir")
            .arg(index_dir)
            .arg("-l")
            .arg(format!("case:no content:\\b{ident}\\b"))
            .output()
            .map_err(|e| self.failed("search", e.to_string()))?;
        if !out.status.success() {
            return Err(self.failed("search", String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn failed(&self, action: &str, detail: String) -> ZoektError {
        let program = if action == "search" {
            &self.search_program
        } else {
            &self.index_program
        };
        ZoektError::Failed {
            program: program.display().to_string(),
            action: action.to_owned(),
            detail: detail.chars().take(2000).collect(),
        }
    }
}
