//! What a repository holds and how its history goes, decided before any content is
//! written: paths, kinds and sizes of files, and which commit adds, modifies, renames or
//! deletes each one. A plan is cheap (no content) and a pure function of its [`Recipe`],
//! so a fork's plan can be made without regenerating its origin.

use std::collections::HashSet;

use fastrand::Rng;
use serde::{Deserialize, Serialize};

use crate::content::{BinaryFormat, DataFormat, Kind, Lang};
use crate::vocab::{Ident, Vocab, mix};

/// Bumped whenever the generator's output changes, so that repositories made by an older
/// generator are regenerated rather than reused.
pub(crate) const GENERATOR_VERSION: u32 = 1;

/// Text files below this many bytes per file on average are refused (see
/// [`crate::SeedOptions`]).
pub(crate) const MIN_BYTES_PER_FILE: u64 = 256;

/// The smallest `--files` that holds the special files and some source.
pub(crate) const MIN_FILES: usize = 8;

const MIB: u64 = 1024 * 1024;

/// Everything a repository's content depends on. Stored in its marker file: the same
/// recipe means the same repository, commit for commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Recipe {
    /// [`GENERATOR_VERSION`] of the generator that made it.
    pub generator: u32,
    pub seed: u64,
    /// The origin repository's number (1-based).
    pub origin: usize,
    pub files: usize,
    pub size: u64,
    pub history: usize,
    /// For a fork, its number among the origin's forks (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<usize>,
}

/// An author or committer.
#[derive(Debug)]
pub(crate) struct Person {
    pub name: &'static str,
    pub email: &'static str,
    pub tz: &'static str,
}

/// The people who write the origin repositories' history.
const TEAM: [Person; 3] = [
    Person {
        name: "Alice Example",
        email: "alice@example.com",
        tz: "+0100",
    },
    Person {
        name: "Bob Example",
        email: "bob@example.com",
        tz: "-0500",
    },
    Person {
        name: "Carol Example",
        email: "carol@example.com",
        tz: "+0530",
    },
];

/// The people who write forks' extra commits.
const CONTRIBUTORS: [Person; 2] = [
    Person {
        name: "Dave Contributor",
        email: "dave@example.org",
        tz: "+0000",
    },
    Person {
        name: "Erin Contributor",
        email: "erin@example.org",
        tz: "+0900",
    },
];

/// One commit's metadata.
#[derive(Debug, Clone)]
pub(crate) struct CommitMeta {
    pub message: String,
    pub author: &'static Person,
    pub committer: &'static Person,
    /// Seconds since the epoch (author and committer time).
    pub time: i64,
    /// Seeds the content edits this commit makes.
    pub salt: u64,
}

/// One file over its whole life.
#[derive(Debug, Clone)]
pub(crate) struct PlannedFile {
    pub kind: Kind,
    pub seed: u64,
    /// The path at head (for a deleted file: its only path).
    pub path: String,
    /// The path before [`PlannedFile::renamed_in`].
    pub old_path: Option<String>,
    /// The size of the version the origin's head holds.
    pub size: u64,
    pub added_in: usize,
    /// Commits that change the content, ascending.
    pub modified_in: Vec<usize>,
    pub renamed_in: Option<usize>,
    pub deleted_in: Option<usize>,
}

/// A change in one commit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'p> {
    /// Remove the path.
    Delete(&'p str),
    /// Write file `file`'s content at commit `commit` to the path.
    Write { file: usize, path: &'p str },
}

/// A directory of the repository in one language, where most of its files go.
#[derive(Debug, Clone)]
struct Component {
    lang: Lang,
    base: String,
}

/// The languages components are written in; the first components take one each, so every
/// repository with enough files has them all.
pub(crate) const CODE_LANGS: [Lang; 9] = [
    Lang::Rust,
    Lang::Go,
    Lang::Python,
    Lang::TypeScript,
    Lang::JavaScript,
    Lang::Java,
    Lang::C,
    Lang::Cpp,
    Lang::Ruby,
];

/// A repository's files and commits.
#[derive(Debug, Clone)]
pub(crate) struct RepoPlan {
    pub files: Vec<PlannedFile>,
    pub commits: Vec<CommitMeta>,
    /// How many of the commits are the origin's (the rest are a fork's).
    origin_commits: usize,
    components: Vec<Component>,
    /// Every path any file ever had.
    paths: HashSet<String>,
}

impl RepoPlan {
    /// The plan of origin repository `recipe.origin`. The recipe's options must be valid
    /// (see [`crate::SeedOptions`]).
    pub fn origin(vocab: &Vocab, recipe: &Recipe) -> RepoPlan {
        let mut rng = Rng::with_seed(mix(recipe.seed, recipe.origin as u64));
        let files = recipe.files as u64;
        let size = recipe.size;
        let avg = size / files;
        let mut plan = RepoPlan {
            files: Vec::new(),
            commits: Vec::new(),
            origin_commits: recipe.history,
            components: Vec::new(),
            paths: HashSet::new(),
        };

        // The special files, all added by the first commit and never renamed or deleted.
        let readme = avg.clamp(MIN_BYTES_PER_FILE, 16 * 1024);
        plan.add(
            &mut rng,
            Kind::Text(Lang::Markdown),
            "README.md".into(),
            readme,
        );
        let target = "../README.md".to_owned();
        let link = target.len() as u64;
        plan.add(
            &mut rng,
            Kind::Symlink(target),
            "docs/README.md".into(),
            link,
        );
        let name = format!("docs/legacy/{}-latin1.txt", pick(vocab, &mut rng).kebab);
        let latin1 = avg.clamp(MIN_BYTES_PER_FILE, 4096);
        plan.add(&mut rng, Kind::Latin1, name, latin1);
        let binaries = (recipe.files / 50).clamp(1, 12);
        for _ in 0..binaries {
            let format = BinaryFormat::ALL[rng.usize(..BinaryFormat::ALL.len())];
            let (dir, name) = (pick(vocab, &mut rng), pick(vocab, &mut rng));
            let path = format!("assets/{}/{}.{}", dir.kebab, name.kebab, format.extension());
            let bytes = (avg * rng.u64(50..=150) / 100).clamp(MIN_BYTES_PER_FILE, 64 * 1024);
            plan.add(&mut rng, Kind::Binary(format), path, bytes);
        }
        let mut specials: u64 = plan.files.iter().map(|f| f.size).sum();
        let sources = recipe.files - plan.files.len();
        // Over-size files when they leave enough room for the rest.
        let big = if size >= 4 * MIB {
            1 + usize::from(size >= 64 * MIB) + usize::from(size >= 512 * MIB)
        } else {
            0
        };
        let big_sizes: Vec<u64> = (0..big)
            .map(|_| (size / 16).clamp(MIB + MIB / 4, 24 * MIB) * rng.u64(100..=125) / 100)
            .collect();
        let big_total: u64 = big_sizes.iter().sum();
        let sources = if size.saturating_sub(specials + big_total) >= 32 * (sources - big) as u64 {
            for bytes in big_sizes {
                let format = [DataFormat::Log, DataFormat::Csv, DataFormat::Jsonl][rng.usize(..3)];
                let (dir, name) = (pick(vocab, &mut rng), pick(vocab, &mut rng));
                let path = format!("data/{}/{}.{}", dir.kebab, name.snake, format.extension());
                plan.add(&mut rng, Kind::Data(format), path, bytes);
            }
            specials += big_total;
            sources - big
        } else {
            sources
        };

        // Source files: sizes from a skewed distribution (many small, some large) that add
        // up to exactly what is left.
        let components = (sources / 25).clamp(CODE_LANGS.len(), 400);
        for i in 0..components {
            let lang = if i < CODE_LANGS.len() {
                CODE_LANGS[(i + recipe.origin) % CODE_LANGS.len()]
            } else {
                CODE_LANGS[rng.usize(..CODE_LANGS.len())]
            };
            let base = plan.component_base(vocab, &mut rng, lang);
            plan.components.push(Component { lang, base });
        }
        let remaining = size.saturating_sub(specials);
        let weights: Vec<u64> = (0..sources)
            .map(|_| {
                let u = rng.u64(..1000);
                150 + u * u * 3 / 1000
            })
            .collect();
        let total_weight: u64 = weights.iter().sum();
        let spread = remaining - 32 * sources as u64;
        let mut assigned = 0;
        let first_source = plan.files.len();
        for (i, weight) in weights.iter().enumerate() {
            let mut bytes = 32
                + u64::try_from(
                    u128::from(spread) * u128::from(*weight) / u128::from(total_weight),
                )
                .expect("fits");
            if i + 1 == sources {
                bytes = remaining - assigned;
            }
            assigned += bytes;
            let component = rng.usize(..plan.components.len());
            let (kind, path) = plan.source_path(vocab, &mut rng, component);
            plan.add(&mut rng, kind, path, bytes);
        }

        plan.commits.push(CommitMeta {
            message: String::new(),
            author: &TEAM[0],
            committer: &TEAM[0],
            time: 1_577_836_800 // 2020-01-01
                + i64::try_from(mix(recipe.seed, 0x7153) % (3 * 365 * 86_400)).expect("fits")
                + recipe.origin as i64 * 7 * 86_400,
            salt: 0,
        });
        plan.commits[0].message = {
            let mut m = String::from("Initial import\n\n");
            vocab.sentence(&mut rng, &[], (8, 20), &mut m);
            m.push_str(".\n");
            m
        };

        // Later commits: some source files arrive late, and each commit modifies, renames
        // and deletes a few.
        let history = recipe.history;
        if history > 1 {
            let adds_per_commit = (recipe.files / 100).max(1);
            let late = (sources / 3).min((history - 1) * adds_per_commit);
            let mut order: Vec<usize> = (first_source..first_source + sources).collect();
            rng.shuffle(&mut order);
            for (i, &file) in order.iter().take(late).enumerate() {
                plan.files[file].added_in = 1 + i % (history - 1);
            }
        }
        let source_range = first_source..first_source + sources;
        for k in 1..history {
            let mut changes = Changes::default();
            let renames = (recipe.files / 200).max(1);
            for _ in 0..renames * 4 {
                if changes.renamed.len() == renames {
                    break;
                }
                let file = rng.usize(source_range.clone());
                let f = &plan.files[file];
                if f.added_in < k && f.renamed_in.is_none() {
                    let Kind::Text(lang) = f.kind else { continue };
                    let dir = match f.path.rsplit_once('/') {
                        Some((dir, _)) => dir.to_owned(),
                        None => String::new(),
                    };
                    let new = plan.unique(&file_path(&dir, lang, pick(vocab, &mut rng)));
                    let f = &mut plan.files[file];
                    changes.renamed.push((f.path.clone(), new.clone()));
                    f.old_path = Some(std::mem::replace(&mut f.path, new));
                    f.renamed_in = Some(k);
                }
            }
            plan.modify(&mut rng, k, (recipe.files / 25).max(1), &mut changes);
            for _ in 0..(recipe.files / 200).max(1) {
                let component = rng.usize(..plan.components.len());
                let (kind, path) = plan.source_path(vocab, &mut rng, component);
                let bytes = (avg * rng.u64(50..=150) / 100).clamp(64, 64 * 1024);
                changes.deleted.push(path.clone());
                let file = plan.add(&mut rng, kind, path, bytes);
                plan.files[file].added_in = rng.usize(..k);
                plan.files[file].deleted_in = Some(k);
            }
            let author = &TEAM[rng.usize(..TEAM.len())];
            let time = plan.commits[k - 1].time + rng.i64(3600..=3 * 86_400);
            let message = changes.message(vocab, &mut rng);
            plan.commits.push(CommitMeta {
                message,
                author,
                committer: if rng.u8(..4) == 0 { &TEAM[0] } else { author },
                time,
                salt: k as u64,
            });
        }
        plan
    }

    /// This plan extended by fork `fork`'s extra commits (one to three): each modifies a
    /// few files and adds one.
    pub fn fork(&self, vocab: &Vocab, seed: u64, origin: usize, fork: usize) -> RepoPlan {
        let mut plan = self.clone();
        let mut rng = Rng::with_seed(mix(mix(seed, origin as u64), 0xf0f0 + fork as u64));
        let head_files = plan.head_files();
        for _ in 0..rng.usize(1..=3) {
            let k = plan.commits.len();
            let mut changes = Changes::default();
            plan.modify(&mut rng, k, (head_files / 50).max(1), &mut changes);
            let component = rng.usize(..plan.components.len());
            let (kind, path) = plan.source_path(vocab, &mut rng, component);
            let bytes = rng.u64(512..8192);
            changes.added.push(path.clone());
            let file = plan.add(&mut rng, kind, path, bytes);
            plan.files[file].added_in = k;
            let author = &CONTRIBUTORS[rng.usize(..CONTRIBUTORS.len())];
            let time = plan.commits[k - 1].time + rng.i64(3600..=86_400);
            let message = changes.message(vocab, &mut rng);
            plan.commits.push(CommitMeta {
                message,
                author,
                committer: author,
                time,
                salt: ((fork as u64) << 32) | k as u64,
            });
        }
        plan
    }

    /// Marks up to `count` editable files as modified in commit `k`.
    fn modify(&mut self, rng: &mut Rng, k: usize, count: usize, changes: &mut Changes) {
        let mut done = 0;
        for _ in 0..count * 4 {
            if done == count {
                break;
            }
            let file = rng.usize(..self.files.len());
            let f = &mut self.files[file];
            if f.kind.is_editable()
                && f.added_in < k
                && f.deleted_in.is_none()
                && f.renamed_in != Some(k)
                && f.modified_in.last() != Some(&k)
            {
                f.modified_in.push(k);
                changes.modified.push(f.path.clone());
                done += 1;
            }
        }
    }

    /// Adds a file (in the first commit) and returns its index.
    fn add(&mut self, rng: &mut Rng, kind: Kind, path: String, size: u64) -> usize {
        let path = self.unique(&path);
        self.files.push(PlannedFile {
            kind,
            seed: rng.u64(..),
            path,
            old_path: None,
            size,
            added_in: 0,
            modified_in: Vec::new(),
            renamed_in: None,
            deleted_in: None,
        });
        self.files.len() - 1
    }

    /// `path`, or `path` with `-2`, `-3`… before its extension if it was used before.
    fn unique(&mut self, path: &str) -> String {
        let mut candidate = path.to_owned();
        let (stem, ext) = match path.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') && !stem.ends_with('/') => {
                (stem, format!(".{ext}"))
            }
            _ => (path, String::new()),
        };
        let mut n = 2;
        while self.paths.contains(&candidate) {
            candidate = format!("{stem}-{n}{ext}");
            n += 1;
        }
        self.paths.insert(candidate.clone());
        candidate
    }

    fn component_base(&mut self, vocab: &Vocab, rng: &mut Rng, lang: Lang) -> String {
        let base = component_dir(vocab, rng, lang);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.components.iter().any(|c| c.base == candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        candidate
    }

    /// A new path (not yet reserved) and kind for a source file of `component`: mostly its
    /// language, sometimes documentation, configuration or a script.
    fn source_path(&self, vocab: &Vocab, rng: &mut Rng, component: usize) -> (Kind, String) {
        let Component { lang, base } = &self.components[component];
        let (lang, path) = source_file(vocab, rng, *lang, base);
        (Kind::Text(lang), path)
    }

    /// The changes of commit `k`, deletions first.
    pub fn ops(&self, k: usize) -> Vec<Op<'_>> {
        let mut deletes = Vec::new();
        let mut writes = Vec::new();
        for (i, f) in self.files.iter().enumerate() {
            if f.deleted_in == Some(k) {
                deletes.push(Op::Delete(&f.path));
            }
            if f.renamed_in == Some(k) {
                deletes.push(Op::Delete(f.old_path.as_deref().expect("renamed")));
                writes.push(Op::Write {
                    file: i,
                    path: &f.path,
                });
            } else if f.added_in == k || f.modified_in.contains(&k) {
                writes.push(Op::Write {
                    file: i,
                    path: self.path_at(i, k),
                });
            }
        }
        deletes.extend(writes);
        deletes
    }

    /// File `file`'s path at commit `k`.
    fn path_at(&self, file: usize, k: usize) -> &str {
        let f = &self.files[file];
        match (&f.old_path, f.renamed_in) {
            (Some(old), Some(renamed)) if k < renamed => old,
            _ => &f.path,
        }
    }

    /// The salts of the versions file `file` has gone through by commit `k`: the commit
    /// that added it, then each that modified it.
    pub fn versions(&self, file: usize, k: usize) -> Vec<u64> {
        let f = &self.files[file];
        std::iter::once(f.added_in)
            .chain(f.modified_in.iter().copied().filter(|&j| j <= k))
            .map(|j| self.commits[j].salt)
            .collect()
    }

    /// File `file`'s size at commit `k`: its planned size at the origin's head, otherwise
    /// within ±20 % of it.
    pub fn size_at(&self, file: usize, k: usize) -> u64 {
        let f = &self.files[file];
        let edits = f.modified_in.iter().filter(|&&j| j <= k).count();
        let origin_edits = f
            .modified_in
            .iter()
            .filter(|&&j| j < self.origin_commits)
            .count();
        if edits == origin_edits {
            f.size
        } else {
            (f.size * (80 + mix(f.seed, edits as u64) % 41) / 100).max(1)
        }
    }

    /// Files at the last commit.
    pub fn head_files(&self) -> usize {
        self.files.iter().filter(|f| f.deleted_in.is_none()).count()
    }

    /// Bytes of content at the last commit.
    pub fn head_bytes(&self) -> u64 {
        let last = self.commits.len() - 1;
        (0..self.files.len())
            .filter(|&i| self.files[i].deleted_in.is_none())
            .map(|i| self.size_at(i, last))
            .sum()
    }

    /// Bytes of content written by commits `commits`.
    pub fn written_bytes(&self, commits: std::ops::Range<usize>) -> u64 {
        commits
            .flat_map(|k| {
                self.ops(k).into_iter().filter_map(move |op| match op {
                    Op::Write { file, .. } => Some(self.size_at(file, k)),
                    Op::Delete(_) => None,
                })
            })
            .sum()
    }

    /// How many of the commits belong to the origin.
    pub fn origin_commits(&self) -> usize {
        self.origin_commits
    }
}

/// What a later commit did, for its message.
#[derive(Default)]
struct Changes {
    modified: Vec<String>,
    renamed: Vec<(String, String)>,
    added: Vec<String>,
    deleted: Vec<String>,
}

impl Changes {
    fn message(&self, vocab: &Vocab, rng: &mut Rng) -> String {
        let mut m = String::new();
        let verb = Vocab::verb(rng);
        let subject = vocab.ident_at(vocab.pick(rng));
        m.push_str(&verb[..1].to_ascii_uppercase());
        m.push_str(&verb[1..]);
        m.push(' ');
        m.push_str(&subject.kebab);
        m.push_str(": ");
        vocab.sentence(rng, &[], (3, 8), &mut m);
        m.push_str("\n\n");
        vocab.sentence(rng, &[], (8, 20), &mut m);
        m.push_str(".\n");
        let lists: [(&str, Vec<&str>); 3] = [
            (
                "Changes",
                self.modified.iter().map(String::as_str).collect(),
            ),
            ("Adds", self.added.iter().map(String::as_str).collect()),
            ("Removes", self.deleted.iter().map(String::as_str).collect()),
        ];
        for (title, paths) in lists {
            if !paths.is_empty() {
                m.push_str(&format!("\n{title} {}", paths[0]));
                if paths.len() > 1 {
                    m.push_str(&format!(" and {} more", paths.len() - 1));
                }
                m.push_str(".\n");
            }
        }
        for (old, new) in &self.renamed {
            m.push_str(&format!("\nRenames {old} to {new}.\n"));
        }
        m
    }
}

/// `<top>/<name>`: the directory of a component in `lang` (not yet made unique).
pub(crate) fn component_dir(vocab: &Vocab, rng: &mut Rng, lang: Lang) -> String {
    let tops: &[&str] = match lang {
        Lang::Rust => &["crates", "rust"],
        Lang::Go => &["services", "cmd", "go"],
        Lang::Python => &["python", "ml", "tools"],
        Lang::TypeScript | Lang::Tsx => &["web", "packages", "frontend"],
        Lang::JavaScript => &["web", "js", "extensions"],
        Lang::Java => &["java", "jvm"],
        Lang::C | Lang::CHeader | Lang::Cpp | Lang::CppHeader => &["native", "vendor"],
        _ => &["ruby", "gems"],
    };
    let top = tops[rng.usize(..tops.len())];
    format!("{top}/{}", pick(vocab, rng).kebab)
}

/// The language and path of a new file in a component of language `component` under
/// `base`: mostly that language, sometimes documentation, configuration or a script.
pub(crate) fn source_file(
    vocab: &Vocab,
    rng: &mut Rng,
    component: Lang,
    base: &str,
) -> (Lang, String) {
    let lang = match rng.u8(..100) {
        0..=7 => Lang::Markdown,
        8..=13 => Lang::Yaml,
        14..=17 => Lang::Shell,
        _ => match (component, rng.u8(..10)) {
            (Lang::C, 0..=3) => Lang::CHeader,
            (Lang::Cpp, 0..=3) => Lang::CppHeader,
            (Lang::TypeScript, 0..=2) => Lang::Tsx,
            (lang, _) => lang,
        },
    };
    let sub = pick(vocab, rng);
    let dir = match lang {
        Lang::Rust if rng.u8(..10) == 0 => format!("{base}/tests"),
        Lang::Rust if rng.bool() => format!("{base}/src/{}", sub.snake),
        Lang::Rust => format!("{base}/src"),
        Lang::Go if rng.u8(..3) == 0 => format!("{base}/internal/{}", sub.flat),
        Lang::Go => format!("{base}/{}", sub.flat),
        Lang::Python if rng.u8(..8) == 0 => format!("{base}/tests"),
        Lang::Python => format!("{base}/{}", sub.snake),
        Lang::TypeScript | Lang::Tsx | Lang::JavaScript if rng.bool() => {
            format!("{base}/src/{}", sub.kebab)
        }
        Lang::TypeScript | Lang::Tsx | Lang::JavaScript => format!("{base}/src/components"),
        Lang::Java => format!("{base}/src/{}", sub.flat),
        Lang::C | Lang::Cpp => format!("{base}/src"),
        Lang::CHeader | Lang::CppHeader => format!("{base}/include"),
        Lang::Ruby if rng.u8(..6) == 0 => format!("{base}/spec"),
        Lang::Ruby => format!("{base}/lib/{}", sub.snake),
        Lang::Markdown => format!("{base}/docs"),
        Lang::Yaml if rng.u8(..5) == 0 => ".github/workflows".to_owned(),
        Lang::Yaml => format!("{base}/config"),
        Lang::Shell => format!("{base}/scripts"),
    };
    (lang, file_path(&dir, lang, pick(vocab, rng)))
}

fn pick<'v>(vocab: &'v Vocab, rng: &mut Rng) -> &'v Ident {
    vocab.ident_at(vocab.pick(rng))
}

/// `dir/<name>.<ext>` with the name in the language's file-name convention.
fn file_path(dir: &str, lang: Lang, ident: &Ident) -> String {
    let name = match lang {
        Lang::Rust
        | Lang::Go
        | Lang::Python
        | Lang::C
        | Lang::CHeader
        | Lang::Cpp
        | Lang::CppHeader
        | Lang::Ruby => &ident.snake,
        Lang::TypeScript | Lang::JavaScript => &ident.camel,
        Lang::Tsx | Lang::Java => &ident.pascal,
        Lang::Markdown | Lang::Yaml | Lang::Shell => &ident.kebab,
    };
    let ext = lang.extension();
    if dir.is_empty() {
        format!("{name}.{ext}")
    } else {
        format!("{dir}/{name}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(files: usize, size: u64, history: usize) -> Recipe {
        Recipe {
            generator: GENERATOR_VERSION,
            seed: 42,
            origin: 1,
            files,
            size,
            history,
            fork: None,
        }
    }

    #[test]
    fn the_head_has_the_requested_files_and_bytes() {
        let vocab = Vocab::new(42);
        for (files, size, history) in [(8, 8 * 256, 1), (200, 2 * MIB, 5), (40, 5 * MIB, 3)] {
            let plan = RepoPlan::origin(&vocab, &recipe(files, size, history));
            assert_eq!(plan.head_files(), files);
            assert_eq!(plan.head_bytes(), size);
            assert_eq!(plan.commits.len(), history);
            let paths: HashSet<&str> = plan
                .files
                .iter()
                .filter(|f| f.deleted_in.is_none())
                .map(|f| f.path.as_str())
                .collect();
            assert_eq!(paths.len(), files, "head paths are unique");
            let big = plan.files.iter().filter(|f| f.size > MIB).count();
            assert_eq!(big > 0, size >= 4 * MIB, "{files} {size}");
        }
    }

    #[test]
    fn later_commits_modify_rename_and_delete() {
        let vocab = Vocab::new(42);
        let plan = RepoPlan::origin(&vocab, &recipe(200, 2 * MIB, 4));
        for k in 1..4 {
            let ops = plan.ops(k);
            assert!(ops.iter().any(|op| matches!(op, Op::Delete(_))), "{k}");
            assert!(ops.iter().any(|op| matches!(op, Op::Write { .. })), "{k}");
        }
        assert!(plan.files.iter().any(|f| f.renamed_in.is_some()));
        let fork = plan.fork(&vocab, 42, 1, 1);
        assert!(fork.commits.len() > plan.commits.len());
        assert_eq!(fork.origin_commits(), 4);
    }
}
