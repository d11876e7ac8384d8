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
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("git add");
    index.update_all(["*"], None).expect("git add (removals)");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("write tree"))
        .expect("tree");
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
        let head = repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .expect("HEAD commit");
        repo.branch(name, &head, false).expect("git branch");
    }
    repo.set_head(&format!("refs/heads/{name}"))
        .expect("git switch");
}

pub fn head(dir: &Path) -> String {
    open(dir)
        .head()
        .and_then(|h| h.peel_to_commit())
        .expect("HEAD commit")
        .id()
        .to_string()
}

/// The `ecsops/<env>/*` tags, by serial.
pub fn tags(dir: &Path, env: &str) -> Vec<String> {
    let repo = open(dir);
    let names = repo
        .tag_names(Some(&format!("ecsops/{env}/*")))
        .expect("tag names");
    let mut tags: Vec<String> = names
        .iter()
        .flatten()
        .flatten()
        .map(str::to_owned)
        .collect();
    tags.sort_by_key(|t| {
        t.rsplit('/')
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    });
    tags
}

/// An annotated tag: (the commit it marks, its message, the tagger's name).
pub fn annotated(dir: &Path, name: &str) -> (String, String, String) {
    let repo = open(dir);
    let reference = repo
        .find_reference(&format!("refs/tags/{name}"))
        .expect("the tag exists");
    let tag = reference.peel_to_tag().expect("an annotated tag");
    let commit = reference.peel_to_commit().expect("a commit");
    let message = tag.message().ok().flatten().unwrap_or_default().to_owned();
    let tagger = tag
        .tagger()
        .and_then(|t| t.name().ok().map(str::to_owned))
        .unwrap_or_default();
    (commit.id().to_string(), message, tagger)
}

/// Whether `git status` shows nothing for the work tree's files.
pub fn is_clean(dir: &Path) -> bool {
    let repo = open(dir);
    let statuses = repo.statuses(None).expect("git status");
    statuses
        .iter()
        .all(|s| s.status().is_empty() || s.status() == git2::Status::IGNORED)
}
