//! Task roles and ECS Exec through the real binary against moto: the example acceptance
//! environment with `[services.web]` asking for `task_policies` (one of AWS's, one of the
//! account's) and `execute_command`, applied, then read back with plain SDK calls: the role,
//! its trust and its policies, the task definition's role and init process, the service's
//! `enableExecuteCommand`, and a plan without changes.

use std::collections::BTreeSet;

use ecsops_core::provider::aws::sdk::{ecs, iam};

use crate::support::env::{ENV, Env};
use crate::support::iam::{attached_policy_arns, policy_document, role};

const AWS_POLICY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
const EXEC_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

fn diff(env: &Env) -> crate::support::Output {
    env.run(&["diff", ENV, "--detailed-exitcode"])
}

#[tokio::test]
async fn a_service_with_task_policies_and_execute_command_gets_its_role_and_exec() {
    let env = Env::new().await;
    let iamc = iam::Client::new(&env.config);
    // A policy of the account's own, made outside ecsops, as task_policies expects it.
    let own = iamc
        .create_policy()
        .policy_name("web-uploads")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::uploads/*"}]}"#,
        )
        .send()
        .await
        .expect("create policy");
    let own = own.policy().and_then(|p| p.arn()).expect("a policy ARN").to_owned();
    env.edit(
        "acceptance.toml",
        "[services.web]\ndesired_count = 1\n",
        &format!(
            "[services.web]\ndesired_count = 1\ntask_policies = [\"{AWS_POLICY}\", \"{own}\"]\nexecute_command = true\n"
        ),
    );
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);

    // The role: ecsops' name and path, trusted by ECS tasks, the two policies and its own.
    let role = role(&iamc, "acceptance-default-web-task").await;
    assert_eq!(role.path(), "/ecsops/");
    assert_eq!(role.role_name(), env.id("iam_role.task[web]"));
    assert_eq!(env.state()["resources"]["iam_role.task[web]"]["outputs"]["arn"], role.arn());
    let trust = role.assume_role_policy_document().unwrap_or_default();
    assert!(trust.contains("ecs-tasks.amazonaws.com") && trust.contains("AssumeRole"), "{trust}");
    let attached = attached_policy_arns(&iamc, role.role_name()).await;
    let exec_policy = env.id("iam_policy.execute_command[web]");
    assert_eq!(attached, BTreeSet::from([AWS_POLICY.to_owned(), own, exec_policy.clone()]));
    let document = policy_document(&iamc, &exec_policy).await.to_string();
    for action in EXEC_ACTIONS {
        assert!(document.contains(action), "{action} in {document}");
    }

    // The task definition runs as that role, with an init process for exec sessions.
    let ecsc = ecs::Client::new(&env.config);
    let td = ecsc
        .describe_task_definition()
        .task_definition(env.id("task_definition[web]"))
        .send()
        .await
        .expect("task definition");
    let td = td.task_definition().expect("a task definition");
    assert_eq!(td.task_role_arn(), Some(role.arn()));
    let container = &td.container_definitions()[0];
    assert_eq!(
        container.linux_parameters().and_then(ecs::types::LinuxParameters::init_process_enabled),
        Some(true)
    );

    // moto's CreateService drops `enableExecuteCommand` (its UpdateService keeps it): the next
    // plan reads the service without it, which is what the same answer from AWS would mean,
    // exec turned off outside ecsops. That drift is shown, and an apply turns exec back on.
    let service = || async {
        ecsc.describe_services()
            .cluster("acceptance-default")
            .services(env.id("service[web]"))
            .send()
            .await
            .expect("service")
            .services()[0]
            .enable_execute_command()
    };
    assert!(
        !service().await,
        "moto now keeps enableExecuteCommand on CreateService: assert it is true right after \
         the first apply and drop the repair below"
    );
    let out = diff(&env);
    out.expect_code(2);
    assert_eq!(out.drift(), ["# service[web] was changed outside ecsops"], "{}", out.stdout);
    out.expect_change("enable_execute_command", "false -> true");
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    assert!(service().await, "UpdateService turned exec on");

    diff(&env).expect_code(0);
}

/// A policy put on a role outside ecsops (`PutRolePolicy`) grants what no manifest says: the
/// plan shows it as drift of the role's `inline_policies`, and one apply deletes it.
#[tokio::test]
async fn an_inline_policy_put_on_a_role_outside_ecsops_is_drift_an_apply_removes() {
    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let name = env.id("iam_role.task_execution");
    let iamc = iam::Client::new(&env.config);
    let everything = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;
    iamc.put_role_policy()
        .role_name(&name)
        .policy_name("added-by-hand")
        .policy_document(everything)
        .send()
        .await
        .expect("put the policy");

    let out = env.run(&["diff", ENV, "--detailed-exitcode"]);
    out.expect_code(2);
    out.expect_in_stdout("iam_role.task_execution");
    out.expect_in_stdout("inline_policies");
    out.expect_in_stdout("added-by-hand");

    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let left = iamc.list_role_policies().role_name(&name).send().await.expect("list");
    assert!(left.policy_names().is_empty(), "{:?}", left.policy_names());
    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(0);
}
