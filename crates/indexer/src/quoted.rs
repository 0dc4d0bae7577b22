//! How a refused input appears in an error message: quoted, control characters escaped
//! (so a hostile value cannot drive a terminal), and cut after a number of characters with
//! its full length said (so a 5,000-word query does not fill the screen).

/// `value` quoted and escaped, at most `max_chars` characters of it shown.
pub(crate) fn quoted(value: &str, max_chars: usize) -> String {
    let count = value.chars().count();
    if count <= max_chars {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(max_chars).collect();
    format!("{head:?}… ({count} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_and_long_ones_cut() {
        assert_eq!(quoted("a\u{1b}b", 10), "\"a\\u{1b}b\"");
        assert_eq!(quoted("abcdef", 3), "\"abc\"… (6 characters)");
    }
}
