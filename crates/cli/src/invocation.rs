//! Who runs the operator commands: the program the user typed (`trawl` or `cargo xtask`),
//! the configuration file given with `--config`, and, for `cargo xtask`, the checkout
//! whose stack (`trawl up`) and fixtures the commands may use. The binary installs
//! one at startup; the commands read it where they reach services or name themselves.

use std::path::PathBuf;
use std::sync::OnceLock;

/// How this process was started; installed once by the binary ([`Invocation::install`]).
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The program name shown in messages and help examples: `trawl` or `cargo xtask`.
    pub program: &'static str,
    /// The `--config` path, when given (read by the deployment's configuration).
    pub config: Option<PathBuf>,
    /// The checkout `cargo xtask` runs in: its stack's state directory, the relevance
    /// fixtures and the migration sources. `None` for the installed `trawl`.
    pub workspace: Option<PathBuf>,
}

static CURRENT: OnceLock<Invocation> = OnceLock::new();

impl Invocation {
    /// The installed operator binary, `trawl`, with no checkout.
    pub fn trawl(config: Option<PathBuf>) -> Self {
        Invocation {
            program: "trawl",
            config,
            workspace: None,
        }
    }

    /// `cargo xtask` in the checkout at `workspace`.
    pub fn xtask(workspace: PathBuf) -> Self {
        Invocation {
            program: "cargo xtask",
            config: None,
            workspace: Some(workspace),
        }
    }

    /// Makes this the invocation of the process (the first call wins), and the program
    /// that library messages name operator commands with.
    pub fn install(self) {
        trawl_operator_command::set_program(self.program);
        let _ = CURRENT.set(self);
    }
}

/// The installed invocation; `trawl` without a configuration file if the binary installed
/// none.
pub fn current() -> &'static Invocation {
    CURRENT.get_or_init(|| Invocation::trawl(None))
}

/// `args` as the user would type it: `trawl index-size` or `cargo xtask index-size`.
pub fn command(args: &str) -> String {
    format!("{} {args}", current().program)
}

/// Help text written for `trawl` (examples such as `  trawl index …`), rewritten for
/// `program`: every `trawl ` that starts a command (at a line's start after indentation,
/// after `&&`, `|`, `;`, `(`, a backtick or a `VAR=value`) names `program` instead.
pub fn help_for(text: &str, program: &str) -> String {
    if program == "trawl" {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("trawl ") {
        let before = &rest[..at];
        let starts_command = match before.chars().last() {
            None | Some('`' | '(' | '\n') => true,
            Some(' ') => {
                let word = before
                    .trim_end_matches(' ')
                    .rsplit([' ', '\n'])
                    .next()
                    .unwrap_or("");
                word.is_empty() || matches!(word, "&&" | "|" | ";") || word.contains('=')
            }
            Some(_) => false,
        };
        out.push_str(before);
        out.push_str(if starts_command { program } else { "trawl" });
        out.push(' ');
        rest = &rest[at + "trawl ".len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_name_the_program() {
        let help = "Examples:\n  trawl index ../p\n  trawl queue pause && trawl queue resume\n  trawl index   # every one (`trawl repo list`)\n  TRAWL_INDEX_PREFIX=x- trawl index-size";
        assert_eq!(
            help_for(help, "cargo xtask"),
            "Examples:\n  cargo xtask index ../p\n  cargo xtask queue pause && cargo xtask queue resume\n  cargo xtask index   # every one (`cargo xtask repo list`)\n  TRAWL_INDEX_PREFIX=x- cargo xtask index-size"
        );
        assert_eq!(help_for(help, "trawl"), help);
    }

    #[test]
    fn words_that_only_contain_trawl_stay() {
        let help = "the trawl aliases; trawl-blobs and mytrawl x";
        assert_eq!(help_for(help, "cargo xtask"), help);
    }
}
