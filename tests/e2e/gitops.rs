//! GitOps through the real binary, real git repositories (git2) and moto: every finished apply
//! tagged on the commit it came from, history, rollback to an earlier tag without touching the
//! work tree, protected environments refused before the lock, and no lock left behind by a
//! refusal or an interrupt at the prompt.

use std::io::{Read as _, Write as _};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ecsops_core::provider::aws::sdk::{autoscaling, logs};
use serde_json::Value;

use crate::support::env::{ENV, Env};
use crate::support::git;
use crate::support::{Output, Workspace, edit_manifest};

const GROUP: &str = "acceptance-default-default";

impl Env {
    async fn desired_capacity(&self) -> Option<i32> {
        autoscaling::Client::new(&self.config)
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(GROUP)
            .send()
            .await
            .expect("groups")
            .auto_scaling_groups()
            .first()
            .and_then(autoscaling::types::AutoScalingGroup::desired_capacity)
    }
}

/// The tag name an apply reported on stdout.
pub fn tagged(out: &Output) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Tagged "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no tag reported\n{}\n{}", out.stdout, out.stderr))
        .to_owned()
}

#[tokio::test]
async fn every_finished_apply_is_tagged_on_its_commit_and_listed_in_history() {
    let env = Env::new().await;
    git::init(env.dir());
    let first = git::commit_all(env.dir(), "Acceptance environment");

    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    let state = env.state();
    let serial = state["serial"].as_u64().expect("serial");
    let name = format!("ecsops/acceptance/{serial}");
    assert_eq!(tagged(&out), name);
    out.expect_in_stdout(&format!("Tagged {name} on {}.", &first[..7]));
    assert_eq!(git::tags(env.dir(), ENV), std::slice::from_ref(&name));
    let (commit, message, tagger) = git::annotated(env.dir(), &name);
    assert_eq!(commit, first);
    // No identity is configured in the test's HOME, as on a CI runner.
    assert_eq!(tagger, "ecsops");
    let plan_line =
        out.stdout.lines().find(|l| l.starts_with("Plan: ")).expect("the plan's summary");
    assert!(message.contains(plan_line), "{message}");
    assert!(
        message.starts_with(&format!("ecsops apply: acceptance serial {serial}\n")),
        "{message}"
    );
    for trailer in [
        "Environment: acceptance".to_owned(),
        format!("Serial: {serial}"),
        format!("Lineage: {}", state["lineage"].as_str().expect("lineage")),
        "Account: 123456789012".to_owned(),
        "Applied-By: ".to_owned(),
        "Applied-At: ".to_owned(),
    ] {
        assert!(message.contains(&trailer), "no `{trailer}` in\n{message}");
    }
    // The test runs with no `USER`, as many CI containers do: the applier is still named, after
    // the system's account of the process's user.
    let id = std::process::Command::new("id").arg("-un").output();
    if let Some(id) = id.ok().filter(|o| o.status.success()) {
        let user = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        assert!(
            message.contains(&format!("Applied-By: {user}@")),
            "not applied by `{user}`:\n{message}"
        );
    }
    let revision = &state["revision"];
    assert_eq!(revision["tag"], name.as_str());
    assert_eq!(revision["commit"], first.as_str());
    assert_eq!(revision["dirty"], false);
    assert_eq!(revision["result"], "applied");
    assert_eq!(state["version"], 3);

    let history = env.run(&["history", ENV]);
    history.expect_code(0);
    assert!(
        history.stdout.contains(&format!("serial {serial}  {name}  (current)")),
        "{}",
        history.stdout
    );
    history.expect_in_stdout(&format!("{} Acceptance environment (Dana Reviewer)", &first[..7]));
    history.expect_in_stdout(plan_line);
    let json: Value = serde_json::from_str(&env.run(&["history", ENV, "--format", "json"]).stdout)
        .expect("history JSON");
    assert_eq!(json["revisions"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["revisions"][0]["tag"], name.as_str());
    assert_eq!(json["revisions"][0]["commit"], first.as_str());
    assert_eq!(json["revisions"][0]["summary"], plan_line);
    assert_eq!(json["revisions"][0]["current"], true);

    // Nothing to change: no new tag, no new serial.
    let again = env.run(&["apply", ENV, "--auto-approve"]);
    again.expect_code(0);
    assert!(!again.stdout.contains("Tagged"), "{}", again.stdout);
    assert_eq!(git::tags(env.dir(), ENV), std::slice::from_ref(&name));
    assert_eq!(env.state()["serial"].as_u64(), Some(serial));

    // A failed apply gets no tag, and its state says why.
    env.edit(
        "acceptance.toml",
        "[services.web]",
        "[services.worker]\nimage = \"public.ecr.aws/docker/library/busybox:1.36\"\n\n[services.web]",
    );
    git::commit_all(env.dir(), "Add the worker");
    logs::Client::new(&env.config)
        .create_log_group()
        .log_group_name("/ecsops/acceptance/default/service/worker")
        .send()
        .await
        .expect("someone else's log group under the worker's name");
    let failed = env.run(&["apply", ENV, "--auto-approve"]);
    failed.expect_code(1);
    assert!(!failed.stdout.contains("Tagged"), "{}", failed.stdout);
    assert_eq!(git::tags(env.dir(), ENV), std::slice::from_ref(&name));
    let revision = &env.state()["revision"];
    assert_eq!(revision["result"], "failed");
    assert!(revision.get("tag").is_none(), "{revision}");
    let history = env.run(&["history", ENV]);
    history
        .expect_in_stdout("(untagged)  (current)")
        .expect_in_stdout("not tagged: the apply failed")
        .expect_in_stdout(&format!("serial {serial}  {name}\n"));
    env.assert_unlocked();
}

#[tokio::test]
async fn an_apply_from_uncommitted_files_is_recorded_dirty_and_not_tagged() {
    let env = Env::new().await;
    git::init(env.dir());
    let head = git::commit_all(env.dir(), "Acceptance environment");
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stderr("not tagged: `acceptance` was applied from uncommitted files");
    assert!(git::tags(env.dir(), ENV).is_empty());
    let revision = &env.state()["revision"];
    assert_eq!(revision["dirty"], true);
    assert_eq!(revision["commit"], head.as_str());
    assert_eq!(env.desired_capacity().await, Some(3));
}

/// A tag naming a serial no state can reach (pushed by hand, by mistake or malice) is not one
/// of ours: the apply neither moves its serial past it nor overflows counting on from it.
#[tokio::test]
async fn a_tag_beyond_the_highest_serial_does_not_stop_an_apply() {
    let env = Env::new().await;
    git::init(env.dir());
    let head = git::commit_all(env.dir(), "Acceptance environment");
    let bogus = format!("ecsops/{ENV}/{}", u64::MAX);
    git::tag_by_hand(env.dir(), &bogus, &head, "not an apply", 1_700_000_000);
    let out = env.run(&["apply", ENV, "--auto-approve", "--no-wait"]);
    out.expect_code(0);
    let serial = env.state()["serial"].as_u64().expect("serial");
    assert!(serial < 1000, "serial {serial}");
    assert_eq!(tagged(&out), format!("ecsops/{ENV}/{serial}"));
    env.assert_unlocked();
}

/// Git cannot write the tag (its ref is locked, as by a git command running beside ecsops):
/// the apply stands, says it is untagged and why, and the state no longer names the tag it
/// was saved with, so `history` does not send anyone to fetch it.
#[tokio::test]
async fn a_tag_git_cannot_write_is_not_left_named_in_the_state() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    let refs = env.dir().join(".git/refs/tags/ecsops").join(ENV);
    std::fs::create_dir_all(&refs).expect("tag refs");
    for serial in 1..=400 {
        std::fs::write(refs.join(format!("{serial}.lock")), "").expect("ref lock");
    }
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0).expect_in_stderr("warning: not tagged: ");
    assert!(git::tags(env.dir(), ENV).is_empty());
    let revision = &env.state()["revision"];
    assert!(revision.get("tag").is_none(), "{revision}");
    assert_eq!(revision["result"], "applied", "{revision}");
    let history = env.run(&["history", ENV]);
    history.expect_code(0);
    assert!(!history.stdout.contains("git fetch --tags"), "{}", history.stdout);
    history.expect_in_stdout("not tagged");
}

#[tokio::test]
async fn a_workspace_outside_git_applies_an_unprotected_environment_with_a_warning() {
    let env = Env::new().await;
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stderr("not tagged: the workspace is not in a git repository");
    // The state records how the apply ended, with no commit to name.
    let revision = &env.state()["revision"];
    assert_eq!(revision["result"], "applied", "{revision}");
    assert!(revision.get("commit").is_none(), "{revision}");
    assert_eq!(env.vpcs().await.len(), 1);
}

#[tokio::test]
async fn rollback_applies_an_earlier_revision_from_git_and_tags_the_result() {
    let env = Env::new().await;
    git::init(env.dir());
    // A first commit without the environment, for the refusal below.
    let manifests = std::fs::read_dir(env.dir().join("environments"))
        .expect("environments")
        .map(|e| e.expect("entry").path())
        .collect::<Vec<_>>();
    let hidden = env.dir().join("hidden");
    std::fs::create_dir_all(&hidden).expect("hidden dir");
    for m in &manifests {
        std::fs::rename(m, hidden.join(m.file_name().expect("name"))).expect("move");
    }
    env.ws.write("environments/README.md", "manifests go here\n");
    let empty = git::commit_all(env.dir(), "Empty workspace");
    for m in &manifests {
        std::fs::rename(hidden.join(m.file_name().expect("name")), m).expect("move back");
    }
    std::fs::remove_dir(&hidden).expect("remove hidden");
    let first_commit = git::commit_all(env.dir(), "Acceptance environment");
    let first = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    assert_eq!(env.desired_capacity().await, Some(2));

    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let second_commit = git::commit_all(env.dir(), "Raise capacity");
    let second = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    assert_eq!(env.desired_capacity().await, Some(3));
    let before: Vec<(String, String)> = ["acceptance.toml", "base.toml", "production.toml"]
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(env.dir().join("environments").join(f)).expect("manifest");
            ((*f).to_owned(), text)
        })
        .collect();

    let out = env.run(&["rollback", ENV, "--to", &first, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stdout(&format!(
        "Rolling back to {first} ({}): Acceptance environment (Dana Reviewer)",
        &first_commit[..7]
    ));
    out.expect_in_stdout("desired_capacity");
    assert_eq!(env.desired_capacity().await, Some(2));
    let third = tagged(&out);
    assert_eq!(git::tags(env.dir(), ENV), [first.clone(), second.clone(), third.clone()]);
    let (commit, message, _) = git::annotated(env.dir(), &third);
    assert_eq!(commit, second_commit, "the rollback is tagged on HEAD");
    assert!(
        message.starts_with(&format!(
            "ecsops rollback to {first} ({}): acceptance serial",
            &first_commit[..7]
        )),
        "{message}"
    );
    assert!(message.contains("Operation: rollback"), "{message}");
    let revision = &env.state()["revision"];
    assert_eq!(revision["operation"], "rollback");
    assert_eq!(revision["rolled_back_to"]["tag"], first.as_str());
    assert_eq!(revision["rolled_back_to"]["commit"], first_commit.as_str());
    assert_eq!(revision["tag"], third.as_str());
    // The work tree is as it was: the command to make git match is printed.
    for (file, text) in &before {
        let now =
            std::fs::read_to_string(env.dir().join("environments").join(file)).expect("manifest");
        assert_eq!(&now, text, "{file} changed");
    }
    assert!(git::is_clean(env.dir()));
    assert_eq!(git::head(env.dir()), second_commit);
    out.expect_in_stdout(&format!(
        "git restore --source={} --staged --worktree -- environments/base.toml environments/acceptance.toml",
        &first_commit[..7]
    ));
    // So the work tree's change is pending again.
    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(2);

    let history = env.run(&["history", ENV]);
    history.expect_code(0);
    assert!(
        history.stdout.contains(&format!("  {third}  [rollback]  (current)")),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains(&format!("rollback to {first} ({})", &first_commit[..7])),
        "{}",
        history.stdout
    );
    let positions: Vec<usize> = [&third, &second, &first]
        .iter()
        .map(|t| history.stdout.find(&format!("  {t}")).expect("listed"))
        .collect();
    assert!(positions.is_sorted(), "newest first\n{}", history.stdout);

    // A rollback by serial reaches the same revision.
    let serial = first.rsplit('/').next().expect("serial");
    env.run(&["rollback", ENV, "--to", serial, "--auto-approve"]).expect_code(0);
    // HEAD's commit is named by its apply's tag, not by the rollbacks standing on it.
    let out = env.run(&["rollback", ENV, "--to", &second_commit, "--auto-approve"]);
    out.expect_code(0).expect_in_stdout(&format!(
        "Rolling back to {second} ({}): Raise capacity",
        &second_commit[..7]
    ));
    assert_eq!(env.desired_capacity().await, Some(3));
    // A rollback's own tag stands on HEAD but names what it applied: rolling back to it goes
    // back to the first revision's manifests, not HEAD's.
    let to_third = env.run(&["rollback", ENV, "--to", &third, "--auto-approve"]);
    to_third.expect_code(0).expect_in_stdout(&format!(
        "Rolling back to {third} ({}): Acceptance environment (Dana Reviewer)",
        &first_commit[..7]
    ));
    assert_eq!(env.desired_capacity().await, Some(2));

    // Refusals, each with its reason; nothing changes.
    let refused = env.run(&["rollback", ENV, "--to", "999", "--auto-approve"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("serial 999 of `acceptance` has no tag `ecsops/acceptance/999`"),
        "{}",
        refused.stderr
    );
    let refused = env.run(&["rollback", ENV, "--to", &empty, "--auto-approve"]);
    refused.expect_code(1);
    refused.expect_in_stderr(&format!(
        "revision {} has no `environments/acceptance.toml`",
        &empty[..7]
    ));
    let refused = env.run(&["rollback", ENV, "--to", "ecsops/production/1", "--auto-approve"]);
    refused.expect_code(1);
    refused.expect_in_stderr("is a tag of another environment");
    env.edit("base.toml", "desired_capacity = 3", "desired_capacity = 9");
    let broken = git::commit_all(env.dir(), "Too much capacity");
    env.edit("base.toml", "desired_capacity = 9", "desired_capacity = 3");
    git::commit_all(env.dir(), "Revert too much capacity");
    let refused = env.run(&["rollback", ENV, "--to", &broken, "--auto-approve"]);
    refused.expect_code(1);
    refused.expect_in_stderr(&format!("at {} do not validate under today's rules", &broken[..7]));
    assert!(
        refused.stderr.contains(&format!("{}:environments/base.toml", &broken[..7])),
        "the diagnostic points into the revision\n{}",
        refused.stderr
    );
    assert_eq!(env.desired_capacity().await, Some(2));
    env.assert_unlocked();
    // The commands the rollback printed, run as printed, make git hold what is applied.
    let printed: Vec<&str> =
        to_third.stdout.lines().filter_map(|l| l.strip_prefix("  git ")).collect();
    assert_eq!(printed.len(), 2, "{}", to_third.stdout);
    for command in printed {
        let ran = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("git {command}"))
            .current_dir(env.dir())
            .envs([
                ("GIT_AUTHOR_NAME", "t"),
                ("GIT_AUTHOR_EMAIL", "t@example.com"),
                ("GIT_COMMITTER_NAME", "t"),
                ("GIT_COMMITTER_EMAIL", "t@example.com"),
            ])
            .output()
            .expect("git runs");
        assert!(ran.status.success(), "git {command}: {ran:?}");
    }
    assert!(git::is_clean(env.dir()));
    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(0);
}

/// A destroy's tag stands on the commit it ran from, whose manifests it did not apply: a
/// rollback to it is refused (it would build what the destroy removed), and the commit is named
/// by its apply's tag, not the destroy's, when a rollback goes to it.
#[tokio::test]
async fn a_destroy_is_no_rollback_target_and_names_no_commit() {
    let env = Env::new().await;
    git::init(env.dir());
    let commit = git::commit_all(env.dir(), "Acceptance environment");
    let applied = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    let destroyed = tagged(env.run(&["destroy", ENV, "--auto-approve"]).expect_code(0));
    let refused = env.run(&["rollback", ENV, "--to", &destroyed, "--auto-approve"]);
    refused.expect_code(1);
    refused.expect_in_stderr(&format!(
        "`{destroyed}` records a destroy of `acceptance`, not an apply to roll back to"
    ));
    refused.expect_in_stderr("`ecsops destroy acceptance` removes the environment again");
    assert_eq!(env.vpcs().await.len(), 0, "nothing built");
    env.assert_unlocked();
    env.run(&["rollback", ENV, "--to", &commit, "--auto-approve"]).expect_code(0).expect_in_stdout(
        &format!("Rolling back to {applied} ({}): Acceptance environment", &commit[..7]),
    );
}

/// Rolling forward again to the revision HEAD holds (after a rollback to an earlier one) makes
/// AWS match the work tree: there is nothing to restore, so no `git restore` is suggested (it
/// would change nothing, and its `git commit` would fail with nothing to commit).
#[tokio::test]
async fn a_rollback_to_what_the_work_tree_holds_suggests_no_restore() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    let first = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    git::commit_all(env.dir(), "Raise capacity");
    let second = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));

    let back = env.run(&["rollback", ENV, "--to", &first, "--auto-approve"]);
    back.expect_code(0);
    back.expect_in_stdout("The work tree still holds the change that was rolled back");
    assert_eq!(env.desired_capacity().await, Some(2));

    let forward = env.run(&["rollback", ENV, "--to", &second, "--auto-approve"]);
    forward.expect_code(0);
    assert_eq!(env.desired_capacity().await, Some(3));
    for text in ["still holds the change", "git restore", "git commit"] {
        assert!(
            !forward.stdout.contains(text) && !forward.stderr.contains(text),
            "`{text}` suggested for a rollback to HEAD's revision\n{}\n{}",
            forward.stdout,
            forward.stderr
        );
    }
    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(0);
}

#[tokio::test]
async fn a_protected_environment_is_refused_before_the_lock_with_the_reason() {
    let env = Env::new().await;
    env.edit("acceptance.toml", "name = \"acceptance\"", "name = \"acceptance\"\nprotected = true");
    let refused = |args: &[&str], expected: &str| {
        let out = env.run(args);
        out.expect_code(1);
        assert!(out.stderr.contains(expected), "{args:?}\n{}", out.stderr);
        assert!(out.stderr.contains("help: "), "a refusal says what to do\n{}", out.stderr);
        env.assert_unlocked();
    };
    let apply = ["apply", ENV, "--auto-approve"];

    refused(&apply, "`acceptance` is protected and `");
    refused(&apply, "is not in a git repository");

    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    refused(
        &apply,
        "`acceptance` is protected and this file is not committed: environments/base.toml (modified)",
    );
    git::commit_all(env.dir(), "Raise capacity");

    git::switch(env.dir(), "feature");
    refused(
        &apply,
        "`acceptance` is protected and is changed only from branch `main`; HEAD is on `feature`",
    );
    refused(&["destroy", ENV, "--auto-approve"], "changed only from branch `main`");
    refused(
        &["rollback", ENV, "--to", "HEAD~1", "--auto-approve"],
        "changed only from branch `main`",
    );
    git::switch(env.dir(), "main");

    // Taking the protection out in the work tree alone does not lift it: the committed
    // manifest protects the environment, and the edit is not committed.
    env.edit("acceptance.toml", "protected = true", "protected = false");
    refused(
        &apply,
        "`acceptance` is protected and this file is not committed: environments/acceptance.toml (modified)",
    );
    refused(&["destroy", ENV, "--auto-approve"], "this file is not committed");
    env.edit("acceptance.toml", "protected = false", "protected = true");

    let out = env.run(&["apply", ENV]);
    out.expect_code(1);
    out.expect_in_stderr(
        "refusing to apply `acceptance` without confirmation: stdin is not a terminal",
    );
    env.assert_unlocked();
    assert_eq!(env.vpcs().await.len(), 0, "nothing was created");

    // Every condition met: it applies and is tagged.
    let out = env.run(&apply);
    out.expect_code(0);
    assert_eq!(git::tags(env.dir(), ENV), [tagged(&out)]);

    // Unattended, a destroy needs its own approval too, and says so in its own words.
    let out = env.run(&["destroy", ENV]);
    out.expect_code(1);
    out.expect_in_stderr(
        "refusing to destroy `acceptance` without confirmation: stdin is not a terminal; pass `--auto-approve` to destroy unattended",
    );
    env.assert_unlocked();
    assert_eq!(env.vpcs().await.len(), 1, "nothing was destroyed");
}

#[tokio::test]
async fn a_protected_manifest_read_through_a_link_needs_what_it_links_to_committed() {
    let env = Env::new().await;
    env.edit("acceptance.toml", "name = \"acceptance\"", "name = \"acceptance\"\nprotected = true");
    let manifest = env.dir().join("environments/acceptance.toml");
    let linked = env.dir().join("local/acceptance.toml");
    std::fs::create_dir_all(linked.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&manifest, &linked).expect("move the manifest");
    std::os::unix::fs::symlink("../local/acceptance.toml", &manifest).expect("link");
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance, its manifest linked");
    let refused = |expected: &str| {
        let out = env.run(&["apply", ENV, "--auto-approve"]);
        out.expect_code(1);
        out.expect_in_stderr(expected);
        env.assert_unlocked();
    };

    // Git sees the link unchanged; what it reads is not committed.
    let text = std::fs::read_to_string(&linked).expect("read");
    std::fs::write(&linked, format!("{text}# an uncommitted edit\n")).expect("edit");
    refused(
        "`acceptance` is protected and this file is not committed: environments/acceptance.toml → local/acceptance.toml (modified)",
    );

    // A link out of the repository (and so of the workspace) reads what git never holds: it
    // is not read at all.
    let outside = tempfile::tempdir().expect("tempdir");
    let elsewhere = outside.path().join("acceptance.toml");
    std::fs::write(&elsewhere, &text).expect("write");
    std::fs::remove_file(&manifest).expect("unlink");
    std::os::unix::fs::symlink(&elsewhere, &manifest).expect("link");
    git::commit_all(env.dir(), "Link out of the repository");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(1).expect_in_stderr(
        "cannot read `environments/acceptance.toml`: it is a link that leads out of the workspace",
    );
    assert_eq!(env.vpcs().await.len(), 0, "nothing was created");
}

/// `ecsops` in a pseudo-terminal (util-linux `script`), so it asks at a real prompt.
pub fn in_terminal(env: &Env, args: &str) -> std::process::Child {
    let command =
        format!("exec '{}' -C '{}' {args}", env!("CARGO_BIN_EXE_ecsops"), env.dir().display());
    std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir())
        .env("NO_COLOR", "1")
        .envs(env.moto.server.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ecsops under `script`")
}

/// Types `keys` at the child's terminal and waits for it to end; returns its exit code and
/// all it showed after what `rx` had already given.
pub fn type_and_wait(
    child: &mut std::process::Child,
    rx: &mpsc::Receiver<String>,
    keys: &[u8],
) -> (Option<i32>, String) {
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(keys).expect("type");
    stdin.flush().expect("flush");
    let status = child.wait().expect("ecsops ends");
    drop(stdin);
    (status.code(), rx.iter().collect())
}

/// Reads the child's terminal output until `marker` appears; returns all that was read.
pub fn read_until(
    child: &mut std::process::Child,
    marker: &str,
) -> (String, mpsc::Receiver<String>) {
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_mins(1);
    while !seen.contains(marker) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.push_str(&chunk),
            Err(e) => panic!("no `{marker}` on the terminal ({e}); it showed:\n{seen}"),
        }
    }
    (seen, rx)
}

#[tokio::test]
async fn ctrl_c_at_the_prompt_cancels_and_releases_the_lock() {
    let env = Env::new().await;
    let mut child = in_terminal(&env, "apply acceptance");
    let (_, rx) = read_until(&mut child, "Only `yes` confirms");
    // While it waits for the answer, the lock is held.
    env.run(&["lock", ENV]).expect_code(2);
    // Ctrl-C as a terminal sends it: the line discipline turns it into SIGINT.
    let (code, shown) = type_and_wait(&mut child, &rx, b"\x03");
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("Apply interrupted before it started; nothing was changed."), "{shown}");
    env.assert_unlocked();
    assert_eq!(env.vpcs().await.len(), 0);

    // A protected environment asks for its name; a wrong answer cancels and unlocks.
    env.edit("acceptance.toml", "name = \"acceptance\"", "name = \"acceptance\"\nprotected = true");
    git::init(env.dir());
    git::commit_all(env.dir(), "Protected acceptance");
    let mut child = in_terminal(&env, "apply acceptance");
    let (_, rx) = read_until(&mut child, "`acceptance` is protected. Type its name to apply");
    let (code, shown) = type_and_wait(&mut child, &rx, b"yes\n");
    assert_eq!(code, Some(1), "{shown}");
    env.assert_unlocked();
    assert_eq!(env.vpcs().await.len(), 0);
}

#[test]
fn diff_rev_plans_a_pull_request_without_credentials_or_state() {
    // No moto, no AWS variables, no AWS config (HOME is empty), no state.
    let ws = Workspace::example();
    git::init(ws.path());
    git::commit_all(ws.path(), "Environments");
    let edit = |from: &str, to: &str| edit_manifest(ws.path(), "base.toml", from, to);
    edit("desired_capacity = 2", "desired_capacity = 3");
    git::commit_all(ws.path(), "Raise acceptance capacity");

    let out = ws.ecsops(&["diff", "acceptance", "--rev", "HEAD~1", "--detailed-exitcode"]);
    out.expect_code(2);
    out.expect_in_stdout("against revision ").expect_in_stdout("(no state or AWS read)");
    out.expect_in_stdout("~ desired_capacity = 2 -> 3");
    out.expect_in_stdout("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.");
    assert!(!ws.path().join(".ecsops").exists(), "no state was made");
    // Production sets its own capacity: nothing changes there.
    ws.ecsops(&["diff", "production", "--rev", "HEAD~1", "--detailed-exitcode"]).expect_code(0);

    // Every environment: only acceptance changed, in one comment that fits GitHub's limit.
    let md = ws.ecsops(&["diff", "--rev", "HEAD~1", "--format", "markdown"]);
    md.expect_code(0);
    assert!(
        md.stdout
            .starts_with("### ecsops plan: 1 environment changed since `HEAD~1`: `acceptance`"),
        "{}",
        md.stdout
    );
    md.expect_in_stdout("! desired_capacity = 2 -> 3");
    assert!(!md.stdout.contains("`production`"), "{}", md.stdout);
    assert!(md.stdout.chars().count() <= 65_536);

    // A change to the shared base file shows for every environment that extends it.
    edit("retention_days = 30", "retention_days = 90");
    let json = ws.ecsops(&["diff", "--rev", "HEAD", "--format", "json", "--detailed-exitcode"]);
    json.expect_code(2);
    let plans: Value = serde_json::from_str(&json.stdout).expect("a JSON array of plans");
    let changed: Vec<&str> = plans
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["environment"].as_str().expect("environment"))
        .collect();
    assert_eq!(changed, ["acceptance", "production"]);
    for p in plans.as_array().expect("array") {
        assert_eq!(p["summary"]["update"], 9, "the nine log groups: {}", p["summary"]);
        assert_eq!(p["prior_state"], Value::Null);
        assert_eq!(p["base_revision"].as_str().map(str::len), Some(7));
    }
    let md = ws.ecsops(&["diff", "--rev", "HEAD", "--format", "markdown"]);
    md.expect_in_stdout("2 environments changed since `HEAD`: `acceptance`, `production`");
    assert!(md.stdout.chars().count() <= 65_536);

    let out = ws.ecsops(&["diff", "--rev", "nosuchrev"]);
    out.expect_code(1)
        .expect_in_stderr("error: no commit `nosuchrev` in this repository\n")
        .expect_in_stderr("help: name a branch, a tag or a commit");

    // Outside git, `--rev` says what it needs.
    let plain = Workspace::example();
    let out = plain.ecsops(&["diff", "acceptance", "--rev", "HEAD"]);
    out.expect_code(1);
    out.expect_in_stderr("is not in a git repository");
    out.expect_in_stderr("help: revisions are read from git: run ecsops in a clone");
}

#[test]
fn diff_rev_names_changed_settings_that_make_no_resource() {
    let ws = Workspace::example();
    git::init(ws.path());
    git::commit_all(ws.path(), "Environments");
    let path = ws.path().join("environments/production.toml");
    let text = std::fs::read_to_string(&path).expect("production.toml");
    assert!(text.contains("protected = true"), "{text}");
    std::fs::write(
        &path,
        text.replacen(
            "protected = true",
            "account_id = \"210987654321\"\nrole_arn = \"arn:aws:iam::210987654321:role/deploy\"\nexternal_id = \"ext-hunter2-MARKER\"",
            1,
        ),
    )
    .expect("write production.toml");

    // A pull request that lifts production's protection and moves its account is not one
    // without changes, though it changes no resource.
    let md = ws.ecsops(&["diff", "--rev", "HEAD", "--format", "markdown"]);
    md.expect_code(0);
    md.expect_in_stdout("1 environment changed since `HEAD`: `production`");
    md.expect_in_stdout(
        "`[environment] protected`: changed from `true` to `false` (a setting that makes no resource)",
    );
    md.expect_in_stdout("`[environment] account_id`: changed from unset to `\"210987654321\"`");
    // The external id is a shared secret: said to change, never shown.
    md.expect_in_stdout("`[environment] external_id`: changed from unset to a hidden value");
    assert!(!md.stdout.contains("MARKER"), "{}", md.stdout);
    md.expect_in_stdout("No resource differs from revision ");
    assert!(!md.stdout.contains("The manifests match"), "{}", md.stdout);
    let json = ws.ecsops(&["diff", "production", "--rev", "HEAD", "--format", "json"]);
    let plan: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let settings: Vec<&str> = plan["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter(|n| n["code"] == "setting-changed")
        .map(|n| n["address"].as_str().expect("address"))
        .collect();
    assert_eq!(
        settings,
        [
            "[environment] account_id",
            "[environment] external_id",
            "[environment] protected",
            "[environment] role_arn"
        ]
    );
    assert!(!json.stdout.contains("MARKER"), "{}", json.stdout);
}

/// A pull request that fixes manifests the base revision breaks is reviewed all the same: the
/// plan compares with nothing and says why.
#[test]
fn diff_rev_against_a_base_that_does_not_validate_plans_the_fix_and_says_so() {
    let ws = Workspace::example();
    git::init(ws.path());
    let path = ws.path().join("environments/acceptance.toml");
    let text = std::fs::read_to_string(&path).expect("acceptance.toml");
    std::fs::write(&path, text.replace("cidr = \"10.0.0.0/16\"", "cidr = \"10.0.0.0/33\""))
        .expect("break acceptance");
    git::commit_all(ws.path(), "Broken acceptance");
    std::fs::write(&path, &text).expect("fix acceptance");
    let md = ws.ecsops(&["diff", "acceptance", "--rev", "HEAD", "--format", "markdown"]);
    md.expect_code(0);
    md.expect_in_stdout("`environments/acceptance.toml`: does not validate at revision ");
    md.expect_in_stdout(
        "so this plan compares with nothing and shows every resource as new; `ecsops diff acceptance` compares with the state",
    );
    let json = ws.ecsops(&["diff", "acceptance", "--rev", "HEAD", "--format", "json"]);
    let plan: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(plan["notes"][0]["code"], "base-invalid", "{plan}");
    assert_eq!(plan["summary"]["create"], 57, "{plan}");
}

/// A pull request that deletes an environment's manifest plans the destruction of all of it,
/// which merging does not do: the plan says how an environment is removed.
#[test]
fn diff_rev_of_a_removed_manifest_says_to_destroy_before_removing() {
    let ws = Workspace::example();
    git::init(ws.path());
    git::commit_all(ws.path(), "Environments");
    std::fs::remove_file(ws.path().join("environments/acceptance.toml")).expect("remove");
    let md = ws.ecsops(&["diff", "--rev", "HEAD", "--format", "markdown"]);
    md.expect_code(0);
    md.expect_in_stdout("`environments/acceptance.toml`: removed since revision ");
    md.expect_in_stdout(
        "merging this destroys nothing, and an apply of `acceptance` fails without its manifest; run `ecsops destroy acceptance` before removing the file",
    );
    let json = ws.ecsops(&["diff", "acceptance", "--rev", "HEAD", "--format", "json"]);
    let plan: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(plan["notes"][0]["code"], "environment-removed", "{plan}");
    assert!(plan["summary"]["delete"].as_u64() > Some(50), "{plan}");
}

#[tokio::test]
async fn a_saved_plan_applies_exactly_what_it_showed_and_is_refused_once_stale() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let path = |name: &str| env.dir().join(name).display().to_string();

    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let head = git::commit_all(env.dir(), "Raise capacity");
    let out = env.run(&["diff", ENV, "--out", &path("plan.json")]);
    out.expect_code(0);
    out.expect_in_stderr("Saved the plan to");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(path("plan.json")).expect("saved plan"))
            .expect("saved plan JSON");
    let serial = env.state()["serial"].as_u64().expect("serial");
    assert_eq!(saved["kind"], "ecsops-saved-plan");
    assert_eq!(saved["format_version"], "1");
    assert_eq!(saved["serial"].as_u64(), Some(serial));
    assert_eq!(saved["lineage"], env.state()["lineage"]);
    assert_eq!(saved["commit"], head.as_str());
    assert_eq!(saved["account"], "123456789012");
    let planned: Vec<&str> = saved["plan"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| c["address"].as_str().expect("address"))
        .collect();
    assert_eq!(planned, ["autoscaling_group[default]"]);

    let out = env.run(&["apply", ENV, "--plan", &path("plan.json"), "--auto-approve"]);
    out.expect_code(0);
    let touched: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(": updated after") || l.contains(": created after"))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(touched, planned, "{}", out.stderr);
    out.expect_in_stdout("Apply complete: 0 created, 1 updated, 0 replaced, 0 destroyed.");
    assert_eq!(env.desired_capacity().await, Some(3));
    assert_eq!(git::tags(env.dir(), ENV).len(), 2, "tagged like any apply");

    // Another apply runs after the plan was saved: the plan is stale.
    env.edit("base.toml", "desired_capacity = 3", "desired_capacity = 4");
    git::commit_all(env.dir(), "More capacity");
    env.run(&["diff", ENV, "--out", &path("late.json")]).expect_code(0);
    let serial = env.state()["serial"].as_u64().expect("serial");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let moved_to = env.state()["serial"].as_u64().expect("serial");
    let out = env.run(&["apply", ENV, "--plan", &path("late.json"), "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr(&format!(
            "the saved plan of `acceptance` is stale: the state moved from serial {serial} to serial {moved_to} (another apply ran); nothing was changed"
        ));
    assert_eq!(env.state()["serial"].as_u64(), Some(moved_to));
    env.assert_unlocked();

    // The manifests or the commit changed since: refused before the lock.
    env.run(&["diff", ENV, "--out", &path("fresh.json")]).expect_code(0);
    env.edit("base.toml", "desired_capacity = 4", "desired_capacity = 2");
    let out = env.run(&["apply", ENV, "--plan", &path("fresh.json"), "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr("the manifests changed since it was saved");
    git::commit_all(env.dir(), "Back to two");
    let out = env.run(&["apply", ENV, "--plan", &path("fresh.json"), "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr("and HEAD is ");
    assert_eq!(env.desired_capacity().await, Some(4), "nothing was changed");
    assert_eq!(env.state()["serial"].as_u64(), Some(moved_to));
    env.assert_unlocked();

    let out = env.run(&["apply", ENV, "--plan", &path("plan.json.missing"), "--auto-approve"]);
    out.expect_code(1);
    std::fs::write(path("not-a-plan.json"), "{\"format_version\": \"1.2\"}").expect("write");
    let out = env.run(&["apply", ENV, "--plan", &path("not-a-plan.json"), "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr("not a saved plan");
}

#[test]
fn promotion_lists_what_differs_and_nothing_that_differs_only_by_name() {
    let ws = Workspace::example();
    let out = ws.ecsops(&[
        "diff",
        "production",
        "--from",
        "acceptance",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    out.expect_code(2);
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    assert_eq!(plan["environment"], "production");
    assert_eq!(plan["promoted_from"], "acceptance");
    let changes = plan["changes"].as_array().expect("changes");
    let change = |address: &str, attribute: &str| -> (Value, Value) {
        let c = changes
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no change of {address}"));
        let a = c["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .find(|a| a["name"] == attribute)
            .unwrap_or_else(|| panic!("{address} does not change {attribute}"));
        (a["before"].clone(), a["after"].clone())
    };
    // The sizes of the examples.
    assert_eq!(
        change("autoscaling_group[default]", "desired_capacity"),
        (Value::from(3), Value::from(2))
    );
    assert_eq!(change("autoscaling_group[default]", "max_size"), (Value::from(8), Value::from(4)));
    assert_eq!(
        change("launch_template[default]", "instance_type"),
        (Value::from("m6i.large"), Value::from("t3.medium"))
    );
    assert_eq!(change("service[web]", "desired_count"), (Value::from(3), Value::from(1)));
    // Nothing that only differs by the environment's name or addresses.
    let changed: Vec<&Value> = changes.iter().filter(|c| c["action"] != "no_op").collect();
    let text = serde_json::to_string(&changed).expect("json");
    assert!(!text.contains("acceptance"), "{text}");
    assert!(!text.contains("10.0."), "the network addresses stay production's: {text}");
    for c in &changed {
        assert_ne!(c["kind"], "vpc", "{c}");
        assert_ne!(c["kind"], "ecs_cluster", "{c}");
        assert_ne!(c["kind"], "log_group", "{c}");
    }
    // Text says what it is.
    let text = ws.ecsops(&["diff", "production", "--from", "acceptance"]);
    text.expect_code(0);
    assert!(
        text.stdout.starts_with(
            "ecsops plan for production: what promoting acceptance's manifests would change"
        ),
        "{}",
        text.stdout
    );
    // An environment promoted to itself changes nothing.
    ws.ecsops(&["diff", "acceptance", "--from", "acceptance", "--detailed-exitcode"])
        .expect_code(0);
}

#[tokio::test]
async fn the_state_history_keeps_one_version_per_apply_within_its_retention() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    let first = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    let kept = || {
        std::fs::read_dir(env.dir().join(".ecsops/state/history/acceptance"))
            .expect("history dir")
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".json") && !name.ends_with(".meta.json")
            })
            .count()
    };
    // 57 resources were saved one by one; the history keeps the apply once.
    assert_eq!(kept(), 1);
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    git::commit_all(env.dir(), "Raise capacity");
    let second = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    assert_eq!(kept(), 2);
    let out = env.run(&["state", "history", ENV]);
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].contains(&format!("apply {second} (applied)"))
            && lines[1].contains(&format!("apply {first} (applied)")),
        "{}",
        out.stdout
    );
    let out = env.run(&["state", "history", ENV, "--limit", "1"]);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    out.expect_in_stderr("1 older version(s)");

    // A retention of one keeps only the newest apply.
    env.edit("acceptance.toml", "[network]", "[state]\nkeep_versions = 1\n\n[network]");
    env.edit("base.toml", "desired_capacity = 3", "desired_capacity = 2");
    git::commit_all(env.dir(), "Back to two, keep one version");
    let third = tagged(env.run(&["apply", ENV, "--auto-approve"]).expect_code(0));
    assert_eq!(kept(), 1);
    let out = env.run(&["state", "history", ENV]);
    out.expect_in_stdout(&format!("apply {third} (applied)"));
}

#[test]
fn a_renamed_service_carries_its_derived_resources_and_says_why_they_are_replaced() {
    let ws = Workspace::example();
    git::init(ws.path());
    git::commit_all(ws.path(), "Environments");
    let path = ws.path().join("environments/base.toml");
    let text = std::fs::read_to_string(&path).expect("base.toml");
    std::fs::write(
        &path,
        text.replace("[services.api]", "[services.backend]")
            + "\n[[moved]]\nfrom = \"service[api]\"\nto = \"service[backend]\"\n",
    )
    .expect("rename api");
    let out = ws.ecsops(&["diff", "acceptance", "--rev", "HEAD"]);
    out.expect_code(0);
    for (address, reason) in [
        ("log_group.service", "name"),
        ("target_group", "name"),
        ("listener_rule", "forward_to"),
        ("service", "name"),
    ] {
        let heading = format!("# {address}[backend] must be replaced (moved from {address}[api])");
        let at = out
            .stdout
            .find(&heading)
            .unwrap_or_else(|| panic!("no `{heading}` in\n{}", out.stdout));
        assert!(
            out.stdout[at..]
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains(&format!("forces replacement: {reason}"))),
            "{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("will be destroyed"), "{}", out.stdout);
    assert!(!out.stdout.contains("will be created"), "{}", out.stdout);
}

#[tokio::test]
async fn destroy_asks_for_the_environments_name_and_a_typo_changes_nothing() {
    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let answer = |typed: &[u8]| {
        let mut child = in_terminal(&env, "destroy acceptance");
        let (_, rx) = read_until(&mut child, "Type the environment name to confirm");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(typed).expect("answer");
        stdin.flush().expect("flush");
        let status = child.wait().expect("ecsops ends");
        drop(stdin);
        (status.code(), rx.iter().collect::<String>())
    };
    let (code, shown) = answer(b"acceptanc\n");
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("Destroy cancelled: only `acceptance` confirms; nothing was changed."),
        "{shown}"
    );
    assert_eq!(env.vpcs().await.len(), 1, "nothing destroyed");
    env.assert_unlocked();
    let (code, shown) = answer(b"acceptance\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("Destroy complete:"), "{shown}");
    assert_eq!(env.vpcs().await.len(), 0);
    env.assert_unlocked();
}

#[tokio::test]
async fn a_saved_plan_edited_after_it_was_saved_is_refused_and_changes_nothing() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    git::commit_all(env.dir(), "Raise capacity");
    let path = |name: &str| env.dir().join(name).display().to_string();
    env.run(&["diff", ENV, "--out", &path("plan.json")]).expect_code(0);
    let serial = env.state()["serial"].clone();
    let edit = |name: &str, change: &dyn Fn(&mut Value)| {
        let mut saved: Value =
            serde_json::from_str(&std::fs::read_to_string(path("plan.json")).expect("plan"))
                .expect("saved plan JSON");
        change(&mut saved);
        std::fs::write(path(name), saved.to_string()).expect("write");
        path(name)
    };

    // The desired graph says more than the manifests and the plan shown.
    let graph = edit("graph.json", &|p| {
        p["graph"]["resources"]["autoscaling_group[default]"]["attributes"]["desired_capacity"] =
            serde_json::json!({"lit": 9});
    });
    // The plan deletes what the manifests keep.
    let changes = edit("changes.json", &|p| {
        for c in p["plan"]["changes"].as_array_mut().expect("changes") {
            if c["address"] == "vpc" {
                c["action"] = "delete".into();
            }
        }
    });
    for (file, address) in [(graph, "autoscaling_group[default]"), (changes, "vpc")] {
        let out = env.run(&["apply", ENV, "--plan", &file, "--auto-approve"]);
        out.expect_code(1);
        out.expect_in_stderr(&format!(
            "the saved plan of `acceptance` is stale: its plan of `{address}` is not what the manifests make (the file was edited after it was saved); nothing was changed"
        ));
    }
    // The state it was planned against names another resource: the apply would act on it.
    let prior = edit("prior.json", &|p| {
        p["prior"]["resources"]["autoscaling_group[default]"]["id"] = "someone-elses-asg".into();
    });
    let out = env.run(&["apply", ENV, "--plan", &prior, "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr(
        "the saved plan of `acceptance` is stale: its prior state of `autoscaling_group[default]` is not the state's (the file was edited after it was saved); nothing was changed",
    );
    assert_eq!(env.desired_capacity().await, Some(2), "nothing was changed");
    assert_eq!(env.state()["serial"], serial);
    env.assert_unlocked();

    // An edited manifest is named.
    env.edit("base.toml", "desired_capacity = 3", "desired_capacity = 4");
    let out = env.run(&["apply", ENV, "--plan", &path("plan.json"), "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr(
        "is stale: the manifests changed since it was saved (`environments/base.toml`); nothing was changed",
    );
    env.edit("base.toml", "desired_capacity = 4", "desired_capacity = 3");

    // Another environment's plan is that, and nothing about this one's manifests.
    let out = env.run(&["apply", "production", "--plan", &path("plan.json"), "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr(
        "the saved plan of `production` is stale: it is a plan of `acceptance`, not of `production`; nothing was changed",
    );

    // The plan as saved still applies.
    env.run(&["apply", ENV, "--plan", &path("plan.json"), "--auto-approve"]).expect_code(0);
    assert_eq!(env.desired_capacity().await, Some(3));
}

/// An environment whose manifests a pull request leaves alone is not in its plan, even when
/// the base revision fails its validation through another environment (a VPC range the other
/// one overlapped, which the pull request fixes): merging changes nothing of it.
#[test]
fn diff_rev_of_every_environment_leaves_out_one_only_another_made_invalid() {
    let ws = Workspace::example();
    git::init(ws.path());
    let qa = "extends = \"base.toml\"\n[environment]\nname = \"qa\"\n[network]\ncidr = \"10.0.0.0/16\"\n";
    ws.write("environments/qa.toml", qa);
    git::commit_all(ws.path(), "qa, overlapping acceptance");
    ws.write("environments/qa.toml", &qa.replace("10.0.0.0", "10.2.0.0"));
    let json = ws.ecsops(&["diff", "--rev", "HEAD", "--format", "json"]);
    let plans: Value = serde_json::from_str(&json.expect_code(0).stdout).expect("plans JSON");
    let planned: Vec<&str> = plans
        .as_array()
        .expect("an array of plans")
        .iter()
        .filter_map(|p| p["environment"].as_str())
        .collect();
    assert_eq!(planned, ["qa"], "{plans}");
    assert_eq!(plans[0]["notes"][0]["code"], "base-invalid", "{plans}");
}
