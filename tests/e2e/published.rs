//! A protected environment runs only what the shared repository holds, and never goes back by
//! accident: HEAD neither behind nor ahead of the release branch as last fetched
//! (`origin/main`), checked before the lock; and, under the lock, not older than the revision
//! the environment was last applied from, nor lacking it (`rollback` is the way back, to any
//! commit, a short id of digits alone included). An unprotected environment is applied from
//! anywhere, but its plan says when it undoes a revision applied before. Real repositories
//! (git2, a bare one standing in for the shared remote, a colleague's clone) and moto.

use crate::support::env::{ENV, Env};
use crate::support::{Workspace, edit_manifest, git};

impl Env {
    /// Marks the example environment protected (uncommitted).
    fn protect(&self) {
        self.edit(
            "acceptance.toml",
            "name = \"acceptance\"",
            "name = \"acceptance\"\nprotected = true",
        );
    }

    /// Protects the environment, commits it on `main` and pushes that to a new bare repository
    /// (`infra.git` in the returned directory), which `main` tracks as `origin/main`.
    fn published(&self) -> tempfile::TempDir {
        self.protect();
        git::init(self.dir());
        git::commit_all(self.dir(), "Acceptance environment");
        let remote = tempfile::tempdir().expect("temp dir");
        git::publish(self.dir(), &remote.path().join("infra.git"));
        remote
    }

    /// Runs `args`, which must be refused before anything changed, with `expected` in the
    /// error and `help` in its help line.
    fn refused(&self, args: &[&str], expected: &str, help: &str) {
        let out = self.run(args);
        out.expect_code(1);
        out.expect_in_stderr(expected);
        out.expect_in_stderr(help);
        self.assert_unlocked();
    }
}

const APPLY: [&str; 3] = ["apply", ENV, "--auto-approve"];

#[tokio::test]
async fn a_protected_environment_applies_only_what_the_shared_repository_holds() {
    let env = Env::new().await;
    let remote = env.published();
    let shared = remote.path().join("infra.git");

    // Committed on `main`, not pushed: nobody else can see what would run.
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    git::commit_all(env.dir(), "Raise capacity");
    env.refused(
        &APPLY,
        "`acceptance` is protected and HEAD has 1 commit that `origin/main` lacks",
        "help: push the commits (`git push`), then run it again",
    );
    assert_eq!(env.vpcs().await.len(), 0, "nothing was created");

    git::push(env.dir());
    env.run(&APPLY).expect_code(0);

    // A colleague pushes; once fetched, this clone is behind.
    let colleague = tempfile::tempdir().expect("temp dir");
    git::push_from_clone(&shared, colleague.path(), "Raise capacity to 4", |dir| {
        edit_manifest(dir, "base.toml", "desired_capacity = 3", "desired_capacity = 4");
    });
    git::fetch(env.dir());
    env.refused(
        &APPLY,
        "`acceptance` is protected and HEAD is 1 commit behind `origin/main`",
        "help: bring HEAD up to date (`git pull`), then run it again: applying it would undo what the commits on `origin/main` changed",
    );
    env.refused(
        &["destroy", ENV, "--auto-approve"],
        "HEAD is 1 commit behind `origin/main`",
        "git pull",
    );
    // A plan shown from here says so: it would undo the colleague's change.
    env.run(&["diff", ENV, "--offline"])
        .expect_code(0)
        .expect_in_stderr(
            "`ecsops apply acceptance` would refuse: `acceptance` is protected and HEAD is 1 commit behind `origin/main`",
        )
        .expect_in_stderr("git pull");

    // A commit of its own on top: diverged.
    std::fs::write(env.dir().join("NOTES"), "on-call: dana\n").expect("write NOTES");
    git::commit_all(env.dir(), "Notes");
    env.refused(
        &APPLY,
        "`acceptance` is protected and HEAD has diverged from `origin/main` (1 commit ahead, 1 behind)",
        "help: merge or rebase onto `origin/main` (`git pull`) and push, then run it again",
    );
    assert_eq!(
        env.state()["revision"]["commit"].as_str(),
        Some(
            git::open(env.dir())
                .revparse_single("HEAD~1")
                .expect("HEAD~1")
                .id()
                .to_string()
                .as_str()
        ),
        "the state still records the one apply"
    );
}

#[tokio::test]
async fn a_protected_environment_is_not_applied_from_a_revision_older_than_the_last_applied() {
    let env = Env::new().await;
    env.protect();
    git::init(env.dir());
    let older = git::commit_all(env.dir(), "Acceptance environment");
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let newer = git::commit_all(env.dir(), "Raise capacity");
    let out = env.run(&APPLY);
    out.expect_code(0);
    let tag = crate::gitops::tagged(&out);

    // A clone reset to an older commit (or never pulled) would undo the newer one.
    git::reset_hard(env.dir(), &older);
    env.refused(
        &APPLY,
        &format!(
            "`acceptance` is protected and was last applied from {} (`{tag}`), 1 commit newer than HEAD ({})",
            &newer[..7],
            &older[..7]
        ),
        &format!(
            "help: bring HEAD up to date (`git pull`) to apply the newest revision; to go back to HEAD's on purpose, run `ecsops rollback acceptance --to {}`",
            &older[..7]
        ),
    );
    assert_eq!(env.state()["revision"]["commit"].as_str(), Some(newer.as_str()));
    env.run(&["diff", ENV, "--offline"])
        .expect_code(0)
        .expect_in_stderr("would refuse: `acceptance` is protected and was last applied from")
        .expect_in_stderr("1 commit newer than HEAD");

    // Going back on purpose is a rollback, and HEAD applies again after it.
    env.run(&["rollback", ENV, "--to", &older[..7], "--auto-approve"]).expect_code(0);
    env.run(&APPLY).expect_code(0);

    // Forward again is an apply.
    git::reset_hard(env.dir(), &newer);
    env.run(&APPLY).expect_code(0);
    assert_eq!(env.state()["revision"]["commit"].as_str(), Some(newer.as_str()));
}

#[tokio::test]
async fn a_clone_that_lacks_the_last_applied_commit_is_refused_until_it_pulls() {
    let env = Env::new().await;
    let remote = env.published();
    let shared = remote.path().join("infra.git");

    // A colleague raises the capacity, pushes and applies from their clone, with the same
    // state. This clone has not fetched since: its `origin/main` is as old as its `main`.
    let colleague = Workspace::new();
    std::fs::remove_dir(colleague.path().join("environments"))
        .expect("an empty directory to clone into");
    let applied = git::push_from_clone(&shared, colleague.path(), "Raise capacity", |dir| {
        edit_manifest(dir, "base.toml", "desired_capacity = 2", "desired_capacity = 3");
    });
    let mut shared_state = env.moto.server.env();
    shared_state.push((
        "ECSOPS_STATE_URL",
        format!("file://{}", env.dir().join(".ecsops/state").display()),
    ));
    colleague.ecsops_env(&APPLY, &shared_state).expect_code(0);

    env.refused(
        &APPLY,
        &format!(
            "`acceptance` is protected and was last applied from commit {}",
            &applied[..7]
        ),
        "help: bring the clone up to date (`git pull`), then run it again; if that commit is gone for good (history rewritten), `ecsops rollback acceptance --to HEAD` applies HEAD on purpose",
    );
    env.run(&["diff", ENV, "--offline"])
        .expect_code(0)
        .expect_in_stderr(
            "would refuse: `acceptance` is protected and was last applied from commit",
        )
        .expect_in_stderr("which this clone does not have");

    // Pulled, it applies the same revision: nothing to change.
    git::fetch(env.dir());
    git::reset_hard(env.dir(), "origin/main");
    let level = env.run(&["diff", ENV, "--offline"]);
    level.expect_code(0);
    assert!(!level.stderr.contains("would refuse"), "{}", level.stderr);
    env.run(&APPLY).expect_code(0).expect_in_stdout("No changes.");
}

#[tokio::test]
async fn a_short_commit_id_of_digits_alone_is_a_commit_to_roll_back_to_not_a_serial() {
    let env = Env::new().await;
    git::init(env.dir());
    // About one short id in twenty-seven is all digits: commit until one is.
    let mut digits = None;
    for n in 0..2000 {
        std::fs::write(env.dir().join("NOTES"), format!("{n}\n")).expect("write NOTES");
        let commit = git::commit_all(env.dir(), &format!("Notes {n}"));
        if commit[..7].bytes().all(|b| b.is_ascii_digit()) {
            digits = Some(commit);
            break;
        }
    }
    let digits = digits.expect("a commit whose short id is all digits");
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    git::commit_all(env.dir(), "Raise capacity");
    env.run(&APPLY).expect_code(0);

    env.run(&["rollback", ENV, "--to", &digits[..7], "--auto-approve"])
        .expect_code(0)
        .expect_in_stdout(&format!("Rolling back to {}: Notes", &digits[..7]));
    // A number that is neither a tagged serial nor a commit is still refused as a serial.
    env.run(&["rollback", ENV, "--to", "4", "--auto-approve"])
        .expect_code(1)
        .expect_in_stderr("serial 4 of `acceptance` has no tag `ecsops/acceptance/4`");
}

#[tokio::test]
async fn an_unprotected_environment_applies_from_anywhere_but_says_what_its_plan_undoes() {
    let env = Env::new().await;
    git::init(env.dir());
    let first = git::commit_all(env.dir(), "Acceptance environment");
    env.run(&APPLY).expect_code(0);

    // A branch is tried out in acceptance; meanwhile `main` moves on without it.
    git::switch(env.dir(), "try-capacity");
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let tried = git::commit_all(env.dir(), "Try capacity 3");
    let out = env.run(&APPLY);
    out.expect_code(0);
    let tag = crate::gitops::tagged(&out);
    git::switch(env.dir(), "main");
    git::reset_hard(env.dir(), &first);
    std::fs::write(env.dir().join("NOTES"), "on-call: dana\n").expect("write NOTES");
    git::commit_all(env.dir(), "Notes");

    let undoes = format!(
        "`acceptance` was last applied from commit {} (`{tag}`), which has 1 commit that HEAD lacks: this plan undoes what they changed",
        &tried[..7]
    );
    env.run(&["diff", ENV, "--offline"])
        .expect_code(0)
        .expect_in_stderr(&undoes)
        .expect_in_stderr("help: bring HEAD up to date first (`git pull`, or merge that revision), unless undoing it is the point")
        .expect_in_stdout("~ desired_capacity = 3 -> 2");
    // Unprotected: the apply goes ahead, after saying the same.
    env.run(&APPLY).expect_code(0).expect_in_stderr(&undoes);
    let level = env.run(&["diff", ENV, "--offline"]);
    level.expect_code(0);
    assert!(!level.stderr.contains("was last applied from"), "{}", level.stderr);
}
