//! `ecsops status` against the emulator: the acceptance environment's services, system
//! container and instance group after an apply (text and JSON), the last applied revision and
//! the lock, and instances marked outdated once the manifest changes the instance type (moto,
//! like AWS, leaves running instances alone when a group's launch template changes).
//!
//! moto runs no tasks: running counts are whatever `MOTO_ECS_SERVICE_RUNNING` says (the test
//! server sets [`moto::RUNNING`], so every rollout completes), and instances carry the `aws:ec2launchtemplate:version` tag
//! moto sets at launch, which is what the outdated rule reads.

use serde_json::Value;

use crate::support::env::{ENV, Env};
use crate::support::git;
use crate::support::moto;

fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no service {name} in {doc:#}"))
}

#[tokio::test]
async fn status_shows_services_instances_and_marks_instances_outdated_after_a_type_change() {
    let env = Env::new().await;
    git::init(env.dir());
    let head = git::commit_all(env.dir(), "Acceptance environment");
    let before = env.run(&["status", ENV]);
    before.expect_code(0).expect_in_stdout("`acceptance` has no state yet");
    let doc = env.run(&["status", ENV, "--format", "json"]).expect_code(0).json();
    assert!(doc.get("serial").is_none(), "{doc:#}");
    assert_eq!(doc["services"], serde_json::json!([]));
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);

    let doc = env.run(&["status", ENV, "--format", "json"]).expect_code(0).json();
    assert_eq!(doc["format_version"], "1.4");
    assert_eq!(doc["environment"], ENV);
    assert_eq!(doc["locked"], false, "status takes no lock");
    assert_eq!(doc["last_applied"]["commit"], head.as_str());
    assert!(
        doc["last_applied"]["tag"].as_str().is_some_and(|t| t.starts_with("ecsops/acceptance/")),
        "{doc:#}"
    );
    let web = service(&doc, "web");
    assert_eq!(web["system"], false);
    assert_eq!(web["missing"], false);
    assert_eq!(web["desired"], 1, "acceptance.toml sets web's desired count");
    assert_eq!(
        web["running"],
        moto::RUNNING,
        "moto runs no tasks: the test server says this many run"
    );
    let td = web["task_definition"].as_str().expect("a revision");
    assert!(td.starts_with("acceptance-default-web:"), "{td}");
    assert_eq!(web["containers"][0]["image"], "public.ecr.aws/nginx/nginx:1.27-alpine");
    let cadvisor = service(&doc, "cadvisor");
    assert_eq!(cadvisor["system"], true);
    assert_eq!(cadvisor["containers"][0]["image"], "gcr.io/cadvisor/cadvisor:v0.49.1");

    let group = &doc["instance_groups"][0];
    assert_eq!(group["name"], "default");
    let template = &group["launch_template"];
    assert_eq!(template["instance_type"], "t3.medium");
    let instances = group["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 2, "base.toml's desired capacity: {group:#}");
    for i in instances {
        assert_eq!(i["instance_type"], "t3.medium");
        assert_eq!(i["image_id"], template["image_id"]);
        assert_eq!(i["launch_template_version"], template["version"].to_string().as_str());
        assert_eq!(i["outdated"], false, "{i:#}");
    }

    let text = env.run(&["status", ENV]);
    text.expect_code(0)
        .expect_in_stdout("lock: free")
        .expect_in_stdout("system containers")
        .expect_in_stdout("public.ecr.aws/nginx/nginx:1.27-alpine")
        .expect_in_stdout("instance groups");
    assert_eq!(text.stdout.matches("up to date").count(), 2, "{}", text.stdout);

    env.edit("base.toml", "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    git::commit_all(env.dir(), "Larger instances");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);

    let doc = env.run(&["status", ENV, "--format", "json"]).expect_code(0).json();
    let group = &doc["instance_groups"][0];
    assert_eq!(group["launch_template"]["instance_type"], "t3.large");
    let old_ids: Vec<&Value> = instances.iter().map(|i| &i["id"]).collect();
    let instances = group["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 2, "{group:#}");
    for i in instances {
        assert!(old_ids.contains(&&i["id"]), "moto keeps the instances: {i:#}");
        assert_eq!(i["outdated"], true, "{i:#}");
        let because = i["outdated_because"].as_array().expect("reasons");
        assert!(
            because.iter().any(|b| b["what"] == "instance_type"
                && b["has"] == "t3.medium"
                && b["current"] == "t3.large"),
            "{i:#}"
        );
        assert!(because.iter().any(|b| b["what"] == "version"), "{i:#}");
    }
    let text = env.run(&["status", ENV]);
    text.expect_code(0).expect_in_stdout("outdated: launch template version");
    assert_eq!(text.stdout.matches("type t3.medium, now t3.large").count(), 2, "{}", text.stdout);
}

/// AWS stops answering (the connection drops) after the account check: the help says to check
/// the credentials and the network, and offers `--offline` only to a command that has it.
#[tokio::test]
async fn an_unreachable_aws_is_met_with_help_only_the_command_can_follow() {
    use crate::support::proxy::{Fault, Proxy};

    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve", "--no-wait"]).expect_code(0);
    let proxy = Proxy::always(
        env.moto.server.port(),
        vec!["AmazonEC2ContainerServiceV20141113.DescribeServices"],
        Fault::Drop,
    );
    let mut vars = proxy.env(env.moto.server.env());
    vars.push(("AWS_MAX_ATTEMPTS", "1".to_owned()));
    let status = env.ws.ecsops_env(&["status", ENV], &vars);
    status
        .expect_code(1)
        .expect_in_stderr("help: ecsops could not reach AWS; check the credentials");
    assert!(!status.stderr.contains("--offline"), "{}", status.stderr);
    env.ws
        .ecsops_env(&["diff", ENV], &vars)
        .expect_code(1)
        .expect_in_stderr("or plan against the recorded state with `--offline`");
}
