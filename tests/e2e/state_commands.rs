//! The state commands through the real binary, on the local default and on S3 (moto):
//! `lock`, `unlock`, `state list/show/pull/push/history`, a stale lock that only the right id
//! removes, a push killed mid-write that leaves the old or the new state, never a torn one, a
//! document of another environment refused, a push kept in the history as a push, and a mistyped
//! address or output answered with the recorded one.

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
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(server.create_bucket("ecsops-state"));
}

/// The whole command flow on one backend (`env` selects it).
fn flow(ws: &Workspace, env: &[(&str, String)], stale_lock: impl Fn(&str)) {
    let run = |args: &[&str]| ws.ecsops_env(args, env);
    let out = run(&["lock", "acc"]);
    out.expect_code(0);
    out.expect_in_stdout("`acc` is unlocked (state: ");
    run(&["state", "pull", "acc"]).expect_code(1);

    ws.write("doc1.json", &document(1, 2).to_string());
    let doc = ws.path().join("doc1.json");
    let doc = doc.to_str().expect("utf-8 path");
    let out = run(&["state", "push", "acc", doc]);
    out.expect_code(0);
    out.expect_in_stdout("wrote serial 1");
    // The same serial again is refused: it would not move the state forward.
    let out = run(&["state", "push", "acc", doc]);
    out.expect_code(1);
    out.expect_in_stderr("serial 1 is not newer than the stored serial 1");
    out.expect_in_stderr("help: the document has the stored state's serial: an edited `ecsops state pull acc`, or a copy of the stored state; to write it as the next serial, push it again with `--force`");

    let out = run(&["state", "list", "acc"]);
    out.expect_code(0);
    out.expect_in_stdout("log_group.service[svc-00001]  log_group");
    let out = run(&["state", "show", "acc", "log_group.service[svc-00000]"]);
    out.expect_code(0);
    out.expect_in_stdout("\"id\": \"lg-0\"");
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
    out.expect_in_stdout("lock id:   0f0f0f0f-dead-4bee-8000-000000000001");
    out.expect_in_stdout("who:       ci@runner-7");
    ws.write("doc2.json", &document(2, 2).to_string());
    let doc2 = ws.path().join("doc2.json");
    let doc2 = doc2.to_str().expect("utf-8 path");
    let out = run(&["state", "push", "acc", doc2]);
    out.expect_code(1);
    out.expect_in_stderr("is locked");
    out.expect_in_stderr("ecsops unlock acc 0f0f0f0f-dead-4bee-8000-000000000001");
    let out = run(&["unlock", "acc", "wrong-id"]);
    out.expect_code(1);
    out.expect_in_stderr("does not hold `acc`");
    run(&["unlock", "acc", "0f0f0f0f-dead-4bee-8000-000000000001"]).expect_code(0);
    run(&["state", "push", "acc", doc2]).expect_code(0);
    let out = run(&["diff", "acc", "--format", "json", "--offline"]);
    out.expect_code(0);
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan");
    assert_eq!(plan["prior_state"]["serial"], 2, "diff reads the same backend");
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
    assert!(ws.path().join(".ecsops/state/acc.json").is_file(), "no configuration needed");
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
    out.expect_in_stderr("warning: the state bucket `ecsops-state` lacks versioning");
    out.expect_in_stderr("default encryption").expect_in_stderr("public access block");
    out.expect_in_stderr("--fix-bucket");
    // Reporting changed nothing; asking turns the settings on.
    assert!(ws.ecsops_env(&["lock", "acc"], &env).stderr.contains("lacks versioning"));
    let out = ws.ecsops_env(&["lock", "acc", "--fix-bucket"], &env);
    out.expect_code(0);
    out.expect_in_stderr("turned on for bucket `ecsops-state`");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let s3 = guard.server.s3();
        let enc =
            s3.get_bucket_encryption().bucket("ecsops-state").send().await.expect("encryption set");
        assert!(enc.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty()));
        let block =
            s3.get_public_access_block().bucket("ecsops-state").send().await.expect("block set");
        let block = block.public_access_block_configuration().expect("configuration");
        assert_eq!(block.block_public_acls(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));
    });
    // moto answers GetBucketVersioning in a shape the SDK cannot parse, so versioning is proven
    // by its effect: two writes leave two kept versions with real version ids.
    for serial in [1, 2] {
        ws.write("doc.json", &document(serial, 1).to_string());
        let doc = ws.path().join("doc.json");
        ws.ecsops_env(&["state", "push", "acc", doc.to_str().expect("utf-8")], &env).expect_code(0);
    }
    let out = ws.ecsops_env(&["state", "history", "acc"], &env);
    out.expect_code(0);
    let versions: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("serial")).collect();
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
    ws.write(".ecsops/state/acc.lock", &stale_lock_body("11111111-1111-4111-8111-111111111111"));
    ws.write("doc1.json", &document(1, 1).to_string());
    let doc = ws.path().join("doc1.json");
    let doc = doc.to_str().expect("utf-8 path").to_owned();
    // By default a held lock fails at once, naming the holder.
    let out = ws.ecsops(&["state", "push", "acc", &doc]);
    out.expect_code(1);
    out.expect_in_stderr("is locked");
    assert!(!out.stderr.contains("waiting"), "{}", out.stderr);
    // With a timeout it says it waits, and goes on once the holder lets go.
    let mut child = ws
        .command(&["state", "push", "acc", &doc, "--lock-timeout", "60s"], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start push");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("read stderr");
    assert!(
        line.starts_with("waiting up to 60s for the lock held by ")
            && line.contains("(apply, since "),
        "{line}"
    );
    assert!(child.try_wait().expect("poll").is_none(), "still waiting");
    std::fs::remove_file(ws.path().join(".ecsops/state/acc.lock")).expect("release");
    let out = child.wait_with_output().expect("push ends");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wrote serial 1"), "{stdout}");
}

#[test]
fn state_commands_on_s3_by_url_and_by_manifest() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/teams".to_owned()));
    let server = guard.server;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
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
    assert!(!ws.path().join(".ecsops").exists(), "nothing was written locally");
    // The same state through one `[state]` table instead of the URL.
    ws.write(
        "environments/acc.toml",
        &format!(
            "{MANIFEST}[state]\nbackend = \"s3\"\nbucket = \"ecsops-state\"\nprefix = \"teams\"\n"
        ),
    );
    let out = ws.ecsops_env(&["state", "list", "acc"], &guard.server.env());
    out.expect_code(0);
    out.expect_in_stdout("log_group.service[svc-00000]");
}

/// Retry settings aws-config refuses (`AWS_MAX_ATTEMPTS=0`, `AWS_RETRY_MODE=fast`) in the
/// shell do not crash a command on S3: ecsops sets its own retries.
#[test]
fn retry_settings_the_sdk_refuses_do_not_crash_the_s3_backend() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    ws.write("doc1.json", &document(1, 1).to_string());
    for (key, value) in
        [("AWS_MAX_ATTEMPTS", "0"), ("AWS_MAX_ATTEMPTS", "many"), ("AWS_RETRY_MODE", "fast")]
    {
        let mut env = guard.server.env();
        env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/teams".to_owned()));
        env.push((key, value.to_owned()));
        let pushed =
            ws.ecsops_env(&["state", "push", "acc", &arg(&ws, "doc1.json"), "--force"], &env);
        assert!(!pushed.stderr.contains("panicked"), "{key}={value}: {}", pushed.stderr);
        pushed.expect_code(0);
        ws.ecsops_env(&["state", "list", "acc"], &env)
            .expect_code(0)
            .expect_in_stdout("log_group.service[svc-00000]");
    }
}

/// `AWS_MAX_ATTEMPTS` sets how often a failed request is tried, as in the AWS CLI: a state
/// read that fails three times in a row is read on the fourth attempt with 5.
#[test]
fn aws_max_attempts_sets_the_attempts() {
    use crate::support::proxy::{DropResponse, Fault, Proxy};

    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    ws.write("doc1.json", &document(1, 1).to_string());
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/teams".to_owned()));
    ws.ecsops_env(&["state", "push", "acc", &arg(&ws, "doc1.json")], &env).expect_code(0);
    let proxy = Proxy::start(
        guard.server.port(),
        vec![DropResponse {
            contains: vec!["GET /ecsops-state/teams/acc/state.json"],
            times: 3,
            fault: Fault::Drop,
        }],
    );
    let mut env = proxy.env(env);
    env.push(("AWS_MAX_ATTEMPTS", "5".to_owned()));
    ws.ecsops_env(&["state", "list", "acc"], &env)
        .expect_code(0)
        .expect_in_stdout("log_group.service[svc-00000]");
    assert_eq!(proxy.dropped.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// What a killed `state push` must leave stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    Previous,
    Pushed,
    /// Killed at a moment when either is right (never anything else).
    Either,
}

/// Pushes a multi-megabyte document once, for the kills that follow.
fn big_document(ws: &Workspace, env: &[(&str, String)]) -> String {
    ws.write("big.json", &document(1, 20_000).to_string());
    let big = ws.path().join("big.json");
    let big = big.to_str().expect("utf-8 path").to_owned();
    ws.ecsops_env(&["state", "push", "acc", &big], env).expect_code(0);
    big
}

fn stored(ws: &Workspace, env: &[(&str, String)]) -> Value {
    let out = ws.ecsops_env(&["state", "pull", "acc"], env);
    out.expect_code(0);
    serde_json::from_str(&out.stdout).expect("never a torn state")
}

/// Pushes `big` again (with `push_env`), kills the push (`kill -9`) once `reached` says it got
/// to the kill point (or it ended), and checks what is stored (read with `env`): a whole state,
/// of the serial `left` says. Frees the lock a killed push leaves behind, the documented way.
fn kill_push(
    ws: &Workspace,
    big: &str,
    push_env: &[(&str, String)],
    env: &[(&str, String)],
    reached: &dyn Fn(u64) -> bool,
    left: Left,
) {
    let before = stored(ws, env)["serial"].as_u64().expect("a serial");
    let mut child = ws
        .command(&["state", "push", "acc", big, "--force"], push_env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn push");
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while !reached(before) && child.try_wait().expect("poll").is_none() {
        assert!(std::time::Instant::now() < deadline, "the push never got there");
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    let after = stored(ws, env);
    let serial = after["serial"].as_u64().unwrap_or(0);
    let expected = match left {
        Left::Previous => vec![before],
        Left::Pushed => vec![before + 1],
        Left::Either => vec![before, before + 1],
    };
    assert!(expected.contains(&serial), "{left:?}: serial {before} became {serial}");
    assert_eq!(after["resources"].as_object().map(serde_json::Map::len), Some(20_000));
    let lock = ws.ecsops_env(&["lock", "acc"], env).stdout;
    if let Some(id) = lock.lines().find_map(|l| l.trim().strip_prefix("lock id:")) {
        ws.ecsops_env(&["unlock", "acc", id.trim()], env).expect_code(0);
    }
}

/// The local state is replaced by a rename: a push killed before it leaves the previous state,
/// after it the pushed one, and in the middle of writing the new file one of the two.
#[test]
fn a_killed_write_never_tears_the_local_state() {
    let ws = workspace();
    let big = big_document(&ws, &[]);
    let dir = ws.path().join(".ecsops/state");
    // Before the write: the push holds the lock, then waits for the write mutex the test holds.
    let mutex = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("acc.write-lock"))
        .expect("open the write mutex");
    mutex.lock().expect("hold the write mutex");
    kill_push(&ws, &big, &[], &[], &|_| dir.join("acc.lock").exists(), Left::Previous);
    mutex.unlock().expect("release the write mutex");
    // In the middle of the write: the moment the temporary file appears.
    let writing = |_| {
        std::fs::read_dir(&dir)
            .expect("state dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
    };
    kill_push(&ws, &big, &[], &[], &writing, Left::Either);
    // After the write: the moment the pushed serial is stored.
    let written = |before: u64| {
        std::fs::read_to_string(dir.join("acc.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["serial"].as_u64())
            == Some(before + 1)
    };
    kill_push(&ws, &big, &[], &[], &written, Left::Pushed);
}

/// The S3 state is one PUT: a push killed while uploading leaves the previous state (S3 never
/// stores half a body), one killed after S3 stored it but before hearing back, the pushed one.
#[test]
fn a_killed_write_never_tears_the_s3_state() {
    use crate::support::proxy::{DropResponse, Fault, Proxy};
    use std::sync::atomic::Ordering;

    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/kill".to_owned()));
    let big = big_document(&ws, &env);
    let write = || vec!["put ", "/kill/acc/state.json"];
    let proxy = Proxy::start(
        guard.server.port(),
        vec![
            DropResponse { contains: write(), times: 1, fault: Fault::Truncate },
            DropResponse { contains: write(), times: 1, fault: Fault::Hold },
        ],
    );
    let push_env = proxy.env(env.clone());
    let counter = &proxy.dropped;
    let dropped = |n| move |_| counter.load(Ordering::SeqCst) == n;
    kill_push(&ws, &big, &push_env, &env, &dropped(1), Left::Previous);
    kill_push(&ws, &big, &push_env, &env, &dropped(2), Left::Pushed);
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 2, "both kill points reached");
}

#[test]
fn diff_on_s3_checks_the_bucket_takes_the_environments_region_and_prints_no_sdk_dump() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    // No AWS_REGION in the shell: the manifest's region serves the state bucket too.
    let env: Vec<(&str, String)> =
        guard.server.env().into_iter().filter(|(k, _)| *k != "AWS_REGION").collect();
    let run = |url: &str, args: &[&str]| {
        let mut vars = env.clone();
        vars.push(("ECSOPS_STATE_URL", url.to_owned()));
        ws.ecsops_env(args, &vars)
    };
    let out = run("s3://no-such-bucket/x", &["diff", "acc"]);
    out.expect_code(1);
    out.expect_in_stderr("the state bucket `no-such-bucket` does not exist");
    assert!(!out.stdout.contains("no state yet"), "{}", out.stdout);
    let out = run("s3://no-such-bucket/x", &["apply", "acc", "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr("does not exist");

    // An existing bucket: the plan, the hygiene report on first use, and no SDK dump.
    let out = run("s3://ecsops-state/x", &["diff", "acc"]);
    out.expect_code(0);
    out.expect_in_stdout("no state yet");
    out.expect_in_stderr("warning: the state bucket `ecsops-state` lacks versioning");
    for noise in ["A region must be set", "DispatchFailure(", "ConnectorError", "IMDS"] {
        assert!(!out.stderr.contains(noise), "`{noise}` in:\n{}", out.stderr);
    }
}

#[test]
fn the_state_bucket_is_used_in_its_own_region() {
    let guard = moto();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(guard.server.create_bucket_in("central-state", "eu-central-1"));
    let ws = workspace();
    let mut env: Vec<(&str, String)> =
        guard.server.env().into_iter().filter(|(k, _)| *k != "AWS_REGION").collect();
    env.push(("ECSOPS_STATE_URL", "s3://central-state/x".to_owned()));
    // The environment is in eu-west-1; the bucket says where it is.
    let out = ws.ecsops_env(&["-v", "lock", "acc"], &env);
    out.expect_code(0);
    out.expect_in_stderr("the state bucket is in its own region").expect_in_stderr("eu-central-1");
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
    ws.ecsops(&["state", "push", "acc", doc.to_str().expect("utf-8")]).expect_code(0);
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
    // Forced: written with its own lineage (its resources' ownership tags carry it), its serial
    // moved past the stored one.
    let out = push(&["state", "push", "acc", "-", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let pulled: Value =
        serde_json::from_str(&ws.ecsops(&["state", "pull", "acc"]).stdout).expect("pull");
    assert_eq!(pulled["lineage"], "99999999-0000-4000-8000-000000000000");
    assert_eq!(pulled["serial"], 5);
    assert_eq!(pulled["resources"].as_object().map(serde_json::Map::len), Some(2));
}

/// A push refused for an old serial or another lineage says, besides why, that nothing was
/// written, where the stored state is to compare, and how to push the document anyway.
#[test]
fn a_refused_push_says_what_to_do_next() {
    let ws = workspace();
    ws.write("doc1.json", &document(3, 1).to_string());
    ws.ecsops(&["state", "push", "acc", &arg(&ws, "doc1.json")]).expect_code(0);
    ws.write("old.json", &document(2, 1).to_string());
    let out = ws.ecsops(&["state", "push", "acc", &arg(&ws, "old.json")]);
    out.expect_code(1);
    out.expect_in_stderr(
        "serial 2 is not newer than the stored serial 3 of `acc`; nothing was written",
    );
    out.expect_in_stderr("help: ");
    out.expect_in_stderr("`ecsops state pull acc`");
    out.expect_in_stderr("`--force`");
    let mut other = document(7, 1);
    other["lineage"] = json!("99999999-0000-4000-8000-000000000000");
    ws.write("other.json", &other.to_string());
    let out = ws.ecsops(&["state", "push", "acc", &arg(&ws, "other.json")]);
    out.expect_code(1);
    out.expect_in_stderr("nothing was written");
    out.expect_in_stderr("help: ");
    out.expect_in_stderr("`ecsops state pull acc`");
    out.expect_in_stderr("`--force`");
    let pulled: Value =
        serde_json::from_str(&ws.ecsops(&["state", "pull", "acc"]).stdout).expect("pull");
    assert_eq!(pulled["serial"], 3, "nothing was written");
    ws.ecsops(&["lock", "acc"]).expect_code(0);
}

/// `state history --limit 0` would list nothing and then say `--limit N` shows what it left
/// out: a usage error instead, as `--batch 0` and `--parallelism 0` are.
#[test]
fn state_history_refuses_a_limit_of_zero() {
    let ws = workspace();
    ws.write("doc1.json", &document(1, 1).to_string());
    ws.ecsops(&["state", "push", "acc", &arg(&ws, "doc1.json")]).expect_code(0);
    for format in ["text", "json"] {
        let out = ws.ecsops(&["state", "history", "acc", "--limit", "0", "--format", format]);
        out.expect_code(1);
        out.expect_in_stderr("invalid value '0' for '--limit <N>': at least 1");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let out = ws.ecsops(&["state", "history", "acc", "--limit", "1"]);
    out.expect_code(0);
    out.expect_in_stdout("serial 1 ");
}

/// `state pull` and `state show` of an environment without a state say so, and what makes one,
/// instead of a bare error (pull) or an address "not in the state" there is none of (show).
#[test]
fn pull_and_show_without_a_state_say_there_is_none_and_what_makes_one() {
    let ws = workspace();
    for args in [&["state", "pull", "acc"][..], &["state", "show", "acc", "vpc"]] {
        let out = ws.ecsops(args);
        out.expect_code(1);
        out.expect_in_stderr("error: `acc` has no state yet (");
        out.expect_in_stderr("help: `ecsops apply acc` creates it");
        out.expect_in_stderr("`ecsops state push acc FILE`");
        assert!(!out.stderr.contains("is not in the state"), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
}

/// Documents the next read would refuse (a newer format, format 0, a serial no write can move
/// past) are refused by the push itself, forced or not: written, they would lock every command
/// out of the environment, or make its next apply overflow the serial mid-walk.
#[test]
fn state_push_refuses_a_document_the_next_read_would_refuse() {
    let ws = workspace();
    ws.write("doc1.json", &document(1, 1).to_string());
    ws.ecsops(&["state", "push", "acc", &arg(&ws, "doc1.json")]).expect_code(0);
    let before = ws.ecsops(&["state", "pull", "acc"]).stdout;
    let mut newer = document(2, 1);
    newer["version"] = json!(99);
    let mut zero = document(2, 1);
    zero["version"] = json!(0);
    let huge = document(u64::MAX, 1);
    for (doc, says) in [
        (newer, "has format version 99, newer than this ecsops reads"),
        (zero, "is not a state document: format version 0 does not exist"),
        (huge, "is not a state document: serial 18446744073709551615 is above"),
    ] {
        ws.write("bad.json", &doc.to_string());
        let bad = arg(&ws, "bad.json");
        for force in [false, true] {
            let mut args = vec!["state", "push", "acc", &bad];
            if force {
                args.push("--force");
            }
            let out = ws.ecsops(&args);
            out.expect_code(1).expect_in_stderr(says);
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
        assert_eq!(ws.ecsops(&["state", "pull", "acc"]).stdout, before);
    }
    ws.ecsops(&["lock", "acc"]).expect_code(0).expect_in_stdout("`acc` is unlocked");
}

/// The S3 state under `s3://ecsops-state/<prefix>` behind a proxy whose one rule (what a
/// request contains, and its fault) meets every matching request: the proxy, and the variables
/// that send the state commands through it.
fn faulty_store(
    server: &Moto,
    (contains, fault): (Vec<&'static str>, crate::support::proxy::Fault),
    prefix: &str,
) -> (crate::support::proxy::Proxy, Vec<(&'static str, String)>) {
    use crate::support::proxy::Proxy;

    create_bucket(server);
    let proxy = Proxy::always(server.port(), contains, fault);
    let mut env = proxy.env(server.env());
    env.push(("ECSOPS_STATE_URL", format!("s3://ecsops-state/{prefix}")));
    (proxy, env)
}

/// A state store that ignores conditional writes is refused with the reason and what to use.
#[test]
fn a_store_that_cannot_lock_is_refused_with_the_reason() {
    use crate::support::proxy::Fault;

    let guard = moto();
    let ws = workspace();
    let rule = (vec!["put ", "/lock.json"], Fault::Strip("If-None-Match"));
    let (_proxy, env) = faulty_store(guard.server, rule, "blind");
    ws.write("doc.json", &document(1, 1).to_string());
    let doc = ws.path().join("doc.json");
    let out = ws.ecsops_env(&["state", "push", "acc", doc.to_str().expect("utf-8 path")], &env);
    out.expect_code(1);
    out.expect_in_stderr("error: the state store at `s3://ecsops-state/blind/acc/lock.json` ignores conditional writes (`If-None-Match`), so it cannot lock `acc`; nothing was changed");
    out.expect_in_stderr("help: keep the state in Amazon S3");
    let pulled = ws.ecsops_env(&["state", "pull", "acc"], &env);
    pulled.expect_code(1);
    assert!(pulled.stderr.contains("`acc` has no state yet"), "nothing written: {}", pulled.stderr);
    let lock = ws.ecsops_env(&["lock", "acc"], &env);
    lock.expect_code(0);
    lock.expect_in_stdout("is unlocked");
}

/// A push whose lock cannot be released (the store sheds load on the lock's delete): the write
/// is still reported, with the lock left and its id beside it; a refused push reports its
/// refusal and the lock left too. Either way that lock is the one still held.
#[test]
fn a_lock_left_by_a_push_is_said_beside_what_the_push_did() {
    use crate::support::proxy::Fault;

    let guard = moto();
    let ws = workspace();
    let rule = (vec!["DELETE /ecsops-state/", "lock.json"], Fault::Unavailable);
    let (_proxy, env) = faulty_store(guard.server, rule, "left");
    let mut direct = guard.server.env();
    direct.push(("ECSOPS_STATE_URL", "s3://ecsops-state/left".to_owned()));
    let held = || {
        let lock = ws.ecsops_env(&["lock", "acc", "--format", "json"], &direct);
        lock.expect_code(2);
        let lock: Value = serde_json::from_str(&lock.stdout).expect("JSON");
        let id = lock["holder"]["id"].as_str().expect("the push's lock");
        (id.to_owned(), lock["holder"]["operation"].clone())
    };
    ws.write("doc.json", &document(3, 1).to_string());
    let out = ws.ecsops_env(&["state", "push", "acc", &arg(&ws, "doc.json")], &env);
    out.expect_code(0);
    out.expect_in_stdout("wrote serial 3 of `acc`");
    let (id, operation) = held();
    assert_eq!(operation, "state push");
    out.expect_in_stderr("warning: releasing the lock failed: ");
    out.expect_in_stderr(&format!("run `ecsops unlock acc {id}`"));
    ws.ecsops_env(&["unlock", "acc", &id], &direct).expect_code(0);

    ws.write("old.json", &document(2, 1).to_string());
    let out = ws.ecsops_env(&["state", "push", "acc", &arg(&ws, "old.json")], &env);
    out.expect_code(1);
    out.expect_in_stderr("serial 2 is not newer than the stored serial 3 of `acc`");
    let (id, _) = held();
    out.expect_in_stderr(&format!("run `ecsops unlock acc {id}`"));
    let pulled: Value =
        serde_json::from_str(&ws.ecsops_env(&["state", "pull", "acc"], &direct).stdout)
            .expect("pull");
    assert_eq!(pulled["serial"], 3, "nothing was written");
}

/// `file` of the workspace as an argument.
fn arg(ws: &Workspace, file: &str) -> String {
    ws.path().join(file).to_str().expect("utf-8 path").to_owned()
}

/// A document of another environment (`acc`'s, pulled) pushed to `qa` (no state yet) and to
/// `prod` (a state of its own), with and without `--force`: refused, naming both environments
/// and what to push instead; nothing is written and the lock is released. A document of the
/// environment itself keeps its lineage when there is no state yet (a backup put back).
/// `stored_of_qa` lists what the backend holds for `qa`: nothing, after the refusals.
fn a_document_of_another_environment_is_refused(
    ws: &Workspace,
    env: &[(&str, String)],
    stored_of_qa: &dyn Fn() -> Vec<String>,
) {
    let run = |args: &[&str]| ws.ecsops_env(args, env);
    ws.write("environments/qa.toml", MANIFEST);
    ws.write("environments/prod.toml", MANIFEST);
    ws.write("acc1.json", &document(1, 2).to_string());
    run(&["state", "push", "acc", &arg(ws, "acc1.json")]).expect_code(0);
    let pulled = run(&["state", "pull", "acc"]);
    ws.write("acc.json", &pulled.expect_code(0).stdout);
    let mut prod = document(3, 1);
    prod["environment"] = json!("prod");
    prod["lineage"] = json!("0d6c1c9e-7a51-4a39-9f4d-333333333333");
    ws.write("prod.json", &prod.to_string());
    run(&["state", "push", "prod", &arg(ws, "prod.json")]).expect_code(0);
    let prod_before = run(&["state", "pull", "prod"]).stdout;

    let foreign = arg(ws, "acc.json");
    for target in ["qa", "prod"] {
        for force in [false, true] {
            let mut args = vec!["state", "push", target, &foreign];
            if force {
                args.push("--force");
            }
            let out = run(&args);
            out.expect_code(1);
            out.expect_in_stderr(&format!(
                "error: the document is the state of `acc`, not of `{target}`; nothing was written"
            ));
            out.expect_in_stderr(&format!(
                "help: push a state of `{target}` (`ecsops state history {target}` lists its kept versions)"
            ));
            out.expect_in_stderr("`--force` does not override this");
            assert!(!out.stdout.contains("wrote serial"), "{}", out.stdout);
            run(&["lock", target])
                .expect_code(0)
                .expect_in_stdout(&format!("`{target}` is unlocked"));
        }
    }
    run(&["state", "pull", "qa"]).expect_code(1).expect_in_stderr("`qa` has no state yet");
    let history = run(&["state", "history", "qa", "--format", "json"]);
    let history: Value = serde_json::from_str(&history.expect_code(0).stdout).expect("JSON");
    assert_eq!(history["versions"], json!([]), "nothing kept for `qa`");
    assert_eq!(stored_of_qa(), Vec::<String>::new());
    assert_eq!(run(&["state", "pull", "prod"]).stdout, prod_before, "`prod` is untouched");
    let acc: Value = serde_json::from_str(&run(&["state", "pull", "acc"]).stdout).expect("acc");
    assert_eq!(acc["serial"], 1, "`acc` is untouched");

    let mut backup = document(7, 1);
    backup["environment"] = json!("qa");
    backup["lineage"] = json!("0d6c1c9e-7a51-4a39-9f4d-444444444444");
    ws.write("qa.json", &backup.to_string());
    run(&["state", "push", "qa", &arg(ws, "qa.json")])
        .expect_code(0)
        .expect_in_stdout("wrote serial 7 of `qa`");
    let qa: Value = serde_json::from_str(&run(&["state", "pull", "qa"]).stdout).expect("qa");
    assert_eq!((&qa["environment"], &qa["lineage"]), (&json!("qa"), &backup["lineage"]));
}

#[test]
fn state_push_refuses_a_document_of_another_environment_on_the_local_default() {
    let ws = workspace();
    let dir = ws.path().join(".ecsops/state");
    a_document_of_another_environment_is_refused(&ws, &[], &|| {
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .expect("state dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("qa.") || n.starts_with(".qa."))
            .collect();
        if dir.join("history/qa").exists() {
            found.push("history/qa".to_owned());
        }
        found
    });
}

#[test]
fn state_push_refuses_a_document_of_another_environment_on_s3() {
    let guard = moto();
    create_bucket(guard.server);
    let ws = workspace();
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/foreign".to_owned()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let s3 = guard.server.s3();
    a_document_of_another_environment_is_refused(&ws, &env, &|| {
        rt.block_on(s3.list_object_versions().bucket("ecsops-state").prefix("foreign/qa/").send())
            .expect("list")
            .versions()
            .iter()
            .filter_map(|v| v.key().map(str::to_owned))
            .collect()
    });
}

/// What an older ecsops left behind: `qa`'s stored state says it is `acc`'s. It is refused
/// like a state that does not parse (an apply would otherwise act on `acc`'s resources with
/// `acc`'s ownership), and a forced push of a state of `qa` replaces it.
#[test]
fn a_stored_state_of_another_environment_is_refused_until_replaced() {
    let ws = workspace();
    ws.write("environments/qa.toml", &MANIFEST.replace("10.0.0.0/16", "10.1.0.0/16"));
    ws.write(".ecsops/state/qa.json", &document(117, 2).to_string());
    for args in [&["state", "list", "qa"][..], &["diff", "qa", "--offline"]] {
        let out = ws.ecsops(args);
        out.expect_code(1);
        out.expect_in_stderr(
            "is not a valid state document: it is the state of `acc`, not of `qa`",
        );
        out.expect_in_stderr("restore one with `ecsops state push qa FILE --force`");
    }
    let mut own = document(1, 1);
    own["environment"] = json!("qa");
    ws.write("qa.json", &own.to_string());
    ws.ecsops(&["state", "push", "qa", &arg(&ws, "qa.json")])
        .expect_code(1)
        .expect_in_stderr("it is the state of `acc`, not of `qa`");
    ws.ecsops(&["state", "push", "qa", &arg(&ws, "qa.json"), "--force"]).expect_code(0);
    let out = ws.ecsops(&["state", "list", "qa", "--format", "json"]);
    let qa: Value = serde_json::from_str(&out.expect_code(0).stdout).expect("JSON");
    assert_eq!(qa["resources"][0]["address"], "log_group.service[svc-00000]");
    let stored = std::fs::read_to_string(ws.path().join(".ecsops/state/qa.json")).expect("state");
    let stored: Value = serde_json::from_str(&stored).expect("JSON");
    assert_eq!(stored["environment"], "qa");
}

/// A pushed document records the apply that wrote it originally; its kept version is the
/// push's, without that apply's summary: `state push` in the text form, no `summary` in JSON.
fn a_push_is_kept_as_a_push(ws: &Workspace, env: &[(&str, String)]) {
    let run = |args: &[&str]| ws.ecsops_env(args, env);
    let mut applied = document(77, 1);
    applied["version"] = json!(2);
    applied["revision"] = json!({"commit": "0123456789abcdef0123456789abcdef01234567",
        "tag": "ecsops/acc/77", "operation": "apply", "result": "applied",
        "applied_at": "2026-11-24T10:00:00Z", "applied_by": "ci@runner-7"});
    ws.write("pull2.json", &applied.to_string());
    run(&["state", "push", "acc", &arg(ws, "pull2.json")]).expect_code(0);

    let out = run(&["state", "history", "acc", "--format", "json"]);
    let history: Value = serde_json::from_str(&out.expect_code(0).stdout).expect("JSON");
    let kept = &history["versions"][0];
    assert_eq!(kept["serial"], 77, "{history}");
    assert!(kept.get("summary").is_none(), "a push has no summary: {kept}");
    assert!(kept["who"].as_str().is_some_and(|w| w.contains('@')), "{kept}");
    let out = run(&["state", "history", "acc"]);
    let line = out
        .expect_code(0)
        .stdout
        .lines()
        .find(|l| l.starts_with("serial 77 "))
        .unwrap_or_else(|| panic!("no serial 77 in\n{}", out.stdout))
        .to_owned();
    assert!(line.contains(" state push "), "{line}");
    assert!(!line.contains("ecsops/acc/77"), "{line}");
    // The document itself is stored as pushed: the revision its resources were applied at.
    let pulled: Value = serde_json::from_str(&run(&["state", "pull", "acc"]).stdout).expect("pull");
    assert_eq!(pulled["revision"]["tag"], "ecsops/acc/77");
}

#[test]
fn state_history_records_a_push_as_a_push_on_the_local_default() {
    a_push_is_kept_as_a_push(&workspace(), &[]);
}

#[test]
fn state_history_records_a_push_as_a_push_on_s3() {
    let guard = moto();
    create_bucket(guard.server);
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/pushed".to_owned()));
    a_push_is_kept_as_a_push(&workspace(), &env);
}

#[test]
fn a_state_table_that_does_not_read_is_reported_at_its_line_by_every_command() {
    let ws = Workspace::new();
    ws.write("environments/acc.toml", &format!("{MANIFEST}\n[state]\npath = \".ecsops/acc\"\n"));
    for args in [&["state", "list", "acc"][..], &["lock", "acc"], &["diff", "acc", "--offline"]] {
        let out = ws.ecsops(args);
        out.expect_code(1);
        out.expect_in_stderr("unknown key `path` in `state`")
            .expect_in_stderr("environments/acc.toml:8:1");
        assert!(
            !out.stderr.contains("state URL"),
            "{args:?}: a manifest table is not a URL\n{}",
            out.stderr
        );
    }
}

/// A name that is almost a recorded one (the output without its attribute, the address with a
/// dot for brackets) is answered with the recorded name; a wholly different one is not.
#[test]
fn a_mistyped_address_or_output_is_offered_the_recorded_one() {
    let ws = workspace();
    ws.write("doc.json", &document(1, 2).to_string());
    let doc = ws.path().join("doc.json");
    let doc = doc.to_str().expect("utf-8 path");
    ws.ecsops(&["state", "push", "acc", doc]).expect_code(0);
    let out = ws.ecsops(&["output", "acc", "log_group.service.svc-00001"]);
    out.expect_code(1);
    out.expect_in_stderr("help: did you mean `log_group.service.svc-00001.name`?");
    let out = ws.ecsops(&["state", "show", "acc", "log_group.service.svc-00001"]);
    out.expect_code(1);
    out.expect_in_stderr("help: did you mean `log_group.service[svc-00001]`?");
    let out = ws.ecsops(&["state", "show", "acc", "service[web]"]);
    out.expect_code(1);
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
}

/// Outside a git repository the state records no revision, yet the version an apply or a
/// destroy keeps is theirs, not a push's: its summary names the operation and how it ended.
fn an_apply_outside_git_is_kept_as_an_apply(env: &[(&str, String)]) {
    let ws = workspace();
    let run = |args: &[&str]| ws.ecsops_env(args, env);
    run(&["apply", "acc", "--auto-approve", "--no-wait"])
        .expect_code(0)
        .expect_in_stderr("not in a git repository");
    run(&["destroy", "acc", "--auto-approve"]).expect_code(0);

    let out = run(&["state", "history", "acc", "--format", "json"]);
    let history: Value = serde_json::from_str(&out.expect_code(0).stdout).expect("JSON");
    let summaries: Vec<&str> = history["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["summary"].as_str().unwrap_or("(none: a push)"))
        .collect();
    assert_eq!(
        summaries,
        ["destroy outside git (applied)", "apply outside git (applied)"],
        "{history}"
    );
    let out = run(&["state", "history", "acc"]);
    assert!(!out.expect_code(0).stdout.contains("state push"), "{}", out.stdout);
}

#[test]
fn an_apply_outside_git_is_kept_as_an_apply_not_as_a_push_on_the_local_default() {
    let guard = moto();
    an_apply_outside_git_is_kept_as_an_apply(&guard.server.env());
}

#[test]
fn an_apply_outside_git_is_kept_as_an_apply_not_as_a_push_on_s3() {
    let guard = moto();
    create_bucket(guard.server);
    let mut env = guard.server.env();
    env.push(("ECSOPS_STATE_URL", "s3://ecsops-state/outside-git".to_owned()));
    an_apply_outside_git_is_kept_as_an_apply(&env);
}
