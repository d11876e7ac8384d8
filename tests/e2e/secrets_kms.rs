//! `secrets_kms_keys` against moto: the applied task execution policy lets the role decrypt with
//! the listed customer-managed keys through SSM and Secrets Manager only, and reads back as
//! applied (a second diff shows no change).

use ecsops_core::provider::aws::sdk::{ecs, iam};
use serde_json::json;

use crate::support::env::{ENV, Env};
use crate::support::iam::policy_document;

const KEY_A: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_B: &str = "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef";
const HUB: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf";

#[tokio::test]
async fn kms_keys_of_secrets_reach_the_execution_policy_and_converge() {
    let env = Env::new().await;
    // `api` reads an SSM parameter (base.toml); `cadvisor` now pulls with registry credentials
    // from Secrets Manager. Both list KEY_A: the policy names it once.
    env.edit(
        "base.toml",
        "secrets = { DATABASE_PASSWORD = \"ssm:/ecsops/api/database-password\" }\n",
        &format!(
            "secrets = {{ DATABASE_PASSWORD = \"ssm:/ecsops/api/database-password\" }}\n\
             secrets_kms_keys = [\"{KEY_B}\", \"{KEY_A}\"]\n"
        ),
    );
    env.edit(
        "base.toml",
        "[system_containers.cadvisor]\n",
        &format!(
            "[system_containers.cadvisor]\nregistry_credentials = \"{HUB}\"\n\
             secrets_kms_keys = [\"{KEY_A}\"]\n"
        ),
    );
    let applied = env.run(&["apply", ENV, "--auto-approve"]);
    applied.expect_code(0);

    let iamc = iam::Client::new(&env.config);
    let document = policy_document(&iamc, &env.id("iam_policy.task_execution")).await;
    let statements = document["Statement"].as_array().expect("statements");
    let decrypt = statements
        .iter()
        .find(|s| s["Sid"] == "DecryptSecrets")
        .unwrap_or_else(|| panic!("no DecryptSecrets statement: {document}"));
    // Once each, sorted; decrypted only through the services the two containers read from.
    assert_eq!(decrypt["Action"], "kms:Decrypt");
    assert_eq!(decrypt["Resource"], json!([KEY_A, KEY_B]));
    let via = &decrypt["Condition"]["StringEquals"]["kms:ViaService"];
    let services = ["secretsmanager", "ssm"].map(|s| format!("{s}.eu-west-1.amazonaws.com"));
    assert_eq!(via, &json!(services), "{decrypt}");

    // Converged: a second diff plans nothing.
    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(0);
}

/// A log driver's credential is a reference, like a secret: the task definition holds it as a
/// `secretOptions` entry, the execution role may read exactly that parameter, and the applied
/// revision reads back as applied.
#[tokio::test]
async fn log_secret_options_reach_the_task_definition_and_the_execution_policy() {
    let env = Env::new().await;
    env.edit(
        "base.toml",
        "[instance_groups.default]\n",
        "[instance_groups.default]\nlogging_drivers = [\"awslogs\", \"splunk\"]\n",
    );
    env.edit(
        "base.toml",
        "secrets = { DATABASE_PASSWORD = \"ssm:/ecsops/api/database-password\" }\n",
        "secrets = { DATABASE_PASSWORD = \"ssm:/ecsops/api/database-password\" }\n\
         logging = { driver = \"splunk\", options = { splunk-url = \"https://splunk:8088\" }, \
         secret_options = { splunk-token = \"ssm:/ecsops/api/splunk-token\" } }\n",
    );
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);

    let td = ecs::Client::new(&env.config)
        .describe_task_definition()
        .task_definition(env.id("task_definition[api]"))
        .send()
        .await
        .expect("task definition");
    let log = td.task_definition().expect("a task definition").container_definitions()[0]
        .log_configuration()
        .expect("a log configuration");
    assert_eq!(log.log_driver().as_str(), "splunk");
    let secret_options: Vec<(&str, &str)> =
        log.secret_options().iter().map(|s| (s.name(), s.value_from())).collect();
    assert_eq!(secret_options, [("splunk-token", "/ecsops/api/splunk-token")]);

    let iamc = iam::Client::new(&env.config);
    let document = policy_document(&iamc, &env.id("iam_policy.task_execution")).await;
    let read = document["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == "ReadParameters"))
        .unwrap_or_else(|| panic!("no ReadParameters statement: {document}"));
    assert_eq!(
        read["Resource"],
        json!([
            "arn:aws:ssm:eu-west-1:*:parameter/ecsops/api/database-password",
            "arn:aws:ssm:eu-west-1:*:parameter/ecsops/api/splunk-token"
        ])
    );

    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(0);
}
