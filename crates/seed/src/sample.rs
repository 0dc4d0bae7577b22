//! Single synthetic source files, for callers that want code-like text without a git
//! repository (a benchmark filling an index directly, for one). The files come from the
//! same vocabulary, paths and renderer as seeded repositories.

use fastrand::Rng;

use crate::content::{Kind, Renderer};
use crate::plan::{CODE_LANGS, component_dir, source_file};
use crate::vocab::{Vocab, mix};

/// Makes synthetic source files one at a time: each a pure function of the generator's
/// seed, the file's seed and its size.
///
/// Building one builds the vocabulary (a few thousand identifiers, about a millisecond):
/// make one and reuse it. Generating takes `&self`, so one generator serves any number of
/// threads.
///
/// ```
/// let generator = trawl_seed::SampleGenerator::new(42);
/// let file = generator.generate(7, 600);
/// assert_eq!(file.bytes.len(), 600);
/// assert!(file.path.ends_with(&format!(".{}", file.extension)));
/// assert_eq!(file, generator.generate(7, 600));
/// ```
#[derive(Debug)]
pub struct SampleGenerator {
    vocab: Vocab,
}

/// One synthetic source file from [`SampleGenerator::generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleFile {
    /// A relative path as a repository would hold it, e.g.
    /// `services/invoice-api/internal/ledger/fetch_order.go`. Different files may get the
    /// same path: a caller that needs unique paths adds something of its own.
    pub path: String,
    /// The language as trawl's documents name it (linguist's name, lowercase): `rust`,
    /// `go`, `python`, `typescript`, `tsx`, `javascript`, `java`, `c`, `c++`, `ruby`,
    /// `markdown`, `yaml` or `shell`.
    pub language: &'static str,
    /// The path's extension, without the dot (`rs`, `h`, `hpp`, `tsx`, …).
    pub extension: &'static str,
    /// The content: UTF-8 text in the language (a header, then functions, classes or
    /// sections), exactly the size asked for and ending in a newline (unless empty).
    pub bytes: Vec<u8>,
}

/// Keeps samples' random choices apart from the seeding's, which use the same [`mix`].
const SAMPLE_SALT: u64 = 0x5a4d_706c_6546_696c;

impl SampleGenerator {
    /// A generator whose files draw on the vocabulary of `seed`: the same seed as
    /// [`crate::SeedOptions::seed`] gives the identifiers of those repositories.
    pub fn new(seed: u64) -> SampleGenerator {
        SampleGenerator {
            vocab: Vocab::new(seed),
        }
    }

    /// File `seed`, exactly `size` bytes long. Mostly source in one of nine languages,
    /// sometimes documentation (Markdown), configuration (YAML) or a shell script, in the
    /// proportions of a seeded repository. The same seed and size give the same file.
    pub fn generate(&self, seed: u64, size: u64) -> SampleFile {
        let mut rng = Rng::with_seed(mix(seed, SAMPLE_SALT));
        let component = CODE_LANGS[rng.usize(..CODE_LANGS.len())];
        let base = component_dir(&self.vocab, &mut rng, component);
        let (lang, path) = source_file(&self.vocab, &mut rng, component, &base);
        let bytes = Renderer::new(&self.vocab)
            .render(&Kind::Text(lang), rng.u64(..), &[0], size)
            .to_vec();
        SampleFile {
            path,
            language: lang.name(),
            extension: lang.extension(),
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn samples_are_deterministic_text_of_the_size_asked_for() {
        let generator = SampleGenerator::new(42);
        let again = SampleGenerator::new(42);
        for seed in 0..200 {
            let size = 1 + seed * 37;
            let file = generator.generate(seed, size);
            assert_eq!(file.bytes.len() as u64, size, "{}", file.path);
            let text = std::str::from_utf8(&file.bytes).expect("UTF-8");
            assert!(text.ends_with('\n'), "{}", file.path);
            assert_eq!(
                file.path.rsplit_once('.').map(|(_, ext)| ext),
                Some(file.extension)
            );
            assert_eq!(file, again.generate(seed, size));
        }
        assert_ne!(generator.generate(1, 500), generator.generate(2, 500));
        assert_ne!(
            generator.generate(1, 500),
            SampleGenerator::new(43).generate(1, 500)
        );
        assert!(generator.generate(3, 0).bytes.is_empty());
    }

    #[test]
    fn samples_cover_every_language() {
        let generator = SampleGenerator::new(42);
        let languages: BTreeSet<&str> = (0..2000)
            .map(|seed| generator.generate(seed, 64).language)
            .collect();
        assert_eq!(
            languages.into_iter().collect::<Vec<_>>(),
            [
                "c",
                "c++",
                "go",
                "java",
                "javascript",
                "markdown",
                "python",
                "ruby",
                "rust",
                "shell",
                "tsx",
                "typescript",
                "yaml"
            ]
        );
    }
}
