//! What the old revision of a service's task definition uses is taken away only after the
//! rollout of its new revision, not while its tasks still run: a task role the service stops
//! asking for is deleted then, and a secret it stops reading is then removed from the
//! execution policy (the walk applies the old and new grants together). Held when the
//! deployment fails and ECS rolls back to those tasks; the next apply finishes it. moto starts
//! no deployment on `UpdateService`: a proxy answers `DescribeServices` as AWS does once the
//! update's rollout completed, or once the circuit breaker rolled it back
//! (`support::rollout`).

use ecsops_core::provider::aws::sdk::iam;
use ecsops_core::provider::aws::sdk::iam::operation::get_role::GetRoleError;

use crate::support::Output;
use crate::support::env::{ENV, Env};
use crate::support::git;
use crate::support::iam::policy_document;
use crate::support::proxy::Proxy;
use crate::support::rollout;

const POLICY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
const ROLE: &str = "acceptance-default-web-task";
const WEB: &str = "[services.web]\ndesired_count = 1\n";
const APPLY: [&str; 3] = ["apply", ENV, "--auto-approve"];

/// A fresh emulator where `web` has a task role, applied; the manifest then drops it.
async fn dropping_task_role() -> Env {
    let env = Env::new().await;
    let policies = format!("{WEB}task_policies = [\"{POLICY}\"]\n");
    env.edit("acceptance.toml", WEB, &policies);
    env.run(&APPLY).expect_code(0);
    assert!(role_exists(&env).await);
    env.edit("acceptance.toml", &policies, WEB);
    env
}

async fn role_exists(env: &Env) -> bool {
    let client = iam::Client::new(&env.config);
    match client.get_role().role_name(ROLE).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(GetRoleError::is_no_such_entity_exception) => {
            false
        }
        Err(e) => panic!("GetRole {ROLE}: {e:?}"),
    }
}

/// An apply, in JSON, through AWS's answers once the circuit breaker rolled the update back:
/// it fails the rollout and holds `held` alone. The proxy, for the rest of the test.
fn rolled_back(env: &Env, held: &str) -> (Proxy, Output) {
    let proxy = env.proxy_with(rollout::rolled_back());
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve", "--format", "json"]);
    out.expect_code(3)
        .expect_in_stderr("Held until the rollouts complete (1)")
        .expect_in_stderr(&format!("  {held}"));
    (proxy, out)
}

/// The role was deleted, once web's rollout completed.
async fn assert_role_deleted_after_rollout(env: &Env, out: &Output) {
    in_order(
        &out.stderr,
        &[
            "service[web]: rollout of acceptance-default-web:2 completed",
            "iam_role.task[web]: destroyed",
        ],
    );
    assert!(!role_exists(env).await);
}

/// AWS: the update's deployment completed.
#[tokio::test]
async fn a_dropped_task_role_is_deleted_after_the_rollout_completed() {
    let env = dropping_task_role().await;
    let proxy = env.proxy_with(rollout::completing());
    let out = env.run_through(&proxy, &APPLY);
    out.expect_code(0)
        .expect_in_stdout("Held until the rollouts complete (1)")
        .expect_in_stdout("  iam_role.task[web] (delete)\n");
    assert_role_deleted_after_rollout(&env, &out).await;
    assert!(env.state()["resources"].get("iam_role.task[web]").is_none());
}

/// AWS: the circuit breaker rolled the update back to the old revision, whose tasks need the
/// role.
#[tokio::test]
async fn a_dropped_task_role_is_kept_for_the_tasks_a_failed_deployment_rolls_back_to() {
    let env = dropping_task_role().await;
    let (proxy, out) = rolled_back(&env, "iam_role.task[web] (delete)");
    let doc = out.json();
    assert_eq!(doc["result"], "rollout_failed");
    assert_eq!(
        doc["held_until_rollout"],
        serde_json::json!([{"address": "iam_role.task[web]", "action": "delete"}])
    );
    assert!(role_exists(&env).await, "{}", out.stderr);
    assert!(env.state()["resources"]["iam_role.task[web]"]["id"].is_string());

    env.run(&["diff", ENV, "--offline"]).expect_in_stdout("# iam_role.task[web] will be destroyed");

    // The next apply rolls web out again (ECS runs :1, the state says :2); the state no longer
    // says what :1 uses, so after a failed rollout every role waits for the rollouts.
    drop(proxy);
    let proxy = Proxy::start(env.moto.server.port(), rollout::rolled_back_until_updated().into());
    let out = env.run_through(&proxy, &APPLY);
    out.expect_code(0);
    assert_role_deleted_after_rollout(&env, &out).await;
}

/// AWS: the update's deployment is still going when the apply stops waiting for it, and still
/// when the next apply, whose plan only deletes the role, would run. ECS may yet roll back to
/// the old tasks, so the role waits for web's rollout though that apply changes no service.
/// In git, where the state records how the last apply ended.
#[tokio::test]
async fn a_role_held_by_an_unfinished_apply_waits_for_the_rollout_still_going() {
    let env = dropping_task_role().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "web drops its task role");
    let proxy = env.proxy_with(rollout::in_progress());
    let impatient = ["apply", ENV, "--auto-approve", "--wait-timeout", "1s"];
    env.run_through(&proxy, &impatient)
        .expect_code(3)
        .expect_in_stderr("Held until the rollouts complete (1)");
    assert!(role_exists(&env).await);

    let out = env.run_through(&proxy, &impatient);
    out.expect_code(3)
        .expect_in_stdout("Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.")
        .expect_in_stdout("  iam_role.task[web] (delete)\n")
        .expect_in_stderr("Held until the rollouts complete (1)");
    assert!(role_exists(&env).await, "{}", out.stderr);
    assert!(env.state()["resources"]["iam_role.task[web]"]["id"].is_string());

    drop(proxy);
    let proxy = env.proxy_with(rollout::completing());
    let out = env.run_through(&proxy, &APPLY);
    out.expect_code(0);
    assert_role_deleted_after_rollout(&env, &out).await;
}

const READS_ONE: &str = "secrets = { DATABASE_PASSWORD = \"ssm:/ecsops/api/database-password\" }";
const READS_TWO: &str = "secrets = { DATABASE_PASSWORD = \"ssm:/ecsops/api/database-password\", API_KEY = \"ssm:/ecsops/api/key\" }";
/// What the execution policy names to let the tasks read `API_KEY`.
const KEY: &str = "parameter/ecsops/api/key";
const EXECUTION_POLICY: &str = "iam_policy.task_execution";

/// A fresh emulator where `api` reads two secrets, applied; the manifest then drops one.
async fn dropping_a_secret() -> Env {
    let env = Env::new().await;
    env.edit("base.toml", READS_ONE, READS_TWO);
    env.run(&APPLY).expect_code(0);
    assert!(execution_policy(&env).await.contains(KEY));
    env.edit("base.toml", READS_TWO, READS_ONE);
    env
}

/// The execution policy's default document, as JSON text.
async fn execution_policy(env: &Env) -> String {
    let client = iam::Client::new(&env.config);
    policy_document(&client, &env.id(EXECUTION_POLICY)).await.to_string()
}

/// Asserts that `lines` stand in `stderr` in this order.
fn in_order(stderr: &str, lines: &[&str]) {
    let mut from = 0;
    for line in lines {
        let found = stderr[from..].find(line);
        let found = found.unwrap_or_else(|| panic!("no `{line}` after byte {from} of:\n{stderr}"));
        from += found + line.len();
    }
}

/// AWS: the update's deployment completed.
#[tokio::test]
async fn a_dropped_secret_is_readable_until_the_rollout_completed() {
    let env = dropping_a_secret().await;
    let proxy = env.proxy_with(rollout::completing());
    let out = env.run_through(&proxy, &APPLY);
    // Said with the plan, before anything is done.
    out.expect_code(0).expect_in_stdout(
        "Held until the rollouts complete (1): the old revisions' tasks use them until then\n  \
         iam_policy.task_execution (update: widened to the old and new grants first)\n",
    );
    in_order(
        &out.stderr,
        &[
            "iam_policy.task_execution: widened to the old and new grants after",
            "service[api]: rollout of acceptance-default-api:2 completed",
            "iam_policy.task_execution: updated",
        ],
    );
    assert!(!execution_policy(&env).await.contains(KEY));
    env.run(&["diff", ENV, "--offline", "--detailed-exitcode"]).expect_code(0);
}

/// AWS: the circuit breaker rolled the update back to the old revision, whose tasks read the
/// secret.
#[tokio::test]
async fn a_dropped_secret_stays_readable_for_the_tasks_a_failed_deployment_rolls_back_to() {
    let env = dropping_a_secret().await;
    let (_proxy, out) = rolled_back(&env, "iam_policy.task_execution (update)");
    assert_eq!(
        out.json()["held_until_rollout"],
        serde_json::json!([{"address": EXECUTION_POLICY, "action": "update"}])
    );
    assert!(execution_policy(&env).await.contains(KEY), "{}", out.stderr);
    let recorded = env.state()["resources"][EXECUTION_POLICY]["attributes"]["document"].to_string();
    assert!(recorded.contains(KEY), "{recorded}");

    // The next apply, not revising the task definition again, narrows it in its walk.
    env.run(&["diff", ENV, "--offline"])
        .expect_in_stdout("# iam_policy.task_execution will be updated in place");
    env.run(&["apply", ENV, "--auto-approve", "--no-wait"]).expect_code(0);
    assert!(!execution_policy(&env).await.contains(KEY));
}
