//! Task definition revisions kept for rollback (issue 14 item 6): an image change registers
//! one new revision beside the old one, moves the service over with one `UpdateService`, and
//! retires only the revisions beyond `[cluster] keep_task_revisions`.
//!
//! moto starts no deployment on `UpdateService`: every apply here goes through a proxy that
//! answers `DescribeServices` as AWS does once the update's rollout completed
//! ([`rollout::completing`]), which the rollout wait needs before it retires anything.

use std::sync::atomic::Ordering;

use ecsops_core::provider::aws::sdk::ecs;
use ecsops_core::provider::aws::sdk::ecs::types::TaskDefinitionStatus;

use crate::support::Output;
use crate::support::env::{ENV, Env};
use crate::support::proxy::{DropResponse, Fault, Proxy};
use crate::support::rollout;

const FAMILY: &str = "acceptance-default-web";

impl Env {
    fn apply_ok(&self) -> Output {
        let proxy = self.proxy_with(rollout::completing());
        let out = self.run_through(&proxy, &["apply", ENV, "--auto-approve"]);
        out.expect_code(0);
        out
    }

    /// Sets `[cluster] keep_task_revisions`.
    pub(crate) fn keep_task_revisions(&self, keep: u32) {
        let path = self.dir().join("environments/acceptance.toml");
        let text = std::fs::read_to_string(&path).expect("manifest");
        std::fs::write(&path, format!("{text}\n[cluster]\nkeep_task_revisions = {keep}\n"))
            .expect("write manifest");
    }

    pub(crate) fn set_web_image(&self, tag: &str) {
        self.run(&["set-image", ENV, &format!("web=public.ecr.aws/nginx/nginx:{tag}")])
            .expect_code(0);
    }

    /// The family's revisions with `status`, as numbers in ascending order.
    pub(crate) async fn revisions(&self, status: TaskDefinitionStatus) -> Vec<i32> {
        let listed = ecs::Client::new(&self.config)
            .list_task_definitions()
            .family_prefix(FAMILY)
            .status(status)
            .send()
            .await
            .expect("list task definitions");
        let mut revisions: Vec<i32> = listed
            .task_definition_arns()
            .iter()
            .filter_map(|arn| arn.rsplit_once(':')?.1.parse().ok())
            .collect();
        revisions.sort_unstable();
        revisions
    }

    fn recorded_revision(&self) -> i64 {
        self.state()["resources"]["task_definition[web]"]["outputs"]["revision"]
            .as_i64()
            .expect("a recorded revision")
    }
}

#[tokio::test]
async fn an_image_change_is_one_new_revision_one_service_update_and_keeps_the_old_one() {
    let env = Env::new().await;
    env.apply_ok();
    let before = env.revisions(TaskDefinitionStatus::Active).await;
    assert_eq!(before, [1], "one revision after the first apply");

    env.set_web_image("1.28-alpine");
    let plan = env.run(&["diff", ENV]);
    plan.expect_code(0)
        .expect_in_stdout("# task_definition[web] gets a new revision")
        .expect_in_stdout("1 new revision.");
    assert!(
        !plan.stdout.contains("destroy") && !plan.stdout.contains("replace ("),
        "a new revision is neither destroyed nor replaced:\n{}",
        plan.stdout
    );

    // Every UpdateService goes through the proxy and is counted (no fault: `times` is 0), on
    // its way to the one answering DescribeServices as AWS does after the rollout.
    let rollouts = env.proxy_with(rollout::completing());
    let port = rollouts
        .endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the proxy's port");
    let proxy = Proxy::start(
        port,
        vec![DropResponse {
            contains: vec!["AmazonEC2ContainerServiceV20141113.UpdateService"],
            times: 0,
            fault: Fault::Drop,
        }],
    );
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve"]);
    out.expect_code(0)
        .expect_in_stdout("1 new revision.")
        .expect_in_stderr("task_definition[web]: registered a new revision")
        .expect_in_stderr("task_definition[web]: retired revisions beyond the ones kept");
    let shown = out.stdout.split("Apply complete").next().unwrap_or_default();
    assert!(!shown.contains("destroy"), "the plan shown:\n{shown}");
    assert_eq!(
        proxy.matched.load(Ordering::SeqCst),
        1,
        "exactly one service updated\n{}",
        out.stderr
    );
    assert_eq!(
        env.revisions(TaskDefinitionStatus::Active).await,
        [1, 2],
        "exactly one new revision, and the old one still ACTIVE"
    );
    assert_eq!(env.recorded_revision(), 2);
    let service = &env.state()["resources"]["service[web]"]["attributes"]["task_definition"];
    assert!(
        service.as_str().is_some_and(|arn| arn.ends_with(":2")),
        "the service runs the new revision: {service}"
    );
    let (code, again) =
        (env.run(&["diff", ENV, "--detailed-exitcode"]).code, env.run(&["diff", ENV]));
    assert_eq!(code, Some(0), "converged\n{}", again.stdout);

    // Going back to the old image finds the kept revision (as `ecsops rollback` and a
    // circuit breaker's rollback do) instead of registering a twin of it.
    env.set_web_image("1.27-alpine");
    env.apply_ok().expect_in_stderr("(adopted an existing resource carrying its tags)");
    assert_eq!(env.revisions(TaskDefinitionStatus::Active).await, [1, 2]);
    assert_eq!(env.recorded_revision(), 1);
}

#[tokio::test]
async fn image_changes_beyond_the_kept_revisions_retire_the_oldest() {
    let env = Env::new().await;
    env.keep_task_revisions(2);
    env.apply_ok();
    for (i, tag) in ["1.28-alpine", "1.29-alpine", "1.30-alpine"].iter().enumerate() {
        env.set_web_image(tag);
        env.apply_ok();
        let active = env.revisions(TaskDefinitionStatus::Active).await;
        let newest = i32::try_from(i).expect("small") + 2;
        let kept: Vec<i32> = (1.max(newest - 1)..=newest).collect();
        assert_eq!(active, kept, "the newest two after change {}", i + 1);
    }
    assert_eq!(
        env.revisions(TaskDefinitionStatus::Inactive).await,
        [1, 2],
        "the oldest deregistered, not deleted"
    );
    // The api service's family was never changed: nothing of it is retired.
    let api = ecs::Client::new(&env.config)
        .list_task_definitions()
        .family_prefix("acceptance-default-api")
        .status(TaskDefinitionStatus::Active)
        .send()
        .await
        .expect("list");
    assert_eq!(api.task_definition_arns().len(), 1);
    let code = env.run(&["diff", ENV, "--detailed-exitcode"]).code;
    assert_eq!(code, Some(0));

    // Destroying the service deregisters the kept revisions with the recorded one.
    env.run(&["destroy", ENV, "--auto-approve"]).expect_code(0);
    assert_eq!(env.revisions(TaskDefinitionStatus::Active).await, Vec::<i32>::new());
}
