//! File contents: source in several languages, prose, configuration, logs and data,
//! binaries, a Latin-1 text and symlink targets — each of an exact size, deterministic
//! from a file's seed and its version history.
//!
//! A text file is a header (seeded by the file alone) followed by blocks (functions,
//! classes, sections). Block `i` is seeded by the file, `i` and the latest version that
//! edited it: every version edits the first block and about one block in five, so a
//! modified file keeps most of its lines, as real edits do.

use std::fmt::Write as _;

use fastrand::Rng;

use crate::vocab::{Ident, Vocab, mix};

/// A text file's language (or format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Rust,
    Go,
    Python,
    TypeScript,
    Tsx,
    JavaScript,
    Java,
    C,
    CHeader,
    Cpp,
    CppHeader,
    Ruby,
    Markdown,
    Yaml,
    Shell,
}

impl Lang {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Lang::Rust => "rs",
            Lang::Go => "go",
            Lang::Python => "py",
            Lang::TypeScript => "ts",
            Lang::Tsx => "tsx",
            Lang::JavaScript => "js",
            Lang::Java => "java",
            Lang::C => "c",
            Lang::CHeader => "h",
            Lang::Cpp => "cc",
            Lang::CppHeader => "hpp",
            Lang::Ruby => "rb",
            Lang::Markdown => "md",
            Lang::Yaml => "yaml",
            Lang::Shell => "sh",
        }
    }

    /// The language's name as linguist spells it, lowercase (as trawl's documents carry
    /// it): headers count as their language.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Go => "go",
            Lang::Python => "python",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::JavaScript => "javascript",
            Lang::Java => "java",
            Lang::C | Lang::CHeader => "c",
            Lang::Cpp | Lang::CppHeader => "c++",
            Lang::Ruby => "ruby",
            Lang::Markdown => "markdown",
            Lang::Yaml => "yaml",
            Lang::Shell => "shell",
        }
    }
}

/// The format of a generated over-size data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataFormat {
    Log,
    Csv,
    Jsonl,
}

impl DataFormat {
    pub fn extension(self) -> &'static str {
        match self {
            DataFormat::Log => "log",
            DataFormat::Csv => "csv",
            DataFormat::Jsonl => "jsonl",
        }
    }
}

/// The format of a binary file (its magic bytes; the rest is noise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryFormat {
    Png,
    Jpeg,
    Woff2,
    Gzip,
    Bin,
}

impl BinaryFormat {
    pub const ALL: [BinaryFormat; 5] = [
        BinaryFormat::Png,
        BinaryFormat::Jpeg,
        BinaryFormat::Woff2,
        BinaryFormat::Gzip,
        BinaryFormat::Bin,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            BinaryFormat::Png => "png",
            BinaryFormat::Jpeg => "jpg",
            BinaryFormat::Woff2 => "woff2",
            BinaryFormat::Gzip => "gz",
            BinaryFormat::Bin => "bin",
        }
    }

    /// Leading bytes; every one holds a NUL within the first 8000 bytes, as git's binary
    /// heuristic (and trawl's) expects of a binary.
    fn magic(self) -> &'static [u8] {
        match self {
            BinaryFormat::Png => b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0",
            BinaryFormat::Jpeg => b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0",
            BinaryFormat::Woff2 => b"wOF2\0\x01\0\0",
            BinaryFormat::Gzip => b"\x1f\x8b\x08\0\0\0\0\0\0\x03",
            BinaryFormat::Bin => b"TRWL\0\0\0\x01",
        }
    }
}

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Source, prose or configuration in a language.
    Text(Lang),
    /// Bytes with NULs.
    Binary(BinaryFormat),
    /// A generated log or data file, larger than the indexer's 1 MiB limit.
    Data(DataFormat),
    /// Western European prose encoded as ISO-8859-1 (not valid UTF-8).
    Latin1,
    /// A symbolic link to this target path.
    Symlink(String),
}

impl Kind {
    /// Whether the file's content changes between versions (only text does).
    pub fn is_editable(&self) -> bool {
        matches!(self, Kind::Text(_))
    }

    /// The git file mode.
    pub fn mode(&self) -> &'static str {
        match self {
            Kind::Text(Lang::Shell) => "100755",
            Kind::Symlink(_) => "120000",
            _ => "100644",
        }
    }
}

/// Renders file contents into reused buffers.
pub(crate) struct Renderer<'v> {
    vocab: &'v Vocab,
    text: String,
    bytes: Vec<u8>,
}

impl<'v> Renderer<'v> {
    pub fn new(vocab: &'v Vocab) -> Self {
        Renderer {
            vocab,
            text: String::new(),
            bytes: Vec::new(),
        }
    }

    /// The content of a file of `kind` with `seed`, after the edits named by `versions`
    /// (the first is the version that created it), exactly `size` bytes long.
    pub fn render(&mut self, kind: &Kind, seed: u64, versions: &[u64], size: u64) -> &[u8] {
        let size = usize::try_from(size).expect("file sizes fit in memory");
        match kind {
            Kind::Text(lang) => {
                self.text.clear();
                let mut text = Text::new(self.vocab, &mut self.text, seed);
                text.header(*lang);
                let mut block = 0u64;
                while text.out.len() < size {
                    text.rng = Rng::with_seed(mix(seed, block_salt(seed, block, versions)));
                    text.block(*lang);
                    block += 1;
                }
                fit_text(&mut self.text, size);
                self.text.as_bytes()
            }
            Kind::Data(format) => {
                self.text.clear();
                let mut text = Text::new(self.vocab, &mut self.text, seed);
                text.data(*format, size);
                fit_text(&mut self.text, size);
                self.text.as_bytes()
            }
            Kind::Latin1 => {
                self.text.clear();
                let mut text = Text::new(self.vocab, &mut self.text, seed);
                text.latin1(size);
                self.bytes.clear();
                // Every character of the text is below U+0100: one Latin-1 byte each.
                self.bytes
                    .extend(self.text.chars().map(|c| u8::try_from(c).unwrap_or(b'?')));
                self.bytes.truncate(size.saturating_sub(1));
                if size > 0 {
                    self.bytes.push(b'\n');
                }
                &self.bytes
            }
            Kind::Binary(format) => {
                let mut rng = Rng::with_seed(seed);
                self.bytes.clear();
                self.bytes.extend_from_slice(format.magic());
                self.bytes.resize(size.max(self.bytes.len()), 0);
                let magic = format.magic().len().min(size);
                rng.fill(&mut self.bytes[magic..]);
                self.bytes.truncate(size);
                &self.bytes
            }
            Kind::Symlink(target) => {
                self.bytes.clear();
                self.bytes.extend_from_slice(target.as_bytes());
                &self.bytes
            }
        }
    }
}

/// The salt of block `block`: the latest version that edited it. Every version edits the
/// first block; each later one about one block in five.
fn block_salt(seed: u64, block: u64, versions: &[u64]) -> u64 {
    let (first, edits) = versions.split_first().expect("a file has a first version");
    edits
        .iter()
        .rev()
        .find(|&&v| block == 0 || mix(mix(seed, block), v).is_multiple_of(5))
        .map_or(*first, |&v| v ^ 0x5eed_0000_0000)
        ^ block.rotate_left(32)
}

/// Cuts `text` to exactly `size` bytes ending in a newline, on a character boundary
/// (padding with spaces where a multi-byte character had to go).
fn fit_text(text: &mut String, size: usize) {
    if size == 0 {
        text.clear();
        return;
    }
    let mut cut = text.len().min(size - 1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    while text.len() < size - 1 {
        text.push(' ');
    }
    text.push('\n');
}

/// Writes text: the file's own identifiers, numbers, strings and prose.
struct Text<'a> {
    vocab: &'a Vocab,
    out: &'a mut String,
    rng: Rng,
    /// The identifiers this file mostly talks about (indices into the vocabulary).
    local: Vec<usize>,
}

/// Casings by role.
#[derive(Clone, Copy)]
enum Case {
    Snake,
    Camel,
    Pascal,
}

fn cased(ident: &Ident, case: Case) -> &str {
    match case {
        Case::Snake => &ident.snake,
        Case::Camel => &ident.camel,
        Case::Pascal => &ident.pascal,
    }
}

impl Lang {
    /// How variables and fields are written.
    fn var_case(self) -> Case {
        match self {
            Lang::Go | Lang::TypeScript | Lang::Tsx | Lang::JavaScript | Lang::Java => Case::Camel,
            _ => Case::Snake,
        }
    }

    /// How functions are written.
    fn fn_case(self) -> Case {
        match self {
            Lang::Go => Case::Pascal,
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript | Lang::Java | Lang::Cpp => Case::Camel,
            Lang::CppHeader => Case::Camel,
            _ => Case::Snake,
        }
    }

    fn line_comment(self) -> &'static str {
        match self {
            Lang::Python | Lang::Ruby | Lang::Yaml | Lang::Shell => "#",
            _ => "//",
        }
    }
}

impl<'a> Text<'a> {
    fn new(vocab: &'a Vocab, out: &'a mut String, seed: u64) -> Self {
        let mut rng = Rng::with_seed(seed);
        let local = (0..rng.usize(10..=16))
            .map(|_| vocab.pick(&mut rng))
            .collect();
        Text {
            vocab,
            out,
            rng,
            local,
        }
    }

    /// An identifier: mostly one of the file's own, sometimes any from the pool.
    fn id(&mut self) -> &'a Ident {
        let vocab = self.vocab;
        if self.rng.u8(..4) == 0 {
            vocab.ident_at(vocab.pick(&mut self.rng))
        } else {
            vocab.ident_at(self.local[self.rng.usize(..self.local.len())])
        }
    }

    fn var(&mut self, lang: Lang) -> &'a str {
        cased(self.id(), lang.var_case())
    }

    fn func(&mut self, lang: Lang) -> &'a str {
        cased(self.id(), lang.fn_case())
    }

    fn ty(&mut self) -> &'a str {
        &self.id().pascal
    }

    fn constant(&mut self) -> &'a str {
        &self.id().screaming
    }

    fn sentence(&mut self, min: usize, max: usize) {
        let local = std::mem::take(&mut self.local);
        self.vocab
            .sentence(&mut self.rng, &local, (min, max), self.out);
        self.local = local;
    }

    fn paragraph(&mut self) {
        for i in 0..self.rng.usize(2..=5) {
            if i > 0 {
                self.out.push(' ');
            }
            self.sentence(6, 16);
            self.out.push('.');
        }
    }

    fn indent(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn comment(&mut self, lang: Lang, indent: usize) {
        self.indent(indent);
        self.out.push_str(lang.line_comment());
        self.out.push(' ');
        self.sentence(4, 12);
        self.out.push('\n');
    }

    fn number(&mut self) {
        let _ = match self.rng.u8(..10) {
            0..=4 => write!(self.out, "{}", self.rng.u32(0..100)),
            5..=6 => write!(self.out, "{}", self.rng.u32(100..100_000)),
            7 => write!(self.out, "0x{:04X}", self.rng.u32(..0x1_0000)),
            8 => write!(self.out, "{}_000", self.rng.u32(1..1000)),
            _ => write!(
                self.out,
                "{}.{:02}",
                self.rng.u32(0..100),
                self.rng.u32(0..100)
            ),
        };
    }

    fn string(&mut self, quote: char) {
        self.out.push(quote);
        self.sentence(2, 7);
        self.out.push(quote);
    }

    /// An expression in `lang`: a variable, a literal, a call or a field.
    fn expr(&mut self, lang: Lang) {
        match self.rng.u8(..10) {
            0..=2 => {
                let v = self.var(lang);
                self.out.push_str(v);
            }
            3..=4 => self.number(),
            5..=6 => {
                let quote = if matches!(lang, Lang::Python | Lang::Ruby) && self.rng.bool() {
                    '\''
                } else {
                    '"'
                };
                self.string(quote);
            }
            7..=8 => {
                let (f, a) = (self.func(lang), self.var(lang));
                let _ = write!(self.out, "{f}({a}, ");
                self.number();
                self.out.push(')');
            }
            _ => {
                let (a, b) = (self.var(lang), self.var(lang));
                let sep = if matches!(lang, Lang::C | Lang::CHeader) {
                    "->"
                } else {
                    "."
                };
                let _ = write!(self.out, "{a}{sep}{b}");
            }
        }
    }

    fn header(&mut self, lang: Lang) {
        match lang {
            Lang::Rust => {
                self.out.push_str("//! ");
                self.sentence(6, 14);
                self.out.push_str(".\n\n");
                for _ in 0..self.rng.usize(1..=4) {
                    let (a, b) = (self.id(), self.id());
                    let _ = writeln!(self.out, "use crate::{}::{};", a.snake, b.pascal);
                }
                self.out.push_str("use std::collections::HashMap;\n\n");
            }
            Lang::Go => {
                let pkg = &self.id().flat;
                let _ = write!(self.out, "// Package {pkg} ");
                self.sentence(4, 10);
                let _ = write!(
                    self.out,
                    ".\npackage {pkg}\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"log\"\n)\n\n"
                );
            }
            Lang::Python => {
                self.out.push_str("\"\"\"");
                self.sentence(5, 12);
                self.out.push_str(".\"\"\"\n\nimport logging\n");
                for _ in 0..self.rng.usize(1..=3) {
                    let (a, b) = (self.id(), self.id());
                    let _ = writeln!(self.out, "from .{} import {}", a.snake, b.pascal);
                }
                self.out
                    .push_str("\nlogger = logging.getLogger(__name__)\n\n");
            }
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript => {
                if lang == Lang::Tsx {
                    self.out.push_str("import React from \"react\";\n");
                }
                for _ in 0..self.rng.usize(1..=4) {
                    let (a, b) = (self.id(), self.id());
                    let _ = writeln!(self.out, "import {{ {} }} from \"./{}\";", a.camel, b.kebab);
                }
                self.out.push('\n');
            }
            Lang::Java => {
                let (a, b) = (self.id(), self.id());
                let _ = write!(
                    self.out,
                    "package com.example.{};\n\nimport java.util.List;\nimport java.util.Map;\nimport com.example.{}.{};\n\n/**\n * ",
                    a.flat, b.flat, b.pascal
                );
                self.sentence(5, 12);
                let class = self.ty();
                let _ = write!(
                    self.out,
                    ".\n */\npublic class {class} {{\n    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger({class}.class);\n\n"
                );
            }
            Lang::C | Lang::CHeader | Lang::Cpp | Lang::CppHeader => {
                self.out.push_str("/*\n * ");
                self.sentence(5, 12);
                self.out.push_str(".\n */\n");
                let guard = self.constant();
                if matches!(lang, Lang::CHeader | Lang::CppHeader) {
                    let _ = write!(self.out, "#ifndef {guard}_H\n#define {guard}_H\n\n");
                }
                if matches!(lang, Lang::Cpp | Lang::CppHeader) {
                    self.out
                        .push_str("#include <string>\n#include <vector>\n#include <memory>\n");
                } else {
                    self.out
                        .push_str("#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n");
                }
                let inc = self.id();
                let _ = writeln!(self.out, "#include \"{}.h\"\n", inc.snake);
                if matches!(lang, Lang::Cpp | Lang::CppHeader) {
                    let ns = self.id();
                    let _ = writeln!(self.out, "namespace {} {{\n", ns.snake);
                }
            }
            Lang::Ruby => {
                self.out.push_str("# frozen_string_literal: true\n\n");
                self.out.push_str("require \"json\"\n");
                let (m, c) = (self.ty(), self.ty());
                let _ = write!(self.out, "\nmodule {m}\n  # ");
                self.sentence(4, 10);
                let _ = write!(self.out, ".\n  class {c}\n");
            }
            Lang::Markdown => {
                let title = self.id();
                let _ = write!(self.out, "# {}\n\n", title.pascal);
                self.paragraph();
                self.out.push_str("\n\n");
            }
            Lang::Yaml => {
                self.out.push_str("# ");
                self.sentence(4, 10);
                let (name, app) = (self.id(), self.id());
                let _ = write!(
                    self.out,
                    "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  labels:\n    app: {}\n",
                    name.kebab, app.kebab
                );
            }
            Lang::Shell => {
                self.out.push_str("#!/usr/bin/env bash\n# ");
                self.sentence(4, 10);
                self.out.push_str(".\nset -euo pipefail\n\n");
                for _ in 0..self.rng.usize(1..=3) {
                    let (c, w) = (self.constant(), Vocab::noun(&mut self.rng));
                    let _ = writeln!(self.out, "{c}=\"${{{c}:-{w}}}\"");
                }
                self.out.push('\n');
            }
        }
    }

    fn block(&mut self, lang: Lang) {
        match lang {
            Lang::Rust => self.rust_block(),
            Lang::Go => self.go_block(),
            Lang::Python => self.python_block(),
            Lang::TypeScript | Lang::Tsx | Lang::JavaScript => self.js_block(lang),
            Lang::Java => self.java_block(),
            Lang::C | Lang::CHeader => self.c_block(lang),
            Lang::Cpp | Lang::CppHeader => self.cpp_block(lang),
            Lang::Ruby => self.ruby_block(),
            Lang::Markdown => self.markdown_block(),
            Lang::Yaml => self.yaml_block(),
            Lang::Shell => self.shell_block(),
        }
    }

    fn statements(&mut self, lang: Lang, indent: usize, stmt: fn(&mut Self, usize)) {
        for _ in 0..self.rng.usize(2..=9) {
            if self.rng.u8(..6) == 0 {
                self.comment(lang, indent);
            }
            stmt(self, indent);
        }
    }

    fn rust_block(&mut self) {
        match self.rng.u8(..10) {
            0..=5 => {
                self.out.push_str("/// ");
                self.sentence(5, 14);
                let (f, a, t, e) = (
                    self.func(Lang::Rust),
                    self.var(Lang::Rust),
                    self.ty(),
                    self.ty(),
                );
                let _ = writeln!(
                    self.out,
                    ".\npub fn {f}({a}: &{t}, limit: usize) -> Result<{t}, {e}Error> {{"
                );
                self.statements(Lang::Rust, 4, Self::rust_stmt);
                let v = self.var(Lang::Rust);
                let _ = write!(self.out, "    Ok({t}::from({v}))\n}}\n\n");
            }
            6..=7 => {
                self.out.push_str("/// ");
                self.sentence(5, 12);
                let t = self.ty();
                let _ = writeln!(
                    self.out,
                    ".\n#[derive(Debug, Clone, PartialEq)]\npub struct {t} {{"
                );
                for _ in 0..self.rng.usize(2..=6) {
                    let (f, ft) = (self.var(Lang::Rust), self.ty());
                    let _ = writeln!(self.out, "    pub {f}: Option<{ft}>,");
                }
                let _ = write!(
                    self.out,
                    "}}\n\nimpl {t} {{\n    pub fn new() -> Self {{\n        Self::default()\n    }}\n}}\n\n"
                );
            }
            8 => {
                let c = self.constant();
                let _ = write!(self.out, "pub const {c}: u64 = ");
                self.number();
                self.out.push_str(";\n\n");
            }
            _ => {
                let (t, f) = (self.ty(), self.func(Lang::Rust));
                let _ = write!(
                    self.out,
                    "#[cfg(test)]\nmod tests {{\n    use super::*;\n\n    #[test]\n    fn {f}_works() {{\n        let value = {t}::new();\n        assert_eq!(value, {t}::new(), "
                );
                self.string('"');
                self.out.push_str(");\n    }\n}\n\n");
            }
        }
    }

    fn rust_stmt(&mut self, indent: usize) {
        self.indent(indent);
        let l = Lang::Rust;
        match self.rng.u8(..8) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "let {v} = ");
                self.expr(l);
                self.out.push_str(";\n");
            }
            3 => {
                let (v, w, t) = (self.var(l), self.var(l), self.ty());
                let _ = write!(
                    self.out,
                    "if {v}.len() > limit {{\n{:indent$}    return Err({t}Error::TooLarge({w}.len()));\n{:indent$}}}\n",
                    "", ""
                );
            }
            4 => {
                let (v, w, x, f) = (self.var(l), self.var(l), self.var(l), self.var(l));
                let _ = write!(
                    self.out,
                    "for {v} in {w}.iter() {{\n{:indent$}    {x}.push({v}.{f}.clone());\n{:indent$}}}\n",
                    "", ""
                );
            }
            5 => {
                let v = self.var(l);
                let _ = write!(self.out, "tracing::debug!({v} = ?{v}, ");
                self.string('"');
                self.out.push_str(");\n");
            }
            6 => {
                let (v, f) = (self.var(l), self.func(l));
                let _ = write!(self.out, "{v}.{f}(");
                self.expr(l);
                self.out.push_str(")?;\n");
            }
            _ => {
                let (v, w) = (self.var(l), self.var(l));
                let _ = writeln!(
                    self.out,
                    "let {v}: HashMap<String, u64> = {w}.into_iter().collect();"
                );
            }
        }
    }

    fn go_block(&mut self) {
        match self.rng.u8(..10) {
            0..=5 => {
                let (f, a, t) = (self.func(Lang::Go), self.var(Lang::Go), self.ty());
                let _ = write!(self.out, "// {f} ");
                self.sentence(4, 12);
                let _ = writeln!(
                    self.out,
                    ".\nfunc {f}(ctx context.Context, {a} *{t}) (*{t}, error) {{"
                );
                self.statements(Lang::Go, 1, Self::go_stmt);
                let _ = write!(self.out, "\treturn {a}, nil\n}}\n\n");
            }
            6..=8 => {
                let t = self.ty();
                let _ = write!(self.out, "// {t} ");
                self.sentence(4, 10);
                let _ = writeln!(self.out, ".\ntype {t} struct {{");
                for _ in 0..self.rng.usize(2..=6) {
                    let (f, ft, tag) = (self.ty(), self.ty(), self.var(Lang::Python));
                    let _ = writeln!(self.out, "\t{f} *{ft} `json:\"{tag}\"`");
                }
                self.out.push_str("}\n\n");
            }
            _ => {
                self.out.push_str("const (\n");
                for _ in 0..self.rng.usize(2..=5) {
                    let c = self.ty();
                    let _ = write!(self.out, "\t{c} = ");
                    self.number();
                    self.out.push('\n');
                }
                self.out.push_str(")\n\n");
            }
        }
    }

    fn go_stmt(&mut self, _indent: usize) {
        let l = Lang::Go;
        self.out.push('\t');
        match self.rng.u8(..7) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "{v} := ");
                self.expr(l);
                self.out.push('\n');
            }
            3 => {
                self.out
                    .push_str("if err != nil {\n\t\treturn nil, fmt.Errorf(\"");
                self.sentence(2, 6);
                self.out.push_str(": %w\", err)\n\t}\n");
            }
            4 => {
                let (v, w, x, f) = (self.var(l), self.var(l), self.var(l), self.ty());
                let _ = write!(
                    self.out,
                    "for _, {v} := range {w} {{\n\t\t{x} = append({x}, {v}.{f})\n\t}}\n"
                );
            }
            5 => {
                let v = self.var(l);
                self.out.push_str("log.Printf(\"");
                self.sentence(2, 6);
                let _ = writeln!(self.out, " %v\", {v})");
            }
            _ => {
                let (v, f) = (self.var(l), self.ty());
                let _ = write!(self.out, "{v}.{f}(ctx, ");
                self.expr(l);
                self.out.push_str(")\n");
            }
        }
    }

    fn python_block(&mut self) {
        match self.rng.u8(..10) {
            0..=4 => {
                let (f, a, b) = (
                    self.func(Lang::Python),
                    self.var(Lang::Python),
                    self.var(Lang::Python),
                );
                let _ = write!(self.out, "def {f}({a}, {b}=None):\n    \"\"\"");
                self.sentence(4, 12);
                self.out.push_str(".\"\"\"\n");
                self.statements(Lang::Python, 4, Self::python_stmt);
                let _ = write!(self.out, "    return {a}\n\n\n");
            }
            5..=8 => {
                let (c, base) = (self.ty(), self.ty());
                let _ = write!(self.out, "class {c}({base}):\n    \"\"\"");
                self.sentence(4, 12);
                self.out.push_str(".\"\"\"\n\n");
                for _ in 0..self.rng.usize(1..=3) {
                    let f = self.func(Lang::Python);
                    let _ = writeln!(self.out, "    def {f}(self, *args, **kwargs):");
                    self.statements(Lang::Python, 8, Self::python_stmt);
                    self.out.push_str("        return self\n\n");
                }
                self.out.push('\n');
            }
            _ => {
                let c = self.constant();
                let _ = write!(self.out, "{c} = ");
                self.number();
                self.out.push_str("\n\n");
            }
        }
    }

    fn python_stmt(&mut self, indent: usize) {
        let l = Lang::Python;
        self.indent(indent);
        match self.rng.u8(..7) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "{v} = ");
                self.expr(l);
                self.out.push('\n');
            }
            3 => {
                let v = self.var(l);
                let _ = write!(
                    self.out,
                    "if {v} is None:\n{:indent$}    raise ValueError(",
                    ""
                );
                self.string('"');
                self.out.push_str(")\n");
            }
            4 => {
                let (v, w, x, f) = (self.var(l), self.var(l), self.var(l), self.var(l));
                let _ = write!(
                    self.out,
                    "for {v} in {w}:\n{:indent$}    {x}.append({v}.{f})\n",
                    ""
                );
            }
            5 => {
                self.out.push_str("logger.info(");
                self.string('"');
                let v = self.var(l);
                let _ = writeln!(self.out, ", {v})");
            }
            _ => {
                let f = self.var(l);
                let _ = write!(self.out, "self.{f} = ");
                self.expr(l);
                self.out.push('\n');
            }
        }
    }

    fn js_block(&mut self, lang: Lang) {
        let typed = lang != Lang::JavaScript;
        match self.rng.u8(..10) {
            0..=5 => {
                self.out.push_str("/**\n * ");
                self.sentence(5, 12);
                let (f, a, t) = (self.func(lang), self.var(lang), self.ty());
                if typed {
                    let _ = writeln!(
                        self.out,
                        ".\n */\nexport async function {f}({a}: {t}, limit = 10): Promise<{t}> {{"
                    );
                } else {
                    let _ = writeln!(
                        self.out,
                        ".\n */\nexport async function {f}({a}, limit = 10) {{"
                    );
                }
                self.statements(lang, 2, Self::js_stmt);
                let _ = write!(self.out, "  return {a};\n}}\n\n");
            }
            6..=7 if lang == Lang::Tsx => {
                let (c, p, v, class) = (self.ty(), self.var(lang), self.var(lang), self.id());
                let _ = write!(
                    self.out,
                    "export function {c}({{ {p} }}: {c}Props) {{\n  return (\n    <div className=\"{}\">\n      <span>{{{p}.{v}}}</span>\n      <p>",
                    class.kebab
                );
                self.sentence(3, 8);
                self.out.push_str("</p>\n    </div>\n  );\n}\n\n");
            }
            6..=8 => {
                let (c, f) = (self.ty(), self.func(lang));
                let _ = writeln!(self.out, "export class {c} {{");
                for _ in 0..self.rng.usize(1..=4) {
                    let (fl, ft) = (self.var(lang), self.ty());
                    if typed {
                        let _ = writeln!(self.out, "  private {fl}?: {ft};");
                    } else {
                        let _ = writeln!(self.out, "  {fl} = null;");
                    }
                }
                let _ = writeln!(self.out, "\n  {f}() {{");
                self.statements(lang, 4, Self::js_stmt);
                self.out.push_str("    return this;\n  }\n}\n\n");
            }
            _ => {
                let c = self.constant();
                let _ = write!(self.out, "export const {c} = ");
                self.expr(lang);
                self.out.push_str(";\n\n");
            }
        }
    }

    fn js_stmt(&mut self, indent: usize) {
        let l = Lang::TypeScript;
        self.indent(indent);
        match self.rng.u8(..7) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "const {v} = ");
                self.expr(l);
                self.out.push_str(";\n");
            }
            3 => {
                let v = self.var(l);
                let _ = write!(self.out, "if (!{v}) {{\n{:indent$}  throw new Error(", "");
                self.string('"');
                let _ = write!(self.out, ");\n{:indent$}}}\n", "");
            }
            4 => {
                let (v, w, x, f) = (self.var(l), self.var(l), self.var(l), self.var(l));
                let _ = write!(
                    self.out,
                    "for (const {v} of {w}) {{\n{:indent$}  {x}.push({v}.{f});\n{:indent$}}}\n",
                    "", ""
                );
            }
            5 => {
                self.out.push_str("console.debug(`");
                self.sentence(2, 6);
                let v = self.var(l);
                let _ = writeln!(self.out, " ${{{v}}}`);");
            }
            _ => {
                let (v, f) = (self.var(l), self.func(l));
                let _ = write!(self.out, "await {v}.{f}(");
                self.expr(l);
                self.out.push_str(");\n");
            }
        }
    }

    fn java_block(&mut self) {
        let l = Lang::Java;
        match self.rng.u8(..10) {
            0..=6 => {
                self.out.push_str("    /**\n     * ");
                self.sentence(5, 12);
                let (f, a, t) = (self.func(l), self.var(l), self.ty());
                let _ = writeln!(
                    self.out,
                    ".\n     */\n    public {t} {f}({t} {a}, int limit) {{"
                );
                self.statements(l, 8, Self::java_stmt);
                let _ = write!(self.out, "        return {a};\n    }}\n\n");
            }
            7..=8 => {
                let (t, f) = (self.ty(), self.var(l));
                let _ = writeln!(
                    self.out,
                    "    private final List<{t}> {f} = new java.util.ArrayList<>();\n"
                );
            }
            _ => {
                let c = self.constant();
                let _ = write!(self.out, "    public static final long {c} = ");
                self.number();
                self.out.push_str("L;\n\n");
            }
        }
    }

    fn java_stmt(&mut self, indent: usize) {
        let l = Lang::Java;
        self.indent(indent);
        match self.rng.u8(..7) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "var {v} = ");
                self.expr(l);
                self.out.push_str(";\n");
            }
            3 => {
                let v = self.var(l);
                let _ = write!(
                    self.out,
                    "if ({v} == null) {{\n{:indent$}    throw new IllegalStateException(",
                    ""
                );
                self.string('"');
                let _ = write!(self.out, ");\n{:indent$}}}\n", "");
            }
            4 => {
                let (v, w, x, f) = (self.var(l), self.var(l), self.var(l), self.ty());
                let _ = write!(
                    self.out,
                    "for (var {v} : {w}) {{\n{:indent$}    {x}.add({v}.get{f}());\n{:indent$}}}\n",
                    "", ""
                );
            }
            5 => {
                self.out.push_str("LOG.info(");
                self.string('"');
                let v = self.var(l);
                let _ = writeln!(self.out, ", {v});");
            }
            _ => {
                let f = self.var(l);
                let _ = write!(self.out, "this.{f} = ");
                self.expr(l);
                self.out.push_str(";\n");
            }
        }
    }

    fn c_block(&mut self, lang: Lang) {
        if lang == Lang::CHeader {
            match self.rng.u8(..4) {
                0..=1 => {
                    let (f, t, a) = (self.func(lang), self.var(lang), self.var(lang));
                    self.out.push_str("/* ");
                    self.sentence(4, 10);
                    let _ = write!(self.out, ". */\nint {f}(struct {t} *{a}, size_t len);\n\n");
                }
                2 => {
                    let t = self.var(lang);
                    let _ = writeln!(self.out, "typedef struct {t} {{");
                    for _ in 0..self.rng.usize(2..=5) {
                        let f = self.var(lang);
                        let _ = writeln!(self.out, "    uint64_t {f};");
                    }
                    let _ = write!(self.out, "}} {t}_t;\n\n");
                }
                _ => {
                    let c = self.constant();
                    let _ = write!(self.out, "#define {c} ");
                    self.number();
                    self.out.push_str("\n\n");
                }
            }
            return;
        }
        let (f, t, a) = (self.func(lang), self.var(lang), self.var(lang));
        self.out.push_str("/* ");
        self.sentence(4, 12);
        let _ = writeln!(
            self.out,
            ". */\nstatic int {f}(struct {t} *{a}, size_t len)\n{{"
        );
        self.statements(lang, 4, Self::c_stmt);
        self.out.push_str("    return 0;\n}\n\n");
    }

    fn c_stmt(&mut self, indent: usize) {
        let l = Lang::C;
        self.indent(indent);
        match self.rng.u8(..6) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "int64_t {v} = ");
                self.expr(l);
                self.out.push_str(";\n");
            }
            3 => {
                let (v, c) = (self.var(l), self.constant());
                let _ = write!(
                    self.out,
                    "if ({v} == NULL) {{\n{:indent$}    return -{c};\n{:indent$}}}\n",
                    "", ""
                );
            }
            4 => {
                let (v, f) = (self.var(l), self.func(l));
                let _ = write!(
                    self.out,
                    "for (size_t i = 0; i < len; i++) {{\n{:indent$}    {v}[i] = {f}(i);\n{:indent$}}}\n",
                    "", ""
                );
            }
            _ => {
                self.out.push_str("fprintf(stderr, \"");
                self.sentence(2, 6);
                let v = self.var(l);
                let _ = writeln!(self.out, ": %d\\n\", (int){v});");
            }
        }
    }

    fn cpp_block(&mut self, lang: Lang) {
        let l = Lang::Cpp;
        match self.rng.u8(..10) {
            0..=4 => {
                self.out.push_str("/// ");
                self.sentence(4, 12);
                let c = self.ty();
                let _ = writeln!(
                    self.out,
                    ".\nclass {c} {{\npublic:\n    explicit {c}(std::string name);"
                );
                for _ in 0..self.rng.usize(1..=4) {
                    let (f, t) = (self.func(l), self.ty());
                    let _ = writeln!(
                        self.out,
                        "    std::unique_ptr<{t}> {f}(const std::vector<{t}>& items) const;"
                    );
                }
                self.out.push_str("\nprivate:\n");
                for _ in 0..self.rng.usize(1..=3) {
                    let f = self.var(l);
                    let _ = writeln!(self.out, "    std::string {f}_;");
                }
                self.out.push_str("};\n\n");
            }
            _ if lang == Lang::CppHeader => {
                let c = self.constant();
                let _ = write!(self.out, "constexpr std::size_t {c} = ");
                self.number();
                self.out.push_str(";\n\n");
            }
            _ => {
                let (c, f, t) = (self.ty(), self.func(l), self.ty());
                let _ = writeln!(
                    self.out,
                    "std::unique_ptr<{t}> {c}::{f}(const std::vector<{t}>& items) const {{"
                );
                self.statements(l, 4, Self::cpp_stmt);
                self.out.push_str("    return nullptr;\n}\n\n");
            }
        }
    }

    fn cpp_stmt(&mut self, indent: usize) {
        let l = Lang::Cpp;
        self.indent(indent);
        match self.rng.u8(..5) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "auto {v} = ");
                self.expr(l);
                self.out.push_str(";\n");
            }
            3 => {
                let v = self.var(l);
                let _ = write!(
                    self.out,
                    "if (!{v}) {{\n{:indent$}    throw std::runtime_error(",
                    ""
                );
                self.string('"');
                let _ = write!(self.out, ");\n{:indent$}}}\n", "");
            }
            _ => {
                let (v, f) = (self.var(l), self.func(l));
                let _ = writeln!(self.out, "for (const auto& {v} : items) {{ {f}({v}); }}");
            }
        }
    }

    fn ruby_block(&mut self) {
        let l = Lang::Ruby;
        match self.rng.u8(..10) {
            0..=7 => {
                self.out.push_str("    # ");
                self.sentence(4, 12);
                let (f, a) = (self.func(l), self.var(l));
                let _ = writeln!(self.out, ".\n    def {f}({a}, options = {{}})");
                self.statements(l, 6, Self::ruby_stmt);
                let _ = write!(self.out, "      {a}\n    end\n\n");
            }
            _ => {
                let c = self.constant();
                let _ = write!(self.out, "    {c} = ");
                self.number();
                self.out.push_str("\n\n");
            }
        }
    }

    fn ruby_stmt(&mut self, indent: usize) {
        let l = Lang::Ruby;
        self.indent(indent);
        match self.rng.u8(..6) {
            0..=2 => {
                let v = self.var(l);
                let _ = write!(self.out, "{v} = ");
                self.expr(l);
                self.out.push('\n');
            }
            3 => {
                self.out.push_str("raise ArgumentError, ");
                self.string('"');
                let v = self.var(l);
                let _ = writeln!(self.out, " if {v}.nil?");
            }
            4 => {
                let (v, w, x, f) = (self.var(l), self.var(l), self.var(l), self.var(l));
                let _ = write!(
                    self.out,
                    "{w}.each do |{v}|\n{:indent$}  {x} << {v}.{f}\n{:indent$}end\n",
                    "", ""
                );
            }
            _ => {
                let f = self.var(l);
                let _ = write!(self.out, "@{f} = ");
                self.expr(l);
                self.out.push('\n');
            }
        }
    }

    fn markdown_block(&mut self) {
        match self.rng.u8(..10) {
            0..=3 => {
                self.out.push_str("## ");
                self.sentence(2, 5);
                self.out.push_str("\n\n");
                self.paragraph();
                self.out.push_str("\n\n");
            }
            4..=5 => {
                for _ in 0..self.rng.usize(3..=6) {
                    let id = self.id();
                    let _ = write!(self.out, "- `{}`: ", id.snake);
                    self.sentence(4, 10);
                    self.out.push_str(".\n");
                }
                self.out.push('\n');
            }
            6..=7 => {
                let (lang, fence) = match self.rng.u8(..3) {
                    0 => (Lang::Rust, "rust"),
                    1 => (Lang::Python, "python"),
                    _ => (Lang::Go, "go"),
                };
                let _ = writeln!(self.out, "```{fence}");
                for _ in 0..self.rng.usize(2..=5) {
                    match lang {
                        Lang::Rust => self.rust_stmt(0),
                        Lang::Python => self.python_stmt(0),
                        _ => self.go_stmt(0),
                    }
                }
                self.out.push_str("```\n\n");
            }
            8 => {
                let (a, b, c) = (
                    Vocab::noun(&mut self.rng),
                    Vocab::noun(&mut self.rng),
                    Vocab::noun(&mut self.rng),
                );
                let _ = write!(self.out, "| {a} | {b} | {c} |\n| --- | --- | --- |\n");
                for _ in 0..self.rng.usize(2..=5) {
                    let id = self.id();
                    let _ = write!(self.out, "| `{}` | ", id.camel);
                    self.number();
                    self.out.push_str(" | ");
                    self.sentence(2, 5);
                    self.out.push_str(" |\n");
                }
                self.out.push('\n');
            }
            _ => {
                let (a, b) = (self.id(), self.id());
                self.out.push_str("See [");
                self.sentence(2, 5);
                let _ = write!(self.out, "](../{}/{}.md) for ", a.kebab, b.snake);
                self.sentence(3, 8);
                self.out.push_str(".\n\n");
            }
        }
    }

    fn yaml_block(&mut self) {
        let key = self.id();
        let _ = writeln!(self.out, "{}:", key.snake);
        for _ in 0..self.rng.usize(2..=6) {
            let k = self.var(Lang::Yaml);
            let _ = write!(self.out, "  {k}: ");
            match self.rng.u8(..5) {
                0 => self.number(),
                1 => self
                    .out
                    .push_str(if self.rng.bool() { "true" } else { "false" }),
                2 => {
                    let id = self.id();
                    let _ = write!(
                        self.out,
                        "\"registry.example.com/{}:{}.{}\"",
                        id.kebab,
                        self.rng.u8(0..9),
                        self.rng.u8(0..30)
                    );
                }
                _ => self.string('"'),
            }
            self.out.push('\n');
        }
        if self.rng.bool() {
            self.out.push_str("  env:\n");
            for _ in 0..self.rng.usize(1..=3) {
                let c = self.constant();
                let _ = write!(self.out, "    - name: {c}\n      value: ");
                self.string('"');
                self.out.push('\n');
            }
        }
    }

    fn shell_block(&mut self) {
        let l = Lang::Shell;
        let (f, v, c, u) = (self.func(l), self.var(l), self.constant(), self.id());
        self.out.push_str("# ");
        self.sentence(4, 12);
        let _ = write!(
            self.out,
            ".\n{f}() {{\n  local {v}=\"$1\"\n  if [[ -z \"${{{v}}}\" ]]; then\n    echo \""
        );
        self.sentence(2, 6);
        let _ = write!(
            self.out,
            "\" >&2\n    return 1\n  fi\n  curl -fsS \"${{{c}}}/{}/${{{v}}}\" | jq '.{}'\n}}\n\n",
            u.kebab, u.camel
        );
    }

    /// Log lines, CSV rows or JSON lines until `size` bytes.
    fn data(&mut self, format: DataFormat, size: usize) {
        let columns: Vec<&Ident> = (0..6).map(|_| self.id()).collect();
        if format == DataFormat::Csv {
            let header: Vec<&str> = columns.iter().map(|c| c.snake.as_str()).collect();
            self.out.push_str(&header.join(","));
            self.out.push('\n');
        }
        let services: Vec<&Ident> = (0..4).map(|_| self.id()).collect();
        let mut line = 0u64;
        while self.out.len() < size {
            line += 1;
            let t = line * 7;
            let stamp = format!(
                "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                1 + (t / (86_400 * 28)) % 12,
                1 + (t / 86_400) % 28,
                (t / 3600) % 24,
                (t / 60) % 60,
                t % 60,
                self.rng.u16(..1000)
            );
            let service = &services[self.rng.usize(..services.len())].kebab;
            let level = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"][self.rng.usize(..6)];
            match format {
                DataFormat::Log => {
                    let (a, b) = (self.var(Lang::Rust), self.var(Lang::Rust));
                    let _ = write!(
                        self.out,
                        "{stamp} {level:<5} {service}[{}]: {a}={} {b}=\"",
                        self.rng.u16(100..30_000),
                        self.rng.u32(..1_000_000)
                    );
                    self.sentence(3, 9);
                    let _ = writeln!(self.out, "\" elapsed_ms={}", self.rng.u16(..5000));
                }
                DataFormat::Csv => {
                    let _ = write!(
                        self.out,
                        "{line},{stamp},{service},{},",
                        self.rng.u32(..1_000_000)
                    );
                    self.number();
                    self.out.push_str(",\"");
                    self.sentence(2, 6);
                    self.out.push_str("\"\n");
                }
                DataFormat::Jsonl => {
                    let _ = write!(
                        self.out,
                        "{{\"ts\":\"{stamp}\",\"level\":\"{}\",\"service\":\"{service}\",\"{}\":{},\"{}\":\"",
                        level.to_ascii_lowercase(),
                        columns[0].camel,
                        self.rng.u32(..1_000_000),
                        columns[1].camel
                    );
                    self.sentence(2, 6);
                    self.out.push_str("\"}\n");
                }
            }
        }
    }

    /// Western European prose (characters below U+0100 only) until `size` bytes.
    fn latin1(&mut self, size: usize) {
        const PHRASES: &[&str] = &[
            "Le café de la gare ouvre à six heures",
            "Die Größe der Übertragung wird geprüft",
            "El señor Muñoz firmó el contrato en Málaga",
            "Une idée naïve: résumé des dépôts",
            "Ærø og Ålborg ligger i Danmark",
            "Åsa läser säkerhetsloggen före mötet",
            "A coöperação dos serviços é essencial",
            "Prix: 12,50 € n'est pas en Latin-1, mais 12,50 ¤ oui",
        ];
        self.out
            .push_str("Notes (ISO-8859-1)\n==================\n\n");
        // Characters take one or two bytes here and one in Latin-1: twice is enough.
        while self.out.len() < 2 * size {
            let phrase = PHRASES[self.rng.usize(..PHRASES.len())];
            if phrase.chars().all(|c| u32::from(c) < 0x100) {
                self.out.push_str(phrase);
            } else {
                self.out.push_str("Ça coûte 12,50 ¤ à Zürich");
            }
            let id = self.id();
            let _ = writeln!(self.out, " - voir {}.", id.snake.replace('_', " "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_have_the_exact_size_and_are_deterministic() {
        let vocab = Vocab::new(1);
        let mut r = Renderer::new(&vocab);
        let kinds = [
            Kind::Text(Lang::Rust),
            Kind::Text(Lang::Go),
            Kind::Text(Lang::Python),
            Kind::Text(Lang::Tsx),
            Kind::Text(Lang::Java),
            Kind::Text(Lang::CHeader),
            Kind::Text(Lang::Cpp),
            Kind::Text(Lang::Ruby),
            Kind::Text(Lang::Markdown),
            Kind::Text(Lang::Yaml),
            Kind::Text(Lang::Shell),
            Kind::Data(DataFormat::Jsonl),
            Kind::Binary(BinaryFormat::Png),
        ];
        for kind in &kinds {
            for size in [1u64, 37, 5000] {
                let a = r.render(kind, 9, &[0], size).to_vec();
                assert_eq!(a.len() as u64, size, "{kind:?}");
                assert_eq!(a, r.render(kind, 9, &[0], size), "{kind:?}");
                if matches!(kind, Kind::Text(_) | Kind::Data(_)) {
                    assert!(std::str::from_utf8(&a).is_ok(), "{kind:?}");
                }
            }
        }
        let latin1 = r.render(&Kind::Latin1, 3, &[0], 2000).to_vec();
        assert_eq!(latin1.len(), 2000);
        assert!(std::str::from_utf8(&latin1).is_err());
        assert!(latin1.contains(&0xe9), "é as one byte");
        let png = r.render(&Kind::Binary(BinaryFormat::Png), 3, &[0], 300);
        assert!(png[..100].contains(&0));
    }

    #[test]
    fn an_edit_changes_some_blocks_and_keeps_others() {
        let vocab = Vocab::new(1);
        let mut r = Renderer::new(&vocab);
        let kind = Kind::Text(Lang::Rust);
        let before = String::from_utf8(r.render(&kind, 5, &[0], 20_000).to_vec()).unwrap();
        let after = String::from_utf8(r.render(&kind, 5, &[0, 3], 20_000).to_vec()).unwrap();
        assert_ne!(before, after);
        let kept = after.lines().filter(|l| before.contains(l)).count();
        assert!(
            kept * 2 > after.lines().count(),
            "most lines survive an edit"
        );
    }
}
