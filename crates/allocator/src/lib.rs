//! Process-wide tuning of glibc's allocator, for trawl's binaries (never for a library
//! running inside someone else's process).
//!
//! glibc raises its mmap threshold each time it frees a block that was mapped, up to
//! 32 MiB: after the first bulk body or large file is freed, every later buffer below that
//! size comes from the heap arenas (one per thread that allocates) and, when freed, stays
//! resident in fragments. An indexer's memory then grows with the repository it reads
//! (`cargo xtask bench index` measured 63 MB of anonymous memory for a 37 MB repository
//! and 85 MB for a 1 GB one). A fixed threshold also turns the adjustment off, so blocks
//! of 128 KiB and more are mapped and returned to the system when freed (65 MB at 1 GB).
//!
//! This is the workspace's only `unsafe` code (the other crates forbid it).

/// Blocks from this size on are mapped on their own and unmapped when freed: glibc's
/// initial threshold, kept fixed.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// The environment variable through which glibc takes the threshold at start; when it is
/// set, the operator's value stands.
pub const THRESHOLD_VARIABLE: &str = "MALLOC_MMAP_THRESHOLD_";

/// What [`return_large_blocks`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tuning {
    /// The threshold is now [`MMAP_THRESHOLD`].
    Fixed,
    /// [`THRESHOLD_VARIABLE`] is set: glibc already took the operator's threshold.
    LeftToEnvironment,
    /// Not glibc, or glibc refused the value: the allocator is as it was.
    Unchanged,
}

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD`] unless the environment sets one.
/// Call it first thing in `main`, before any thread starts.
pub fn return_large_blocks() -> Tuning {
    if std::env::var_os(THRESHOLD_VARIABLE).is_some() {
        return Tuning::LeftToEnvironment;
    }
    set_threshold()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_threshold() -> Tuning {
    let threshold = libc::c_int::try_from(MMAP_THRESHOLD).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only changes a parameter of the allocator; it has no precondition
    // on memory, and glibc serialises it with allocations. It returns 0 when it refuses.
    #[allow(unsafe_code)]
    let accepted = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) };
    if accepted == 1 {
        Tuning::Fixed
    } else {
        Tuning::Unchanged
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_threshold() -> Tuning {
    Tuning::Unchanged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_fixed_on_glibc_and_large_blocks_still_work() {
        let tuning = return_large_blocks();
        if std::env::var_os(THRESHOLD_VARIABLE).is_some() {
            assert_eq!(tuning, Tuning::LeftToEnvironment);
        } else if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(tuning, Tuning::Fixed);
        }
        // Blocks on both sides of the threshold allocate, fill and free as before.
        for size in [MMAP_THRESHOLD - 1, MMAP_THRESHOLD, 8 * MMAP_THRESHOLD] {
            let block = vec![7u8; size];
            assert!(block.iter().all(|&b| b == 7));
        }
    }
}
