//! Value parsers with ranges for numeric arguments: every number a command takes has one,
//! and a value outside it is refused while parsing, with the argument and the range named
//! ("… is not in 1..=100"), never accepted to overflow or panic later.

use std::ops::RangeInclusive;
use std::time::Duration;

/// An integer argument of type `T` within `range`. Anything else is refused with the
/// range named: also a negative number or one too large for any integer type (which
/// clap's own parsers report as "too large to fit" without the range).
pub fn int_in<T: TryFrom<u64>>(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<T, String> + Clone {
    move |text| {
        let t = text.trim();
        let out_of_range = || format!("{t} is not in {}..={}", range.start(), range.end());
        let digits = t.strip_prefix('-').unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{t:?} is not a whole number"));
        }
        if t.starts_with('-') {
            return Err(out_of_range());
        }
        let value: u64 = t.parse().map_err(|_| out_of_range())?;
        if !range.contains(&value) {
            return Err(out_of_range());
        }
        T::try_from(value).map_err(|_| out_of_range())
    }
}

/// A floating-point argument within `min..=max` (finite: `inf` and `NaN` are refused).
pub fn f64_in(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text| {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number"))?;
        if value.is_finite() && (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{text} is not in {min}..={max}"))
        }
    }
}

/// A duration (`30s`, `2h`, `7d`; humantime) within `min..=max`.
pub fn duration_in(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |text| {
        let value = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{text} is not in {}..={}", whole(min), whole(max)))
        }
    }
}

/// `d` in its largest whole unit: `365d`, `2h`, `90s`.
fn whole(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A size (`200MB`, `2MiB`, `4096`) within `min..=max` bytes.
pub fn size_in(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |text| {
        let value = trawl_seed::parse_size(text).map_err(|e| e.to_string())?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "{text} is not in {}..={}",
                trawl_seed::format_size(min),
                trawl_seed::format_size(max)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_range_name_it() {
        let n = int_in::<u32>(1..=64);
        assert_eq!(n("64"), Ok(64));
        for bad in [
            "0",
            "65",
            "18446744073709551615",
            "99999999999999999999999",
            "-1",
        ] {
            assert!(n(bad).unwrap_err().ends_with("is not in 1..=64"), "{bad}");
        }
        assert!(n("1e3").unwrap_err().contains("not a whole number"));
        assert!(n("").unwrap_err().contains("not a whole number"));
        assert_eq!(int_in::<u16>(1..=65_535)("65535"), Ok(65_535));
        let f = f64_in(0.0, 10.0);
        assert_eq!(f("2.5"), Ok(2.5));
        for bad in ["-1", "11", "inf", "NaN", "1e400"] {
            let err = f(bad).unwrap_err();
            assert!(
                err.contains("0..=10") || err.contains("not a number"),
                "{bad}: {err}"
            );
        }
        let d = duration_in(Duration::ZERO, Duration::from_secs(3600));
        assert_eq!(d("30m"), Ok(Duration::from_secs(1800)));
        assert!(d("2h").unwrap_err().contains("0s..=1h"));
        let year = duration_in(Duration::ZERO, Duration::from_secs(365 * 86_400));
        assert!(year("400d").unwrap_err().contains("0s..=365d"));
        assert!(d("18446744073709551615y").is_err());
        let s = size_in(1024, 1 << 30);
        assert_eq!(s("2MiB"), Ok(2 << 20));
        assert!(s("2GiB").unwrap_err().contains("1.0 GiB"));
    }
}
