//! The names a file defines, told cheaply: one multi-line regular expression per language
//! family over the decoded content, for the shapes definitions take at the start of a line
//! (`fn`, `def`, `class`, `func`, `function`, a C function's signature at column 0 that
//! does not end in `;`, `#define`, upper-case module constants, …). Not a parser: it
//! misses definitions written unusually and may take a few non-definitions, which only
//! costs ranking (`blob.defs` raises the score of files that define a searched
//! identifier; it never decides whether a file matches).
//!
//! `blob.defs` holds each name as the code analyzer's whole term (`blockClient` and
//! `block_client` → `blockclient`, computed with the offline analysis, token for token
//! the engine's), in a `keyword` field: a search's word matches it only whole, never a
//! part (`socket` does not match a file defining `clientSocketTimeout`).

use std::sync::LazyLock;

use regex::Regex;
use trawl_analyzers::{analyze_code, whole_token};

/// Names kept per file, at most: a generated file can hold tens of thousands.
pub const MAX_DEFINITIONS: usize = 512;

/// Longest name kept, in bytes.
const MAX_NAME_BYTES: usize = 128;

/// The names `content` defines, in file order without repeats, for a file of `language`
/// (a lowercase linguist name; `None` or an unknown one gets the keyword shapes only).
pub fn definitions(language: Option<&str>, content: &str) -> Vec<String> {
    let family = match language {
        Some("c" | "c++" | "objective-c" | "objective-c++" | "cuda") => &*C_LIKE,
        Some("rust") => &*RUST,
        Some("python" | "starlark" | "cython") => &*PYTHON,
        Some("go") => &*GO,
        Some("javascript" | "typescript" | "tsx" | "jsx" | "vue" | "svelte") => &*JAVASCRIPT,
        Some("ruby" | "crystal") => &*RUBY,
        Some("java" | "c#" | "kotlin" | "scala" | "swift" | "groovy" | "dart") => &*JVM_LIKE,
        Some("shell") => &*SHELL,
        _ => &*KEYWORDS,
    };
    let mut names: Vec<String> = Vec::new();
    for captures in family.captures_iter(content) {
        let Some(name) = captures.iter().skip(1).flatten().next() else {
            continue;
        };
        let name = name.as_str();
        if name.len() > MAX_NAME_BYTES || NOT_NAMES.contains(&name) {
            continue;
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
            if names.len() == MAX_DEFINITIONS {
                break;
            }
        }
    }
    names
}

/// The whole terms of the names `content` defines (see [`definitions`]), in file order
/// without repeats; a name the analyzer splits into several runs (`$el`) has none and is
/// left out.
pub fn definition_terms(language: Option<&str>, content: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for name in definitions(language, content) {
        let tokens = analyze_code(&name);
        if let Some(whole) = whole_token(&tokens)
            && !terms.iter().any(|t| *t == whole.token)
        {
            terms.push(whole.token.to_string());
        }
    }
    terms
}

/// Words a line-start shape can catch that never name a definition (`else if (x) {` at
/// column 0, `return foo(` and the like in C).
const NOT_NAMES: [&str; 12] = [
    "if", "else", "while", "for", "switch", "return", "sizeof", "case", "do", "goto", "new",
    "delete",
];

fn compile(alternatives: &[&str]) -> Regex {
    let joined = alternatives
        .iter()
        .map(|a| format!("(?:{a})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&format!("(?m){joined}")).expect("a valid definitions pattern")
}

/// Definitions introduced by a keyword, after the usual modifiers.
const KEYWORD_SHAPE: &str = r"^[ \t]*(?:(?:pub(?:\([^)\n]*\))?|export|default|public|private|protected|internal|static|final|abstract|async|unsafe|extern|inline|virtual|override|open|sealed|data|suspend|partial)[ \t]+)*(?:fn|def|class|struct|enum|trait|interface|type|func|function|module|union|record|object|fun)[ \t]+([A-Za-z_$][A-Za-z0-9_$]*)";

static KEYWORDS: LazyLock<Regex> = LazyLock::new(|| compile(&[KEYWORD_SHAPE]));

static RUST: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        r#"^[ \t]*(?:pub(?:\([^)\n]*\))?[ \t]+)?(?:(?:const|async|unsafe|default|extern(?:[ \t]+"[^"\n]*")?)[ \t]+)*(?:fn|struct|enum|trait|type|union)[ \t]+([A-Za-z_][A-Za-z0-9_]*)"#,
        // An inline module (`mod tests {`), not a module declared from its file (`mod x;`).
        r"^[ \t]*(?:pub(?:\([^)\n]*\))?[ \t]+)?mod[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*\{",
        r"^[ \t]*(?:pub(?:\([^)\n]*\))?[ \t]+)?(?:const|static)[ \t]+(?:mut[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*:",
        r"^[ \t]*macro_rules![ \t]*([A-Za-z_][A-Za-z0-9_]*)",
    ])
});

static PYTHON: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_][A-Za-z0-9_]*)",
        r"^[ \t]*class[ \t]+([A-Za-z_][A-Za-z0-9_]*)",
        // Module-level names bound at column 0 (`MAX_SIZE = 10`, `app: Flask = …`).
        r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?=[^=]",
    ])
});

static GO: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        r"^func[ \t]+(?:\([^)\n]*\)[ \t]*)?([A-Za-z_][A-Za-z0-9_]*)",
        r"^[ \t]*type[ \t]+([A-Za-z_][A-Za-z0-9_]*)",
        r"^(?:const|var)[ \t]+([A-Za-z_][A-Za-z0-9_]*)",
    ])
});

static JAVASCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        r"^[ \t]*(?:export[ \t]+)?(?:default[ \t]+)?(?:async[ \t]+)?function[ \t]*\*?[ \t]*([A-Za-z_$][A-Za-z0-9_$]*)",
        r"^[ \t]*(?:export[ \t]+)?(?:default[ \t]+)?(?:abstract[ \t]+)?(?:class|interface|type|enum)[ \t]+([A-Za-z_$][A-Za-z0-9_$]*)",
        r"^[ \t]*(?:export[ \t]+)?(?:const|let|var)[ \t]+([A-Za-z_$][A-Za-z0-9_$]*)[ \t]*=",
        // `app.handle = function …`, `exports.x = …`, `res.send = function …`.
        r"^[ \t]*[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*\.([A-Za-z_$][A-Za-z0-9_$]*)[ \t]*=[ \t]*(?:async[ \t]+)?function\b",
    ])
});

static RUBY: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        r"^[ \t]*def[ \t]+(?:self\.)?([A-Za-z_][A-Za-z0-9_]*[?!=]?)",
        r"^[ \t]*(?:class|module)[ \t]+([A-Z][A-Za-z0-9_]*)",
    ])
});

static JVM_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        KEYWORD_SHAPE,
        // A method: modifiers, a type, the name, `(`, on an indented line.
        r"^[ \t]+(?:(?:public|private|protected|internal|static|final|abstract|synchronized|override|virtual|async|open)[ \t]+)+[A-Za-z_][A-Za-z0-9_<>\[\],.? \t]*?[ \t]([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(",
    ])
});

static C_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        // A function's signature at column 0 (a definition, not a declaration: no `;`
        // on its line): the return type's words, the name, `(`.
        // Redis writes the return type on the line before (`static void *` then `zmalloc(`).
        r"^(?:[A-Za-z_][A-Za-z0-9_:<>,]*[ \t*&]+)*\**(?:[A-Za-z_][A-Za-z0-9_<>,]*::)*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\([^;\n]*$",
        r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)",
        r"^[ \t]*(?:typedef[ \t]+)?(?:struct|enum|union|class|namespace)[ \t]+([A-Za-z_][A-Za-z0-9_]*)",
        r"^\}[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*;",
    ])
});

static SHELL: LazyLock<Regex> = LazyLock::new(|| {
    compile(&[
        r"^[ \t]*(?:function[ \t]+)?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\(\)",
        r"^[ \t]*function[ \t]+([A-Za-z_][A-Za-z0-9_-]*)",
    ])
});

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(language: &str, content: &str) -> Vec<String> {
        definitions(Some(language), content)
    }

    #[test]
    fn each_family_finds_its_definitions_and_not_its_uses() {
        let c = "int redisAsyncSetTimeout(redisAsyncContext *ac, struct timeval tv) {\n    redisAsyncSetTimeout(c, tv);\n}\nint declared(void);\nstatic void *\nzmalloc(size_t n)\n{\n#define BLOCK_CLIENT 1\ntypedef struct client {\n} client_t;\nelse if (x) {\n";
        assert_eq!(
            defs("c", c),
            [
                "redisAsyncSetTimeout",
                "zmalloc",
                "BLOCK_CLIENT",
                "client",
                "client_t"
            ]
        );
        let rust = "pub fn search_path<P>(p: P) {}\n    let x = search_path(p);\npub(crate) struct SearcherBuilder;\nimpl Foo for Bar {}\npub const MAX: usize = 1;\nmacro_rules! ensure {\n";
        assert_eq!(
            defs("rust", rust),
            ["search_path", "SearcherBuilder", "MAX", "ensure"]
        );
        let python = "def url_for(endpoint):\n    return url_for(x)\nclass App:\n    async def run(self):\nMAX_CONTENT_LENGTH = 10\nif x == 1:\n";
        assert_eq!(
            defs("python", python),
            ["url_for", "App", "run", "MAX_CONTENT_LENGTH"]
        );
        let js = "function createApplication() {}\nexports = module.exports = createApplication;\napp.handle = function handle(req) {};\nconst router = require('x');\n  res.setHeader('a');\nexport default class Router {}\n";
        assert_eq!(
            defs("javascript", js),
            ["createApplication", "handle", "router", "Router"]
        );
        let go = "func (s *Server) Serve(l net.Listener) error {\nfunc main() {\ntype Handler interface {\n";
        assert_eq!(defs("go", go), ["Serve", "main", "Handler"]);
        let ruby = "class Widget\n  def self.build!\n  def name=\n";
        assert_eq!(defs("ruby", ruby), ["Widget", "build!", "name="]);
        let java = "public class Pool {\n    public static Pool of(int n) {\n        of(1);\n";
        assert_eq!(defs("java", java), ["Pool", "of"]);
        assert_eq!(
            defs("shell", "build() {\nfunction clean {\n"),
            ["build", "clean"]
        );
        assert_eq!(
            definitions(None, "  def area\nfn go\n"),
            ["area", "go"],
            "the keyword shapes for any other text"
        );
    }

    #[test]
    fn terms_are_the_analyzers_whole_form() {
        let c = "int Pool::getHTTP2Response(void) {\nvoid block_client(int c) {\nint clientSocketTimeout(void) {\n";
        assert_eq!(
            definition_terms(Some("c++"), c),
            ["gethttp2response", "blockclient", "clientsockettimeout"]
        );
        let js = "const $el = 1;\nfunction go() {}\nmod x;\n";
        assert_eq!(definition_terms(Some("javascript"), js), ["go"]);
        assert!(definition_terms(Some("rust"), "mod x;\nmod y {\n").contains(&"y".to_owned()));
        assert!(!definition_terms(Some("rust"), "mod x;\n").contains(&"x".to_owned()));
    }

    #[test]
    fn hostile_content_is_bounded() {
        let many: String = (0..2_000).map(|i| format!("fn f{i}() {{}}\n")).collect();
        assert_eq!(defs("rust", &many).len(), MAX_DEFINITIONS);
        let long = format!("fn {}() {{}}\nfn ok() {{}}\n", "a".repeat(10_000));
        assert_eq!(defs("rust", &long), ["ok"]);
        assert!(defs("c", &"(".repeat(100_000)).is_empty());
        assert!(defs("c", &"a ".repeat(100_000)).is_empty());
        assert!(defs("c", "").is_empty());
    }
}
