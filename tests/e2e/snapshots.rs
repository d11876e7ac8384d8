//! What users read, as snapshots (`snapshots/*.snap`): the plan of the example workspace in each
//! format, a promotion plan with nested diffs, validation diagnostics, an apply report against
//! moto, and the help. A change to any of them fails here until its snapshot is accepted
//! (`INSTA_UPDATE=always`, then review the `.snap` diff like code).
//!
//! What varies from run to run is redacted by [`redacted`]: temp paths, ids moto makes up,
//! timings, a state's lineage, the version.

use crate::support::env::{ENV, Env};
use crate::support::{Output, Workspace, repo_root};

/// Runs `check` with the filters that put a stable name in place of what differs between runs.
fn redacted(check: impl FnOnce()) {
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        filters => vec![
            // Temp workspaces and homes (tempfile's `.tmpXXXXXX` and the folders above it).
            (r"(?:/[^/\s]+)*/\.tmp[A-Za-z0-9]{6}", "[TEMP]"),
            // A state's lineage is a fresh UUID. Only after the word: the example's certificate
            // ARN holds a UUID that is the manifest's, not the run's.
            (r"lineage:? [0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", "lineage [LINEAGE]"),
            // What moto makes up: `vpc-0a1b2c3d4e5f67890`, `subnet-...`, `sg-...`.
            (r"\b(vpc|subnet|sg|igw|rtb|rtbassoc|nat|eipalloc|eni|lt|i|ami)-[0-9a-f]{8,17}\b", "$1-[ID]"),
            // How long each step took, and each rollout.
            (r"after \d+(?:\.\d)?s", "after [DURATION]"),
            // A release bump is not a change of what the output says.
            (r#""ecsops_version": "[^"]+""#, r#""ecsops_version": "[VERSION]""#),
        ],
    }, {
        check();
    });
}

/// The run's exit code and both streams, as one text to snapshot.
fn shown(out: &Output) -> String {
    let code = out.code.map_or("signal".to_owned(), |c| c.to_string());
    format!("exit {code}\n--- stdout\n{}--- stderr\n{}", out.stdout, out.stderr)
}

#[test]
fn diff_of_the_example_in_each_format() {
    let ws = Workspace::example();
    for format in ["text", "markdown", "json"] {
        let out = ws.ecsops(&["diff", ENV, "--format", format]);
        redacted(|| insta::assert_snapshot!(format!("diff_{format}"), shown(&out)));
    }
}

#[test]
fn promotion_diff_shows_nested_changes() {
    let ws = Workspace::example();
    let out = ws.ecsops(&["diff", ENV, "--from", "production"]);
    redacted(|| insta::assert_snapshot!("diff_from_production", shown(&out)));
}

#[test]
fn validation_diagnostics() {
    let invalid = repo_root().join("tests/fixtures/manifests/invalid");
    for case in ["bad-enum.toml", "cidr-overlap", "extends-cycle"] {
        let path = invalid.join(case);
        let ws = if path.is_dir() {
            Workspace::copy_of(&path)
        } else {
            let ws = Workspace::new();
            let text = std::fs::read_to_string(&path).expect("fixture");
            ws.write(&format!("environments/{case}"), &text);
            ws
        };
        let out = ws.ecsops(&["validate"]);
        let name = case.trim_end_matches(".toml");
        redacted(|| insta::assert_snapshot!(format!("validate_{name}"), shown(&out)));
    }
}

/// The report of a first apply: the plan's header and summary, each step, the outcome. The plan
/// body in between is `diff_text`'s. One step at a time, so the steps come in one order.
#[tokio::test]
async fn apply_report() {
    let env = Env::new().await;
    let mut out = env.run(&["apply", ENV, "--auto-approve", "--parallelism", "1"]);
    let header = out.stdout.lines().next().unwrap_or_default().to_owned();
    let summary = out.stdout.find("\nPlan: ").map_or(0, |at| at + 1);
    out.stdout = format!("{header}\n[plan body]\n{}", &out.stdout[summary..]);
    redacted(|| insta::assert_snapshot!("apply_acceptance", shown(&out)));
}

#[test]
fn help() {
    let ws = Workspace::new();
    for (name, args) in [("help", &["--help"][..]), ("help_diff", &["diff", "--help"])] {
        let out = ws.ecsops(args);
        redacted(|| insta::assert_snapshot!(name, shown(&out)));
    }
}
