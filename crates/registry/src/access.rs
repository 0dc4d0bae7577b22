//! What one search may read, as the registry says at the time of the search, in a form
//! whose size does not grow with the repositories a principal may read.
//!
//! Documents carry the `visibility` of their repository, written at index time. A
//! document is readable when its repository is not pending (its documents' visibility
//! is trusted: [`crate::Registry`] marks a repository pending in the transaction of every
//! change of visibility and of every removal, until a sync confirmed the documents) and
//! its visibility is one the principal reads by being who it is — or when its repository
//! lists the principal as a reader, or is pending and readable by the principal now. So
//! the filter holds only the principal's memberships and the pending repositories, never
//! the list of public ones. [`AccessFilter::admits`] is that rule, for the check in code
//! that follows every search.

use std::collections::BTreeSet;

use crate::{RepoId, Visibility};

/// Which of a principal's memberships an [`AccessFilter`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memberships {
    /// Every repository listing the principal as a reader: what a search of records
    /// (which every registered repository may have) needs.
    All,
    /// Only those whose repositories may have code documents (marked before their first
    /// write): what a code search sends, so its cost follows the repositories with code,
    /// not every registration the principal reads.
    WithCode,
}

/// The access facts of one principal at one moment (see the module docs). Built by
/// [`crate::Registry::access`]; pure from then on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFilter {
    /// Visibilities the principal reads by being who it is.
    pub visibilities: BTreeSet<Visibility>,
    /// Repositories listing the principal as a reader (any visibility): all of them, or
    /// only those that may have code documents (see [`Memberships`]).
    pub memberships: BTreeSet<RepoId>,
    /// Repositories whose documents' visibility is not trusted now.
    pub pending: BTreeSet<RepoId>,
    /// The pending repositories the principal may read now, per the registry.
    pub pending_readable: BTreeSet<RepoId>,
    /// How many repositories the principal may read now (among the repositories the
    /// search was narrowed to, when it was).
    pub readable: u64,
}

impl AccessFilter {
    /// Whether a document of repository `repo_id` carrying `visibility` (`None`: missing
    /// or not a visibility) may be shown to the principal.
    pub fn admits(&self, repo_id: &str, visibility: Option<Visibility>) -> bool {
        if contains(&self.memberships, repo_id) || contains(&self.pending_readable, repo_id) {
            return true;
        }
        if contains(&self.pending, repo_id) {
            return false;
        }
        visibility.is_some_and(|v| self.visibilities.contains(&v))
    }

    /// Repositories readable whatever their documents say: the memberships and the
    /// pending repositories readable now, sorted, without duplicates.
    pub fn readable_by_id(&self) -> Vec<&RepoId> {
        self.memberships
            .union(&self.pending_readable)
            .collect::<Vec<_>>()
    }

    /// Whether nothing at all is readable (no search needs to be sent).
    pub fn reads_nothing(&self) -> bool {
        self.readable == 0
    }
}

fn contains(set: &BTreeSet<RepoId>, repo_id: &str) -> bool {
    set.contains(repo_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> BTreeSet<RepoId> {
        list.iter().map(|s| RepoId::new(*s).unwrap()).collect()
    }

    fn filter() -> AccessFilter {
        AccessFilter {
            visibilities: [Visibility::Public].into(),
            memberships: ids(&["mine"]),
            pending: ids(&["flipped", "gone", "mine"]),
            pending_readable: ids(&["mine"]),
            readable: 3,
        }
    }

    #[test]
    fn documents_are_trusted_only_outside_the_pending_set() {
        let f = filter();
        // Not pending: the document's visibility decides.
        assert!(f.admits("other", Some(Visibility::Public)));
        assert!(!f.admits("other", Some(Visibility::Private)));
        assert!(!f.admits("other", Some(Visibility::Internal)));
        assert!(!f.admits("other", None));
        // Pending and not readable now: nothing, whatever the document says.
        assert!(!f.admits("flipped", Some(Visibility::Public)));
        assert!(!f.admits("gone", Some(Visibility::Public)));
        // A membership reads every visibility, pending or not.
        assert!(f.admits("mine", Some(Visibility::Private)));
        assert!(f.admits("mine", None));
        // Ids that no repository can have are never admitted by id.
        assert!(!f.admits("", Some(Visibility::Private)));
        assert!(!f.admits("MINE", Some(Visibility::Private)));
        assert!(!f.admits("mine\u{0}", Some(Visibility::Private)));
    }

    #[test]
    fn pending_readable_repositories_are_read_by_id() {
        let mut f = filter();
        f.pending_readable = ids(&["flipped", "mine"]);
        assert!(f.admits("flipped", Some(Visibility::Private)));
        assert_eq!(
            f.readable_by_id()
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>(),
            ["flipped", "mine"]
        );
        assert!(!f.reads_nothing());
        f.readable = 0;
        assert!(f.reads_nothing());
    }
}
