//! The state commands through the real binary, on the local default and on S3 (moto):
//! `lock`, `unlock`, `state list/show/pull/push/history`, a stale lock that only the right id
//! removes, and a push killed mid-write that leaves the old or the new state, never a torn one.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Workspace;
use crate::support::moto::{Moto, moto};

const MANIFEST: &str = "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n[network]\ncidr = \"10.0.0.0/16\"\n";

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("environments/acc.toml", MANIFEST);
    ws
}

fn document(serial: u64, resources: usize) -> Value {
    let mut res = serde_json::Map::new();
    for i in 0..resources {
        res.insert(
            format!("log_group.service[svc-{i:05}]"),
            json!({"kind": "log_group", "id": format!("lg-{i}"),
                   "attributes": {"name": format!("/ecsops/acc/default/service/svc-{i:05}"),
                                  "retention_in_days": 30, "padding": "x".repeat(100)}}),
        );
    }
    json!({"version": 1, "lineage": "0d6c1c9e-7a51-4a39-9f4d-111111111111", "serial": serial,
           "environment": "acc", "resources": res})
}

fn create_bucket(server: &Moto) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(server.create_bucket("ecsops-state"));
}

/// The whole command flow on one backend (`env` selects it).
fn flow(ws: &Workspace, env: &[(&str, String)], stale_lock: impl Fn(&str)) {
    let run = |args: &[&str]| ws.ecsops_env(args, env);
    let out = run(&["lock", "acc"]);
    out.expect_code(0);
    assert!(out.stdout.contains("`acc` is unlocked"), "{}", out.stdout);
    run(&["state", "pull", "acc"]).expect_code(1);

    ws.write("doc1.json", &document(1, 2).to_string());
    let doc = ws.path().join("doc1.json");
    let doc = doc.to_str().expect("utf-8 path");
    let out = run(&["state", "push", "acc", doc]);
    out.expect_code(0);
    assert!(out.stdout.contains("wrote serial 1"), "{}", out.stdout);
    // The same serial again is refused: it would not move the state forward.
    let out = run(&["state", "push", "acc", doc]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("serial 1 is not newer than the stored serial 1"),
        "{}",
        out.stderr
    );

    let out = run(&["state", "list", "acc"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("log_group.service[svc-00001]  log_group"),
        "{}",
        out.stdout
    );
    let out = run(&["state", "show", "acc", "log_group.service[svc-00000]"]);
    out.expect_code(0);
    assert!(out.stdout.contains("\"id\": \"lg-0\""), "{}", out.stdout);
    run(&["state", "show", "acc", "vpc"]).expect_code(1);
    let pulled: Value =
        serde_json::from_str(&run(&["state", "pull", "acc"]).stdout).expect("pull is JSON");
    assert_eq!(pulled["serial"], 1);
    let out = run(&["state", "history", "acc"]);
    out.expect_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("serial 1 "))
        .unwrap_or_else(|| panic!("no serial 1 in\n{}", out.stdout));
    // Who wrote it and when, on every backend.
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(fields[2].starts_with("20"), "when: {line}");
    assert!(fields[3].contains('@'), "who: {line}");

    // A holder that crashed left its lock behind.
    stale_lock("0f0f0f0f-dead-4bee-8000-000000000001");
    let out = run(&["lock", "acc"]);
    out.expect_code(2);
    assert!(
        out.stdout
            .contains("lock id:   0f0f0f0f-dead-4bee-8000-000000000001"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("who:       ci@runner-7"),
        "{}",
        out.stdout
    );
    ws.write("doc2.json", &document(2, 2).to_string());
    let doc2 = ws.path().join("doc2.json");
    let doc2 = doc2.to_str().expect("utf-8 path");
    let out = run(&["state", "push", "acc", doc2]);
    out.expect_code(1);
    assert!(out.stderr.contains("is locked"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ecsops unlock acc 0f0f0f0f-dead-4bee-8000-000000000001"),
        "{}",
        out.stderr
    );
    let out = run(&["unlock", "acc", "wrong-id"]);
    out.expect_code(1);
    assert!(out.stderr.contains("does not hold `acc`"), "{}", out.stderr);
    run(&["unlock", "acc", "0f0f0f0f-dead-4bee-8000-000000000001"]).expect_code(0);
    run(&["state", "push", "acc", doc2]).expect_code(0);
    let out = run(&["diff", "acc", "--format", "json", "--offline"]);
    out.expect_code(0);
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan");
    assert_eq!(
        plan["prior_state"]["serial"], 2,
        "diff reads the same backend"
    );
}

fn stale_lock_body(id: &str) -> String {
    json!({"id": id, "operation": "apply", "who": "ci@runner-7", "when": "2026-11-24T10:00:00Z",
           "version": "0.1.0"})
    .to_string()
}

#[test]
fn state_commands_on_the_local_default() {
    let ws = workspace();
    flow(&ws, &[], |id| {
        ws.write(".ecsops/state/acc.lock", &stale_lock_body(id));
    });
    assert!(
        ws.path().join(".ecsops/state/acc.json").is_file(),
        "no configuration needed"
    );
}

#[test]
fn the_s3_bucket_is_checked_and_only_fixed_when_asked() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/hygiene".to_owned()));
    let out = ws.ecsops_env(&["lock", "acc"], &env);
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("warning: the state bucket `ecsops-state` lacks versioning"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("default encryption") && out.stderr.contains("public access block"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--fix-bucket"), "{}", out.stderr);
    // Reporting changed nothing; asking turns the settings on.
    assert!(
        ws.ecsops_env(&["lock", "acc"], &env)
            .stderr
            .contains("lacks versioning")
    );
    let out = ws.ecsops_env(&["lock", "acc", "--fix-bucket"], &env);
    out.expect_code(0);
    assert!(
        out.stderr.contains("turned on for bucket `ecsops-state`"),
        "{}",
        out.stderr
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let s3 = guard.server.s3();
        let enc = s3
            .get_bucket_encryption()
            .bucket("ecsops-state")
            .send()
            .await
            .expect("encryption set");
        assert!(
            enc.server_side_encryption_configuration()
                .is_some_and(|c| !c.rules().is_empty())
        );
        let block = s3
            .get_public_access_block()
            .bucket("ecsops-state")
            .send()
            .await
            .expect("block set");
        let block = block
            .public_access_block_configuration()
            .expect("configuration");
        assert_eq!(block.block_public_acls(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));
    });
    // moto answers GetBucketVersioning in a shape the SDK cannot parse, so versioning is proven
    // by its effect: two writes leave two kept versions with real version ids.
    for serial in [1, 2] {
        ws.write("doc.json", &document(serial, 1).to_string());
        let doc = ws.path().join("doc.json");
        ws.ecsops_env(
            &["state", "push", "acc", doc.to_str().expect("utf-8")],
            &env,
        )
        .expect_code(0);
    }
    let out = ws.ecsops_env(&["state", "history", "acc"], &env);
    out.expect_code(0);
    let versions: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("serial"))
        .collect();
    assert_eq!(versions.len(), 2, "{}", out.stdout);
    assert!(
        versions[0].starts_with("serial 2") && !versions[0].ends_with("null"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_held_lock_is_waited_for_with_lock_timeout() {
    let ws = workspace();
    ws.write(
        ".ecsops/state/acc.lock",
        &stale_lock_body("11111111-1111-4111-8111-111111111111"),
    );
    ws.write("doc1.json", &document(1, 1).to_string());
    let doc = ws.path().join("doc1.json");
    let doc = doc.to_str().expect("utf-8 path").to_owned();
    let started = std::time::Instant::now();
    ws.ecsops(&["state", "push", "acc", &doc]).expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the default is to fail at once"
    );
    let lock = ws.path().join(".ecsops/state/acc.lock");
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::remove_file(lock).expect("release");
    });
    let out = ws.ecsops(&["state", "push", "acc", &doc, "--lock-timeout", "20s"]);
    releaser.join().expect("releaser");
    out.expect_code(0);
    assert!(out.stdout.contains("wrote serial 1"), "{}", out.stdout);
}

#[test]
fn state_commands_on_s3_by_url_and_by_manifest() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/teams".to_owned()));
    let server = guard.server;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    flow(&ws, &env, |id| {
        rt.block_on(async {
            server
                .s3()
                .put_object()
                .bucket("ecsops-state")
                .key("teams/acc/lock.json")
                .body(stale_lock_body(id).into_bytes().into())
                .send()
                .await
                .expect("plant lock");
        });
    });
    assert!(
        !ws.path().join(".ecsops").exists(),
        "nothing was written locally"
    );
    // The same state through one `[state]` table instead of the URL.
    ws.write(
        "environments/acc.toml",
        &format!(
            "{MANIFEST}[state]\nbackend = \"s3\"\nbucket = \"ecsops-state\"\nprefix = \"teams\"\n"
        ),
    );
    let out = ws.ecsops_env(&["state", "list", "acc"], &guard.server.env());
    out.expect_code(0);
    assert!(
        out.stdout.contains("log_group.service[svc-00000]"),
        "{}",
        out.stdout
    );
}

/// Kills `state push` of a multi-megabyte document at varying moments; every time the stored
/// state must parse and be either the previous or the pushed serial.
fn killed_writes(ws: &Workspace, env: &[(&str, String)]) {
    ws.write("big.json", &document(1, 20_000).to_string());
    let big = ws.path().join("big.json");
    let big = big.to_str().expect("utf-8 path");
    ws.command(&["state", "push", "acc", big], env)
        .status()
        .expect("first push");
    for round in 0u64..8 {
        let before: Value =
            serde_json::from_str(&ws.ecsops_env(&["state", "pull", "acc"], env).stdout)
                .expect("state parses");
        let mut child = ws
            .command(&["state", "push", "acc", big, "--force"], env)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn push");
        std::thread::sleep(Duration::from_millis(40 + round * 35));
        let _ = child.kill();
        let _ = child.wait();
        let out = ws.ecsops_env(&["state", "pull", "acc"], env);
        out.expect_code(0);
        let after: Value = serde_json::from_str(&out.stdout).expect("never a torn state");
        let (b, a) = (
            before["serial"].as_u64().unwrap_or(0),
            after["serial"].as_u64().unwrap_or(0),
        );
        assert!(a == b || a == b + 1, "round {round}: serial {b} became {a}");
        assert_eq!(
            after["resources"].as_object().map(serde_json::Map::len),
            Some(20_000)
        );
        // A push killed while holding the lock leaves it behind: remove it the documented way.
        let lock = ws.ecsops_env(&["lock", "acc"], env).stdout;
        if let Some(id) = lock.lines().find_map(|l| l.trim().strip_prefix("lock id:")) {
            ws.ecsops_env(&["unlock", "acc", id.trim()], env)
                .expect_code(0);
        }
    }
}

#[test]
fn a_killed_write_never_tears_the_local_state() {
    killed_writes(&workspace(), &[]);
}

#[test]
fn a_killed_write_never_tears_the_s3_state() {
    let guard = moto();
    create_bucket(guard.server);
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/kill".to_owned()));
    killed_writes(&workspace(), &env);
}

#[test]
fn diff_on_s3_checks_the_bucket_takes_the_environments_region_and_prints_no_sdk_dump() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    // No AWS_REGION in the shell: the manifest's region serves the state bucket too.
    let env: Vec<(&str, String)> = guard
        .server
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "AWS_REGION")
        .collect();
    let run = |url: &str, args: &[&str]| {
        let mut vars = env.clone();
        vars.push(("ECSOPS_STATE_URL", url.to_owned()));
        ws.ecsops_env(args, &vars)
    };
    let out = run("s3://no-such-bucket/x", &["diff", "acc"]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("the state bucket `no-such-bucket` does not exist"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("no state yet"), "{}", out.stdout);
    let out = run("s3://no-such-bucket/x", &["apply", "acc", "--auto-approve"]);
    out.expect_code(1);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);

    // An existing bucket: the plan, the hygiene report on first use, and no SDK dump.
    let out = run("s3://ecsops-state/x", &["diff", "acc"]);
    out.expect_code(0);
    assert!(out.stdout.contains("no state yet"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("warning: the state bucket `ecsops-state` lacks versioning"),
        "{}",
        out.stderr
    );
    for noise in [
        "A region must be set",
        "DispatchFailure(",
        "ConnectorError",
        "IMDS",
    ] {
        assert!(!out.stderr.contains(noise), "`{noise}` in:\n{}", out.stderr);
    }
}

#[test]
fn the_state_bucket_is_used_in_its_own_region() {
    let guard = moto();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let central = aws_sdk_s3::Client::from_conf(
            guard
                .server
                .s3()
                .config()
                .to_builder()
                .region(aws_sdk_s3::config::Region::new("eu-central-1"))
                .build(),
        );
        central
            .create_bucket()
            .bucket("central-state")
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuCentral1)
                    .build(),
            )
            .send()
            .await
            .expect("bucket in eu-central-1");
    });
    let ws = workspace();
    let mut env: Vec<(&str, String)> = guard
        .server
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "AWS_REGION")
        .collect();
    env.push(("ECSOPS_STATE_URL", "s3://central-state/x".to_owned()));
    // The environment is in eu-west-1; the bucket says where it is.
    let out = ws.ecsops_env(&["-v", "lock", "acc"], &env);
    out.expect_code(0);
    assert!(
        out.stderr.contains("the state bucket is in its own region")
            && out.stderr.contains("eu-central-1"),
        "{}",
        out.stderr
    );
    // `[state] region` wins without asking.
    ws.write(
        "environments/acc.toml",
        &format!("{MANIFEST}[state]\nbackend = \"s3\"\nbucket = \"central-state\"\nregion = \"eu-central-1\"\n"),
    );
    env.pop();
    let out = ws.ecsops_env(&["-v", "lock", "acc"], &env);
    out.expect_code(0);
    assert!(
        !out.stderr.contains("its own region") && !out.stderr.contains("state bucket region"),
        "{}",
        out.stderr
    );
}

#[test]
fn state_push_reads_stdin_and_refuses_another_lineage_unless_forced() {
    let ws = workspace();
    ws.write("doc1.json", &document(1, 1).to_string());
    let doc = ws.path().join("doc1.json");
    ws.ecsops(&["state", "push", "acc", doc.to_str().expect("utf-8")])
        .expect_code(0);
    // Another lineage, from stdin.
    let mut other = document(5, 2);
    other["lineage"] = json!("99999999-0000-4000-8000-000000000000");
    let push = |args: &[&str]| {
        let mut child = ws
            .command(args, &[])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("state push");
        std::io::Write::write_all(
            &mut child.stdin.take().expect("stdin"),
            other.to_string().as_bytes(),
        )
        .expect("write the document");
        child.wait_with_output().expect("push ends")
    };
    let out = push(&["state", "push", "acc", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lineage"), "{stderr}");
    let pulled: Value =
        serde_json::from_str(&ws.ecsops(&["state", "pull", "acc"]).stdout).expect("pull");
    assert_eq!(pulled["serial"], 1, "nothing was written");
    // Forced: written under the stored lineage, its serial moved past the stored one.
    let out = push(&["state", "push", "acc", "-", "--force"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pulled: Value =
        serde_json::from_str(&ws.ecsops(&["state", "pull", "acc"]).stdout).expect("pull");
    assert_eq!(pulled["lineage"], "0d6c1c9e-7a51-4a39-9f4d-111111111111");
    assert_eq!(pulled["serial"], 5);
    assert_eq!(
        pulled["resources"].as_object().map(serde_json::Map::len),
        Some(2)
    );
}
