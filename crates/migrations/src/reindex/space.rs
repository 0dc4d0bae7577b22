//! Whether the cluster has room for a reindex: the copy needs, on top of what is stored,
//! a multiple of the source indices' size free (GitLab asks for twice the index size: the
//! new indices, plus merges and the tombstones kept while the task runs).

/// How much free space a reindex asks for, in multiples of the source indices' store size
/// (primaries and replicas). `None` in [`ReindexOptions::free_space_factor`] skips the
/// check.
///
/// [`ReindexOptions::free_space_factor`]: super::ReindexOptions::free_space_factor
pub const DEFAULT_FREE_SPACE_FACTOR: f64 = 2.0;

/// The cluster lacks the free space a reindex needs; the message names the numbers.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "not enough free disk for a reindex: it needs {factor} × {source} = {needed} free, the cluster has {free}; free space (or add data nodes) or add `--skip-space-check`",
    source = human_bytes(*.source_bytes),
    needed = human_bytes(*.needed_bytes),
    free = human_bytes(*.free_bytes),
)]
pub struct SpaceShortfall {
    pub factor: f64,
    pub source_bytes: u64,
    pub needed_bytes: u64,
    pub free_bytes: u64,
}

/// Refuses when `free_bytes` is below `factor` times `source_bytes`. A factor that is not
/// a finite positive number demands everything: it can only be a mistake.
pub fn check_free_space(
    factor: f64,
    source_bytes: u64,
    free_bytes: u64,
) -> Result<(), SpaceShortfall> {
    let needed = if factor.is_finite() && factor > 0.0 {
        // Saturates at u64::MAX for factors past any disk.
        (source_bytes as f64 * factor).ceil() as u64
    } else {
        u64::MAX
    };
    if free_bytes >= needed {
        Ok(())
    } else {
        Err(SpaceShortfall {
            factor,
            source_bytes,
            needed_bytes: needed,
            free_bytes,
        })
    }
}

/// Bytes in decimal units with one decimal ("3.1 GB"), as disk sizes are quoted.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_twice_the_source_and_names_the_numbers() {
        let err = check_free_space(2.0, 3_100_000_000, 4_000_000_000).unwrap_err();
        assert_eq!(err.needed_bytes, 6_200_000_000);
        let text = err.to_string();
        assert!(
            text.contains("needs 2 × 3.1 GB = 6.2 GB free, the cluster has 4.0 GB"),
            "{text}"
        );
        assert!(text.contains("--skip-space-check"), "{text}");
    }

    #[test]
    fn enough_space_passes_at_the_exact_limit() {
        assert_eq!(check_free_space(2.0, 100, 200), Ok(()));
        assert!(check_free_space(2.0, 100, 199).is_err());
        assert_eq!(check_free_space(2.0, 0, 0), Ok(()));
    }

    #[test]
    fn absurd_factors_refuse_rather_than_pass() {
        for factor in [f64::NAN, f64::INFINITY, -1.0, 0.0] {
            assert!(
                check_free_space(factor, 1, u64::MAX - 1).is_err(),
                "{factor}"
            );
        }
        let huge = check_free_space(1e30, u64::MAX, u64::MAX - 1).unwrap_err();
        assert_eq!(huge.needed_bytes, u64::MAX);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 kB");
        assert_eq!(human_bytes(4_000_000_000), "4.0 GB");
        assert!(human_bytes(u64::MAX).ends_with("EB"));
    }
}
