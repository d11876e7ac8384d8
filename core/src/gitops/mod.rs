//! Git, through libgit2 (no `git` process, no network): which commit an apply came from, whether
//! the environment's files are committed ([`guard`]), the annotated tag every applied revision
//! gets ([`tag`]), commits of one edited file (`set-image --commit`), and manifests read
//! straight from git objects at any revision ([`revision`]), without a checkout and without
//! touching the work tree.
//!
//! [`Repo`] maps workspace paths (absolute, as the rest of ecsops uses them) to paths in the
//! repository, so a workspace may be the repository's root or any folder inside it.

mod commit;
pub mod guard;
pub mod revision;
pub mod tag;

use std::path::{Path, PathBuf};

use crate::workspace::normalize;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: {what}: {}", .source.message())]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
    #[error("`{0}` is a bare git repository; ecsops needs a work tree")]
    Bare(PathBuf),
    #[error("`{0}` is not in a git repository")]
    NotARepository(PathBuf),
    /// A revision that names no commit here (a typo, or a branch not fetched yet).
    #[error("no commit `{0}` in this repository")]
    NoCommit(String),
}

fn git(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let what = what.into();
    move |source| GitError::Git { what, source }
}

/// The repository holding a workspace.
pub struct Repo {
    git: git2::Repository,
    /// The work tree, canonical.
    workdir: PathBuf,
    /// The workspace root as ecsops was given it, and where it is in the repository.
    root: PathBuf,
    prefix: PathBuf,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("workdir", &self.workdir)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Where HEAD is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub commit: String,
    /// The branch HEAD is on; `None` when detached.
    pub branch: Option<String>,
}

impl Repo {
    /// The repository containing the workspace at `root`; `None` when there is none.
    pub fn discover(root: &Path) -> Result<Option<Self>, GitError> {
        let git = match git2::Repository::discover(root) {
            Ok(g) => g,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => {
                return Err(git(format!("open the repository at `{}`", root.display()))(e));
            }
        };
        let workdir = git.workdir().ok_or_else(|| GitError::Bare(git.path().to_path_buf()))?;
        let workdir = workdir.canonicalize().unwrap_or_else(|_| workdir.to_owned());
        let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
        let prefix =
            canonical_root.strip_prefix(&workdir).map(Path::to_path_buf).unwrap_or_default();
        Ok(Some(Self { git, workdir, root: root.to_owned(), prefix }))
    }

    /// A workspace path (absolute, under the root) as a path in the repository; `None` when
    /// it lies outside the repository.
    pub fn path_in_repo(&self, path: &Path) -> Option<PathBuf> {
        let in_root = path.strip_prefix(&self.root).ok()?;
        let relative = normalize(&self.prefix.join(in_root));
        (!relative.starts_with("..")).then_some(relative)
    }

    /// The same workspace path, as the work tree holds it (for messages and git commands).
    pub fn display(&self, path: &Path) -> String {
        self.path_in_repo(path)
            .map_or_else(|| path.display().to_string(), |p| p.display().to_string())
    }

    /// A workspace path as a pathspec for a git command run from the workspace root (where
    /// ecsops runs) or anywhere in the work tree: plain when the workspace is the repository's
    /// root, else from the top (`:/infra/environments/base.toml`), since git reads a plain
    /// pathspec from the current directory.
    pub fn pathspec(&self, path: &Path) -> String {
        match self.path_in_repo(path) {
            Some(p) if self.prefix.as_os_str().is_empty() => p.display().to_string(),
            Some(p) => format!(":/{}", p.display()),
            None => path.display().to_string(),
        }
    }

    pub fn head(&self) -> Result<Head, GitError> {
        let head = self.git.head().map_err(git("read HEAD"))?;
        let commit = head.peel_to_commit().map_err(git("read the commit HEAD points at"))?;
        let branch = head.is_branch().then(|| head.shorthand().ok().map(str::to_owned)).flatten();
        Ok(Head { commit: commit.id().to_string(), branch })
    }

    /// Whether the repository has a commit at all (HEAD on an unborn branch has none).
    pub fn has_commits(&self) -> bool {
        self.git.head().is_ok_and(|h| h.peel_to_commit().is_ok())
    }

    /// The tip of `branch`, local or on a remote.
    pub fn branch_tips(&self, branch: &str) -> Vec<String> {
        let mut tips = Vec::new();
        if let Ok(b) = self.git.find_branch(branch, git2::BranchType::Local)
            && let Some(id) = b.get().target()
        {
            tips.push(id.to_string());
        }
        if let Ok(remotes) = self.git.branches(Some(git2::BranchType::Remote)) {
            for (b, _) in remotes.flatten() {
                let name = b.name().ok().flatten().unwrap_or_default();
                if name.split_once('/').is_some_and(|(_, n)| n == branch)
                    && let Some(id) = b.get().target()
                {
                    tips.push(id.to_string());
                }
            }
        }
        tips
    }

    /// The remote-tracking branch that `branch` is published to, as `(name, tip)`: the
    /// upstream the local branch tracks, else `origin/<branch>`; `None` when neither exists
    /// (a repository never pushed anywhere).
    pub fn upstream(&self, branch: &str) -> Option<(String, String)> {
        let tracked =
            self.git.find_branch(branch, git2::BranchType::Local).and_then(|b| b.upstream()).ok();
        let remote = match tracked {
            Some(u) => u,
            None => {
                self.git.find_branch(&format!("origin/{branch}"), git2::BranchType::Remote).ok()?
            }
        };
        let name = remote.name().ok().flatten()?.to_owned();
        Some((name, remote.get().target()?.to_string()))
    }

    /// Whether the clone is shallow (`git clone --depth`): its history is cut off.
    pub fn is_shallow(&self) -> bool {
        self.git.is_shallow()
    }

    /// Whether this clone has commit `id`.
    pub fn has_commit(&self, id: &str) -> bool {
        git2::Oid::from_str(id).is_ok_and(|oid| self.git.find_commit(oid).is_ok())
    }

    /// How many commits `commit` has that `other` lacks, and the reverse; `None` when git
    /// cannot say (a commit this clone does not have, or history a shallow clone cut off).
    pub fn ahead_behind(&self, commit: &str, other: &str) -> Option<(usize, usize)> {
        let commit = git2::Oid::from_str(commit).ok()?;
        let other = git2::Oid::from_str(other).ok()?;
        self.git.graph_ahead_behind(commit, other).ok()
    }

    /// The repository holding `root`, which must exist.
    pub fn require(root: &Path) -> Result<Self, GitError> {
        Self::discover(root)?.ok_or_else(|| GitError::NotARepository(root.to_owned()))
    }

    /// Who tags and commits: the repository's configured identity, else `ecsops` with the
    /// user and host ecsops records as the applier (CI runners rarely configure git).
    fn identity(&self) -> Result<git2::Signature<'static>, git2::Error> {
        self.git.signature().or_else(|_| git2::Signature::now("ecsops", &crate::state::who()))
    }

    /// The commit `spec` names (a tag, a branch, a hash, `HEAD~1`, ...).
    pub fn commit(&self, spec: &str) -> Result<Commit, GitError> {
        let commit = self
            .git
            .revparse_single(spec)
            .map_err(|e| match e.code() {
                git2::ErrorCode::NotFound | git2::ErrorCode::InvalidSpec => {
                    GitError::NoCommit(spec.to_owned())
                }
                _ => git(format!("read the revision `{spec}`"))(e),
            })?
            .peel_to_commit()
            .map_err(git(format!("`{spec}` names no commit")))?;
        Ok(Commit::of(&commit))
    }
}

/// A commit as history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub id: String,
    pub subject: String,
    pub author: String,
}

impl Commit {
    fn of(c: &git2::Commit<'_>) -> Self {
        Self {
            id: c.id().to_string(),
            subject: c.summary().ok().flatten().unwrap_or_default().to_owned(),
            author: c.author().name().unwrap_or_default().to_owned(),
        }
    }

    pub fn short(&self) -> &str {
        short(&self.id)
    }
}

/// The abbreviated form of a commit id (7 characters, as git shows it).
pub fn short(id: &str) -> &str {
    id.get(..SHORT_ID).unwrap_or(id)
}

/// The length of the commit ids ecsops shows, as git abbreviates them.
const SHORT_ID: usize = 7;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Repo;

    /// `git restore` takes the pathspec from the workspace below the repository's root (and
    /// from the root), and a plain one where the workspace is the root.
    #[test]
    fn a_pathspec_reads_the_same_from_the_workspace_and_from_the_top() {
        let dir = tempfile::tempdir().expect("temp dir");
        let workspace = dir.path().join("infra");
        let file = workspace.join("environments/acc.toml");
        std::fs::create_dir_all(file.parent().expect("dir")).expect("dirs");
        std::fs::write(&file, "committed\n").expect("write");
        let git = |cwd: &Path, args: &[&str]| {
            let out = std::process::Command::new("git")
                .current_dir(cwd)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .output()
                .expect("git runs");
            assert!(out.status.success(), "git {args:?}: {out:?}");
        };
        git(dir.path(), &["init", "-q"]);
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "first"]);

        let repo = Repo::discover(&workspace).expect("open").expect("a repository");
        let spec = repo.pathspec(&file);
        assert_eq!(spec, ":/infra/environments/acc.toml");
        for cwd in [workspace.as_path(), dir.path()] {
            std::fs::write(&file, "edited\n").expect("edit");
            git(cwd, &["restore", "--source=HEAD", "--", &spec]);
            assert_eq!(std::fs::read_to_string(&file).expect("read"), "committed\n");
        }

        let root = Repo::discover(dir.path()).expect("open").expect("a repository");
        let top = dir.path().join("infra/environments/acc.toml");
        assert_eq!(root.pathspec(&top), "infra/environments/acc.toml");
    }
}
