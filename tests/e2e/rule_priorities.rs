//! Listener rule priorities through the real binary and moto, which refuses a priority another
//! rule of the listener holds (`PriorityInUse`) as AWS does: whatever the manifest edit does to
//! the priorities (a rule removed or added in front of another, two rules trading theirs, a
//! rule replaced while it moves), one apply gets there and a diff after it finds nothing.

use std::collections::BTreeMap;

use ecsops_core::provider::aws::sdk::elbv2;

use crate::support::Output;
use crate::support::env::{ENV, Env};
use crate::support::git;

impl Env {
    /// The priority of each non-default rule on the example's listener, by the address the
    /// state records its ARN under (an unrecorded rule under its ARN).
    async fn rule_priorities(&self) -> BTreeMap<String, String> {
        let state = self.state();
        let recorded = state["resources"].as_object().cloned().unwrap_or_default();
        let address = |arn: &str| {
            recorded
                .iter()
                .find(|(_, r)| r["id"] == arn)
                .map_or_else(|| arn.to_owned(), |(a, _)| a.clone())
        };
        let rules = elbv2::Client::new(&self.config)
            .describe_rules()
            .listener_arn(self.id("listener[default:80]"))
            .send()
            .await
            .expect("rules");
        rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .map(|r| {
                (
                    address(r.rule_arn().unwrap_or_default()),
                    r.priority().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// `apply` (or `rollback --to`) without waiting for rollouts, as QA ran it.
    fn apply_no_wait(&self, command: &[&str]) -> Output {
        let mut args = command.to_vec();
        args.extend(["--auto-approve", "--no-wait"]);
        let out = self.run(&args);
        assert_eq!(
            out.code,
            Some(0),
            "{command:?} failed\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout,
            out.stderr
        );
        out
    }

    fn expect_no_changes(&self) {
        let out = self.run(&["diff", ENV, "--detailed-exitcode"]);
        assert_eq!(
            out.code,
            Some(0),
            "expected no changes\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout,
            out.stderr
        );
    }

    /// Removes `[services.<name>]` from base.toml, up to the next table.
    fn remove_service(&self, name: &str) {
        let path = self.dir().join("environments/base.toml");
        let text = std::fs::read_to_string(&path).expect("base.toml");
        let header = format!("[services.{name}]");
        let start = text.find(&header).expect("the service");
        let end = text[start + header.len()..]
            .find("\n[")
            .map_or(text.len(), |i| start + header.len() + i + 1);
        std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).expect("write");
    }
}

fn priorities(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, p)| ((*a).to_owned(), (*p).to_owned())).collect()
}

/// QA's case: `api` (`/api/*`) and `web` (`/*`) take the automatic priorities 1000 and 1010;
/// without `api`, `web` moves to 1000, which it can only take once `api`'s rule is gone. The
/// rollback to the first revision is the other direction: `web` gives 1000 back to a new rule.
#[tokio::test]
async fn a_removed_rule_hands_its_priority_on_and_a_rollback_takes_it_back_each_in_one_apply() {
    let env = Env::new().await;
    git::init(env.dir());
    env.edit("base.toml", ", priority = 100 }", " }");
    env.edit("base.toml", ", priority = 10 }", " }");
    git::commit_all(env.dir(), "Automatic priorities");
    let base = env.dir().join("environments/base.toml");
    let with_api = std::fs::read_to_string(&base).expect("base.toml");
    env.apply_no_wait(&["apply", ENV]);
    let first =
        env.state()["revision"]["tag"].as_str().expect("the first apply is tagged").to_owned();
    assert_eq!(
        env.rule_priorities().await,
        priorities(&[("listener_rule[api]", "1000"), ("listener_rule[web]", "1010")])
    );

    env.remove_service("api");
    git::commit_all(env.dir(), "Without api");
    let plan = env.run(&["diff", ENV, "--format", "json"]).json();
    let web = plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "listener_rule[web]"))
        .expect("web's rule in the plan");
    assert_eq!(web["action"], "update");
    assert!(
        web["depends_on"].as_array().is_some_and(|d| d.iter().any(|a| a == "listener_rule[api]")),
        "web's rule takes api's priority: {web}"
    );
    let out = env.apply_no_wait(&["apply", ENV]);
    out.expect_in_stdout("0 created, 2 updated, 0 replaced, 6 destroyed");
    assert_eq!(env.rule_priorities().await, priorities(&[("listener_rule[web]", "1000")]));
    env.expect_no_changes();

    env.apply_no_wait(&["rollback", ENV, "--to", &first]);
    assert_eq!(
        env.rule_priorities().await,
        priorities(&[("listener_rule[api]", "1000"), ("listener_rule[web]", "1010")])
    );
    // The work tree as at the first revision again: the rollback left nothing to do.
    std::fs::write(&base, with_api).expect("write base.toml");
    env.expect_no_changes();
}

/// Two rules trading priorities wait on each other: one of them steps aside to a free priority
/// first. Trading them back while `api`'s rule is replaced (its target group's port changes)
/// needs no such step: the replacement lets go of the old rule's priority first.
#[tokio::test]
async fn rules_trading_priorities_converge_in_one_apply_also_when_one_is_replaced() {
    let env = Env::new().await;
    env.apply_no_wait(&["apply", ENV]);
    let (api, web) = (env.id("listener_rule[api]"), env.id("listener_rule[web]"));
    assert_eq!(
        env.rule_priorities().await,
        priorities(&[("listener_rule[api]", "10"), ("listener_rule[web]", "100")])
    );

    // `web` (`/*`) first would leave `api` nothing: allowed, on purpose.
    env.edit("base.toml", "priority = 100 }", "priority = 10 }");
    env.edit(
        "base.toml",
        "paths = [\"/api/*\"], priority = 10 }",
        "paths = [\"/api/*\"], priority = 100, allow_shadowed = true }",
    );
    let out = env.apply_no_wait(&["apply", ENV]);
    out.expect_in_stdout("0 created, 2 updated, 0 replaced, 0 destroyed")
        .expect_in_stderr("listener_rule[api]: moved aside to a free priority");
    assert_eq!(
        env.rule_priorities().await,
        priorities(&[("listener_rule[api]", "100"), ("listener_rule[web]", "10")])
    );
    assert_eq!(
        (env.id("listener_rule[api]"), env.id("listener_rule[web]")),
        (api, web),
        "both rules moved in place"
    );
    env.expect_no_changes();

    env.edit("base.toml", "priority = 10 }", "priority = 100 }");
    env.edit(
        "base.toml",
        "paths = [\"/api/*\"], priority = 100, allow_shadowed = true }",
        "paths = [\"/api/*\"], priority = 10 }",
    );
    env.edit(
        "base.toml",
        "container_port = 80\nroute = { load_balancer = \"default\", paths = [\"/api/*\"]",
        "container_port = 8080\nroute = { load_balancer = \"default\", paths = [\"/api/*\"]",
    );
    let out = env.apply_no_wait(&["apply", ENV]);
    out.expect_in_stdout("# listener_rule[api] must be replaced");
    assert_eq!(
        env.rule_priorities().await,
        priorities(&[("listener_rule[api]", "10"), ("listener_rule[web]", "100")])
    );
    env.expect_no_changes();
}
