//! Committing one file the way `git commit -- <file>` does: the new commit is HEAD's tree with
//! only that file replaced, so whatever else is staged or modified stays out of it (and stays
//! staged); the index entry of the file is refreshed so `git status` shows it committed.

use std::path::Path;

use super::{Commit, GitError, Repo, git};

impl Repo {
    /// Whether the workspace file `path` is as HEAD has it (untracked counts as changed).
    pub fn is_unchanged(&self, path: &Path) -> Result<bool, GitError> {
        let relative = self.relative(path)?;
        let status = self
            .git
            .status_file(&relative)
            .map_err(git(format!("read the status of `{}`", relative.display())))?;
        Ok(status.is_empty())
    }

    /// Commits the work tree's `path` on HEAD's branch with `message`; returns the commit.
    pub fn commit_file(&self, path: &Path, message: &str) -> Result<Commit, GitError> {
        let relative = self.relative(path)?;
        let what = format!("commit `{}`", relative.display());
        let content = std::fs::read(path).map_err(|e| GitError::Git {
            what: what.clone(),
            source: git2::Error::from_str(&e.to_string()),
        })?;
        let blob = self.git.blob(&content).map_err(git(what.clone()))?;
        let parent = self.git.head().ok().and_then(|h| h.peel_to_commit().ok());
        // An unborn branch: the first commit starts from the empty tree.
        let base = if let Some(p) = &parent {
            p.tree().map_err(git(what.clone()))?
        } else {
            let empty =
                self.git.treebuilder(None).and_then(|b| b.write()).map_err(git(what.clone()))?;
            self.git.find_tree(empty).map_err(git(what.clone()))?
        };
        let mode = base.get_path(&relative).ok().map_or(git2::FileMode::Blob, |e| {
            if e.filemode() == i32::from(git2::FileMode::BlobExecutable) {
                git2::FileMode::BlobExecutable
            } else {
                git2::FileMode::Blob
            }
        });
        let tree_id = git2::build::TreeUpdateBuilder::new()
            .upsert(&relative, blob, mode)
            .create_updated(&self.git, &base)
            .map_err(git(what.clone()))?;
        let tree = self.git.find_tree(tree_id).map_err(git(what.clone()))?;
        let who = self.identity().map_err(git(what.clone()))?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = self
            .git
            .commit(Some("HEAD"), &who, &who, message, &tree, &parents)
            .map_err(git(what.clone()))?;
        let mut index = self.git.index().map_err(git(what.clone()))?;
        index.add_path(&relative).and_then(|()| index.write()).map_err(git(what.clone()))?;
        let commit = self.git.find_commit(id).map_err(git(what))?;
        Ok(Commit::of(&commit))
    }

    fn relative(&self, path: &Path) -> Result<std::path::PathBuf, GitError> {
        self.path_in_repo(path).ok_or_else(|| GitError::Git {
            what: format!("`{}` is outside the repository", path.display()),
            source: git2::Error::from_str("path outside the work tree"),
        })
    }
}
