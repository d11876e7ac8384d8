//! The rollout wait after an apply (issue 14): every service and system container the apply
//! created or changed is watched until its deployment completes; one that fails or times out
//! fails the apply (exit 3) after the state was saved, releases the lock and makes no tag; old
//! task definition revisions are retired only after a completed rollout; a failed rollout's
//! report says why (the service's last events, the new revision's stopped tasks). Also the JSON
//! report of apply and destroy.
//!
//! moto runs no tasks: a created service's rollout is COMPLETED when the server's
//! `MOTO_ECS_SERVICE_RUNNING` covers its desired count (the default test server) and
//! IN_PROGRESS forever otherwise (the stuck server). Its `UpdateService` starts no deployment,
//! so updates are judged through a proxy answering `DescribeServices` as AWS does
//! (`support::rollout`); each such test says which AWS ending it stands for.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ecsops_core::provider::aws::sdk::ecs::types::TaskDefinitionStatus;
use serde_json::{Value, json};

use crate::support::env::{ENV, Env};
use crate::support::git;
use crate::support::moto::STUCK_FAILED_TASKS;
use crate::support::proxy::{Fault, Proxy};
use crate::support::rollout::{self, BREAKER_REASON};
use crate::support::service_history::{self, OOM, Stop};

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
    let out =
        env.run(&["apply", ENV, "--auto-approve", "--wait-timeout", "20s", "--format", "json"]);
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
    assert!(state["resources"]["service[web]"]["id"].is_string(), "{state:#}");
    assert_eq!(state["revision"]["result"], "rollout_failed");
    env.assert_unlocked();
    env.run(&["status", ENV]).expect_in_stdout("(apply, rollout failed)");
    env.run(&["history", ENV])
        .expect_in_stdout("not tagged: every change was made, but a rollout did not complete");
    assert_eq!(git::tags(env.dir(), ENV), Vec::<String>::new());

    // Run again, as the error says: nothing is left to change, but the apply is not finished.
    // The re-run waits for the rollouts again (every service's) instead of saying "No changes".
    let again = env.run(&["apply", ENV, "--auto-approve", "--wait-timeout", "5s"]);
    again
        .expect_code(3)
        .expect_in_stderr("error: the rollout of `web` (acceptance-default-web:1) did not complete: timed out after 5s")
        .expect_in_stderr("the last apply made its changes but did not finish: this one finishes it");
    assert_eq!(git::tags(env.dir(), ENV), Vec::<String>::new());
    // Without the wait, it is recorded as applied and tagged, like any `--no-wait` apply.
    env.run(&["apply", ENV, "--auto-approve", "--no-wait"]).expect_code(0);
    assert_eq!(env.state()["revision"]["result"], "applied");
    assert_eq!(git::tags(env.dir(), ENV).len(), 1);
    env.run(&["apply", ENV, "--auto-approve", "--no-wait"])
        .expect_code(0)
        .expect_in_stdout("No changes");
    assert_eq!(git::tags(env.dir(), ENV).len(), 1, "a finished apply is not redone");

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

/// The acceptance environment applied from a commit, then web's image changed in the next.
fn applied_then_web_image_changed(env: &Env) {
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance environment");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    env.set_web_image("1.28-alpine");
    git::commit_all(env.dir(), "web 1.28");
}

/// Stands for AWS after a deployment circuit breaker rolled an image change back: the
/// PRIMARY deployment runs the old revision again, the new one's deployment FAILED. moto
/// writes no service events and runs no tasks, so the proxy also answers as AWS would with
/// web's last events (six, newest first) and stopped tasks: one of the new revision killed for
/// memory, one of the old revision that the report must leave out.
#[tokio::test]
async fn a_rolled_back_update_fails_says_why_and_keeps_the_old_revision() {
    let env = Env::new().await;
    // One revision kept: a retirement after a completed rollout shows at once (and its
    // absence after a failed one).
    env.keep_task_revisions(1);
    applied_then_web_image_changed(&env);

    let (web, group) = (env.ecs_name("service[web]"), env.web_log_group());
    let old_td = env.id("task_definition[web]");
    let new_td = format!("{}:2", old_td.rsplit_once(':').expect("a revision").0);
    let cluster = env.id("ecs_cluster");
    let task = |id: &str| format!("arn:aws:ecs:eu-west-1:123456789012:task/{cluster}/{id}");
    let (new_task, old_task) = (task("0a1b2c3d4e5f"), task("9f8e7d6c5b4a"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_secs_f64();
    let events: Vec<Value> = (0..6)
        .map(|n| {
            json!({"id": format!("ev-{n}"), "createdAt": now - 60.0 * f64::from(n),
                   "message": format!("(service {web}) event number {n}.")})
        })
        .collect();
    let stop = |arn, task_definition, exit, reason| {
        service_history::stopped_task(&Stop {
            arn,
            task_definition,
            service: &web,
            container: "web",
            exit,
            reason,
            at: now - 30.0,
        })
    };
    let tasks =
        vec![stop(&new_task, &new_td, 137, OOM), stop(&old_task, &old_td, 1, "the old revision's")];
    let mut describe = rollout::rolled_back();
    let name = web.clone();
    describe.fault =
        describe.fault.then(move |_, body| service_history::with_events(body, &name, &events));
    let mut rules = vec![describe];
    rules.extend(service_history::stopped_tasks(tasks));
    let proxy = Proxy::start(env.moto.server.port(), rules);
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve", "--format", "json"]);
    let new_id = new_task.rsplit('/').next().expect("id");
    out.expect_code(3)
        .expect_in_stderr(&format!(
            "error: the rollout of `web` (acceptance-default-web:2) did not complete: ECS runs `acceptance-default-web:1` again instead of `acceptance-default-web:2` (rolled back): {BREAKER_REASON}"
        ))
        .expect_in_stderr("  last service events:\n    ")
        .expect_in_stderr(&format!("(service {web}) event number 0.\n"))
        .expect_in_stderr(&format!("(service {web}) event number 4.\n"))
        .expect_in_stderr(&format!(
            "  stopped tasks, newest first:\n    task {new_id} (acceptance-default-web:2) stopped: Essential container in task exited [EssentialContainerExited]\n"
        ))
        .expect_in_stderr(&format!("      container web: exit code 137: {OOM}\n"))
        .expect_in_stderr(&format!(
            "        logs: group {group}, stream web/web/{new_id}\n"
        ));
    for left_out in ["event number 5", "the old revision's"] {
        assert!(
            !out.stderr.contains(left_out),
            "only the last five events and the new revision's tasks: {left_out}\n{}",
            out.stderr
        );
    }
    let doc = out.json();
    assert_eq!(doc["result"], "rollout_failed");
    let report = rollout_of(&doc, "web");
    let ids: Vec<&str> = report["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids, ["ev-0", "ev-1", "ev-2", "ev-3", "ev-4"], "{report:#}");
    let [stopped] = report["stopped_tasks"].as_array().expect("stopped tasks").as_slice() else {
        panic!("the new revision's one stopped task: {report:#}")
    };
    assert_eq!(stopped["task_arn"], new_task.as_str());
    assert_eq!(stopped["stopped_reason"], "Essential container in task exited");
    let container = &stopped["containers"][0];
    assert_eq!(container["exit_code"], 137);
    assert_eq!(container["reason"], OOM);
    assert_eq!(container["log_group"], group.as_str());
    assert_eq!(container["log_stream"], format!("web/web/{new_id}").as_str());
    assert!(report.get("details_error").is_none(), "{report:#}");
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

/// The issue's sentence: "After a circuit-breaker rollback AWS runs the old revision while the
/// state records the new one: the next `diff` shows the service's task definition as drift, and
/// the next apply tries the rollout again." The proxy answers DescribeServices as AWS does after
/// the rollback until the next UpdateService, and as once that update completed after it.
/// Before that, the failed apply cannot read the failure's details.
#[tokio::test]
async fn after_a_rollback_diff_shows_the_old_revision_as_drift_and_apply_rolls_out_again() {
    let env = Env::new().await;
    applied_then_web_image_changed(&env);
    // The failure's details cannot be read (every ListTasks answer lost): the report says so
    // and the rollout's failure stands.
    let proxy = Proxy::start(
        env.moto.server.port(),
        vec![
            rollout::rolled_back(),
            service_history::rule("AmazonEC2ContainerServiceV20141113.ListTasks", Fault::Drop),
        ],
    );
    env.run_through(&proxy, &["apply", ENV, "--auto-approve"])
        .expect_code(3)
        .expect_in_stderr("error: the rollout of `web` (acceptance-default-web:2) did not complete: ECS runs `acceptance-default-web:1` again")
        .expect_in_stderr("  (its service events and stopped tasks could not be read: ")
        .expect_in_stderr("`ecsops events` shows them)");
    assert!(proxy.dropped.load(Ordering::SeqCst) > 0, "ListTasks was lost");
    drop(proxy);

    let proxy = Proxy::start(env.moto.server.port(), rollout::rolled_back_until_updated().into());
    let diff = env.run_through(&proxy, &["diff", ENV, "--detailed-exitcode"]);
    diff.expect_code(2).expect_in_stdout("# service[web] was changed outside ecsops");
    let td = |n: u32| {
        format!("\"arn:aws:ecs:eu-west-1:123456789012:task-definition/acceptance-default-web:{n}\"")
    };
    let lines: Vec<&str> =
        diff.stdout.lines().map(str::trim).filter(|l| l.starts_with("~ task_definition")).collect();
    assert_eq!(
        lines,
        [
            // The drift: recorded :2, live :1 ...
            format!("~ task_definition = {} -> {}", td(2), td(1)),
            // ... and the plan that rolls :2 out again.
            format!("~ task_definition = {} -> {}", td(1), td(2)),
        ],
        "{}",
        diff.stdout
    );
    diff.expect_in_stdout("# service[web] will be updated in place");

    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve"]);
    out.expect_code(0)
        .expect_in_stderr("service[web]: rollout of acceptance-default-web:2 completed after");
    assert_eq!(git::tags(env.dir(), ENV).len(), 2, "{}", out.stderr);
    env.run_through(&proxy, &["diff", ENV, "--detailed-exitcode"]).expect_code(0);
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
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve", "--format", "json"]);
    out.expect_code(0)
        .expect_in_stderr("# task_definition[web] gets a new revision")
        .expect_in_stderr("Apply complete")
        .expect_in_stderr("task_definition[web]: retired revisions beyond the ones kept");
    let doc = out.json();
    assert_eq!(doc["format_version"], "1.4");
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
    assert!(done.contains(&("task_definition[web]", "revise")), "{done:?}");
    assert!(done.contains(&("service[web]", "update")), "{done:?}");
    assert_eq!(doc["failed"], serde_json::json!([]));
    let web = rollout_of(&doc, "web");
    assert_eq!(web["result"], "completed");
    assert_eq!(web["task_definition"], "acceptance-default-web:2");
    assert_eq!(web["rollout_state"], "COMPLETED");
    assert!(web.get("reason").is_none() && web.get("events").is_none(), "{web:#}");
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
