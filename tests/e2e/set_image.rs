//! `ecsops set-image` and `ecsops promote` on a git copy of the example workspace: the CI image
//! bump edits only the environment's own file (comments kept, production untouched), commits
//! that file alone, refuses bad requests without writing, and promotion carries the image on.

use std::collections::BTreeMap;

use crate::support::{Workspace, git};

const OLD: &str = "public.ecr.aws/nginx/nginx:1.27-alpine";
const NEW: &str = "public.ecr.aws/nginx/nginx:1.28-alpine";

/// The example workspace, committed on `main`.
fn repository() -> Workspace {
    let ws = Workspace::example();
    git::init(ws.path());
    git::commit_all(ws.path(), "examples");
    ws
}

/// Every file of `environments/`, by name.
fn files(ws: &Workspace) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(ws.path().join("environments"))
        .expect("environments")
        .map(|e| {
            let e = e.expect("entry");
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("read"))
        })
        .collect()
}

/// The names of the files that differ.
fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    after
        .iter()
        .filter(|(name, bytes)| before.get(*name) != Some(*bytes))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The image of `web` in an environment's offline plan.
fn planned_web_image(ws: &Workspace, env: &str) -> String {
    let out = ws.ecsops(&["diff", env, "--offline"]);
    out.expect_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("image") && l.contains("nginx"))
        .unwrap_or_else(|| panic!("no web image in the plan of {env}:\n{}", out.stdout));
    line.split('"').nth(1).expect("quoted image").to_owned()
}

#[test]
fn the_ci_bump_edits_only_acceptance_and_keeps_every_comment() {
    let ws = repository();
    let before = files(&ws);
    let out = ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}")]);
    out.expect_code(0)
        .expect_in_stdout(&format!("acceptance: web {OLD} → {NEW}"))
        .expect_in_stdout("--- a/environments/acceptance.toml")
        .expect_in_stdout(&format!("+image = \"{NEW}\""));
    assert!(!out.stdout.contains('\u{1b}'), "NO_COLOR: no escapes");
    let after = files(&ws);
    assert_eq!(changed(&before, &after), ["acceptance.toml"]);

    let old = String::from_utf8_lossy(&before["acceptance.toml"]).into_owned();
    let new = String::from_utf8_lossy(&after["acceptance.toml"]).into_owned();
    let removed = old.lines().filter(|l| !new.lines().any(|n| n == *l)).count();
    let added = new.lines().filter(|l| !old.lines().any(|o| o == *l)).count();
    assert!(removed + added <= 3, "{removed} removed, {added} added:\n{new}");
    for comment in old.lines().filter(|l| l.trim_start().starts_with('#')) {
        assert!(new.contains(comment), "lost `{comment}`:\n{new}");
    }

    ws.ecsops(&["validate"]).expect_code(0);
    assert_eq!(planned_web_image(&ws, "production"), OLD);
    assert_eq!(planned_web_image(&ws, "acceptance"), NEW);
}

#[test]
fn commit_makes_one_commit_of_that_file_naming_the_change() {
    let ws = repository();
    let parent = git::head(ws.path());
    // Something else modified in the work tree stays out of the commit.
    let readme = ws.path().join("NOTES.md");
    std::fs::write(&readme, "draft\n").expect("write notes");
    ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}"), "--commit"])
        .expect_code(0)
        .expect_in_stdout("committed it");

    let repo = git::open(ws.path());
    let head = git::head_commit(&repo);
    assert_eq!(head.parent_count(), 1);
    assert_eq!(head.parent_id(0).expect("parent").to_string(), parent);
    assert_eq!(
        head.summary().ok().flatten(),
        Some("deploy acceptance: web nginx:1.27-alpine → 1.28-alpine")
    );
    assert!(
        head.message().ok().is_some_and(|m| m.contains(&format!("web: {OLD} → {NEW}"))),
        "{:?}",
        head.message()
    );
    let old_tree = head.parent(0).and_then(|p| p.tree()).expect("parent tree");
    let diff = repo
        .diff_tree_to_tree(Some(&old_tree), Some(&head.tree().expect("tree")), None)
        .expect("diff");
    let paths: Vec<String> = diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect();
    assert_eq!(paths, ["environments/acceptance.toml"]);
    // The committed file is what the work tree holds: nothing left to commit but the notes.
    let statuses = repo.statuses(None).expect("status");
    let dirty: Vec<String> =
        statuses.iter().filter_map(|s| s.path().ok().map(str::to_owned)).collect();
    assert_eq!(dirty, ["NOTES.md"]);
}

#[test]
fn refusals_name_the_problem_and_write_nothing() {
    let ws = repository();
    // A service only production runs.
    let production = std::fs::read_to_string(ws.path().join("environments/production.toml"))
        .expect("production");
    ws.write(
        "environments/production.toml",
        &format!(
            "{production}\n[services.worker]\nimage = \"busybox:1.36\"\ncpu = 128\nmemory = 128\ndesired_count = 1\n"
        ),
    );
    ws.ecsops(&["validate"]).expect_code(0);
    git::commit_all(ws.path(), "a worker in production");
    let before = files(&ws);
    let head = git::head(ws.path());

    for (args, says) in [
        (&["set-image", "acceptance", "webb=nginx:1.28"][..], "did you mean `web`?"),
        (
            &["set-image", "acceptance", "web=nginx:::"],
            "`nginx:::` (for `web`) is not an image reference",
        ),
        (&["set-image", "acceptance", "worker=busybox:1.37"], "`acceptance` does not run `worker`"),
        (&["set-image", "staging", "web=nginx:1.28"], "there is no environment `staging`"),
        (&["promote", "acceptance", "production", "worker"], "`acceptance` does not run `worker`"),
    ] {
        let out = ws.ecsops(args);
        out.expect_code(1).expect_in_stderr(says);
        assert_eq!(changed(&before, &files(&ws)), Vec::<String>::new(), "{args:?}");
    }
    ws.ecsops(&["set-image", "acceptance", "worker=busybox:1.37"])
        .expect_in_stderr(
            "`worker` runs in production; define it in `environments/acceptance.toml` first",
        )
        .expect_in_stderr("nothing was written");

    // A result that does not validate: acceptance's network now overlaps production's (before
    // the edit too, which the message says), and the edit is refused with the diagnostics.
    let original = String::from_utf8_lossy(&before["acceptance.toml"]).into_owned();
    let acceptance = original.replace("10.0.0.0/16", "10.1.0.0/16");
    ws.write("environments/acceptance.toml", &acceptance);
    let before = files(&ws);
    ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}"), "--commit"])
        .expect_code(1)
        .expect_in_stderr("overlap")
        .expect_in_stderr("the manifests are invalid before the edit");
    assert_eq!(changed(&before, &files(&ws)), Vec::<String>::new());

    // `--dry-run` shows the diff and writes nothing; nothing was committed along the way.
    ws.write("environments/acceptance.toml", &original);
    let before = files(&ws);
    ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}"), "--dry-run"])
        .expect_code(0)
        .expect_in_stdout(&format!("+image = \"{NEW}\""))
        .expect_in_stdout("nothing was written");
    assert_eq!(changed(&before, &files(&ws)), Vec::<String>::new());
    assert_eq!(git::head(ws.path()), head);
}

#[test]
fn promote_carries_acceptances_images_into_production_only() {
    let ws = repository();
    ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}"), "--commit"]).expect_code(0);
    let before = files(&ws);
    ws.ecsops(&["promote", "acceptance", "production", "--dry-run"])
        .expect_code(0)
        .expect_in_stdout(&format!("production: web {OLD} → {NEW}"));
    assert_eq!(changed(&before, &files(&ws)), Vec::<String>::new());

    ws.ecsops(&["promote", "acceptance", "production", "--commit"])
        .expect_code(0)
        .expect_in_stdout(&format!("production: web {OLD} → {NEW}"))
        .expect_in_stdout("--- a/environments/production.toml");
    assert_eq!(changed(&before, &files(&ws)), ["production.toml"]);
    let subject =
        git::head_commit(&git::open(ws.path())).summary().ok().flatten().map(str::to_owned);
    assert_eq!(
        subject.as_deref(),
        Some("deploy production from acceptance: web nginx:1.27-alpine → 1.28-alpine")
    );
    ws.ecsops(&["validate"]).expect_code(0);
    assert_eq!(planned_web_image(&ws, "production"), NEW);

    ws.ecsops(&["promote", "acceptance", "production"])
        .expect_code(0)
        .expect_in_stdout("Nothing to promote");
}

#[test]
fn several_images_at_once_system_containers_included_make_one_commit() {
    let ws = repository();
    ws.ecsops(&[
        "set-image",
        "acceptance",
        &format!("web={NEW}"),
        "cadvisor=gcr.io/cadvisor/cadvisor:v0.50.0",
        "--commit",
    ])
    .expect_code(0)
    .expect_in_stdout("+[system_containers.cadvisor]");
    let repo = git::open(ws.path());
    let head = git::head_commit(&repo);
    assert_eq!(
        head.summary().ok().flatten(),
        Some(
            "deploy acceptance: web nginx:1.27-alpine → 1.28-alpine, cadvisor cadvisor:v0.49.1 → v0.50.0"
        )
    );
    ws.ecsops(&["validate"]).expect_code(0);
    let base = std::fs::read_to_string(ws.path().join("environments/base.toml")).expect("base");
    assert!(base.contains("cadvisor:v0.49.1") && base.contains(OLD), "{base}");
    // The same request again changes nothing and commits nothing.
    let tip = git::head(ws.path());
    ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}"), "--commit"])
        .expect_code(0)
        .expect_in_stdout("Nothing to change");
    assert_eq!(git::head(ws.path()), tip);
}

/// An environment that extends the edited file (`qa` extends `acceptance.toml`) changes with
/// it: the output and the commit message say so, and `qa`'s plan shows the new image; one
/// that does not (`production`) is not named.
#[test]
fn an_edit_that_changes_an_extending_environment_names_it() {
    let ws = repository();
    ws.write(
        "environments/qa.toml",
        "extends = \"acceptance.toml\"\n\n[environment]\nname = \"qa\"\n\n[network]\ncidr = \"10.9.0.0/16\"\n",
    );
    git::commit_all(ws.path(), "qa");
    let out = ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}"), "--commit"]);
    out.expect_code(0).expect_in_stdout(
        "The edit changes `qa` too: it extends environments/acceptance.toml; `ecsops diff ENV` shows each plan.",
    );
    assert!(!out.stdout.contains("`production`"), "{}", out.stdout);
    let repo = git::open(ws.path());
    let head = git::head_commit(&repo);
    assert!(
        head.message().ok().is_some_and(
            |m| m.ends_with("\nAlso changes qa: it extends environments/acceptance.toml.\n")
        ),
        "{:?}",
        head.message()
    );
    assert_eq!(planned_web_image(&ws, "qa"), NEW);
}

/// The check of the edited file reads the rest of the workspace as `validate` does: an
/// environment linked to a file out of the workspace (a runner's credentials) is refused unread,
/// never quoted, and nothing is written.
#[test]
fn a_link_out_of_the_workspace_is_not_read_by_the_check() {
    let ws = repository();
    let outside = tempfile::tempdir().expect("tempdir");
    let credentials = outside.path().join("credentials");
    std::fs::write(&credentials, "aws_secret_access_key = hunter2-outside-MARKER\n")
        .expect("credentials");
    std::os::unix::fs::symlink(&credentials, ws.path().join("environments/evil.toml"))
        .expect("link");
    let before = files(&ws);
    let out = ws.ecsops(&["set-image", "acceptance", &format!("web={NEW}")]);
    out.expect_code(1).expect_in_stderr("it is a link that leads out of the workspace");
    assert!(!out.stderr.contains("MARKER") && !out.stdout.contains("MARKER"), "{}", out.stderr);
    assert_eq!(changed(&before, &files(&ws)), Vec::<String>::new());
}
