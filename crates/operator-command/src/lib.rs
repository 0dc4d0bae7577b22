//! An operator command that a library's message tells the user to run, such as
//! `migrate retry 20261122000000`. Libraries name the step (the subcommand and its
//! arguments); the binary the user runs decides the program it is shown with: `trawl`
//! (the installed operator binary) or `cargo xtask` (a checkout). So one error reads
//! `` `trawl migrate retry …` `` in production and `` `cargo xtask migrate retry …` `` in
//! a checkout, and no library hard-codes either.

use std::fmt;
use std::sync::OnceLock;

/// The program name operator commands are shown with when the binary set none.
pub const DEFAULT_PROGRAM: &str = "trawl";

/// An operator command: the subcommand and its arguments, without the program.
/// `Display` renders it in backticks with the program the running binary set
/// ([`set_program`]): `` `trawl repo list` ``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorCommand(String);

impl OperatorCommand {
    /// The step `args` (e.g. `"migrate retry 20261122000000"`).
    pub fn new(args: impl Into<String>) -> Self {
        OperatorCommand(args.into())
    }

    /// The subcommand and its arguments, without the program.
    pub fn args(&self) -> &str {
        &self.0
    }

    /// The command as `program` would run it, without backticks.
    pub fn with_program(&self, program: &str) -> String {
        format!("{program} {}", self.0)
    }
}

impl fmt::Display for OperatorCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.with_program(program()))
    }
}

/// Shorthand for [`OperatorCommand::new`], for use inside `#[error(...)]` and `format!`.
pub fn step(args: impl Into<String>) -> OperatorCommand {
    OperatorCommand::new(args)
}

static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// Sets the program operator commands are shown with, once, at the start of `main`
/// (`"trawl"` or `"cargo xtask"`). A second call is ignored: the first binary to set it
/// is the one running.
pub fn set_program(program: &'static str) {
    let _ = PROGRAM.set(program);
}

/// The program operator commands are shown with: the one the binary set, else
/// [`DEFAULT_PROGRAM`].
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or(DEFAULT_PROGRAM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_a_given_program() {
        let step = step("migrate retry 20261122000000");
        assert_eq!(step.args(), "migrate retry 20261122000000");
        assert_eq!(
            step.with_program("cargo xtask"),
            "cargo xtask migrate retry 20261122000000"
        );
    }

    #[test]
    fn display_is_backticked_with_the_running_program() {
        // Tests in this binary never set a program, so the default shows.
        assert_eq!(step("repo list").to_string(), "`trawl repo list`");
    }
}
