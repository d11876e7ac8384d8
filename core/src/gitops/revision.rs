//! Manifests at a git revision, read from the commit's tree object: a [`Tree`] the workspace
//! reads through, so loading, validation and planning work on an old revision exactly as on
//! the work tree, which stays untouched. Also resolves what `rollback --to` names.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{Commit, GitError, Repo, git, tag};
use crate::workspace::Tree;

/// A commit's files.
pub struct RevisionTree {
    repo: Mutex<Repo>,
    tree: git2::Oid,
    label: String,
}

impl std::fmt::Debug for RevisionTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevisionTree").field("label", &self.label).finish_non_exhaustive()
    }
}

impl RevisionTree {
    /// The files of `commit`, labelled (in paths users see) with `label`.
    pub fn new(repo: Repo, commit: &str, label: String) -> Result<Self, GitError> {
        let tree = repo
            .git
            .revparse_single(commit)
            .and_then(|o| o.peel_to_tree())
            .map_err(git(format!("read the files of commit `{commit}`")))?
            .id();
        Ok(Self { repo: Mutex::new(repo), tree, label })
    }

    fn with_entry<T>(
        &self,
        path: &Path,
        f: impl FnOnce(&git2::Repository, git2::Object<'_>) -> io::Result<T>,
    ) -> io::Result<T> {
        let repo = self.repo.lock().unwrap_or_else(PoisonError::into_inner);
        let not_found =
            || io::Error::new(io::ErrorKind::NotFound, format!("not in revision {}", self.label));
        let relative = repo.path_in_repo(path).ok_or_else(not_found)?;
        let tree = repo.git.find_tree(self.tree).map_err(io::Error::other)?;
        let object = if relative.as_os_str().is_empty() {
            tree.into_object()
        } else {
            tree.get_path(&relative)
                .and_then(|e| e.to_object(&repo.git))
                .map_err(|_| not_found())?
        };
        f(&repo.git, object)
    }
}

impl Tree for RevisionTree {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.with_entry(path, |_, object| {
            let blob = object.peel_to_blob().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a file in that revision")
            })?;
            Ok(blob.content().to_vec())
        })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        self.with_entry(dir, |_, object| {
            let tree = object.peel_to_tree().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a folder in that revision")
            })?;
            Ok(tree
                .iter()
                .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
                .filter_map(|e| e.name().ok().map(|n| dir.join(n)))
                .collect())
        })
    }

    fn label(&self) -> &str {
        &self.label
    }
}

/// A revision `rollback --to` named: the commit, and the tag when it was an applied revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub commit: Commit,
    pub tag: Option<String>,
}

impl Target {
    /// `ecsops/acceptance/3 (1a2b3c4)` or `1a2b3c4`.
    pub fn describe(&self) -> String {
        match &self.tag {
            Some(t) => format!("{t} ({})", self.commit.short()),
            None => self.commit.short().to_owned(),
        }
    }
}

/// Why a rollback target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "serial {serial} of `{environment}` has no tag `{tag}`: it was applied from uncommitted files, failed, or is not in this repository's tags"
    )]
    UntaggedSerial { environment: String, serial: u64, tag: String },
    #[error("`{tag}` is a tag of another environment, not of `{environment}`")]
    OtherEnvironment { environment: String, tag: String },
    /// What a destroy's tag names is the commit it ran from: applying that commit's manifests
    /// would build the environment again, the opposite of what the tag records.
    #[error("`{tag}` records a destroy of `{environment}`, not an apply to roll back to")]
    Destroy { environment: String, tag: String },
    #[error(transparent)]
    Git(#[from] GitError),
}

impl TargetError {
    pub fn help(&self, environment: &str) -> String {
        match self {
            Self::UntaggedSerial { .. } => format!(
                "`ecsops history {environment}` lists the tagged revisions; `git fetch --tags` brings those applied elsewhere"
            ),
            Self::OtherEnvironment { .. } => {
                format!("pick one of `ecsops history {environment}`")
            }
            Self::Destroy { .. } => format!(
                "pick an apply of `ecsops history {environment}`; `ecsops destroy {environment}` removes the environment again"
            ),
            Self::Git(_) => format!(
                "name a tag (`ecsops/{environment}/<serial>`), a serial or a commit; `ecsops history {environment}` lists them"
            ),
        }
    }
}

/// Whether a tag records a destroy.
fn destroyed(tag: &super::tag::Applied) -> bool {
    tag.record.as_ref().is_some_and(|r| r.operation == crate::state::Operation::Destroy)
}

/// The commit a rollback's tag says it applied; none for another tag.
fn rolled_back_to(tag: &super::tag::Applied) -> Option<&str> {
    let (_, commit) = tag.record.as_ref()?.rolled_back_to.as_ref()?;
    Some(commit)
}

/// Resolves `to`: a serial (`7`), a tag (`ecsops/acceptance/7`) or any commit git can name.
pub fn resolve(repo: &Repo, environment: &str, to: &str) -> Result<Target, TargetError> {
    let tag_name = if let Ok(serial) = to.parse::<u64>() {
        let name = tag::name(environment, serial);
        if repo.tag_exists(&name) {
            Some(name)
        } else if to.len() >= super::SHORT_ID && repo.commit(to).is_ok() {
            // A short commit id may be all digits (`4526710`): one in twenty-seven is.
            None
        } else {
            return Err(TargetError::UntaggedSerial {
                environment: environment.to_owned(),
                serial,
                tag: name,
            });
        }
    } else if let Some(rest) = to.strip_prefix("ecsops/") {
        if !rest.strip_prefix(environment).is_some_and(|s| s.starts_with('/')) {
            return Err(TargetError::OtherEnvironment {
                environment: environment.to_owned(),
                tag: to.to_owned(),
            });
        }
        Some(to.to_owned())
    } else {
        None
    };
    let tags = repo.tags(environment).unwrap_or_default();
    let Some(name) = tag_name else {
        let commit = repo.commit(to)?;
        // A commit that was applied is named by its newest tag, so history reads the same;
        // never by a rollback's, which stands on a commit whose manifests it did not apply,
        // nor by a destroy's, which applied none.
        let tag = tags
            .into_iter()
            .find(|t| t.commit.id == commit.id && rolled_back_to(t).is_none() && !destroyed(t))
            .map(|t| t.name);
        return Ok(Target { commit, tag });
    };
    // A rollback is tagged on the HEAD it ran from; what it applied is the revision it went
    // back to, which its tag records.
    let found = tags.iter().find(|t| t.name == name);
    if found.is_some_and(destroyed) {
        return Err(TargetError::Destroy { environment: environment.to_owned(), tag: name });
    }
    let ran = found.and_then(rolled_back_to);
    let commit = match ran {
        Some(commit) => repo.commit(commit)?,
        None => repo.commit(&format!("refs/tags/{name}"))?,
    };
    Ok(Target { commit, tag: Some(name) })
}
