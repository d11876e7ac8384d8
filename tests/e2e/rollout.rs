//! The rollout wait after an apply (issue 14): every service and system container the apply
//! created or changed is watched until its deployment completes; one that fails or times out
//! fails the apply (exit 3) after the state was saved, releases the lock and makes no tag; old
//! task definition revisions are retired only after a completed rollout. Also the JSON report
//! of apply and destroy.
//!
//! moto runs no tasks: a created service's rollout is COMPLETED when the server's
//! `MOTO_ECS_SERVICE_RUNNING` covers its desired count (the default test server) and
//! IN_PROGRESS forever otherwise (the stuck server). Its `UpdateService` starts no deployment,
//! so updates are judged through a proxy answering `DescribeServices` as AWS does
//! (`support::rollout`); each such test says which AWS ending it stands for.

use std::time::Instant;

use ecsops_core::provider::aws::sdk::ecs::types::TaskDefinitionStatus;
use serde_json::Value;

use crate::support::env::{ENV, Env};
use crate::support::git;
use crate::support::moto::STUCK_FAILED_TASKS;
use crate::support::rollout::{self, BREAKER_REASON};

fn rollout_of<'a>(doc: &'a Value, service: &str) -> &'a Value {
    doc["rollouts"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["service"] == service))
        .unwrap_or_else(|| panic!("no rollout of {service} in {doc:#}"))
}

#[tokio::test]
async fn an_apply_reports_each_services_rollout_finishing_and_exits_0() {
    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0)
        .expect_in_stderr("Waiting for the rollouts (up to 10m")
        .expect_in_stderr("service[web]: rollout of acceptance-default-web:1 completed after")
        .expect_in_stderr("service[api]: rollout of acceptance-default-api:1 completed after")
        // The system container (a daemon service) is waited for like a service.
        .expect_in_stderr("service[cadvisor]: rollout of");
    assert_eq!(git::tags(env.dir(), ENV).len(), 1, "{}", out.stdout);
}

#[tokio::test]
async fn a_rollout_that_never_completes_fails_the_apply_after_the_timeout_and_no_wait_does_not() {
    let env = Env::stuck().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    let started = Instant::now();
    let out = env.run(&[
        "apply",
        ENV,
        "--auto-approve",
        "--wait-timeout",
        "20s",
        "--format",
        "json",
    ]);
    let took = started.elapsed();
    out.expect_code(3)
        .expect_in_stderr("error: the rollout of `web` (acceptance-default-web:1) did not complete: timed out after 20s waiting for the rollout")
        .expect_in_stderr(&format!("0/1 running, 1 pending, {STUCK_FAILED_TASKS} failed tasks; rollout IN_PROGRESS"))
        .expect_in_stderr("no tag was made")
        .expect_in_stderr("then run `ecsops apply acceptance` again");
    let doc = out.json();
    assert_eq!(doc["result"], "rollout_failed");
    let web = rollout_of(&doc, "web");
    assert_eq!(web["result"], "timed_out");
    assert_eq!(web["failed_tasks"], STUCK_FAILED_TASKS);
    assert_eq!(web["rollout_state"], "IN_PROGRESS");
    let waited = web["seconds"].as_u64().expect("seconds");
    assert!(
        (20..=23).contains(&waited),
        "the wait took {waited}s for a 20s timeout (the whole apply {took:?})"
    );
    assert!(doc.get("tag").is_none(), "{doc:#}");
    // The state was saved before the wait and records what the walk made.
    let state = env.state();
    assert!(
        state["resources"]["service[web]"]["id"].is_string(),
        "{state:#}"
    );
    assert_eq!(state["revision"]["result"], "failed");
    env.assert_unlocked();
    assert_eq!(git::tags(env.dir(), ENV), Vec::<String>::new());

    // Without the wait the same apply succeeds, on a fresh emulator (the services still roll
    // out forever).
    drop(env);
    let fresh = Env::stuck().await;
    git::init(fresh.dir());
    git::commit_all(fresh.dir(), "Acceptance environment");
    let out = fresh.run(&["apply", ENV, "--auto-approve", "--no-wait"]);
    out.expect_code(0);
    assert!(!out.stderr.contains("rollout"), "{}", out.stderr);
    assert_eq!(git::tags(fresh.dir(), ENV).len(), 1);
}

/// Stands for AWS after a deployment circuit breaker rolled an image change back: the
/// PRIMARY deployment runs the old revision again, the new one's deployment FAILED.
#[tokio::test]
async fn a_rolled_back_update_fails_names_the_reason_and_keeps_the_old_revision() {
    let env = Env::new().await;
    // One revision kept: a retirement after a completed rollout shows at once (and its
    // absence after a failed one).
    env.keep_task_revisions(1);
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    env.set_web_image("1.28-alpine");
    git::commit_all(env.dir(), "web 1.28");

    let proxy = env.proxy_with(rollout::rolled_back());
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve"]);
    out.expect_code(3).expect_in_stderr(&format!(
        "error: the rollout of `web` (acceptance-default-web:2) did not complete: ECS runs `acceptance-default-web:1` again instead of `acceptance-default-web:2` (rolled back): {BREAKER_REASON}"
    ));
    assert!(
        !out.stderr.contains("retired revisions"),
        "nothing is retired after a failed rollout:\n{}",
        out.stderr
    );
    assert_eq!(
        env.revisions(TaskDefinitionStatus::Active).await,
        [1, 2],
        "the revision ECS rolled back to stays registered"
    );
    assert_eq!(git::tags(env.dir(), ENV).len(), 1, "only the first apply's");
    env.assert_unlocked();
}

/// Stands for AWS once an image change's deployment completed: one PRIMARY deployment, of the
/// new revision, COMPLETED.
#[tokio::test]
async fn a_completed_update_retires_old_revisions_and_the_json_reports_say_so() {
    let env = Env::new().await;
    // One revision kept: a retirement after a completed rollout shows at once (and its
    // absence after a failed one).
    env.keep_task_revisions(1);
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    env.set_web_image("1.28-alpine");

    let proxy = env.proxy_with(rollout::completing());
    let out = env.run_through(
        &proxy,
        &["apply", ENV, "--auto-approve", "--format", "json"],
    );
    out.expect_code(0)
        .expect_in_stderr("# task_definition[web] gets a new revision")
        .expect_in_stderr("Apply complete")
        .expect_in_stderr("task_definition[web]: retired revisions beyond the ones kept");
    let doc = out.json();
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(
        (doc["operation"].clone(), doc["result"].clone()),
        ("apply".into(), "applied".into())
    );
    let done: Vec<(&str, &str)> = doc["done"]
        .as_array()
        .expect("done")
        .iter()
        .filter_map(|s| Some((s["address"].as_str()?, s["action"].as_str()?)))
        .collect();
    assert!(
        done.contains(&("task_definition[web]", "revise")),
        "{done:?}"
    );
    assert!(done.contains(&("service[web]", "update")), "{done:?}");
    assert_eq!(doc["failed"], serde_json::json!([]));
    let web = rollout_of(&doc, "web");
    assert_eq!(web["result"], "completed");
    assert_eq!(web["task_definition"], "acceptance-default-web:2");
    assert_eq!(web["rollout_state"], "COMPLETED");
    assert!(
        web.get("reason").is_none() && web.get("events").is_none(),
        "{web:#}"
    );
    assert_eq!(env.revisions(TaskDefinitionStatus::Active).await, [2]);
    assert_eq!(env.revisions(TaskDefinitionStatus::Inactive).await, [1]);

    let out = env.run(&["destroy", ENV, "--auto-approve", "--format", "json"]);
    out.expect_code(0);
    let doc = out.json();
    assert_eq!(
        (doc["operation"].clone(), doc["result"].clone()),
        ("destroy".into(), "applied".into())
    );
    assert!(
        doc["done"]
            .as_array()
            .is_some_and(|d| d.iter().all(|s| s["action"] == "delete") && !d.is_empty()),
        "{doc:#}"
    );
    assert_eq!(doc["rollouts"], serde_json::json!([]));

    // An error before the walk is a document too.
    let out = env.run(&["apply", "nowhere", "--auto-approve", "--format", "json"]);
    out.expect_code(1);
    assert_eq!(out.json()["result"], "error");
}
