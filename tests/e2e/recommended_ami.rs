//! A new recommended AMI is a planned change (issue 16 item 0): after the acceptance
//! environment is applied, SSM names a newer ECS-optimized AMI; `diff` shows it as the launch
//! template's `image_id` change (text and JSON, with image names), `apply` makes a template
//! version launching it, and a plan without AWS says the AMI was not checked.
//!
//! moto, like AWS, refuses writes to the reserved `/aws/` parameters, so the test proxy answers
//! SSM's `GetParameters` with another ECS-optimized AMI that moto has (found with
//! `DescribeImages`), the way AWS answers once it has published a newer one.

use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::support::env::{ENV, Env};
use crate::support::proxy::{Fault, Proxy};

/// The request every plan makes once to learn the recommended AMIs.
const GET_PARAMETERS: &str = "AmazonSSM.GetParameters";

impl Env {
    /// The AMI the launch template's recorded version launches.
    pub(crate) fn recorded_ami(&self) -> String {
        self.state()["resources"]["launch_template[default]"]["outputs"]["image_id"]
            .as_str()
            .expect("a recorded AMI")
            .to_owned()
    }

    /// Another x86 ECS-optimized Amazon Linux 2023 AMI moto knows than `current`, with its name.
    pub(crate) async fn another_ecs_ami(&self, current: &str) -> (String, String) {
        let images = self
            .ec2()
            .describe_images()
            .filters(
                ecsops_core::provider::aws::sdk::ec2::types::Filter::builder()
                    .name("name")
                    .values("al2023-ami-ecs-hvm-*-x86_64")
                    .build(),
            )
            .send()
            .await
            .expect("describe images")
            .images
            .unwrap_or_default();
        images
            .into_iter()
            .filter_map(|i| Some((i.image_id?, i.name?)))
            .filter(|(id, _)| id != current)
            .max_by(|a, b| a.1.cmp(&b.1))
            .expect("moto has more than one ECS-optimized AMI")
    }

    /// The launch template's versions in the emulator, oldest first: (version, AMI).
    async fn template_versions(&self) -> Vec<(i64, String)> {
        let id = self.id("launch_template[default]");
        let mut versions: Vec<(i64, String)> = self
            .ec2()
            .describe_launch_template_versions()
            .launch_template_id(id)
            .send()
            .await
            .expect("versions")
            .launch_template_versions
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| {
                let ami = v.launch_template_data?.image_id?;
                Some((v.version_number?, ami))
            })
            .collect();
        versions.sort();
        versions
    }
}

/// Answers every `GetParameters` with `newer` where the emulator says `current`, counting them.
pub(crate) fn ssm_publishes(env: &Env, current: &str, newer: &str) -> Proxy {
    let (current, newer) = (current.to_owned(), newer.to_owned());
    Proxy::always(
        env.moto.server.port(),
        vec![GET_PARAMETERS],
        Fault::rewrite(move |_, upstream| {
            assert!(upstream.contains(&current), "{upstream}");
            upstream.replace(&current, &newer)
        }),
    )
}

fn image_id_change(plan: &Value) -> &Value {
    plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "launch_template[default]"))
        .and_then(|c| c["attributes"].as_array())
        .and_then(|a| a.iter().find(|a| a["name"] == "image_id"))
        .unwrap_or_else(|| panic!("no image_id change in {plan:#}"))
}

#[tokio::test]
async fn a_newer_recommended_ami_is_planned_applied_and_then_converged() {
    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let old = env.recorded_ami();
    assert_eq!(
        env.state()["resources"]["launch_template[default]"]["attributes"]["image_id"],
        old.as_str(),
        "the record holds the AMI launched as an attribute too"
    );
    let (new, new_name) = env.another_ecs_ami(&old).await;
    let proxy = ssm_publishes(&env, &old, &new);
    let through = |args: &[&str]| env.run_through(&proxy, args);

    let diff = through(&["diff", ENV, "--detailed-exitcode"]);
    diff.expect_code(2)
        .expect_in_stdout("launch_template[default]")
        .expect_in_stdout("image_id")
        .expect_in_stdout(&format!("\"{old}\" -> \"{new}\""))
        .expect_in_stdout(&new_name);
    assert_eq!(
        proxy.matched.load(Ordering::SeqCst),
        1,
        "one GetParameters per plan\n{}",
        diff.stderr
    );
    let json = through(&["diff", ENV, "--format", "json"]);
    json.expect_code(0);
    let plan: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(plan["format_version"], "1.4");
    let change = image_id_change(&plan);
    assert_eq!(change["before"], old.as_str());
    assert_eq!(change["after"], new.as_str());
    assert_eq!(change["names"]["after"], new_name.as_str());
    assert!(plan.get("notes").is_none(), "SSM was asked: {plan:#}");
    assert_eq!(proxy.matched.load(Ordering::SeqCst), 2);

    let versions = env.template_versions().await;
    let applied = through(&["apply", ENV, "--auto-approve"]);
    applied.expect_code(0);
    assert_eq!(proxy.matched.load(Ordering::SeqCst), 3, "{}", applied.stderr);
    let after = env.template_versions().await;
    assert_eq!(after.len(), versions.len() + 1, "one new version: {after:?}");
    assert_eq!(
        after.last().map(|(_, ami)| ami.as_str()),
        Some(new.as_str()),
        "the new version launches the planned AMI"
    );
    assert_eq!(env.recorded_ami(), new);

    let again = through(&["diff", ENV, "--detailed-exitcode"]);
    again.expect_code(0).expect_in_stdout("No changes.");
    assert_eq!(proxy.matched.load(Ordering::SeqCst), 4);

    // Without AWS, the recorded AMI stands and the plan says it was not checked.
    let offline = env.run(&["diff", ENV, "--detailed-exitcode", "--offline"]);
    offline.expect_code(0).expect_in_stdout(
        "note: launch_template[default]: the recommended AMI was not checked (offline)",
    );
    let offline = env.run(&["diff", ENV, "--format", "json", "--offline"]);
    let plan: Value = serde_json::from_str(&offline.stdout).expect("plan JSON");
    assert_eq!(plan["notes"][0]["code"], "ami-not-checked");
    assert_eq!(plan["notes"][0]["address"], "launch_template[default]");
}

#[tokio::test]
async fn a_type_change_shows_the_newer_ami_too_and_a_saved_plan_keeps_its_ami() {
    let env = Env::new().await;
    env.run(&["apply", ENV, "--auto-approve"]).expect_code(0);
    let old = env.recorded_ami();
    let (new, _) = env.another_ecs_ami(&old).await;
    env.edit("base.toml", "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    let proxy = ssm_publishes(&env, &old, &new);
    let through = |args: &[&str]| env.run_through(&proxy, args);
    let saved = env.dir().join("plan.json");
    let saved_arg = saved.to_str().expect("utf-8 path");
    let diff = through(&["diff", ENV, "--out", saved_arg]);
    diff.expect_code(0)
        .expect_in_stdout("\"t3.medium\" -> \"t3.large\"")
        .expect_in_stdout(&format!("\"{old}\" -> \"{new}\""));

    // Applied later, directly against the emulator (whose SSM names the old AMI again): the
    // saved plan's AMI is launched, never the one SSM names at apply time.
    env.run(&["apply", ENV, "--plan", saved_arg, "--auto-approve"]).expect_code(0);
    let last = env.template_versions().await.pop().expect("a version");
    assert_eq!(last.1, new, "the planned AMI, not SSM's answer at apply time");
    assert_eq!(env.recorded_ami(), new);
}

#[tokio::test]
async fn a_parameter_ssm_does_not_have_names_the_manifest_place_and_changes_nothing() {
    let env = Env::new().await;
    // AWS's answer in a region that does not publish the parameter: no error, the name listed
    // as invalid (moto has every parameter it knows in every region, so the proxy answers).
    let proxy = Proxy::always(
        env.moto.server.port(),
        vec![GET_PARAMETERS],
        Fault::rewrite(|_, _| {
            r#"{"Parameters":[],"InvalidParameters":["/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"]}"#
                    .to_owned()
        }),
    );
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve"]);
    out.expect_code(1)
        .expect_in_stderr("`[instance_groups.default] ami`")
        .expect_in_stderr("`/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id`")
        .expect_in_stderr("help: set `ami` to `recommended`");
    assert!(env.vpcs().await.is_empty(), "nothing was created");
    env.assert_unlocked();
}

/// The reference picked "the most recent" ECS AMI with no architecture filter; an explicit AMI
/// id says nothing of its architecture to `validate`, so the plan asks `DescribeImages` and
/// refuses an image the instance type cannot boot, before anything is created.
#[tokio::test]
async fn an_ami_of_another_architecture_than_the_instance_type_is_refused_before_anything() {
    let env = Env::new().await;
    let arm = env
        .ec2()
        .describe_images()
        .filters(
            ecsops_core::provider::aws::sdk::ec2::types::Filter::builder()
                .name("name")
                .values("al2023-ami-ecs-hvm-*-arm64")
                .build(),
        )
        .send()
        .await
        .expect("describe images")
        .images
        .unwrap_or_default()
        .into_iter()
        .find_map(|i| i.image_id)
        .expect("moto has an arm64 ECS-optimized AMI");
    env.edit("base.toml", "ami = \"recommended\"", &format!("ami = \"{arm}\""));
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(1)
        .expect_in_stderr(&format!(
            "error: `[instance_groups.default] ami` launches `{arm}`, an arm64 AMI, on `t3.medium`, which runs x86_64 images"
        ))
        .expect_in_stderr("(`recommended` is the ECS-optimized one)")
        .expect_in_stderr("nothing was planned or changed");
    assert!(env.vpcs().await.is_empty(), "nothing was created");
    env.assert_unlocked();
}
