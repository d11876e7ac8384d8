//! What must hold in git before an environment is changed, checked before the lock is taken:
//! a protected environment needs a repository, every file it reads committed, and HEAD on its
//! release branch, neither behind nor ahead of where that branch is published (`origin/main`);
//! under the lock, HEAD must not be older than the revision last applied ([`check_order`]). An unprotected one may be applied from anywhere; this records where from
//! (the commit and whether its files were dirty), which decides whether the apply is tagged.

use std::path::{Path, PathBuf};

use super::{GitError, Repo, git};

/// Where an apply comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub commit: String,
    /// The environment's files differ from HEAD: the commit alone does not say what was applied.
    pub dirty: bool,
}

/// What protection asks of an environment.
#[derive(Debug, Clone)]
pub struct Protection<'a> {
    pub environment: &'a str,
    pub protected: bool,
    pub release_branch: &'a str,
    /// Every file the environment reads (its manifest and its `extends` chain), absolute.
    pub files: &'a [PathBuf],
}

/// How a file the environment reads from outside the repository is listed.
const OUTSIDE: &str = " (outside the repository)";

/// Why a protected environment may not be changed from here.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("`{environment}` is protected and `{root}` is not in a git repository")]
    NotARepository { environment: String, root: PathBuf },
    #[error("`{environment}` is protected and the repository has no commit yet")]
    NoCommit { environment: String },
    #[error("`{environment}` is protected and {} not committed: {}", if .files.len() == 1 { "this file is" } else { "these files are" }, .files.join(", "))]
    Dirty {
        environment: String,
        /// `path (status)`, as the work tree has them.
        files: Vec<String>,
    },
    #[error(
        "`{environment}` is protected and is changed only from branch `{expected}`; HEAD is {actual}"
    )]
    WrongBranch { environment: String, expected: String, actual: String },
    #[error("`{environment}` is protected and HEAD {}", out_of_step(*.ahead, *.behind, .upstream))]
    OutOfStep {
        environment: String,
        /// The remote-tracking branch, `origin/main`.
        upstream: String,
        /// Commits HEAD has that the upstream lacks, and the reverse.
        ahead: usize,
        behind: usize,
    },
    #[error(
        "`{environment}` is protected and was last applied from {applied}{}, {} newer than HEAD ({head})",
        .tag.as_ref().map(|t| format!(" (`{t}`)")).unwrap_or_default(),
        commits(*.newer)
    )]
    Older {
        environment: String,
        /// Short commit ids.
        head: String,
        applied: String,
        tag: Option<String>,
        /// Commits the applied revision has that HEAD lacks.
        newer: usize,
    },
    #[error(
        "`{environment}` is protected and was last applied from commit {applied}{}, which this clone does not have",
        .tag.as_ref().map(|t| format!(" (`{t}`)")).unwrap_or_default()
    )]
    NotFetched {
        environment: String,
        /// Short commit id.
        applied: String,
        tag: Option<String>,
        /// The clone is shallow (a CI checkout): the commit may be in the history it cut off,
        /// which `git pull` does not bring.
        shallow: bool,
    },
    #[error("`{environment}` is protected: {reason}")]
    Git { environment: String, reason: GitError },
}

impl Refusal {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Self::NotARepository { .. } => {
                "run ecsops from a clone of the repository that holds the environment's manifests"
                    .to_owned()
            }
            Self::NoCommit { .. } => "commit the manifests, then run it again".to_owned(),
            Self::Dirty { files, .. } if files.iter().any(|f| f.ends_with(OUTSIDE)) => {
                "move the files outside the repository into it (and point `extends` there), commit, then run it again: a protected environment is changed only from what is committed".to_owned()
            }
            Self::Dirty { .. } => {
                "commit the changes (or `git stash` them), then run it again: a protected environment is changed only from what is committed".to_owned()
            }
            Self::WrongBranch { expected, .. } => format!(
                "switch to `{expected}` (`git switch {expected}`) or merge the change into it; set `[environment] release_branch` to release from another branch"
            ),
            Self::OutOfStep { upstream, ahead: 0, .. } => format!(
                "bring HEAD up to date (`git pull`), then run it again: applying it would undo what the commits on `{upstream}` changed"
            ),
            Self::OutOfStep { behind: 0, .. } => {
                "push the commits (`git push`), then run it again: a protected environment runs only what the shared repository holds".to_owned()
            }
            Self::OutOfStep { upstream, .. } => format!(
                "merge or rebase onto `{upstream}` (`git pull`) and push, then run it again"
            ),
            Self::Older {
                environment, head, ..
            } => format!(
                "bring HEAD up to date (`git pull`) to apply the newest revision; to go back to HEAD's on purpose, run `ecsops rollback {environment} --to {head}`"
            ),
            Self::NotFetched {
                environment,
                shallow: true,
                ..
            } => format!(
                "this clone is shallow: fetch the whole history (`git fetch --unshallow`; in GitHub Actions, `fetch-depth: 0` on actions/checkout), then run it again; if that commit is gone for good (history rewritten), `ecsops rollback {environment} --to HEAD` applies HEAD on purpose"
            ),
            Self::NotFetched { environment, .. } => format!(
                "bring the clone up to date (`git pull`), then run it again; if that commit is gone for good (history rewritten), `ecsops rollback {environment} --to HEAD` applies HEAD on purpose"
            ),
            Self::Git { .. } => "check the repository with `git status`".to_owned(),
        }
    }
}

/// `3 commits`.
pub fn commits(n: usize) -> String {
    if n == 1 { "1 commit".to_owned() } else { format!("{n} commits") }
}

/// How HEAD stands against `upstream`, for [`Refusal::OutOfStep`].
fn out_of_step(ahead: usize, behind: usize, upstream: &str) -> String {
    match (ahead, behind) {
        (0, behind) => format!("is {} behind `{upstream}`", commits(behind)),
        (ahead, 0) => format!("has {} that `{upstream}` lacks", commits(ahead)),
        (ahead, behind) => {
            format!("has diverged from `{upstream}` ({} ahead, {behind} behind)", commits(ahead))
        }
    }
}

/// Refuses a HEAD (on the release branch) that is not level with where that branch is
/// published, as last fetched: a check that needs no network, and a clone that never fetched
/// has nothing to compare.
fn check_published(
    repo: &Repo,
    environment: &str,
    head: &str,
    release_branch: &str,
) -> Result<(), Refusal> {
    if let Some((upstream, tip)) = repo.upstream(release_branch)
        && let Some((ahead, behind)) = repo.ahead_behind(head, &tip)
        && (ahead, behind) != (0, 0)
    {
        return Err(Refusal::OutOfStep {
            environment: environment.to_owned(),
            upstream,
            ahead,
            behind,
        });
    }
    Ok(())
}

/// Why an apply of a protected environment from this HEAD would be refused for staleness
/// (the refusals [`check`] and [`check_order`] make, but for uncommitted files): what a plan
/// shown from here warns of, since it would undo what HEAD lacks. `applied` is the commit
/// the environment was last applied from, with its tag.
pub fn stale(
    repo: &Repo,
    environment: &str,
    release_branch: &str,
    applied: Option<(&str, Option<&str>)>,
) -> Option<Refusal> {
    let head = repo.head().ok()?;
    if head.branch.as_deref() == Some(release_branch)
        && let Err(refusal) = check_published(repo, environment, &head.commit, release_branch)
    {
        return Some(refusal);
    }
    let (commit, tag) = applied?;
    check_order(repo, environment, &head.commit, commit, tag).err()
}

/// Refuses to apply a protected environment from a HEAD older than the revision it was last
/// applied from (`applied`, with its tag): that apply would undo the newer commits, which only
/// `rollback` does on purpose. A revision this clone does not have is refused too: it was
/// applied from a clone that pushed it, so this one has not pulled since (and its
/// `origin/main`, fetched as long ago, cannot tell). A HEAD that has diverged from the revision
/// (history rewritten on the release branch) is let through.
pub fn check_order(
    repo: &Repo,
    environment: &str,
    head: &str,
    applied: &str,
    tag: Option<&str>,
) -> Result<(), Refusal> {
    match lacking(repo, head, applied) {
        Some(Lacking::Revision) => Err(Refusal::NotFetched {
            environment: environment.to_owned(),
            applied: super::short(applied).to_owned(),
            tag: tag.map(str::to_owned),
            shallow: repo.is_shallow(),
        }),
        Some(Lacking::Newer(newer)) => Err(Refusal::Older {
            environment: environment.to_owned(),
            head: super::short(head).to_owned(),
            applied: super::short(applied).to_owned(),
            tag: tag.map(str::to_owned),
            newer,
        }),
        Some(Lacking::Diverged(_)) | None => Ok(()),
    }
}

/// What HEAD lacks of a revision applied before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lacking {
    /// HEAD is older: the revision has this many commits more.
    Newer(usize),
    /// HEAD went another way (another branch, rewritten history): this many of the revision's
    /// commits are not in it.
    Diverged(usize),
    /// The clone does not have the revision.
    Revision,
}

/// What HEAD (`head`) lacks of revision `applied`; `None` when it has all of it.
pub fn lacking(repo: &Repo, head: &str, applied: &str) -> Option<Lacking> {
    if !repo.has_commit(applied) {
        return Some(Lacking::Revision);
    }
    match repo.ahead_behind(head, applied)? {
        (_, 0) => None,
        (0, newer) => Some(Lacking::Newer(newer)),
        (_, missing) => Some(Lacking::Diverged(missing)),
    }
}

/// Checks `protection` against the repository (`None`: the workspace is not in one) and says
/// where the apply comes from (`None` without a repository or a commit).
pub fn check(
    repo: Option<&Repo>,
    root: &Path,
    protection: &Protection<'_>,
) -> Result<Option<Provenance>, Refusal> {
    let environment = protection.environment.to_owned();
    let Some(repo) = repo.filter(|r| r.has_commits()) else {
        if !protection.protected {
            return Ok(None);
        }
        return Err(match repo {
            None => Refusal::NotARepository { environment, root: root.to_owned() },
            Some(_) => Refusal::NoCommit { environment },
        });
    };
    let failed = |reason| Refusal::Git { environment: environment.clone(), reason };
    let head = repo.head().map_err(failed)?;
    let changed = changed_files(repo, protection.files).map_err(failed)?;
    if protection.protected {
        if !changed.is_empty() {
            return Err(Refusal::Dirty { environment, files: changed });
        }
        let on_branch = match &head.branch {
            Some(b) => b == protection.release_branch,
            // A detached HEAD (a CI checkout) at the branch's tip is on it.
            None => repo.branch_tips(protection.release_branch).contains(&head.commit),
        };
        if !on_branch {
            return Err(Refusal::WrongBranch {
                environment,
                expected: protection.release_branch.to_owned(),
                actual: head.branch.map_or_else(
                    || format!("detached at {}", super::short(&head.commit)),
                    |b| format!("on `{b}`"),
                ),
            });
        }
        check_published(repo, &environment, &head.commit, protection.release_branch)?;
    }
    Ok(Some(Provenance { commit: head.commit, dirty: !changed.is_empty() }))
}

/// The files among `files` whose work-tree content is not HEAD's, as `path (status)`.
fn changed_files(repo: &Repo, files: &[PathBuf]) -> Result<Vec<String>, GitError> {
    let mut changed = Vec::new();
    for file in files {
        let shown = repo.display(file);
        let Some(path) = repo.path_in_repo(file) else {
            changed.push(format!("{shown}{OUTSIDE}"));
            continue;
        };
        let status =
            repo.git.status_file(&path).map_err(git(format!("read the status of `{shown}`")))?;
        if let Some(what) = describe(status) {
            changed.push(format!("{shown} ({what})"));
        }
        // Git records a symbolic link as the name it points to, not what is read through it:
        // the file it leads to must be committed too.
        let Ok(read) = file.canonicalize() else {
            continue;
        };
        if read == repo.workdir.join(&path) {
            continue;
        }
        let Ok(target) = read.strip_prefix(&repo.workdir) else {
            changed.push(format!("{shown} → {}{OUTSIDE}", read.display()));
            continue;
        };
        let status = repo
            .git
            .status_file(target)
            .map_err(git(format!("read the status of `{}`", target.display())))?;
        if let Some(what) = describe(status) {
            changed.push(format!("{shown} → {} ({what})", target.display()));
        }
    }
    Ok(changed)
}

fn describe(s: git2::Status) -> Option<&'static str> {
    use git2::Status as S;
    if s.is_empty() || s == S::CURRENT {
        None
    } else if s.intersects(S::WT_NEW) {
        Some("untracked")
    } else if s.intersects(S::IGNORED) {
        Some("ignored by git")
    } else if s.intersects(S::WT_MODIFIED | S::WT_DELETED | S::WT_RENAMED | S::WT_TYPECHANGE) {
        Some("modified")
    } else {
        Some("staged, not committed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with `main` at two commits and `side` at one commit off the first.
    fn repo() -> (tempfile::TempDir, Repo, [String; 3]) {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = git2::Repository::init(dir.path()).expect("git init");
        let who = git2::Signature::now("Dana", "dana@example.com").expect("signature");
        let tree =
            git.find_tree(git.index().expect("index").write_tree().expect("tree")).expect("tree");
        let commit = |parents: &[&git2::Commit<'_>], message: &str| {
            git.commit(None, &who, &who, message, &tree, parents)
                .and_then(|id| git.find_commit(id))
                .expect("commit")
        };
        let first = commit(&[], "first");
        let second = commit(&[&first], "second");
        let side = commit(&[&first], "side");
        let ids = [first.id(), second.id(), side.id()].map(|id| id.to_string());
        let repo = Repo::discover(dir.path()).expect("open").expect("a repository");
        (dir, repo, ids)
    }

    #[test]
    fn what_head_lacks_of_an_applied_revision() {
        let (_dir, repo, [first, second, side]) = repo();
        assert_eq!(lacking(&repo, &second, &second), None);
        assert_eq!(lacking(&repo, &second, &first), None, "HEAD is newer");
        assert_eq!(lacking(&repo, &first, &second), Some(Lacking::Newer(1)));
        assert_eq!(lacking(&repo, &side, &second), Some(Lacking::Diverged(1)));
        let unknown = "1".repeat(40);
        assert_eq!(lacking(&repo, &second, &unknown), Some(Lacking::Revision));
    }

    #[test]
    fn only_an_older_head_or_a_missing_revision_is_refused() {
        let (_dir, repo, [first, second, side]) = repo();
        assert!(check_order(&repo, "prod", &second, &first, None).is_ok());
        assert!(check_order(&repo, "prod", &side, &second, None).is_ok(), "diverged");
        let older =
            check_order(&repo, "prod", &first, &second, Some("ecsops/prod/7")).expect_err("older");
        assert_eq!(
            older.to_string(),
            format!(
                "`prod` is protected and was last applied from {} (`ecsops/prod/7`), 1 commit newer than HEAD ({})",
                &second[..7],
                &first[..7]
            )
        );
        let missing = check_order(&repo, "prod", &second, &"2".repeat(40), None)
            .expect_err("not in the clone");
        assert!(matches!(missing, Refusal::NotFetched { shallow: false, .. }), "{missing}");
        assert!(missing.help().contains("`git pull`"), "{}", missing.help());
    }

    /// In a shallow clone (a CI checkout) the applied commit is often in the history the clone
    /// cut off: `git pull` brings nothing, `git fetch --unshallow` does.
    #[test]
    fn a_shallow_clone_is_told_to_fetch_its_history() {
        let (dir, _repo, [first, second, _]) = repo();
        let git = git2::Repository::open(dir.path()).expect("open");
        let tip = git.find_commit(git2::Oid::from_str(&second).expect("id")).expect("second");
        git.branch("main", &tip, true).expect("branch");
        git.set_head("refs/heads/main").expect("head");
        let shallow = tempfile::tempdir().expect("temp dir");
        let url = format!("file://{}", dir.path().display());
        let cloned = std::process::Command::new("git")
            .args(["clone", "-q", "--depth", "1", &url])
            .arg(shallow.path())
            .output()
            .expect("git runs");
        assert!(cloned.status.success(), "{cloned:?}");
        let repo = Repo::discover(shallow.path()).expect("open").expect("a repository");
        let head = repo.head().expect("head").commit;
        assert_eq!(head, second);
        let refused = check_order(&repo, "prod", &head, &first, None).expect_err("cut off");
        assert!(matches!(refused, Refusal::NotFetched { shallow: true, .. }), "{refused}");
        assert!(refused.help().contains("`git fetch --unshallow`"), "{}", refused.help());
    }

    #[test]
    fn out_of_step_says_which_way() {
        assert_eq!(out_of_step(0, 2, "origin/main"), "is 2 commits behind `origin/main`");
        assert_eq!(out_of_step(1, 0, "origin/main"), "has 1 commit that `origin/main` lacks");
        assert_eq!(
            out_of_step(1, 3, "origin/main"),
            "has diverged from `origin/main` (1 commit ahead, 3 behind)"
        );
    }
}
