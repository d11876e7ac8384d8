//! Environments bound to their AWS accounts, through the real binary against moto: a role
//! assumed per environment lands the resources in the role's account, a wrong account is
//! refused before anything is locked or read, and the state backend uses `[state]`'s own role.
//!
//! moto gives every assumed role's credentials the account of the role (its own isolated
//! backend), and answers `GetCallerIdentity` with `arn:aws:sts::<account>:assumed-role/...`
//! for them; the default test credentials are `arn:aws:sts::123456789012:user/moto`. A request
//! carrying `x-moto-account-id` is served from that account, which is how these tests look
//! into the others.

use aws_sdk_s3::config::http::HttpRequest;
use ecsops_core::provider::aws::sdk::{SdkConfig, ec2};

use crate::support::moto::{self, Moto};
use crate::support::proxy::{Fault, Proxy};
use crate::support::{Output, Workspace};

const ENV: &str = "acc";
const DEFAULT_ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::222222222222:role/deployer";
/// Where the central state bucket is.
const STATE_ACCOUNT: &str = "333333333333";

/// A small environment (a VPC and what it needs, a cluster) with `extra` in `[environment]`
/// and `state` as its `[state]` table.
fn workspace(extra: &str, state: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write(
        &format!("environments/{ENV}.toml"),
        &format!(
            "[environment]\nregion = \"eu-west-1\"\navailability_zones = [\"eu-west-1a\", \"eu-west-1b\"]\n{extra}\n\n[network]\ncidr = \"10.7.0.0/16\"\nnat = \"single\"\n{state}"
        ),
    );
    ws
}

/// The ids of the VPCs tagged as the environment's in `account`.
async fn vpcs_in(config: &SdkConfig, account: &str) -> Vec<String> {
    ec2::Client::new(config)
        .describe_vpcs()
        .filters(ec2::types::Filter::builder().name("tag:ecsops:environment").values(ENV).build())
        .customize()
        .mutate_request(in_account(account))
        .send()
        .await
        .expect("describe vpcs")
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_owned))
        .collect()
}

/// Sends a request to moto's `account` (its isolated backend) whatever the credentials say.
fn in_account(account: &str) -> impl Fn(&mut HttpRequest) + Send + Sync + 'static {
    let account = account.to_owned();
    move |r| {
        r.headers_mut().insert("x-moto-account-id", account.clone());
    }
}

/// A proxy in front of `server` counting the requests whose text holds all of `contains`.
fn counting(server: &Moto, contains: Vec<&'static str>) -> Proxy {
    // A header no request has: the request passes unchanged, and is counted.
    Proxy::always(server.port(), contains, Fault::Strip("x-ecsops-counted"))
}

fn matched(proxy: &Proxy) -> usize {
    proxy.matched.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn a_role_per_environment_applies_into_the_role_account() {
    let moto = moto::moto();
    let config = crate::support::aws::sdk_config(&moto.server.endpoint).await;
    let ws = workspace(&format!("role_arn = \"{ROLE}\""), "");
    let sts = counting(moto.server, vec!["GetCallerIdentity"]);

    let out = ws.ecsops_env(&["apply", ENV, "--auto-approve"], &sts.env(moto.server.env()));
    out.expect_code(0).expect_in_stdout(
        "AWS account 222222222222 as arn:aws:sts::222222222222:assumed-role/deployer/ecsops-acc-",
    );
    assert_eq!(matched(&sts), 1, "one GetCallerIdentity for the whole apply");

    let assumed = vpcs_in(&config, "222222222222").await;
    assert_eq!(assumed.len(), 1, "the VPC is in the role's account");
    assert!(
        vpcs_in(&config, DEFAULT_ACCOUNT).await.is_empty(),
        "and not in the base credentials' account"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".ecsops/state/acc.json")).expect("state"),
    )
    .expect("state JSON");
    assert_eq!(state["resources"]["vpc"]["id"], assumed[0].as_str());

    // The refresh reads the role's account too: nothing to change.
    let out = ws.ecsops_env(&["diff", ENV, "--detailed-exitcode"], &moto.server.env());
    out.expect_code(0).expect_in_stdout(
        "AWS account 222222222222 as arn:aws:sts::222222222222:assumed-role/deployer/",
    );

    // Without the role, the base credentials would find none of the recorded resources and
    // plan them all again in their own account: refused, though no `account_id` is set.
    let manifest = ws.path().join("environments/acc.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace(&format!("role_arn = \"{ROLE}\""), ""))
        .expect("write manifest");
    for args in [&["diff", ENV][..], &["apply", ENV, "--auto-approve"]] {
        let out = ws.ecsops_env(args, &moto.server.env());
        out.expect_code(1)
            .expect_in_stderr("the state of `acc` records resources of account 222222222222, but the credentials act in account 123456789012")
            .expect_in_stderr("set `[environment] account_id = \"222222222222\"`");
    }
    assert!(vpcs_in(&config, DEFAULT_ACCOUNT).await.is_empty());
    ws.ecsops_env(&["lock", ENV], &moto.server.env())
        .expect_code(0)
        .expect_in_stdout("is unlocked");
}

/// Runs `args` against the emulator.
fn run(ws: &Workspace, server: &Moto, args: &[&str]) -> Output {
    ws.ecsops_env(args, &server.env())
}

#[tokio::test]
async fn another_account_is_refused_before_the_lock_and_any_read() {
    let moto = moto::moto();
    let config = crate::support::aws::sdk_config(&moto.server.endpoint).await;
    let ws = workspace("account_id = \"111111111111\"", "");

    for args in [
        &["apply", ENV, "--auto-approve"][..],
        &["destroy", ENV, "--auto-approve"],
        &["diff", ENV],
        &["status", ENV],
        &["events", ENV],
    ] {
        let out = run(&ws, moto.server, args);
        out.expect_code(1)
            .expect_in_stderr("`acc` is bound to account 111111111111, but the credentials act in account 123456789012 as `arn:aws:sts::123456789012:user/moto`")
            .expect_in_stderr("help: these came from the shell's credentials")
            .expect_in_stderr("set `[environment] role_arn` to a role in 111111111111");
        assert_eq!(out.stdout, "", "{args:?} planned nothing");
    }
    assert!(!ws.path().join(".ecsops").exists(), "no lock was taken and no state written");
    assert!(vpcs_in(&config, DEFAULT_ACCOUNT).await.is_empty());
    assert!(vpcs_in(&config, "111111111111").await.is_empty());

    // Planning offline needs no account.
    let out = ws.ecsops(&["diff", ENV, "--offline"]);
    out.expect_code(0)
        .expect_in_stdout("ecsops plan for acc (no state yet: everything will be created)");
    assert!(!out.stdout.contains("AWS account"), "{}", out.stdout);

    // The right account passes, and the plan says which it is.
    std::fs::write(
        ws.path().join("environments/acc.toml"),
        std::fs::read_to_string(ws.path().join("environments/acc.toml"))
            .expect("manifest")
            .replace("111111111111", DEFAULT_ACCOUNT),
    )
    .expect("write manifest");
    run(&ws, moto.server, &["diff", ENV])
        .expect_code(0)
        .expect_in_stdout("AWS account 123456789012 as arn:aws:sts::123456789012:user/moto");
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_an_error_before_the_lock() {
    let moto = moto::moto();
    let ws = workspace(&format!("role_arn = \"{ROLE}\""), "");
    // Nothing listens there: STS cannot be reached, so nobody can say who the role is.
    let mut env = moto.server.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()));
    env.push(("AWS_MAX_ATTEMPTS", "1".to_owned()));
    let out = ws.ecsops_env(&["apply", ENV, "--auto-approve"], &env);
    out.expect_code(1)
        .expect_in_stderr("cannot tell which AWS account `acc` would use (role `arn:aws:iam::222222222222:role/deployer`)")
        .expect_in_stderr("help: check the base credentials");
    assert!(!ws.path().join(".ecsops").exists());
}

#[tokio::test]
async fn an_endpoint_nobody_serves_is_said_to_be_unreachable_not_a_credentials_problem() {
    let ws = workspace("", "");
    let env = vec![
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_MAX_ATTEMPTS", "1".to_owned()),
    ];
    let out = ws.ecsops_env(&["apply", ENV, "--auto-approve"], &env);
    out.expect_code(1)
        .expect_in_stderr("cannot reach AWS to check the account of `acc` (endpoint http://127.0.0.1:9)")
        .expect_in_stderr("help: check that http://127.0.0.1:9 (`AWS_ENDPOINT_URL` or the profile's `endpoint_url`) is right and serving")
        .expect_in_stderr("`ecsops diff acc --offline` plans without AWS");
    assert!(!out.stderr.contains("credentials"), "{}", out.stderr);
    assert!(!ws.path().join(".ecsops").exists());
}

#[tokio::test]
async fn the_state_uses_its_own_role_in_a_third_account() {
    let moto = moto::moto();
    let s3 = moto.server.s3();
    s3.create_bucket()
        .bucket("central-state")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    moto::REGION,
                ))
                .build(),
        )
        .customize()
        .mutate_request(in_account(STATE_ACCOUNT))
        .send()
        .await
        .expect("create the central bucket in account 333333333333");
    let state = "\n[state]\nbackend = \"s3\"\nbucket = \"central-state\"\nprefix = \"team\"\nrole_arn = \"arn:aws:iam::333333333333:role/state\"\n";
    let ws = workspace(&format!("role_arn = \"{ROLE}\""), state);
    // S3 requests about the bucket signed with the base credentials (`testing`).
    let base = counting(moto.server, vec!["credential=testing/", "/central-state"]);

    ws.ecsops_env(&["apply", ENV, "--auto-approve"], &base.env(moto.server.env())).expect_code(0);
    assert_eq!(matched(&base), 0, "every state request went out as the state role");
    let object = s3
        .get_object()
        .bucket("central-state")
        .key("team/acc/state.json")
        .customize()
        .mutate_request(in_account(STATE_ACCOUNT))
        .send()
        .await
        .expect("the state is in the central bucket");
    let bytes = object.body.collect().await.expect("body").into_bytes();
    let written: serde_json::Value = serde_json::from_slice(&bytes).expect("state JSON");
    assert_eq!(written["environment"], ENV);
    let vpc = written["resources"]["vpc"]["id"].as_str().expect("a vpc");
    let config = crate::support::aws::sdk_config(&moto.server.endpoint).await;
    assert_eq!(vpcs_in(&config, "222222222222").await, [vpc.to_owned()]);
    assert!(vpcs_in(&config, "333333333333").await.is_empty());

    // The control: without `[state] role_arn` the same counter sees the environment's
    // requests, so the zero above is not the counter missing them.
    let plain = workspace(
        "",
        "\n[state]\nbackend = \"s3\"\nbucket = \"central-state\"\nprefix = \"plain\"\n",
    );
    plain.ecsops_env(&["diff", ENV], &base.env(moto.server.env())).expect_code(0);
    assert!(matched(&base) > 0);
}

#[tokio::test]
async fn a_profile_wins_over_the_shell_and_a_saved_plan_of_another_account_is_stale() {
    let moto = moto::moto();
    let ws = workspace("", "");
    ws.write(
        "aws/config",
        &format!(
            "[profile base]\nregion = eu-west-1\n\n[profile deployer]\nrole_arn = {ROLE}\nsource_profile = base\nregion = eu-west-1\n"
        ),
    );
    ws.write(
        "aws/credentials",
        "[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    );
    let files = |env: &mut Vec<(&'static str, String)>| {
        env.push(("AWS_CONFIG_FILE", ws.path().join("aws/config").display().to_string()));
        env.push((
            "AWS_SHARED_CREDENTIALS_FILE",
            ws.path().join("aws/credentials").display().to_string(),
        ));
    };
    // Built and planned with the shell's credentials, in the default account.
    run(&ws, moto.server, &["apply", ENV, "--auto-approve"]).expect_code(0);
    let plan = ws.path().join("plan.json").display().to_string();
    run(&ws, moto.server, &["diff", ENV, "--out", &plan])
        .expect_code(0)
        .expect_in_stdout("AWS account 123456789012 as arn:aws:sts::123456789012:user/moto");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).expect("saved plan"))
            .expect("saved plan JSON");
    assert_eq!(saved["account"], DEFAULT_ACCOUNT);

    // The same plan applied as the deployer profile (another account) is stale.
    let mut env = moto.server.env();
    env.retain(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && *k != "AWS_SECRET_ACCESS_KEY");
    files(&mut env);
    env.push(("AWS_PROFILE", "deployer".to_owned()));
    ws.ecsops_env(
        &["apply", ENV, "--plan", &plan, "--auto-approve"],
        &env,
    )
    .expect_code(1)
    .expect_in_stderr(
        "it was made in account 123456789012 and the credentials now act in account 222222222222",
    );

    // `[environment] profile` is used even with other credentials exported.
    let other = workspace("profile = \"deployer\"\naccount_id = \"222222222222\"", "");
    let mut env = moto.server.env();
    files(&mut env);
    other.ecsops_env(&["diff", ENV], &env).expect_code(0).expect_in_stdout(
        "AWS account 222222222222 as arn:aws:sts::222222222222:assumed-role/deployer/",
    );
}

#[test]
fn a_profile_on_a_machine_without_aws_config_files_is_said_to_be_defined_nowhere() {
    let ws = workspace("profile = \"deployer\"", "");
    let out =
        ws.ecsops_env(&["diff", ENV], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned())]);
    out.expect_code(1);
    out.expect_in_stderr(&format!(
        "cannot tell which AWS account `{ENV}` would use (profile `deployer`): profile `deployer` is defined nowhere: neither `"
    ));
    out.expect_in_stderr("/.aws/config` nor `");
    out.expect_in_stderr("help: check the base credentials");
}
