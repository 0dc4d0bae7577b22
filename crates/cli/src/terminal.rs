//! Text from outside (paths, commit messages, names, errors quoting them) shown on a
//! terminal: control characters are escaped, so that a hostile repository cannot move the
//! cursor, recolour, retitle or clear the screen of whoever looks at trawl's output.
//! `--json` output keeps the data exact instead (JSON escapes control characters itself).

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character (C0, DEL, C1) and the Unicode bidirectional
/// overrides written as a visible escape (`\u{1b}`); newlines and tabs too, so that one
/// value stays on one line of a table.
pub fn one_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// Like [`one_line`], but tabs are kept: a line of code as it reads.
pub fn code(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\t')
}

/// Like [`one_line`], but newlines and tabs are kept: a message of several lines (an
/// error and its causes) as it reads. A carriage return is escaped: it would let a later
/// part of the text overwrite an earlier one.
pub fn lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| !keep(c) && (c.is_control() || is_bidi_control(c));
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters that reorder what follows them on screen (a "Trojan Source" trick).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// A spinner with a message and the time elapsed, ticking by itself.
pub fn spinner() -> indicatif::ProgressBar {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .expect("valid template"),
    );
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_become_visible() {
        assert_eq!(one_line("src/main.rs"), "src/main.rs");
        assert_eq!(one_line("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            one_line("x\ny\t\u{7f}\u{9b}"),
            "x\\u{a}y\\u{9}\\u{7f}\\u{9b}"
        );
        assert_eq!(code("\tx\ny\u{7}"), "\tx\\u{a}y\\u{7}");
        assert_eq!(one_line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(one_line("café ✓"), "café ✓");
        assert_eq!(
            lines("a\n\tb\r\u{1b}]8;;x\u{7}\u{8}"),
            "a\n\tb\\u{d}\\u{1b}]8;;x\\u{7}\\u{8}"
        );
    }
}
