//! The analysis fixture corpus (`fixtures/analysis`), line by line, shared by the parity
//! suite and `bench analyze` so that both speak of the same inputs.

use std::path::{Path, PathBuf};

/// One input line and where it came from (`corpus/rust/http_client.rs:12`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusLine {
    pub place: String,
    pub text: String,
}

/// Every line of every file under `<root>/corpus` (sorted by path), then of
/// `<root>/edge_cases.txt`. Lines are split on `\n` only, so a CRLF file keeps its `\r`.
pub fn analysis_lines(root: &Path) -> std::io::Result<Vec<CorpusLine>> {
    let mut files = Vec::new();
    collect(&root.join("corpus"), &mut files)?;
    files.sort();
    files.push(root.join("edge_cases.txt"));
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
        let name = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        lines.extend(text.split('\n').enumerate().map(|(n, line)| CorpusLine {
            place: format!("{name}:{}", n + 1),
            text: line.to_owned(),
        }));
    }
    Ok(lines)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
    {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}
