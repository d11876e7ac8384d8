//! What the reporting commands print, as a new user and a tool meet it: `--format json` of
//! `validate`, `state list|show|history`, `lock` and `output` (parsed, with the text form's exit
//! codes), `ecsops output` after an apply, a state that does not parse and how a kept version
//! replaces it (local and S3), help texts, `--color`, the plan's address order, and the
//! messages of an empty state list and an offline diff with nothing to do; the apply report
//! when a saved plan cannot be used.

use ecsops_core::provider::aws::sdk::elbv2;
use serde_json::{Value, json};

use crate::support::env::{ENV, Env};
use crate::support::moto::moto;
use crate::support::{Output, Workspace, repo_root};

const MANIFEST: &str = "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n[network]\ncidr = \"10.0.0.0/16\"\n";

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("environments/acc.toml", MANIFEST);
    ws
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

fn document(serial: u64, resources: &Value) -> String {
    json!({"version": 2, "lineage": "0d6c1c9e-7a51-4a39-9f4d-222222222222", "serial": serial,
           "environment": "acc", "resources": resources})
    .to_string()
}

fn one_log_group() -> Value {
    json!({"log_group.service[web]": {"kind": "log_group", "id": "lg-web",
           "attributes": {"name": "/ecsops/acc/default/service/web"}}})
}

/// Writes `doc` to a file in the workspace and pushes it; returns the run.
fn push(ws: &Workspace, env: &[(&str, String)], name: &str, doc: &str, force: bool) -> Output {
    ws.write(name, doc);
    let path = ws.path().join(name);
    let mut args = vec!["state", "push", "acc", path.to_str().expect("utf-8 path")];
    if force {
        args.push("--force");
    }
    ws.ecsops_env(&args, env)
}

#[test]
fn validate_json_lists_each_diagnostic_with_its_position_and_keeps_the_exit_code() {
    let ws = Workspace::new();
    let fixture = repo_root().join("tests/fixtures/manifests/invalid/bad-enum.toml");
    let text = std::fs::read_to_string(fixture).expect("fixture");
    ws.write("environments/bad-enum.toml", &text);
    let out = ws.ecsops(&["validate", "--format", "json"]);
    out.expect_code(1);
    assert!(out.stderr.is_empty(), "the document is all: {}", out.stderr);
    let doc = json_of(&out);
    assert_eq!(doc["format_version"], "1.4");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["environments"], json!(["bad-enum"]));
    assert_eq!(doc["errors"], 1);
    assert_eq!(
        doc["diagnostics"][0],
        json!({"severity": "error", "code": "invalid-value",
               "message": "`network.nat` must be one of `per_az`, `single`",
               "file": "environments/bad-enum.toml", "line": 8, "column": 7,
               "label": "not an allowed value", "help": "did you mean `single`?"})
    );

    let out = workspace().ecsops(&["validate", "--format", "json"]);
    out.expect_code(0);
    let doc = json_of(&out);
    assert_eq!((doc["valid"].clone(), doc["diagnostics"].clone()), (json!(true), json!([])));
}

/// `state list|show|history` and `lock` as JSON, on the local default, with the text form's
/// exit codes; an empty state list says that nothing is recorded.
#[test]
fn apply_json_is_one_document_when_the_saved_plan_cannot_be_used() {
    let ws = workspace();
    ws.write("plan.json", "{\"kind\": \"something-else\"}");
    let plan = ws.path().join("plan.json");
    let missing = ws.path().join("missing.json");
    for (file, error) in [(&plan, "not a saved plan"), (&missing, "cannot read")] {
        let file = file.to_str().expect("utf-8 path");
        let out = ws.ecsops(&["apply", "acc", "--plan", file, "--format", "json"]);
        out.expect_code(1);
        let doc = json_of(&out);
        assert_eq!(doc["result"], "error", "{doc:#}");
        assert!(doc["error"].as_str().is_some_and(|e| e.contains(error)), "{doc:#}");
        out.expect_in_stderr(error);
    }
}

#[test]
fn a_state_in_s3_without_credentials_says_how_to_get_them_or_review_without() {
    let ws = Workspace::new();
    ws.write(
        "environments/acc.toml",
        &format!("{MANIFEST}[state]\nbackend = \"s3\"\nbucket = \"acme-state\"\n"),
    );
    let env =
        [("AWS_REGION", "eu-west-1".to_owned()), ("AWS_EC2_METADATA_DISABLED", "true".to_owned())];
    let out = ws.ecsops_env(&["diff", "acc"], &env);
    out.expect_code(1);
    out.expect_in_stderr(
        "error: S3 GetObject on `s3://acme-state/acc/state.json` failed: no usable AWS credentials (",
    );
    out.expect_in_stderr("`ecsops diff ENV --rev BASE` plans from git alone");
}

#[test]
fn state_and_lock_json_on_the_local_backend() {
    let ws = workspace();
    let run = |args: &[&str]| ws.ecsops(args);
    let out = run(&["state", "list", "acc", "--format", "json"]);
    out.expect_code(0);
    let doc = json_of(&out);
    assert_eq!(doc["resources"], json!([]));
    assert!(doc.get("serial").is_none(), "no state yet: {doc}");

    push(&ws, &[], "d1.json", &document(1, &json!({})), false).expect_code(0);
    let out = run(&["state", "list", "acc"]);
    out.expect_code(0);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    out.expect_in_stderr("no resources are recorded for `acc` (serial 1,");

    push(&ws, &[], "d2.json", &document(2, &one_log_group()), false).expect_code(0);
    let doc = json_of(run(&["state", "list", "acc", "--format", "json"]).expect_code(0));
    assert_eq!(doc["serial"], 2);
    assert_eq!(doc["lineage"], "0d6c1c9e-7a51-4a39-9f4d-222222222222");
    assert_eq!(
        doc["resources"],
        json!([{"address": "log_group.service[web]", "kind": "log_group", "id": "lg-web"}])
    );
    assert!(
        doc["location"].as_str().is_some_and(|l| l.ends_with(".ecsops/state/acc.json")),
        "{doc}"
    );

    let show = ["state", "show", "acc", "log_group.service[web]", "--format", "json"];
    let doc = json_of(run(&show).expect_code(0));
    assert_eq!(doc["address"], "log_group.service[web]");
    assert_eq!(doc["resource"]["id"], "lg-web");
    assert_eq!(doc["resource"]["attributes"]["name"], "/ecsops/acc/default/service/web");
    let out = run(&["state", "show", "acc", "vpc", "--format", "json"]);
    out.expect_code(1);
    assert!(out.stdout.is_empty(), "no document on error");

    let out = run(&["state", "history", "acc", "--format", "json", "--limit", "1"]);
    let doc = json_of(out.expect_code(0));
    assert_eq!(doc["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["versions"][0]["serial"], 2);
    assert_eq!(doc["omitted"], 1);
    let kept = doc["versions"][0]["version"].as_str().expect("a file");
    assert!(std::path::Path::new(kept).is_file(), "{kept}");

    let doc = json_of(run(&["lock", "acc", "--format", "json"]).expect_code(0));
    assert_eq!((doc["locked"].clone(), doc.get("holder")), (json!(false), None));
    ws.write(
        ".ecsops/state/acc.lock",
        &json!({"id": "lock-1", "operation": "apply", "who": "ci@runner-7",
                "when": "2026-11-24T10:00:00Z", "version": "0.1.0"})
        .to_string(),
    );
    let doc = json_of(run(&["lock", "acc", "--format", "json"]).expect_code(2));
    assert_eq!(doc["locked"], true);
    assert_eq!(doc["holder"]["id"], "lock-1");
    assert_eq!(doc["holder"]["who"], "ci@runner-7");
}

/// A truncated local state: the error names the kept versions and how to restore one; a forced
/// push of a kept file replaces it, with a serial past every kept one.
#[test]
fn an_unparsable_local_state_says_how_to_restore_a_kept_version() {
    let ws = workspace();
    push(&ws, &[], "d1.json", &document(1, &one_log_group()), false).expect_code(0);
    push(&ws, &[], "d2.json", &document(2, &one_log_group()), false).expect_code(0);
    let state = ws.path().join(".ecsops/state/acc.json");
    let text = std::fs::read_to_string(&state).expect("state");
    std::fs::write(&state, &text[..text.len() / 2]).expect("truncate");

    let out = ws.ecsops(&["state", "list", "acc"]);
    out.expect_code(1);
    out.expect_in_stderr("is not a valid state document");
    out.expect_in_stderr("help: `ecsops state history acc` lists the kept versions (each a file)");
    out.expect_in_stderr("`ecsops state push acc FILE --force`");
    ws.ecsops(&["diff", "acc", "--offline"])
        .expect_code(1)
        .expect_in_stderr("`ecsops state push acc FILE --force`");

    let history =
        json_of(ws.ecsops(&["state", "history", "acc", "--format", "json"]).expect_code(0));
    let kept = history["versions"][0]["version"].as_str().expect("file");
    assert_eq!(history["versions"][0]["serial"], 2);
    // Without `--force` the unreadable state is not overwritten.
    let restore = |force: bool| {
        let mut args = vec!["state", "push", "acc", kept];
        if force {
            args.push("--force");
        }
        ws.ecsops(&args)
    };
    restore(false).expect_code(1).expect_in_stderr("is not a valid state document");
    restore(true).expect_code(0).expect_in_stdout("wrote serial 3");
    let doc = json_of(ws.ecsops(&["state", "list", "acc", "--format", "json"]).expect_code(0));
    assert_eq!(doc["serial"], 3);
    assert_eq!(doc["resources"][0]["address"], "log_group.service[web]");
}

/// The same on S3 (moto): the help names the AWS CLI call that fetches a kept version, the
/// history names the kept versions' objects, and the fetched version restores the state.
#[tokio::test]
async fn an_unparsable_s3_state_says_how_to_fetch_and_restore_a_kept_version() {
    let guard = moto();
    guard.server.create_bucket("ecsops-state").await;
    let ws = workspace();
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/team".to_owned()));
    // Versioning on, so that the bucket keeps the versions.
    ws.ecsops_env(&["lock", "acc", "--fix-bucket"], &env).expect_code(0);
    push(&ws, &env, "d1.json", &document(1, &one_log_group()), false).expect_code(0);
    push(&ws, &env, "d2.json", &document(2, &one_log_group()), false).expect_code(0);
    let s3 = guard.server.s3();
    s3.put_object()
        .bucket("ecsops-state")
        .key("team/acc/state.json")
        .body(b"{\"version\": 2, \"lineage\": \"0d6c".to_vec().into())
        .send()
        .await
        .expect("a truncated upload");

    let out = ws.ecsops_env(&["state", "show", "acc", "vpc"], &env);
    out.expect_code(1);
    out.expect_in_stderr("s3://ecsops-state/team/acc/state.json` is not a valid state document");
    out.expect_in_stderr("`ecsops state history acc` lists the kept versions (S3 objects)");
    out.expect_in_stderr("`aws s3 cp S3_URL state.json`");
    out.expect_in_stderr("`ecsops state push acc state.json --force`");

    let out = ws.ecsops_env(&["state", "history", "acc", "--format", "json"], &env);
    let history = json_of(out.expect_code(0));
    let kept = history["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["serial"] == 2))
        .unwrap_or_else(|| panic!("serial 2 kept: {history}"));
    assert_eq!(kept["version"], "s3://ecsops-state/team/acc/history/0000000002.json", "{history}");
    let body = s3
        .get_object()
        .bucket("ecsops-state")
        .key("team/acc/history/0000000002.json")
        .send()
        .await
        .expect("the kept version")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    push(&ws, &env, "state.json", &text, true).expect_code(0).expect_in_stdout("wrote serial 3");
    let out = ws.ecsops_env(&["state", "list", "acc", "--format", "json"], &env);
    let doc = json_of(out.expect_code(0));
    assert_eq!(doc["serial"], 3);
    assert_eq!(doc["resources"][0]["id"], "lg-web");
}

/// After an apply in the emulator: `ecsops output` shows the load balancer's DNS name (the one
/// AWS reports), one output alone prints bare for scripts, and JSON carries them all; an offline
/// diff with nothing to do says that the recorded state matches, not the infrastructure.
#[tokio::test]
async fn output_after_an_apply_and_an_offline_diff_with_nothing_to_do() {
    let env = Env::new().await;
    let out = env.run(&["output", ENV]);
    out.expect_code(0);
    out.expect_in_stderr("`acceptance` has no state yet");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);

    let balancers = elbv2::Client::new(&env.config)
        .describe_load_balancers()
        .names("acceptance-default")
        .send()
        .await
        .expect("the load balancer");
    let dns = balancers.load_balancers()[0].dns_name().expect("a DNS name").to_owned();
    let out = env.run(&["output", ENV]);
    out.expect_code(0);
    let line = |name: &str| {
        out.stdout.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).map_or_else(
            || panic!("no {name} in\n{}", out.stdout),
            |rest| rest.trim_start().trim_start_matches("= ").to_owned(),
        )
    };
    assert_eq!(line("load_balancer.default.dns_name"), dns);
    assert_eq!(line("ecs_cluster.name"), "acceptance-default");
    assert!(line("sns_topic.alerts.arn").starts_with("arn:aws:sns:"));
    let out = env.run(&["output", ENV, "load_balancer.default.dns_name"]);
    out.expect_code(0);
    assert_eq!(out.stdout, format!("{dns}\n"));
    let out = env.run(&["output", ENV, "ecs_cluster.name", "--format", "json"]);
    assert_eq!(json_of(out.expect_code(0)), json!("acceptance-default"));
    let doc = json_of(env.run(&["output", ENV, "--format", "json"]).expect_code(0));
    assert_eq!(doc["outputs"]["load_balancer.default.dns_name"], dns.as_str());
    assert!(
        doc["outputs"]["sns_topic.alerts.arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:sns:")),
        "{doc}"
    );
    let out = env.run(&["output", ENV, "load_balancer.web.dns_name"]);
    out.expect_code(1);
    out.expect_in_stderr("error: `acceptance` has no output `load_balancer.web.dns_name`");
    out.expect_in_stderr("`ecsops output acceptance` lists the outputs");

    let out = env.run(&["diff", ENV, "--offline"]);
    out.expect_code(0);
    out.expect_in_stdout(
        "No changes. The recorded state matches the manifest (AWS was not read: `--offline`).",
    );
}

/// The plan lists resources by address, in text and JSON.
#[test]
fn the_plan_lists_resources_by_address() {
    let ws = Workspace::example();
    let doc = json_of(ws.ecsops(&["diff", ENV, "--offline", "--format", "json"]).expect_code(0));
    let addresses: Vec<&str> = doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    let mut sorted = addresses.clone();
    sorted.sort_unstable();
    assert_eq!(addresses, sorted);
    assert!(addresses.len() > 40, "{addresses:?}");
    let text = ws.ecsops(&["diff", ENV, "--offline"]).stdout;
    let at = |address: &str| {
        text.find(&format!("# {address} will be created")).unwrap_or_else(|| panic!("no {address}"))
    };
    assert!(at("service[cadvisor]") < at("subnet.public[eu-west-1b]"));
    assert!(at("autoscaling_group[default]") < at("vpc"));
}

#[test]
fn help_describes_every_argument_and_offers_fix_bucket_only_where_it_applies() {
    let ws = Workspace::new();
    let help = |args: &[&str]| {
        let mut args = args.to_vec();
        args.push("--help");
        let out = ws.ecsops(&args);
        out.expect_code(0);
        out.stdout.clone()
    };
    for command in [&["lock"][..], &["unlock"], &["state", "list"], &["state", "push"]] {
        let text = help(command);
        // `<ENV>  The environment ...`, or the description on the next line.
        let described = text
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with("<ENV>"))
            .take(2)
            .any(|l| l.contains("The environment"));
        assert!(described, "{command:?}:\n{text}");
        assert!(text.contains("--fix-bucket"), "{command:?}:\n{text}");
    }
    let apply = help(&["apply"]);
    assert!(apply.contains("How long to wait while someone else holds the lock"), "{apply}");
    let destroy = help(&["destroy"]);
    assert!(destroy.contains("Destroy without asking"), "{destroy}");
    assert!(!destroy.contains("Apply without asking"), "{destroy}");
    assert!(!destroy.contains("--plan"), "{destroy}");
    for command in [&["validate"][..], &["set-image"], &["promote"], &["history"]] {
        assert!(!help(command).contains("--fix-bucket"), "{command:?}");
    }
    assert!(help(&[]).contains("--color <WHEN>"));
    ws.ecsops(&["validate", "--fix-bucket"]).expect_code(1);
}

/// `destroy` starts no rollout, so it offers no rollout wait to set: `--no-wait` and
/// `--wait-timeout` belong to `apply` and `rollback` alone.
#[test]
fn only_the_commands_that_roll_out_offer_the_rollout_wait() {
    let ws = Workspace::new();
    for command in ["apply", "rollback"] {
        let help = ws.ecsops(&[command, "--help"]).stdout;
        assert!(help.contains("--wait-timeout"), "{command}:\n{help}");
        assert!(help.contains("--no-wait"), "{command}:\n{help}");
    }
    let help = ws.ecsops(&["destroy", "--help"]).stdout;
    assert!(!help.contains("--wait-timeout"), "{help}");
    assert!(!help.contains("--no-wait"), "{help}");
    let out = ws.ecsops(&["destroy", ENV, "--auto-approve", "--no-wait"]);
    out.expect_code(1);
    assert!(out.stderr.contains("unexpected argument '--no-wait'"), "{}", out.stderr);
}

#[test]
fn color_always_and_never_win_over_the_environment() {
    let ws = Workspace::example();
    let diff = ["diff", ENV, "--offline"];
    let plain = ws.ecsops(&diff);
    assert!(!plain.stdout.contains('\u{1b}'), "NO_COLOR and a pipe");
    let mut args = diff.to_vec();
    args.extend(["--color", "always"]);
    let coloured = ws.ecsops(&args);
    coloured.expect_code(0);
    assert!(coloured.stdout.contains("\u{1b}["), "{}", coloured.stdout);
    let forced =
        ws.ecsops_env(&diff, &[("NO_COLOR", String::new()), ("CLICOLOR_FORCE", "1".to_owned())]);
    assert!(forced.stdout.contains("\u{1b}["), "CLICOLOR_FORCE colours a pipe");
    let mut args = diff.to_vec();
    args.extend(["--color", "never"]);
    let never =
        ws.ecsops_env(&args, &[("NO_COLOR", String::new()), ("CLICOLOR_FORCE", "1".to_owned())]);
    never.expect_code(0);
    assert!(!never.stdout.contains('\u{1b}'), "{}", never.stdout);
}
