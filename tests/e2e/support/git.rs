//! Real git repositories in test workspaces, driven through git2 as a user's git would leave
//! them: commits by a fixed author, branches, and reads of the tags ecsops makes.

use std::path::Path;

use git2::{Repository, Signature};

/// The workspace's repository (made by [`init`]).
pub fn open(dir: &Path) -> Repository {
    Repository::open(dir).expect("open the test repository")
}

/// `git init -b main` with a `.gitignore` for local state; nothing committed yet.
pub fn init(dir: &Path) -> Repository {
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    let repo = Repository::init_opts(dir, &options).expect("git init");
    std::fs::write(dir.join(".gitignore"), ".ecsops/\n").expect("write .gitignore");
    repo
}

/// `git add -A && git commit -m message`; returns the commit id.
pub fn commit_all(dir: &Path, message: &str) -> String {
    let repo = open(dir);
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("git add");
    index.update_all(["*"], None).expect("git add (removals)");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("write tree")).expect("tree");
    let author = Signature::now("Dana Reviewer", "dana@example.com").expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &author, &author, message, &tree, &parents)
        .expect("git commit")
        .to_string()
}

/// `git switch -c name` (or to an existing branch), keeping the work tree.
pub fn switch(dir: &Path, name: &str) {
    let repo = open(dir);
    if repo.find_branch(name, git2::BranchType::Local).is_err() {
        repo.branch(name, &head_commit(&repo), false).expect("git branch");
    }
    repo.set_head(&format!("refs/heads/{name}")).expect("git switch");
}

pub fn head(dir: &Path) -> String {
    head_commit(&open(dir)).id().to_string()
}

/// The commit HEAD points at.
pub fn head_commit(repo: &Repository) -> git2::Commit<'_> {
    repo.head().and_then(|h| h.peel_to_commit()).expect("HEAD commit")
}

/// The `ecsops/<env>/*` tags, by serial.
pub fn tags(dir: &Path, env: &str) -> Vec<String> {
    let repo = open(dir);
    let names = repo.tag_names(Some(&format!("ecsops/{env}/*"))).expect("tag names");
    let mut tags: Vec<String> = names.iter().flatten().flatten().map(str::to_owned).collect();
    tags.sort_by_key(|t| t.rsplit('/').next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0));
    tags
}

/// An annotated tag: (the commit it marks, its message, the tagger's name).
pub fn annotated(dir: &Path, name: &str) -> (String, String, String) {
    let repo = open(dir);
    let reference = repo.find_reference(&format!("refs/tags/{name}")).expect("the tag exists");
    let tag = reference.peel_to_tag().expect("an annotated tag");
    let commit = reference.peel_to_commit().expect("a commit");
    let message = tag.message().ok().flatten().unwrap_or_default().to_owned();
    let tagger = tag.tagger().and_then(|t| t.name().ok().map(str::to_owned)).unwrap_or_default();
    (commit.id().to_string(), message, tagger)
}

/// Whether `git status` shows nothing for the work tree's files.
pub fn is_clean(dir: &Path) -> bool {
    let repo = open(dir);
    let statuses = repo.statuses(None).expect("git status");
    statuses.iter().all(|s| s.status().is_empty() || s.status() == git2::Status::IGNORED)
}

/// A tag of an apply made elsewhere, as `git fetch --tags` brings it from another clone: the
/// annotated tag `ecsops/<env>/<serial>` on `commit` with the message ecsops writes (its
/// subject, plan line and trailers, `core/src/gitops/tag.rs`), fetched now.
pub struct Fetched<'a> {
    pub env: &'a str,
    pub serial: u64,
    pub commit: &'a str,
    pub lineage: &'a str,
    /// RFC 3339, as ecsops writes `Applied-At`.
    pub applied_at: &'a str,
    /// A rollback's target: (tag, commit).
    pub rolled_back_to: Option<(&'a str, &'a str)>,
}

impl Fetched<'_> {
    pub fn tag(&self, dir: &Path) -> String {
        let (subject, operation, trailers) = match self.rolled_back_to {
            Some((tag, commit)) => (
                format!("rollback to {tag} ({})", &commit[..7]),
                "rollback",
                format!("Rolled-Back-To-Tag: {tag}\nRolled-Back-To-Commit: {commit}\n"),
            ),
            None => ("apply".to_owned(), "apply", String::new()),
        };
        let (env, serial) = (self.env, self.serial);
        let message = format!(
            "ecsops {subject}: {env} serial {serial}\n\n\
             Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.\n\n\
             Environment: {env}\nOperation: {operation}\nSerial: {serial}\n\
             Lineage: {}\nApplied-By: ci@elsewhere\nApplied-At: {}\n\
             Account: 123456789012\n{trailers}",
            self.lineage, self.applied_at
        );
        let name = format!("ecsops/{env}/{serial}");
        let tagger = Signature::now("ecsops", "ci@elsewhere").expect("signature");
        annotate(dir, &name, self.commit, &tagger, &message);
        name
    }
}

/// `git tag -a name commit -m message` by someone, at `at` (seconds since the epoch).
pub fn tag_by_hand(dir: &Path, name: &str, commit: &str, message: &str, at: i64) {
    let tagger = Signature::new("Dana Reviewer", "dana@example.com", &git2::Time::new(at, 0))
        .expect("signature");
    annotate(dir, name, commit, &tagger, message);
}

fn annotate(dir: &Path, name: &str, commit: &str, tagger: &Signature<'_>, message: &str) {
    let repo = open(dir);
    let target = repo.revparse_single(commit).expect("the tagged commit");
    repo.tag(name, &target, tagger, message, false).expect("git tag -a");
}

/// `git reset --hard commit` on the current branch.
pub fn reset_hard(dir: &Path, commit: &str) {
    let repo = open(dir);
    let target = repo.revparse_single(commit).expect("the commit");
    repo.reset(&target, git2::ResetType::Hard, None).expect("git reset --hard");
}

/// A bare repository standing in for the shared one (GitHub's), which the workspace's `main`
/// is pushed to and tracks as `origin/main`, as after `git push -u origin main`.
pub fn publish(dir: &Path, shared: &Path) {
    let mut options = git2::RepositoryInitOptions::new();
    options.bare(true).initial_head("main");
    Repository::init_opts(shared, &options).expect("git init --bare");
    let repo = open(dir);
    repo.remote("origin", shared.to_str().expect("a UTF-8 path")).expect("git remote add");
    push(dir);
    repo.find_branch("main", git2::BranchType::Local)
        .expect("main")
        .set_upstream(Some("origin/main"))
        .expect("git branch --set-upstream-to");
}

/// `git push origin main`, then `git fetch origin` (which updates `origin/main`).
pub fn push(dir: &Path) {
    let repo = open(dir);
    let mut origin = repo.find_remote("origin").expect("origin");
    origin.push(&["refs/heads/main:refs/heads/main"], None).expect("git push");
    fetch(dir);
}

/// `git fetch origin`.
pub fn fetch(dir: &Path) {
    let repo = open(dir);
    let mut origin = repo.find_remote("origin").expect("origin");
    origin.fetch(&["+refs/heads/*:refs/remotes/origin/*"], None, None).expect("git fetch");
}

/// `git clone shared dir`.
pub fn clone(shared: &Path, dir: &Path) {
    Repository::clone(shared.to_str().expect("a UTF-8 path"), dir).expect("git clone");
}

/// A colleague's clone of `shared` in `dir`: `edit` changes its work tree, then the change is
/// committed and pushed to `shared`'s `main`. Returns the commit.
pub fn push_from_clone(
    shared: &Path,
    dir: &Path,
    message: &str,
    edit: impl FnOnce(&Path),
) -> String {
    clone(shared, dir);
    edit(dir);
    let commit = commit_all(dir, message);
    let repo = open(dir);
    let mut origin = repo.find_remote("origin").expect("origin");
    origin.push(&["refs/heads/main:refs/heads/main"], None).expect("git push");
    commit
}
