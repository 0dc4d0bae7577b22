//! Ranking and retrieval measures, as pure functions over result lists.
//!
//! - **recall** of a result set against a truth set: the share of the truth found (1 when
//!   the truth is empty: nothing was there to miss).
//! - **recall@k**: the share of the expected files in the first `k` results, out of
//!   `min(k, expected)` so that a perfect ranking scores 1 even with more than `k`
//!   expected files.
//! - **reciprocal rank**: 1 / the rank of the first expected file in the results (0 when
//!   none is there); averaged over queries it is MRR.
//! - **nDCG@k**: graded by importance — the expected files are listed most important
//!   first, and the i-th of n (from 0) has gain n − i; discounted by log2(rank + 1) and
//!   divided by the gain of the ideal order.

use std::collections::BTreeSet;
use std::hash::Hash;

/// Share of `truth` in `found` (1 for an empty truth).
pub fn recall<T: Ord>(found: &BTreeSet<T>, truth: &BTreeSet<T>) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    truth.intersection(found).count() as f64 / truth.len() as f64
}

/// `found / truth`, 1 for an empty truth.
pub fn recall_of_counts(found: usize, truth: usize) -> f64 {
    if truth == 0 {
        1.0
    } else {
        found as f64 / truth as f64
    }
}

/// Share of the expected items in the first `k` of `ranked` (see the module docs).
pub fn recall_at<T: PartialEq>(ranked: &[T], expected: &[T], k: usize) -> f64 {
    let wanted = expected.len().min(k);
    if wanted == 0 {
        return 1.0;
    }
    let top = &ranked[..ranked.len().min(k)];
    expected.iter().filter(|e| top.contains(e)).count() as f64 / wanted as f64
}

/// 1 / rank of the first expected item in `ranked`, 0 when none is there.
pub fn reciprocal_rank<T: PartialEq>(ranked: &[T], expected: &[T]) -> f64 {
    ranked
        .iter()
        .position(|r| expected.contains(r))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Normalised discounted cumulative gain of the first `k` of `ranked`, with the graded
/// gains of the module docs (1 for an empty `expected`).
pub fn ndcg_at<T: PartialEq + Eq + Hash>(ranked: &[T], expected: &[T], k: usize) -> f64 {
    let n = expected.len();
    if n == 0 {
        return 1.0;
    }
    let gain = |item: &T| {
        expected
            .iter()
            .position(|e| e == item)
            .map_or(0.0, |i| (n - i) as f64)
    };
    let discount = |rank: usize| (rank as f64 + 2.0).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(rank, item)| gain(item) / discount(rank))
        .fold(0.0, |a, b| a + b);
    let ideal: f64 = (0..n.min(k))
        .map(|rank| (n - rank) as f64 / discount(rank))
        .fold(0.0, |a, b| a + b);
    dcg / ideal
}

/// The mean of `values` (0 for none).
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_of_sets() {
        let t: BTreeSet<u32> = [1, 2, 3, 4].into();
        assert_eq!(recall(&[1, 2, 9].into(), &t), 0.5);
        assert_eq!(recall(&BTreeSet::new(), &BTreeSet::<u32>::new()), 1.0);
    }

    #[test]
    fn ranking_measures() {
        let expected = ["a", "b"];
        assert_eq!(recall_at(&["a", "x", "b"], &expected, 2), 0.5);
        assert_eq!(recall_at(&["a", "x", "b"], &expected, 10), 1.0);
        assert_eq!(reciprocal_rank(&["x", "b", "a"], &expected), 0.5);
        assert_eq!(reciprocal_rank(&["x"], &expected), 0.0);
        assert!((ndcg_at(&["a", "b"], &expected, 10) - 1.0).abs() < 1e-12);
        let swapped = ndcg_at(&["b", "a"], &expected, 10);
        assert!(swapped < 1.0 && swapped > 0.8, "{swapped}");
        let none = ndcg_at(&["x", "y"], &expected, 10);
        assert!(none == 0.0 && none.is_sign_positive(), "{none}");
        assert!(ndcg_at(&Vec::<&str>::new(), &expected, 10).is_sign_positive());
        assert_eq!(mean([1.0, 0.0]), 0.5);
        assert_eq!(mean(Vec::<f64>::new()), 0.0);
    }
}
