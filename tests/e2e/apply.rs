//! `ecsops apply` / `diff` / `destroy` of the example acceptance environment against moto,
//! through the real binary: what exists in the emulator afterwards, convergence, drift and its
//! repair, changes in place, removals, a killed apply, and two applies racing for the lock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ecsops_core::provider::aws::sdk::ec2::types::Filter;
use ecsops_core::provider::aws::sdk::{autoscaling, ec2, ecs, elbv2, events, logs, sns};
use serde_json::Value;

use crate::support::Output;
use crate::support::env::{ENV, Env, env_filter};

impl Env {
    /// Sets the instance group's max size outside ecsops, as someone in the console would.
    async fn max_size_outside(&self, max: i32) {
        autoscaling::Client::new(&self.config)
            .update_auto_scaling_group()
            .auto_scaling_group_name("acceptance-default-default")
            .max_size(max)
            .send()
            .await
            .expect("update group");
    }

    fn apply(&self) -> Output {
        let out = self.run(&["apply", ENV, "--auto-approve"]);
        out.expect_code(0);
        out
    }

    fn diff_code(&self) -> (Option<i32>, Output) {
        let out = self.run(&["diff", ENV, "--detailed-exitcode"]);
        (out.code, out)
    }

    /// `command` (`apply`, `destroy`) of the environment at `--parallelism 1`, running with
    /// `vars` (stdout discarded).
    fn spawn(
        &self,
        command: &str,
        vars: &[(&str, String)],
        stderr: std::process::Stdio,
    ) -> std::process::Child {
        self.ws
            .command(&[command, ENV, "--auto-approve", "--parallelism", "1"], vars)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {command}: {e}"))
    }

    /// How many resources the local state records now (`None`: no state file yet).
    fn recorded(&self) -> Option<usize> {
        let state = self.ws.path().join(".ecsops/state/acceptance.json");
        std::fs::read_to_string(state)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["resources"].as_object().map(serde_json::Map::len))
    }

    /// Starts an apply at `--parallelism 1`, sends `signal` (`-INT`, `-TERM`) once it has
    /// recorded 5 resources, and waits for it: the count recorded at the signal, and the output.
    fn signal_midway(&self, signal: &str) -> (usize, std::process::Output) {
        let mut child = self.spawn("apply", &self.moto.server.env(), std::process::Stdio::piped());
        let at_signal = self.wait_until_recorded(5, &mut child);
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        (at_signal, child.wait_with_output().expect("apply ends"))
    }

    /// Waits until the running `child` apply has recorded at least `n` resources; returns how
    /// many it had.
    fn wait_until_recorded(&self, n: usize, child: &mut std::process::Child) -> usize {
        let mut recorded = 0;
        wait_for(child, "recorded enough", || {
            recorded = self.recorded().unwrap_or(0);
            recorded >= n
        });
        recorded
    }
}

/// Polls `reached` until it holds while `child` runs; fails after a minute, or if the child
/// ends first.
fn wait_for(child: &mut std::process::Child, what: &str, mut reached: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !reached() {
        assert!(Instant::now() < deadline, "never {what}");
        assert!(child.try_wait().expect("poll").is_none(), "ended before it {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn no_changes(env: &Env) {
    let (code, out) = env.diff_code();
    assert_eq!(
        code,
        Some(0),
        "expected no changes\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test]
async fn apply_builds_the_acceptance_environment_and_converges() {
    let env = Env::new().await;
    let out = env.apply();
    out.expect_in_stdout("Apply complete:");
    no_changes(&env);
    crate::support::census::take(&env.config).await.assert_one_each(&env.state());

    let ec2c = env.ec2();
    let vpcs = env.vpcs().await;
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].cidr_block(), Some("10.0.0.0/16"));

    let subnets = ec2c.describe_subnets().filters(env_filter()).send().await.expect("subnets");
    let mut layout: Vec<(String, String)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            (
                s.cidr_block().unwrap_or_default().to_owned(),
                s.availability_zone().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    layout.sort();
    assert_eq!(
        layout,
        [
            ("10.0.0.0/24", "eu-west-1a"),
            ("10.0.1.0/24", "eu-west-1b"),
            ("10.0.50.0/24", "eu-west-1a"),
            ("10.0.51.0/24", "eu-west-1b"),
        ]
        .map(|(c, z)| (c.to_owned(), z.to_owned()))
    );
    let private: Vec<String> =
        ["subnet.private[eu-west-1a]", "subnet.private[eu-west-1b]"].map(|a| env.id(a)).to_vec();
    let public: Vec<String> =
        ["subnet.public[eu-west-1a]", "subnet.public[eu-west-1b]"].map(|a| env.id(a)).to_vec();

    // Default routes: public → internet gateway, private → the NAT gateway.
    let tables =
        ec2c.describe_route_tables().filters(env_filter()).send().await.expect("route tables");
    let igw = env.id("internet_gateway");
    let nats = ec2c.describe_nat_gateways().filter(env_filter()).send().await.expect("nats");
    assert_eq!(nats.nat_gateways().len(), 1, "acceptance has a single NAT");
    let nat = nats.nat_gateways()[0].nat_gateway_id().unwrap_or_default().to_owned();
    // One public table for both public subnets, one private table per zone.
    let mut associations: Vec<usize> = tables
        .route_tables()
        .iter()
        .map(|t| t.associations().iter().filter(|a| a.subnet_id().is_some()).count())
        .collect();
    associations.sort_unstable();
    assert_eq!(associations, [1, 1, 2], "route tables and their subnets");
    for t in tables.route_tables() {
        let default = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .expect("a default route");
        let subnets: Vec<&str> = t.associations().iter().filter_map(|a| a.subnet_id()).collect();
        if subnets.iter().any(|s| public.contains(&(*s).to_owned())) {
            assert_eq!(default.gateway_id(), Some(igw.as_str()));
        } else {
            assert_eq!(default.nat_gateway_id(), Some(nat.as_str()));
        }
    }

    // The instance group in the private subnets, on the launch template naming the cluster.
    let asc = autoscaling::Client::new(&env.config);
    let groups = asc
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("acceptance-default-default")
        .send()
        .await
        .expect("groups");
    assert_eq!(groups.auto_scaling_groups().len(), 1);
    let group = &groups.auto_scaling_groups()[0];
    let mut zones: Vec<&str> = group.vpc_zone_identifier().unwrap_or_default().split(',').collect();
    zones.sort_unstable();
    let mut expected: Vec<&str> = private.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(zones, expected);
    assert_eq!(group.desired_capacity(), Some(2));
    let tags: BTreeMap<&str, &str> =
        group.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))).collect();
    assert_eq!(tags.get("ecsops:address"), Some(&"autoscaling_group[default]"));
    assert_eq!(tags.get("Environment"), Some(&ENV));
    let template = group.launch_template().expect("a launch template");
    let versions = ec2c
        .describe_launch_template_versions()
        .launch_template_id(template.launch_template_id().unwrap_or_default())
        .versions("$Latest")
        .send()
        .await
        .expect("template versions");
    let data =
        versions.launch_template_versions()[0].launch_template_data().expect("template data");
    let user_data = String::from_utf8(base64_decode(data.user_data().expect("user data")))
        .expect("utf-8 user data");
    assert!(user_data.contains("ECS_CLUSTER=acceptance-default"), "{user_data}");
    assert_eq!(
        data.metadata_options()
            .and_then(|m| m.http_tokens())
            .map(ec2::types::LaunchTemplateHttpTokensState::as_str),
        Some("required"),
        "IMDSv2 only"
    );

    // The load balancer in the public subnets.
    let lbc = elbv2::Client::new(&env.config);
    let lbs = lbc
        .describe_load_balancers()
        .names("acceptance-default")
        .send()
        .await
        .expect("load balancers");
    let lb = &lbs.load_balancers()[0];
    let mut lb_subnets: Vec<&str> =
        lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
    lb_subnets.sort_unstable();
    let mut expected: Vec<&str> = public.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(lb_subnets, expected);

    // Cluster, services, log groups, the alert rule and its topic.
    let ecsc = ecs::Client::new(&env.config);
    let clusters =
        ecsc.describe_clusters().clusters("acceptance-default").send().await.expect("clusters");
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"));
    let services =
        ecsc.list_services().cluster("acceptance-default").send().await.expect("services");
    assert_eq!(services.service_arns().len(), 3, "web, api and cadvisor");
    let groups = logs::Client::new(&env.config)
        .describe_log_groups()
        .log_group_name_prefix("/ecsops/acceptance/default")
        .send()
        .await
        .expect("log groups");
    assert_eq!(groups.log_groups().len(), 6 + 3, "host logs and one per container");
    assert!(groups.log_groups().iter().all(|g| g.retention_in_days() == Some(30)));
    let rules = events::Client::new(&env.config)
        .list_rules()
        .name_prefix("acceptance-default")
        .send()
        .await
        .expect("rules");
    assert!(rules.rules().iter().any(|r| r.name() == Some("acceptance-default-task-stopped")));
    let topics = sns::Client::new(&env.config).list_topics().send().await.expect("topics");
    assert!(
        topics
            .topics()
            .iter()
            .any(|t| { t.topic_arn().is_some_and(|a| a.ends_with(":acceptance-default-alerts")) })
    );

    // Every resource in state; a second apply changes nothing.
    let recorded = env.state()["resources"].as_object().map_or(0, serde_json::Map::len);
    let planned = env.run(&["diff", ENV, "--offline", "--format", "json"]);
    let plan: Value = serde_json::from_str(&planned.stdout).expect("plan JSON");
    assert_eq!(
        recorded,
        plan["changes"].as_array().map_or(0, Vec::len),
        "the state records every resource of the plan"
    );
    let again = env.run(&["apply", ENV, "--auto-approve"]);
    again.expect_code(0);
    again.expect_in_stdout("No changes.");
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            panic!("not base64: {c}");
        };
        buffer = (buffer << 6) | u32::try_from(v).expect("six bits");
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).expect("a byte"));
        }
    }
    out
}

#[tokio::test]
async fn changes_update_in_place_replace_versions_and_remove_exactly_what_was_removed() {
    let env = Env::new().await;
    env.apply();
    let asc = autoscaling::Client::new(&env.config);
    let group = || async {
        asc.describe_auto_scaling_groups()
            .auto_scaling_group_names("acceptance-default-default")
            .send()
            .await
            .expect("groups")
            .auto_scaling_groups()[0]
            .clone()
    };
    let before = group().await;

    // Desired capacity: the same group, updated in place.
    env.edit("base.toml", "desired_capacity = 2", "desired_capacity = 3");
    let out = env.run(&["diff", ENV, "--detailed-exitcode"]);
    out.expect_code(2);
    out.expect_in_stdout("1 to update, 0 to replace, 0 to delete");
    env.apply();
    let after = group().await;
    assert_eq!(after.desired_capacity(), Some(3));
    assert_eq!(after.auto_scaling_group_arn(), before.auto_scaling_group_arn());
    no_changes(&env);

    // Instance type: a new launch template version, and the group moves to it.
    let template_id = env.id("launch_template[default]");
    env.edit("base.toml", "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    env.apply();
    let versions = env
        .ec2()
        .describe_launch_template_versions()
        .launch_template_id(&template_id)
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.launch_template_versions().len(), 2);
    let latest = versions
        .launch_template_versions()
        .iter()
        .max_by_key(|v| v.version_number())
        .expect("a version");
    assert_eq!(
        latest
            .launch_template_data()
            .and_then(|d| d.instance_type())
            .map(ec2::types::InstanceType::as_str),
        Some("t3.large")
    );
    let after = group().await;
    let used = after.launch_template().and_then(|t| t.version()).unwrap_or_default().to_owned();
    assert_eq!(used, latest.version_number().unwrap_or_default().to_string());
    assert_eq!(env.id("launch_template[default]"), template_id, "same template");
    no_changes(&env);

    // Removing a service deletes its service, task definition, target group, rule and logs,
    // and the policy reading its secrets (api is the only service with secrets).
    let resources_before: Vec<String> = env.state()["resources"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let path = env.ws.path().join("environments/base.toml");
    let text = std::fs::read_to_string(&path).expect("base.toml");
    let start = text.find("[services.api]").expect("api service");
    let end = text[start..].find("\n[system_containers").map_or(text.len(), |i| start + i);
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).expect("write");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    let resources_after: Vec<String> = env.state()["resources"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let removed: Vec<&String> =
        resources_before.iter().filter(|a| !resources_after.contains(a)).collect();
    assert_eq!(
        removed,
        [
            "iam_policy.task_execution",
            "listener_rule[api]",
            "log_group.service[api]",
            "service[api]",
            "target_group[api]",
            "task_definition[api]",
        ]
        .iter()
        .collect::<Vec<_>>(),
        "exactly the api service's resources"
    );
    // moto still lists a deleted service (as INACTIVE); AWS lists only ACTIVE and DRAINING.
    let ecsc = ecs::Client::new(&env.config);
    let listed = ecsc.list_services().cluster("acceptance-default").send().await.expect("services");
    let described = ecsc
        .describe_services()
        .cluster("acceptance-default")
        .set_services(Some(listed.service_arns().to_vec()))
        .send()
        .await
        .expect("describe services");
    let mut active: Vec<&str> = described
        .services()
        .iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .filter_map(|s| s.service_name())
        .collect();
    active.sort_unstable();
    assert_eq!(active, ["cadvisor", "web"]);
    no_changes(&env);
}

#[tokio::test]
async fn drift_shows_in_diff_and_apply_repairs_it() {
    let env = Env::new().await;
    env.apply();
    // Outside ecsops: the group's max size changed and a private default route deleted.
    env.max_size_outside(9).await;
    let table = env.id("route_table.private[eu-west-1b]");
    env.ec2()
        .delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .expect("delete route");

    let (code, out) = env.diff_code();
    assert_eq!(code, Some(2), "{}\n{}", out.stdout, out.stderr);
    out.expect_in_stdout("Changed outside ecsops");
    out.expect_in_stdout("# autoscaling_group[default] was changed outside ecsops");
    // Exactly these two drifts, with the attribute's recorded and live values.
    assert_eq!(
        out.drift(),
        [
            "# autoscaling_group[default] was changed outside ecsops",
            "# route.private_nat[eu-west-1b] was deleted outside ecsops",
        ],
        "{}",
        out.stdout
    );
    out.expect_change("max_size", "= 4 -> 9");
    let offline = env.run(&["diff", ENV, "--offline", "--detailed-exitcode"]);
    offline.expect_code(0);

    env.apply();
    no_changes(&env);
    let group = autoscaling::Client::new(&env.config)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("acceptance-default-default")
        .send()
        .await
        .expect("groups");
    assert_eq!(group.auto_scaling_groups()[0].max_size(), Some(4));
    let tables =
        env.ec2().describe_route_tables().route_table_ids(&table).send().await.expect("table");
    assert!(
        tables.route_tables()[0]
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
    );
}

/// A change made outside ecsops that the manifest then takes up (the group's max size raised in
/// AWS, then in `base.toml`) leaves nothing to change in AWS, but the state still records the
/// old value: the plan says so without claiming to repair it, and one apply records the live
/// value, after which the drift is gone (it used to be reported after every apply, forever).
#[tokio::test]
async fn drift_the_manifest_takes_up_is_recorded_by_one_apply_then_gone() {
    let env = Env::new().await;
    env.apply();
    env.max_size_outside(9).await;
    env.edit("base.toml", "max_size = 4", "max_size = 9");

    let (code, out) = env.diff_code();
    assert_eq!(code, Some(0), "{}\n{}", out.stdout, out.stderr);
    out.expect_in_stdout("# autoscaling_group[default] was changed outside ecsops");
    out.expect_in_stdout("the manifest matches it");
    assert!(
        !out.stdout.contains("repairs it"),
        "nothing repairs what the manifest asks for\n{}",
        out.stdout
    );

    let applied = env.run(&["apply", ENV, "--auto-approve", "--format", "json"]);
    applied.expect_code(0);
    let report = applied.json();
    assert_eq!(report["result"], "applied", "{}", applied.stderr);
    applied.expect_in_stderr("Nothing to change in AWS");
    applied.expect_in_stderr("autoscaling_group[default]");
    assert_eq!(env.state()["resources"]["autoscaling_group[default]"]["attributes"]["max_size"], 9);
    let (code, out) = env.diff_code();
    assert_eq!(code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("outside ecsops"), "the drift is recorded\n{}", out.stdout);
    let again = env.run(&["apply", ENV, "--auto-approve", "--format", "json"]);
    again.expect_code(0);
    assert_eq!(again.json()["result"], "no_changes", "{}", again.stderr);
}

/// Ownership tags removed outside ecsops (by a tag clean-up, say) from resources the state
/// records: they still exist with the recorded ids, so they are neither "deleted outside
/// ecsops" nor to be created again (a twin internet gateway, a cluster create refused with
/// "delete it"): the plan stops, naming each resource and the tags that put it back.
#[tokio::test]
async fn ownership_tags_removed_outside_ecsops_stop_the_plan_naming_the_tags_to_restore() {
    let env = Env::new().await;
    env.apply();
    let lineage = env.state()["lineage"].as_str().expect("lineage").to_owned();
    let cluster = ecs::Client::new(&env.config)
        .describe_clusters()
        .clusters("acceptance-default")
        .send()
        .await
        .expect("clusters")
        .clusters()[0]
        .cluster_arn()
        .expect("arn")
        .to_owned();
    ecs::Client::new(&env.config)
        .untag_resource()
        .resource_arn(&cluster)
        .tag_keys("ecsops:address")
        .tag_keys("ecsops:lineage")
        .tag_keys("ecsops:environment")
        .send()
        .await
        .expect("untag cluster");
    let gateway = env.id("internet_gateway");
    env.ec2()
        .delete_tags()
        .resources(&gateway)
        .tags(ec2::types::Tag::builder().key("ecsops:address").build())
        .tags(ec2::types::Tag::builder().key("ecsops:lineage").build())
        .send()
        .await
        .expect("untag gateway");

    for args in [&["diff", ENV][..], &["apply", ENV, "--auto-approve"]] {
        let out = env.run(args);
        out.expect_code(1);
        assert!(!out.stdout.contains("deleted outside ecsops"), "{}", out.stdout);
        // The refresh reads every family, then stops naming both.
        let named = [
            ("ecs_cluster", "acceptance-default"),
            ("internet_gateway", gateway.as_str()),
        ]
        .iter()
        .all(|(address, id)| {
            out.stderr.contains(&format!(
                "`{address}`: `{id}` is the resource the state records, but its `ecsops:` tags were removed or changed outside ecsops"
            )) && out.stderr.contains(&format!(
                "`ecsops:address` = `{address}`, `ecsops:environment` = `acceptance`, `ecsops:lineage` = `{lineage}`"
            ))
        });
        assert!(named, "{}", out.stderr);
    }
    let gateways = env.ec2().describe_internet_gateways().send().await.expect("gateways");
    assert_eq!(gateways.internet_gateways().len(), 1, "no twin was made");
    env.assert_unlocked();
}

/// Ownership tags changed outside ecsops, not removed: a subnet tagged as its neighbour, a
/// security group tagged with another lineage. Each is still the recorded resource, so the run
/// stops naming both, before anything is replaced: read as deleted, the subnet's NAT gateway
/// would be deleted before the subnet's create failed on the one still there.
#[tokio::test]
async fn ownership_tags_changed_outside_ecsops_stop_the_plan_before_anything_is_replaced() {
    let env = Env::new().await;
    env.apply();
    let subnet = env.id("subnet.public[eu-west-1a]");
    let group = env.id("security_group.instances");
    let nat = env.id("nat_gateway[eu-west-1a]");
    let retag = |id: &str, key: &str, value: &str| {
        env.ec2()
            .create_tags()
            .resources(id)
            .tags(ec2::types::Tag::builder().key(key).value(value).build())
            .send()
    };
    retag(&subnet, "ecsops:address", "subnet.public[eu-west-1b]").await.expect("retag subnet");
    retag(&group, "ecsops:lineage", "another-lineage").await.expect("retag group");
    for args in [&["diff", ENV][..], &["apply", ENV, "--auto-approve"]] {
        let out = env.run(args);
        out.expect_code(1);
        for (address, id) in
            [("subnet.public[eu-west-1a]", &subnet), ("security_group.instances", &group)]
        {
            out.expect_in_stderr(&format!(
                "`{address}`: `{id}` is the resource the state records, but its `ecsops:` tags were removed or changed outside ecsops"
            ));
        }
        assert!(!out.stdout.contains("deleted outside ecsops"), "{}", out.stdout);
    }
    let gateway =
        env.ec2().describe_nat_gateways().nat_gateway_ids(&nat).send().await.expect("gateway");
    assert_eq!(
        gateway.nat_gateways()[0].state().map(ec2::types::NatGatewayState::as_str),
        Some("available"),
        "the NAT gateway was not replaced"
    );
    env.assert_unlocked();
}

/// A private subnet moved to the public route table outside ecsops
/// (`ReplaceRouteTableAssociation`, which gives the association a new id): not read as a
/// deleted association (whose create AWS refuses while the subnet has one), but as the table
/// it moved to; one apply puts it back, and the state records the association as it is.
#[tokio::test]
async fn a_subnet_moved_to_another_route_table_outside_ecsops_is_put_back() {
    let env = Env::new().await;
    env.apply();
    let public = env.id("route_table.public");
    move_and_put_back(&env, &public).await;
}

/// The same move to a table that is not the environment's (one made by hand in its VPC),
/// which the refresh's describe (filtered by the environment's tag) does not return.
#[tokio::test]
async fn a_subnet_moved_to_a_table_outside_the_environment_is_put_back() {
    let env = Env::new().await;
    env.apply();
    let made = env.ec2().create_route_table().vpc_id(env.id("vpc")).send().await.expect("table");
    let outside = made.route_table().and_then(|t| t.route_table_id()).expect("an id").to_owned();
    move_and_put_back(&env, &outside).await;
    let left = env.ec2().describe_route_tables().route_table_ids(&outside).send().await;
    assert_eq!(left.expect("the table").route_tables().len(), 1, "not ecsops' to delete");
}

/// Moves `route_table_association.private[eu-west-1b]` to `table` outside ecsops; the plan
/// replaces the association (never creates one beside it) and one apply puts it back.
async fn move_and_put_back(env: &Env, table: &str) {
    let address = "route_table_association.private[eu-west-1b]";
    let subnet = env.id("subnet.private[eu-west-1b]");
    let private = env.id("route_table.private[eu-west-1b]");
    env.ec2()
        .replace_route_table_association()
        .association_id(env.id(address))
        .route_table_id(table)
        .send()
        .await
        .expect("move the subnet");
    let out = env.run(&["diff", ENV, "--detailed-exitcode"]);
    out.expect_code(2);
    assert!(!out.stdout.contains("deleted outside ecsops"), "{}", out.stdout);
    out.expect_in_stdout(&format!("{address} must be replaced"));
    env.apply();
    let tables = env
        .ec2()
        .describe_route_tables()
        .filters(Filter::builder().name("association.subnet-id").values(&subnet).build())
        .send()
        .await
        .expect("tables");
    let on: Vec<_> = tables.route_tables().iter().filter_map(|t| t.route_table_id()).collect();
    assert_eq!(on, [private.as_str()], "back on its own table");
    no_changes(env);
}

/// Every `ecsops:` tag removed from EC2 resources of each family, the environment's included
/// (a tag clean-up): the refresh's describes (filtered by that tag) no longer return them, yet
/// they are the recorded resources, not ones deleted outside ecsops. Each is read by its
/// recorded id, and one run names them all; with the tags back, the plan is empty again.
#[tokio::test]
async fn ec2_resources_stripped_of_every_ecsops_tag_are_found_by_their_recorded_ids() {
    let env = Env::new().await;
    env.apply();
    let lineage = env.state()["lineage"].as_str().expect("lineage").to_owned();
    let keys = ["ecsops:address", "ecsops:environment", "ecsops:lineage"];
    let stripped = [
        "vpc",
        "subnet.private[eu-west-1a]",
        "elastic_ip.nat[eu-west-1a]",
        "security_group.instances",
        "launch_template[default]",
    ]
    .map(|address| (address, env.id(address)));
    for (_, id) in &stripped {
        let mut strip = env.ec2().delete_tags().resources(id);
        for key in keys {
            strip = strip.tags(ec2::types::Tag::builder().key(key).build());
        }
        strip.send().await.expect("untag");
    }

    for args in [&["diff", ENV][..], &["apply", ENV, "--auto-approve"]] {
        let out = env.run(args);
        out.expect_code(1);
        for (address, id) in &stripped {
            assert!(
                out.stderr.contains(&format!(
                    "`{address}`: `{id}` is the resource the state records, but its `ecsops:` tags were removed or changed outside ecsops"
                )),
                "{address}: {}",
                out.stderr
            );
        }
        assert!(!out.stdout.contains("to create"), "{}", out.stdout);
    }

    for (address, id) in &stripped {
        let mut restore = env.ec2().create_tags().resources(id);
        for (key, value) in keys.into_iter().zip([address, ENV, &lineage]) {
            restore = restore.tags(ec2::types::Tag::builder().key(key).value(value).build());
        }
        restore.send().await.expect("tag again");
    }
    env.run(&["diff", ENV]).expect_code(0);
    env.assert_unlocked();
}

async fn count(env: &Env) -> (usize, usize, usize) {
    let ec2c = env.ec2();
    let vpcs = env.vpcs().await;
    let nats = ec2c
        .describe_nat_gateways()
        .filter(env_filter())
        .filter(Filter::builder().name("state").values("available").values("pending").build())
        .send()
        .await
        .expect("nats");
    let groups = autoscaling::Client::new(&env.config)
        .describe_auto_scaling_groups()
        .send()
        .await
        .expect("groups");
    (vpcs.len(), nats.nat_gateways().len(), groups.auto_scaling_groups().len())
}

/// Killed (`kill -9`) at an exact point: the load balancer's security group exists in AWS,
/// its response never arrived, nothing recorded it. The re-run names the lock the dead process
/// left, and once it is released finds the group by its tags and adopts it: every tagged
/// resource exists exactly once, and each is the one the state records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_apply_resumes_without_duplicates() {
    use crate::support::census;
    use crate::support::proxy::{DropResponse, Fault, Proxy};
    use std::sync::atomic::Ordering;

    let env = Env::new().await;
    let proxy = Proxy::start(
        env.moto.server.port(),
        vec![DropResponse {
            contains: vec!["Action=CreateSecurityGroup&", "GroupName=acceptance-default-lb"],
            times: 1,
            fault: Fault::Hold,
        }],
    );
    let vars = proxy.env(env.moto.server.env());
    let mut child = env.spawn("apply", &vars, std::process::Stdio::null());
    wait_for(&mut child, "created the group", || proxy.dropped.load(Ordering::SeqCst) > 0);
    child.kill().expect("kill");
    let _ = child.wait();
    let recorded = env.state()["resources"].as_object().map_or(0, serde_json::Map::len);
    assert!(
        recorded > 0
            && env.state()["resources"].get("security_group.load_balancer[default]").is_none(),
        "killed mid-walk, before the group was recorded"
    );
    // The dead apply never recorded its end: the state says it did not finish (recorded
    // with its first step), and `status` shows it.
    let revision = &env.state()["revision"];
    assert_eq!(revision["result"], "interrupted", "{revision}");
    assert_eq!(revision["operation"], "apply", "{revision}");
    assert!(revision.get("commit").is_none(), "outside git: {revision}");
    env.run(&["status", ENV])
        .expect_code(0)
        .expect_in_stdout("last applied: outside git by ")
        .expect_in_stdout("(apply, interrupted)");
    // The kill left the lock behind: the re-run says so, and unlock with the id frees it.
    let blocked = env.run(&["apply", ENV, "--auto-approve"]);
    blocked.expect_code(1);
    blocked.expect_in_stderr("is locked");
    let id = blocked
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("lock id:"))
        .map(str::trim)
        .expect("the lock id")
        .to_owned();
    env.run(&["unlock", ENV, &id]).expect_code(0);
    let out = env.apply();
    let adopted: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.ends_with("(adopted an existing resource carrying its tags)"))
        .collect();
    assert_eq!(adopted.len(), 1, "{}", out.stderr);
    assert!(
        adopted[0].starts_with("security_group.load_balancer[default]: created after"),
        "{}",
        out.stderr
    );
    assert_eq!(env.state()["revision"]["result"], "applied");
    no_changes(&env);
    census::take(&env.config).await.assert_one_each(&env.state());
}

#[tokio::test]
async fn destroy_removes_everything() {
    let env = Env::new().await;
    env.apply();
    let before: ecsops_core::state::State =
        serde_json::from_value(env.state()).expect("a state document");
    assert_eq!(before.resources.len(), 57);
    // An inline policy somebody added outside ecsops does not stop the role's delete.
    ecsops_core::provider::aws::sdk::iam::Client::new(&env.config)
        .put_role_policy()
        .role_name("acceptance-default-task-execution")
        .policy_name("added-by-hand")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
        .send()
        .await
        .expect("inline policy");
    let out = env.run(&["destroy", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stdout("Destroy complete: 0 created, 0 updated, 0 replaced, 57 destroyed.");
    assert_eq!(count(&env).await, (0, 0, 0));
    let left = crate::support::census::take(&env.config).await;
    assert!(left.0.is_empty(), "left tagged: {left:?}");
    // Every kind: reading each resource that existed finds it gone.
    let provider = crate::support::aws::provider(&env.moto.server.endpoint, &before.lineage).await;
    let refresh = ecsops_core::provider::Provider::refresh(&provider, &before.resources)
        .await
        .expect("refresh");
    assert!(refresh.live.is_empty(), "left: {:?}", refresh.live.keys().collect::<Vec<_>>());
    assert_eq!(refresh.missing.len(), before.resources.len());
    assert_eq!(env.state()["resources"].as_object().map_or(1, serde_json::Map::len), 0);
}

/// Everything deleted outside ecsops (the emulator reset): `destroy` forgets what is gone, in a
/// new serial, says so in words that fit a destroy, and leaves no outputs behind; a destroy with
/// nothing recorded, or no state at all, says there is nothing to destroy.
#[tokio::test]
async fn a_destroy_after_everything_was_deleted_outside_forgets_it() {
    let env = Env::new().await;
    env.apply();
    let before = env.state();
    let serial = before["serial"].as_u64().expect("serial");
    let recorded = before["resources"].as_object().map_or(0, serde_json::Map::len);
    assert_eq!(recorded, 57);
    env.run(&["output", ENV]).expect_code(0).expect_in_stdout("load_balancer.default.dns_name");
    env.moto.server.post("/moto-api/reset");

    let out = env.run(&["destroy", ENV, "--auto-approve", "--format", "json"]);
    out.expect_code(0);
    // The state forgot them in a save of its own, then the destroy was recorded.
    let state = env.state();
    let left: Vec<&String> = state["resources"].as_object().expect("resources").keys().collect();
    assert!(left.is_empty(), "still recorded: {left:?}\n{}", out.stderr);
    assert_eq!(state["serial"].as_u64(), Some(serial + 2));
    out.expect_in_stderr("  # vpc was deleted outside ecsops\n")
        .expect_in_stderr(
            "No changes. Nothing left to destroy: the recorded resources were already deleted outside ecsops.",
        )
        .expect_in_stderr(
            "Nothing left to destroy: 57 resources were already gone and are no longer recorded.",
        );
    assert!(!out.stderr.contains("matches the manifest"), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["result"], "applied");
    assert_eq!(report["done"], serde_json::json!([]));
    let forgotten = report["forgotten"].as_array().expect("forgotten");
    assert_eq!(forgotten.len(), recorded, "{report:#}");
    assert!(forgotten.contains(&Value::from("vpc")), "{report:#}");
    assert_eq!(report["serial"], state["serial"]);
    let list = env.run(&["state", "list", ENV, "--format", "json"]);
    assert_eq!(list.expect_code(0).json()["resources"], serde_json::json!([]));
    let outputs = env.run(&["output", ENV, "--format", "json"]);
    assert_eq!(outputs.expect_code(0).json()["outputs"], serde_json::json!({}));
    env.assert_unlocked();

    // Nothing recorded any more: nothing to do, nothing written.
    let again = env.run(&["destroy", ENV, "--auto-approve"]);
    again
        .expect_code(0)
        .expect_in_stdout("No changes. Nothing to destroy: the state records no resources.");
    assert_eq!(env.state()["serial"], state["serial"]);
    // No state at all.
    let mut vars = env.moto.server.env();
    vars.push(("ECSOPS_STATE_URL", "file://.ecsops/elsewhere".to_owned()));
    let none = env.ws.ecsops_env(&["destroy", ENV, "--auto-approve"], &vars);
    none.expect_code(0)
        .expect_in_stdout("ecsops plan for acceptance (no state)\n")
        .expect_in_stdout("No changes. Nothing to destroy: `acceptance` has no state.");
    assert!(!none.stdout.contains("will be created"), "{}", none.stdout);
}

/// Some resources deleted outside ecsops (the log groups): `destroy` destroys the rest, says
/// how many were already gone, and the state ends empty.
#[tokio::test]
async fn a_destroy_after_some_were_deleted_outside_destroys_the_rest_and_forgets_them() {
    let env = Env::new().await;
    env.apply();
    let logs = logs::Client::new(&env.config);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/ecsops/acceptance/")
        .send()
        .await
        .expect("log groups");
    let names: Vec<&str> = groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    assert!(names.len() > 3, "{names:?}");
    for name in &names {
        logs.delete_log_group()
            .log_group_name(*name)
            .send()
            .await
            .expect("delete a log group outside ecsops");
    }
    let out = env.run(&["destroy", ENV, "--auto-approve"]);
    out.expect_code(0)
        .expect_in_stdout("# log_group.service[web] was deleted outside ecsops")
        .expect_in_stdout(&format!(
            "Destroy complete: 0 created, 0 updated, 0 replaced, {} destroyed.\n{} resources were already gone and are no longer recorded.\n",
            57 - names.len(),
            names.len()
        ));
    assert_eq!(env.state()["resources"], serde_json::json!({}));
    assert!(crate::support::census::take(&env.config).await.0.is_empty());
}

/// A state backend that stops taking writes mid-apply stops it: the report says where the
/// state that records what exists went and how to put it back (and which lock to remove should
/// its release, failed too, have left it), never that the backend holds it; putting it back and
/// applying again converges without twins.
#[tokio::test]
async fn a_state_save_that_fails_says_where_the_state_went_not_that_it_is_saved() {
    use crate::support::proxy::{DropResponse, Fault, Proxy};

    let env = Env::new().await;
    env.moto.server.create_bucket("ecsops-down").await;
    let save = || vec!["PUT /ecsops-down/", "state.json"];
    // The first saves land (some steps are recorded), then the backend goes away.
    let proxy = Proxy::start(
        env.moto.server.port(),
        vec![
            DropResponse { contains: save(), times: 5, fault: Fault::Pass },
            DropResponse { contains: save(), times: usize::MAX, fault: Fault::Drop },
            DropResponse {
                contains: vec!["DELETE /ecsops-down/", "lock.json"],
                times: usize::MAX,
                fault: Fault::Drop,
            },
        ],
    );
    let mut vars = proxy.env(env.moto.server.env());
    vars.push(("ECSOPS_STATE_URL", "s3://ecsops-down/state".to_owned()));
    let out = env.ws.ecsops_env(&["apply", ENV, "--auto-approve", "--no-wait"], &vars);
    out.expect_code(1)
        .expect_in_stderr("error: saving the state failed after")
        .expect_in_stderr("help: the state that records what exists was written to ")
        .expect_in_stderr("then run `ecsops state push acceptance ");
    assert!(
        !out.stderr.contains("saved in the state"),
        "the backend does not hold what the walk finished:\n{}",
        out.stderr
    );
    // The way back the help names: push the kept state once the backend works, apply again.
    let kept = kept_at(&out);
    let direct = |args: &[&str]| {
        let mut vars = env.moto.server.env();
        vars.push(("ECSOPS_STATE_URL", "s3://ecsops-down/state".to_owned()));
        env.ws.ecsops_env(args, &vars)
    };
    // The proxy drops the release's answer, not the request: the lock is gone all the same.
    out.expect_in_stderr(
        "(releasing the lock failed too: if the push says `acceptance` is locked, run `ecsops unlock acceptance ",
    );
    direct(&["state", "push", ENV, kept]).expect_code(0);
    direct(&["apply", ENV, "--auto-approve", "--no-wait"]).expect_code(0);
    assert_eq!(count(&env).await, (1, 1, 1), "one set of resources");
}

/// The apply's last save, the one that records how it ended, fails: every step is saved, but
/// the state still says the apply was interrupted. That is an error (exit 1, no tag, no
/// "complete"), and the state with its end is kept for `state push`.
#[tokio::test]
async fn a_last_save_that_fails_is_an_error_not_a_complete_apply() {
    use crate::support::git;
    use crate::support::proxy::{Fault, Proxy};

    let env = Env::new().await;
    git::init(env.dir());
    git::commit_all(env.dir(), "Acceptance");
    env.moto.server.create_bucket("ecsops-end").await;
    // Only the last save records the result `applied`.
    let proxy = Proxy::always(
        env.moto.server.port(),
        vec!["PUT /ecsops-end/", "state.json", "\"applied\""],
        Fault::Unavailable,
    );
    let mut vars = proxy.env(env.moto.server.env());
    vars.push(("ECSOPS_STATE_URL", "s3://ecsops-end/state".to_owned()));
    let out = env
        .ws
        .ecsops_env(&["apply", ENV, "--auto-approve", "--no-wait", "--format", "json"], &vars);
    out.expect_code(1)
        .expect_in_stderr("error: saving the state failed after 57 finished steps")
        .expect_in_stderr("then run `ecsops state push acceptance ");
    let report: Value = serde_json::from_str(&out.stdout).expect("the JSON report");
    assert_eq!(report["result"], "failed", "{report:#}");
    assert!(report["tag"].is_null(), "{report:#}");
    assert!(
        git::tags(env.dir(), ENV).is_empty(),
        "no tag for an apply the state does not record as applied"
    );
    let direct = |args: &[&str]| {
        let mut vars = env.moto.server.env();
        vars.push(("ECSOPS_STATE_URL", "s3://ecsops-end/state".to_owned()));
        env.ws.ecsops_env(args, &vars)
    };
    let stored: Value =
        serde_json::from_str(&direct(&["state", "pull", ENV]).stdout).expect("stored state");
    assert_eq!(stored["revision"]["result"], "interrupted");
    assert_eq!(stored["resources"].as_object().map(serde_json::Map::len), Some(57));
    // The kept state records the end, and names no tag: none was made.
    let kept = kept_at(&out);
    direct(&["state", "push", ENV, kept]).expect_code(0);
    let stored: Value =
        serde_json::from_str(&direct(&["state", "pull", ENV]).stdout).expect("stored state");
    assert_eq!(stored["revision"]["result"], "applied");
    assert!(stored["revision"]["tag"].is_null(), "{:#}", stored["revision"]);
}

/// Someone removes the lock (`ecsops unlock`, taking it for a stale one) while an apply runs:
/// its release then fails, but the report still says what the apply did, with exit 0, and
/// names the lock (in JSON too) instead of being replaced by the release's error.
#[tokio::test]
async fn a_lock_release_that_fails_after_the_apply_is_said_beside_its_report() {
    let env = Env::new().await;
    let mut child = env
        .ws
        .command(
            &["apply", ENV, "--auto-approve", "--parallelism", "1", "--format", "json"],
            &env.moto.server.env(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start apply");
    env.wait_until_recorded(5, &mut child);
    let id = env.lock_id();
    env.run(&["unlock", ENV, &id]).expect_code(0);
    let out = child.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: releasing the lock failed: `acceptance` is not locked; if `ecsops lock acceptance` says it is held, run `ecsops unlock acceptance {id}`"
        )),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the JSON report");
    assert_eq!(report["result"], "applied", "{report:#}");
    assert_eq!(report["done"].as_array().map(Vec::len), Some(57));
    assert_eq!(report["lock_left"]["id"], id.as_str());
    assert_eq!(report["lock_left"]["reason"], "`acceptance` is not locked");
    env.assert_unlocked();
}

/// An apply that ends in an error after taking the lock, whose lock then cannot be released
/// (the store sheds load): both are said, the error and the lock left with its id, and that is
/// the lock still held.
#[tokio::test]
async fn an_error_and_a_lock_left_behind_are_both_said() {
    use crate::support::proxy::{Fault, Proxy};

    let env = Env::new().await;
    env.moto.server.create_bucket("ecsops-left").await;
    let proxy = Proxy::always(
        env.moto.server.port(),
        vec!["DELETE /ecsops-left/", "lock.json"],
        Fault::Unavailable,
    );
    let state = ("ECSOPS_STATE_URL", "s3://ecsops-left/state".to_owned());
    let mut vars = proxy.env(env.moto.server.env());
    vars.push(state.clone());
    // No terminal and no `--auto-approve`: refused once the plan is made, under the lock.
    let out = env.ws.ecsops_env(&["apply", ENV, "--format", "json"], &vars);
    out.expect_code(1)
        .expect_in_stderr("refusing to apply `acceptance` without confirmation")
        .expect_in_stderr("warning: releasing the lock failed: ");
    assert!(!out.stderr.contains("the lock was released"), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("the JSON report");
    assert_eq!(report["result"], "error", "{report:#}");
    let mut direct = env.moto.server.env();
    direct.push(state);
    let lock = env.ws.ecsops_env(&["lock", ENV, "--format", "json"], &direct);
    lock.expect_code(2);
    let lock: Value = serde_json::from_str(&lock.stdout).expect("JSON");
    let id = lock["holder"]["id"].as_str().expect("the apply's lock");
    out.expect_in_stderr(&format!("run `ecsops unlock acceptance {id}`"));
    assert_eq!(report["lock_left"]["id"], id, "{report:#}");
}

#[tokio::test]
async fn apply_refuses_without_a_terminal_or_approval() {
    let env = Env::new().await;
    let out = env.run(&["apply", ENV]);
    out.expect_code(1);
    out.expect_in_stderr("--auto-approve");
    // Nothing created, and the lock was released (`lock` exits 2 while it is held).
    assert_eq!(count(&env).await, (0, 0, 0));
    let lock = env.run(&["lock", ENV]);
    lock.expect_code(0);
    lock.expect_in_stdout("is unlocked");
}

#[tokio::test]
async fn two_applies_at_once_one_applies_the_other_names_the_holder() {
    let env = Env::new().await;
    env.moto.server.create_bucket("ecsops-race").await;
    let mut vars = env.moto.server.env();
    vars.push(("ECSOPS_STATE_URL", "s3://ecsops-race/state".to_owned()));
    for round in 0..10 {
        // Every round changes something, so the winner has work to do while it holds the lock.
        if round > 0 {
            let (from, to) = if round % 2 == 1 {
                ("desired_capacity = 2", "desired_capacity = 3")
            } else {
                ("desired_capacity = 3", "desired_capacity = 2")
            };
            env.edit("base.toml", from, to);
        }
        let spawn = || {
            env.ws
                .command(&["apply", ENV, "--auto-approve"], &vars)
                // Not read while both run: a full pipe would block the winner.
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start apply")
        };
        let started = Instant::now();
        let mut racers = [Some(spawn()), Some(spawn())];
        let mut ended: [Option<Duration>; 2] = [None, None];
        while ended.iter().any(Option::is_none) {
            for (i, racer) in racers.iter_mut().enumerate() {
                if ended[i].is_none()
                    && racer.as_mut().is_some_and(|c| c.try_wait().expect("poll").is_some())
                {
                    ended[i] = Some(started.elapsed());
                }
            }
            assert!(started.elapsed() < Duration::from_mins(2), "round {round} hangs");
            std::thread::sleep(Duration::from_millis(10));
        }
        let results: Vec<(Duration, std::process::Output)> = racers
            .iter_mut()
            .zip(ended)
            .map(|(racer, elapsed)| {
                let child = racer.take().expect("a child");
                let out = child.wait_with_output().expect("apply ends");
                (elapsed.expect("ended"), out)
            })
            .collect();
        let winners: Vec<_> = results.iter().filter(|(_, o)| o.status.success()).collect();
        let losers: Vec<_> = results.iter().filter(|(_, o)| !o.status.success()).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one applies; stderr:\n{}",
            results
                .iter()
                .map(|(_, o)| String::from_utf8_lossy(&o.stderr).into_owned())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        let (elapsed, lost) = losers[0];
        let stderr = String::from_utf8_lossy(&lost.stderr);
        // Fails fast rather than waiting for the lock: it ends while the winner still works. A
        // wall-clock bound here would measure the machine's load instead.
        let (won_after, _) = winners[0];
        assert!(
            elapsed < won_after,
            "round {round}: the loser ended after {elapsed:?}, the winner after {won_after:?}"
        );
        assert!(stderr.contains("is locked"), "round {round}: {stderr}");
        assert!(stderr.contains("operation: apply"), "round {round}: {stderr}");
        assert!(stderr.contains("ecsops unlock acceptance "), "round {round}: {stderr}");
    }
    assert_eq!(count(&env).await, (1, 1, 1), "one set of resources");
}

#[tokio::test]
async fn refresh_reads_each_kind_once() {
    use ecsops_core::provider::aws::AwsProvider;
    use ecsops_core::provider::{Ownership, Provider};
    use ecsops_core::state::State;

    let env = Env::new().await;
    env.apply();
    let state: State = serde_json::from_value(env.state()).expect("a state document");
    let provider = AwsProvider::new(
        &env.config,
        Ownership { environment: ENV.to_owned(), lineage: state.lineage.clone() },
    );
    let refresh = provider.refresh(&state.resources).await.expect("refresh");
    assert!(refresh.missing.is_empty(), "{:?}", refresh.missing);
    // Every recorded resource came back live: a refresh that reads nothing cannot pass.
    assert_eq!(refresh.live.len(), state.resources.len());
    for (address, live) in &refresh.live {
        assert_eq!(Some(&live.id), state.resources[address].id.as_ref(), "{address}");
    }
    let counts = provider.calls().counts();
    // Exactly the no-change diff's figure in BENCHMARKS.md.
    assert_eq!(provider.calls().total(), 28, "{counts:?}");
    // AWS offers these reads only per parent: the attributes of one VPC, the targets of one
    // rule, the attributes and subscriptions of one topic. The example has one VPC, two rules
    // and one topic.
    let per_parent = BTreeMap::from([
        ("DescribeVpcAttribute", 2),
        ("ListTargetsByRule", 2),
        ("GetTopicAttributes", 1),
        ("ListSubscriptionsByTopic", 1),
    ]);
    for (operation, n) in &counts {
        let allowed = per_parent.get(operation.as_str()).copied().unwrap_or(1);
        assert_eq!(*n, allowed, "{operation} was called {n} times: {counts:?}");
    }
    let kinds: std::collections::BTreeSet<_> = state.resources.values().map(|r| r.kind).collect();
    let batched = provider.calls().total() - per_parent.values().sum::<usize>();
    assert!(
        batched <= kinds.len(),
        "{batched} batched reads for {} kinds: {counts:?}",
        kinds.len()
    );
}

#[tokio::test]
async fn removing_an_instance_group_deletes_exactly_its_resources() {
    let env = Env::new().await;
    let path = env.ws.path().join("environments/acceptance.toml");
    let acceptance = std::fs::read_to_string(&path).expect("acceptance.toml");
    std::fs::write(
        &path,
        format!(
            "{acceptance}\n[instance_groups.batch]\ninstance_type = \"t3.small\"\n\
             min_size = 0\nmax_size = 2\ndesired_capacity = 0\n"
        ),
    )
    .expect("write acceptance.toml");
    env.apply();
    let keys = |state: &Value| -> Vec<String> {
        state["resources"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    let before = keys(&env.state());
    assert!(before.contains(&"autoscaling_group[batch]".to_owned()));

    std::fs::write(&path, &acceptance).expect("restore acceptance.toml");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    let after = keys(&env.state());
    let removed: Vec<&String> = before.iter().filter(|a| !after.contains(a)).collect();
    assert_eq!(
        removed,
        ["autoscaling_group[batch]", "capacity_provider[batch]", "launch_template[batch]",]
            .iter()
            .collect::<Vec<_>>()
    );
    // The cluster's provider list no longer names the group's provider, and the group is gone.
    let clusters = ecs::Client::new(&env.config)
        .describe_clusters()
        .clusters("acceptance-default")
        .send()
        .await
        .expect("clusters");
    assert_eq!(clusters.clusters()[0].capacity_providers(), ["acceptance-default-default"]);
    let groups = autoscaling::Client::new(&env.config)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("acceptance-default-batch")
        .send()
        .await
        .expect("groups");
    assert!(groups.auto_scaling_groups().is_empty());
    no_changes(&env);
}

#[tokio::test]
async fn a_failure_stops_the_apply_reports_it_and_a_rerun_converges() {
    let env = Env::new().await;
    // Someone else's cluster under the name ecsops would use: never taken over.
    let ecsc = ecs::Client::new(&env.config);
    ecsc.create_cluster().cluster_name("acceptance-default").send().await.expect("foreign cluster");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(1);
    out.expect_in_stderr("Apply stopped:");
    out.expect_in_stderr(
        "error: `ecs_cluster`: `acceptance-default` already exists and was not created by ecsops",
    );
    out.expect_in_stderr("Not started (");
    out.expect_in_stderr("fix the cause and run `ecsops apply acceptance` again");
    // What was made is recorded (and only that), and the lock is released.
    let state = env.state();
    let recorded = state["resources"].as_object().map_or(0, serde_json::Map::len);
    assert!(recorded > 0, "finished steps are saved");
    assert!(state["resources"].get("ecs_cluster").is_none());
    assert!(state["resources"].get("service[web]").is_none());
    assert_eq!(env.vpcs().await.len(), usize::from(state["resources"].get("vpc").is_some()));

    ecsc.delete_cluster()
        .cluster("acceptance-default")
        .send()
        .await
        .expect("delete the foreign cluster");
    env.apply();
    no_changes(&env);
    assert_eq!(count(&env).await, (1, 1, 1));
}

/// A delete-first replacement whose destroy ran but whose create never started (another step
/// failed in between): the report says the resource is gone and not made again, in the summary,
/// its own list and the JSON, never under "Not started"; the state no longer records it, and
/// the next apply creates it.
#[tokio::test]
async fn a_replacement_destroyed_but_not_recreated_is_reported_as_gone() {
    let env = Env::new().await;
    env.apply();
    // Outside ecsops, the web rule is pointed at the api's target group: `forward_to` forces
    // a replacement, destroy first. Its destroy is the first step (steps start in address order
    // at `--parallelism 1`), its create the last.
    let elb = elbv2::Client::new(&env.config);
    let forward = elbv2::types::Action::builder()
        .r#type(elbv2::types::ActionTypeEnum::Forward)
        .target_group_arn(env.id("target_group[api]"))
        .build();
    elb.modify_rule()
        .rule_arn(env.id("listener_rule[web]"))
        .actions(forward)
        .send()
        .await
        .expect("repoint the web rule");
    // A new service whose log group name someone else took: its create fails, second in line.
    logs::Client::new(&env.config)
        .create_log_group()
        .log_group_name("/ecsops/acceptance/default/service/extra")
        .send()
        .await
        .expect("foreign log group");
    let manifest = env.dir().join("environments/acceptance.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        format!("{text}\n[services.extra]\nimage = \"public.ecr.aws/nginx/nginx:1.27-alpine\"\n"),
    )
    .expect("add a service");

    let out = env.run(&["apply", ENV, "--auto-approve", "--parallelism", "1", "--format", "json"]);
    out.expect_code(1)
        .expect_in_stderr("# listener_rule[web] must be replaced")
        .expect_in_stderr("listener_rule[web]: destroyed after")
        .expect_in_stderr("`log_group.service[extra]`: `/ecsops/acceptance/default/service/extra` already exists and was not created by ecsops")
        .expect_in_stderr(
            "Apply stopped: 0 created, 0 updated, 0 replaced, 0 destroyed, 1 destroyed and not re-created.",
        )
        .expect_in_stderr(
            "Destroyed and not re-created (1): missing until `ecsops apply acceptance` creates them\n  listener_rule[web] (replace)\n",
        );
    let not_started: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("Not started ("))
        .skip(1)
        .map_while(|l| l.strip_prefix("  "))
        .collect();
    assert!(!not_started.is_empty(), "{}", out.stderr);
    assert!(not_started.iter().all(|l| !l.starts_with("listener_rule[web]")), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["result"], "failed");
    assert_eq!(report["done"], serde_json::json!([]));
    assert_eq!(
        report["destroyed_not_recreated"],
        serde_json::json!([{"address": "listener_rule[web]", "action": "replace"}])
    );
    assert_eq!(report["failed"][0]["address"], "log_group.service[extra]");
    let unstarted = report["not_started"].as_array().expect("not_started");
    assert_eq!(unstarted.len(), not_started.len(), "{report:#}");
    assert!(unstarted.iter().all(|s| s["address"] != "listener_rule[web]"), "{report:#}");
    assert_eq!(
        report["error"],
        format!("1 failed, {} not started, 1 destroyed and not re-created", unstarted.len())
    );
    // The state records what exists: not the destroyed rule.
    assert!(env.state()["resources"].get("listener_rule[web]").is_none());
    let rules = elb
        .describe_rules()
        .listener_arn(env.id("listener[default:80]"))
        .send()
        .await
        .expect("rules");
    assert!(
        rules.rules().iter().all(|r| r.priority() != Some("100")),
        "the web rule is gone: {rules:?}"
    );
    env.run(&["diff", ENV]).expect_in_stdout("# listener_rule[web] will be created");

    logs::Client::new(&env.config)
        .delete_log_group()
        .log_group_name("/ecsops/acceptance/default/service/extra")
        .send()
        .await
        .expect("remove the foreign log group");
    env.apply();
    no_changes(&env);
}

/// Ctrl-C while the apply waits for its rollouts (services that never settle): every change
/// is made and saved, and there is no cause to fix, so the help says the next run finishes the
/// apply; that run has nothing to change, waits again, and without the wait records it.
#[tokio::test]
async fn ctrl_c_during_the_rollout_wait_is_finished_by_the_next_run() {
    let env = Env::stuck().await;
    let mut child = env.spawn("apply", &env.moto.server.env(), std::process::Stdio::piped());
    env.wait_until_recorded(57, &mut child);
    // The walk's last save is done; the wait for the rollouts follows at once.
    std::thread::sleep(Duration::from_secs(3));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`ecsops apply acceptance` finishes the apply: it waits for the rollouts, then records and tags it"),
        "{stderr}"
    );
    assert!(!stderr.contains("fix the cause"), "{stderr}");
    assert_eq!(env.state()["revision"]["result"], "interrupted");
    let again = env.run(&["apply", ENV, "--auto-approve", "--no-wait"]);
    again.expect_code(0).expect_in_stderr("the last apply made its changes but did not finish");
    assert_eq!(env.state()["revision"]["result"], "applied");
    env.assert_unlocked();
}

#[tokio::test]
async fn ctrl_c_finishes_the_running_steps_saves_and_unlocks() {
    let env = Env::new().await;
    let (at_signal, out) = env.signal_midway("-INT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Interrupted: starting nothing new"), "{stderr}");
    assert!(stderr.contains("Apply interrupted:"), "{stderr}");
    assert!(stderr.contains("Not started ("), "{stderr}");
    // Nothing failed: there is no cause to fix, only the rest to run.
    assert!(stderr.contains("; run `ecsops apply acceptance` again to continue"), "{stderr}");
    assert!(!stderr.contains("fix the cause"), "{stderr}");
    // Everything made is recorded; the lock is gone, so the next apply just continues.
    let recorded = env.state()["resources"].as_object().map_or(0, serde_json::Map::len);
    // At --parallelism 1: the step running at the signal finishes, and at most one more may
    // have finished between reading the state and the signal; nothing else starts.
    assert!(
        (at_signal..=at_signal + 2).contains(&recorded),
        "{recorded} recorded, {at_signal} at the signal"
    );
    let not_started: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Not started (")?.strip_suffix("):")?.parse().ok())
        .expect("the not-started count");
    assert_eq!(not_started, 57 - recorded, "{stderr}");
    env.apply();
    no_changes(&env);
    assert_eq!(count(&env).await, (1, 1, 1));
}

#[tokio::test]
async fn a_nat_gateway_per_zone_gets_one_each() {
    // moto ignores tag filters on DescribeNatGateways; adoption must still never take the
    // other zone's gateway for this one.
    let env = Env::new().await;
    env.edit("acceptance.toml", "nat = \"single\"", "nat = \"per_az\"");
    // One at a time: the second gateway's lookup runs when the first one exists.
    env.run(&["apply", ENV, "--auto-approve", "--parallelism", "1"]).expect_code(0);
    no_changes(&env);
    let nats = env.ec2().describe_nat_gateways().filter(env_filter()).send().await.expect("nats");
    let mut placed: Vec<(String, String)> = nats
        .nat_gateways()
        .iter()
        .map(|n| {
            (
                n.subnet_id().unwrap_or_default().to_owned(),
                n.nat_gateway_addresses()
                    .first()
                    .and_then(|a| a.allocation_id())
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    placed.sort();
    let mut expected = vec![
        (env.id("subnet.public[eu-west-1a]"), env.id("elastic_ip.nat[eu-west-1a]")),
        (env.id("subnet.public[eu-west-1b]"), env.id("elastic_ip.nat[eu-west-1b]")),
    ];
    expected.sort();
    assert_eq!(placed, expected);
}

#[tokio::test]
async fn a_detached_internet_gateway_is_attached_again_not_replaced() {
    let env = Env::new().await;
    env.apply();
    let igw = env.id("internet_gateway");
    env.ec2()
        .detach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(env.id("vpc"))
        .send()
        .await
        .expect("detach outside ecsops");
    let (code, out) = env.diff_code();
    assert_eq!(code, Some(2), "{}\n{}", out.stdout, out.stderr);
    out.expect_in_stdout("# internet_gateway was changed outside ecsops");
    out.expect_in_stdout("# internet_gateway will be updated in place");
    assert!(
        out.stdout.ends_with("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.\n"),
        "{}",
        out.stdout
    );
    env.apply();
    no_changes(&env);
    assert_eq!(env.id("internet_gateway"), igw, "the same gateway");
    let gateways = env
        .ec2()
        .describe_internet_gateways()
        .internet_gateway_ids(&igw)
        .send()
        .await
        .expect("gateway");
    let attached: Vec<&str> =
        gateways.internet_gateways()[0].attachments().iter().filter_map(|a| a.vpc_id()).collect();
    assert_eq!(attached, [env.id("vpc").as_str()]);
}

#[tokio::test]
async fn a_new_environment_tag_is_added_in_place_and_keeps_the_nat_address() {
    let env = Env::new().await;
    env.apply();
    let (eip, nat) = (env.id("elastic_ip.nat[eu-west-1a]"), env.id("nat_gateway[eu-west-1a]"));
    env.edit(
        "base.toml",
        "tags = { Team = \"platform\", CostCenter = \"1234\" }",
        "tags = { Team = \"platform\", CostCenter = \"1234\", Owner = \"qa\" }",
    );
    let (code, out) = env.diff_code();
    assert_eq!(code, Some(2), "{}\n{}", out.stdout, out.stderr);
    out.expect_in_stdout("# elastic_ip.nat[eu-west-1a] will be updated in place");
    assert!(!out.stdout.contains("must be replaced"), "{}", out.stdout);
    // The tag makes new task definition revisions too: their rollouts are not this test's.
    env.run(&["apply", ENV, "--auto-approve", "--no-wait"]).expect_code(0);
    assert_eq!(env.id("elastic_ip.nat[eu-west-1a]"), eip, "the same address");
    assert_eq!(env.id("nat_gateway[eu-west-1a]"), nat, "the same gateway");
    let addresses =
        env.ec2().describe_addresses().allocation_ids(&eip).send().await.expect("address");
    let owner = addresses.addresses()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("Owner"))
        .and_then(|t| t.value());
    assert_eq!(owner, Some("qa"));
}

#[tokio::test]
async fn continue_on_error_builds_what_does_not_depend_on_the_failure() {
    let env = Env::new().await;
    let ecsc = ecs::Client::new(&env.config);
    ecsc.create_cluster().cluster_name("acceptance-default").send().await.expect("foreign cluster");
    let out = env.run(&["apply", ENV, "--auto-approve", "--continue-on-error"]);
    out.expect_code(1);
    let state = env.state();
    let resources = state["resources"].as_object().expect("resources");
    // Everything outside the cluster's dependents was built; nothing that needs it started.
    for independent in [
        "vpc",
        "nat_gateway[eu-west-1a]",
        "load_balancer[default]",
        "iam_role.instance",
        "log_group.host[docker]",
        "sns_topic.alerts",
    ] {
        assert!(resources.contains_key(independent), "{independent} missing");
    }
    for dependent in ["ecs_cluster", "autoscaling_group[default]", "service[web]"] {
        assert!(!resources.contains_key(dependent), "{dependent} was made");
    }
    out.expect_in_stderr("autoscaling_group[default] (create)");
}

#[tokio::test]
async fn another_environments_resources_are_never_candidates_for_adoption() {
    // moto ignores tag filters on DescribeNatGateways: the second environment's lookup sees the
    // first one's gateway, which carries the same address but another environment and lineage.
    let env = Env::new().await;
    let staging = std::fs::read_to_string(env.ws.path().join("environments/acceptance.toml"))
        .expect("acceptance.toml")
        .replace("name = \"acceptance\"", "name = \"staging\"")
        .replace("10.0.0.0/16", "10.2.0.0/16");
    env.ws.write("environments/staging.toml", &staging);
    env.apply();
    let out = env.run(&["apply", "staging", "--auto-approve"]);
    out.expect_code(0);
    let nats = env.ec2().describe_nat_gateways().send().await.expect("nat gateways");
    let by_environment: BTreeMap<String, usize> = nats
        .nat_gateways()
        .iter()
        .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
        .filter_map(|n| {
            n.tags()
                .iter()
                .find(|t| t.key() == Some("ecsops:environment"))
                .and_then(|t| t.value())
                .map(str::to_owned)
        })
        .fold(BTreeMap::new(), |mut m, e| {
            *m.entry(e).or_default() += 1;
            m
        });
    assert_eq!(
        by_environment,
        BTreeMap::from([("acceptance".to_owned(), 1), ("staging".to_owned(), 1)])
    );
    no_changes(&env);
}

#[tokio::test]
async fn a_target_group_replaced_under_its_rule_and_service_converges_in_one_apply() {
    let env = Env::new().await;
    env.apply();
    let old_group = env.id("target_group[web]");
    let old_rule = env.id("listener_rule[web]");
    // The port is the target group's: it is replaced, and so is the rule that forwards to it
    // (the old group cannot go while a rule uses it, the new rule needs the new group).
    env.edit("base.toml", "container_port = 80", "container_port = 8080");
    // The service moves to a new revision: moto starts no deployment for it, the proxy answers
    // as AWS does once that deployment completed.
    let proxy = env.proxy_with(crate::support::rollout::completing());
    let out = env.run_through(&proxy, &["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stdout("# target_group[web] must be replaced")
        .expect_in_stdout("# listener_rule[web] must be replaced");
    no_changes(&env);
    let elb = elbv2::Client::new(&env.config);
    let groups = elb.describe_target_groups().send().await.expect("groups");
    let web: Vec<_> = groups
        .target_groups()
        .iter()
        .filter(|g| g.target_group_name() == Some("acceptance-web"))
        .collect();
    assert_eq!(web.len(), 1, "one web target group");
    assert_eq!(web[0].port(), Some(8080));
    let new_group = web[0].target_group_arn().unwrap_or_default().to_owned();
    assert_ne!(new_group, old_group);
    assert_eq!(env.id("target_group[web]"), new_group);
    let rules =
        elb.describe_rules().rule_arns(env.id("listener_rule[web]")).send().await.expect("rule");
    assert_ne!(env.id("listener_rule[web]"), old_rule);
    let forwards_to = rules.rules()[0].actions()[0].target_group_arn();
    assert_eq!(forwards_to, Some(new_group.as_str()));
    let services = ecs::Client::new(&env.config)
        .describe_services()
        .cluster("acceptance-default")
        .services("web")
        .send()
        .await
        .expect("services");
    let balancers = services.services()[0].load_balancers();
    assert_eq!(balancers.len(), 1);
    assert_eq!(balancers[0].target_group_arn(), Some(new_group.as_str()));
    assert_eq!(balancers[0].container_port(), Some(8080));
}

#[tokio::test]
async fn renaming_a_service_with_moved_replaces_what_derives_from_it_and_converges() {
    let env = Env::new().await;
    env.apply();
    env.edit("base.toml", "[services.api]", "[services.backend]");
    let path = env.ws.path().join("environments/base.toml");
    let text = std::fs::read_to_string(&path).expect("base.toml");
    std::fs::write(
        &path,
        text + "\n[[moved]]\nfrom = \"service[api]\"\nto = \"service[backend]\"\n",
    )
    .expect("add the move");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stdout("Apply complete: 0 created, 0 updated, 5 replaced, 0 destroyed.");
    no_changes(&env);
    let state = env.state();
    for old in ["service[api]", "log_group.service[api]", "target_group[api]"] {
        assert!(state["resources"].get(old).is_none(), "{old} still recorded");
    }
    let groups = logs::Client::new(&env.config)
        .describe_log_groups()
        .log_group_name_prefix("/ecsops/acceptance/default/service/")
        .send()
        .await
        .expect("log groups");
    let mut names: Vec<&str> =
        groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["/ecsops/acceptance/default/service/backend", "/ecsops/acceptance/default/service/web"]
    );
}

#[tokio::test]
async fn a_cidr_change_replaces_the_whole_network_in_one_apply() {
    let env = Env::new().await;
    env.apply();
    let old_vpc = env.id("vpc");
    env.edit("acceptance.toml", "cidr = \"10.0.0.0/16\"", "cidr = \"10.4.0.0/16\"");
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    no_changes(&env);
    let vpcs = env.vpcs().await;
    let vpcs: Vec<(&str, &str)> = vpcs
        .iter()
        .map(|v| (v.vpc_id().unwrap_or_default(), v.cidr_block().unwrap_or_default()))
        .collect();
    assert_eq!(vpcs.len(), 1, "one VPC: {vpcs:?}");
    assert_eq!(vpcs[0].1, "10.4.0.0/16");
    assert_ne!(vpcs[0].0, old_vpc, "a new VPC");
    let subnets = env.ec2().describe_subnets().filters(env_filter()).send().await.expect("subnets");
    let mut cidrs: Vec<&str> =
        subnets.subnets().iter().map(|s| s.cidr_block().unwrap_or_default()).collect();
    cidrs.sort_unstable();
    assert_eq!(
        cidrs,
        ["10.4.0.0/24", "10.4.1.0/24", "10.4.50.0/24", "10.4.51.0/24"],
        "the new subnets and nothing left of the old"
    );
    assert_eq!(count(&env).await, (1, 1, 1));
    // A load balancer lives in one VPC: it was replaced into the new one.
    let balancers = elbv2::Client::new(&env.config)
        .describe_load_balancers()
        .names("acceptance-default")
        .send()
        .await
        .expect("load balancer");
    assert_eq!(balancers.load_balancers().len(), 1);
    assert_eq!(balancers.load_balancers()[0].vpc_id(), Some(vpcs[0].0));
}

/// The zone and CIDR of each of the environment's subnets in moto, and their ids by address.
async fn subnets(env: &Env) -> Vec<(String, String, String)> {
    let subnets = env.ec2().describe_subnets().filters(env_filter()).send().await.expect("subnets");
    let mut placed: Vec<(String, String, String)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            (
                s.availability_zone().unwrap_or_default().to_owned(),
                s.cidr_block().unwrap_or_default().to_owned(),
                s.subnet_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    placed.sort();
    placed
}

#[tokio::test]
async fn zones_removed_or_added_anywhere_leave_the_other_zones_subnets_alone() {
    // moto refuses a subnet whose range another subnet of the VPC holds
    // (`InvalidSubnet.Conflict`), as AWS does. Ranges by position in the list made dropping
    // the first zone replace every other zone's subnets into ranges still held.
    let env = Env::new().await;
    let zones = "availability_zones = [\"eu-west-1a\", \"eu-west-1b\"]";
    env.edit(
        "base.toml",
        zones,
        "availability_zones = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]",
    );
    env.apply();
    let ids = |zone: &str| {
        [env.id(&format!("subnet.public[{zone}]")), env.id(&format!("subnet.private[{zone}]"))]
    };
    let (b, c) = (ids("eu-west-1b"), ids("eu-west-1c"));
    env.edit(
        "base.toml",
        "availability_zones = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]",
        "availability_zones = [\"eu-west-1b\", \"eu-west-1c\"]",
    );
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(0);
    no_changes(&env);
    let expected = |zone: &str, cidrs: [&str; 2], ids: &[String; 2]| {
        let mut pairs: Vec<(String, String, String)> = cidrs
            .iter()
            .zip(ids)
            .map(|(cidr, id)| (zone.to_owned(), (*cidr).to_owned(), id.clone()))
            .collect();
        pairs.sort();
        pairs
    };
    let mut kept = expected("eu-west-1b", ["10.0.1.0/24", "10.0.51.0/24"], &b);
    kept.extend(expected("eu-west-1c", ["10.0.2.0/24", "10.0.52.0/24"], &c));
    assert_eq!(subnets(&env).await, kept, "the other zones keep their subnets and ranges");
    assert_eq!(count(&env).await, (1, 1, 1));

    // A zone put back first takes the lowest free ranges; the others stay.
    env.edit(
        "base.toml",
        "availability_zones = [\"eu-west-1b\", \"eu-west-1c\"]",
        "availability_zones = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]",
    );
    env.apply();
    no_changes(&env);
    let mut now = expected("eu-west-1a", ["10.0.0.0/24", "10.0.50.0/24"], &ids("eu-west-1a"));
    now.extend(kept);
    assert_eq!(subnets(&env).await, now);
}

#[tokio::test]
async fn sigterm_stops_like_ctrl_c_and_unlocks() {
    let env = Env::new().await;
    let (_, out) = env.signal_midway("-TERM");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Apply interrupted:"), "{stderr}");
    let lock = env.run(&["lock", ENV]);
    lock.expect_code(0);
    env.apply();
    no_changes(&env);
}

#[tokio::test]
async fn apply_offline_plans_against_the_record_and_a_held_lock_is_waited_for() {
    let env = Env::new().await;
    env.apply();
    // A change made outside ecsops: an offline apply does not read it, so it has nothing to do.
    env.max_size_outside(9).await;
    let out = env.run(&["apply", ENV, "--auto-approve", "--offline"]);
    out.expect_code(0);
    out.expect_in_stdout("No changes.");
    // A lock left by another holder: waited for as long as asked, then named.
    env.ws.write(
        ".ecsops/state/acceptance.lock",
        &serde_json::json!({"id": "0f0f0f0f-dead-4bee-8000-000000000002", "operation": "apply",
            "who": "ci@runner-9", "when": "2026-12-01T10:00:00Z", "version": "0.1.0"})
        .to_string(),
    );
    let started = Instant::now();
    let out = env.run(&["apply", ENV, "--auto-approve", "--lock-timeout", "2s"]);
    out.expect_code(1);
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    out.expect_in_stderr(
        "waiting up to 2s for the lock held by ci@runner-9 (apply, since 2026-12-01T10:00:00Z)",
    );
    out.expect_in_stderr("who:       ci@runner-9");
    out.expect_in_stderr("ecsops unlock acceptance 0f0f0f0f-dead-4bee-8000-000000000002");
    let out = env.run(&["destroy", ENV, "--auto-approve", "--lock-timeout", "1s"]);
    out.expect_code(1);
    out.expect_in_stderr("is locked");
    out.expect_in_stderr("waiting up to 1s for the lock held by ci@runner-9");
    assert_eq!(count(&env).await, (1, 1, 1), "nothing destroyed");
}

/// Creates that reach AWS but whose responses are lost on the way back, of every shape: calls
/// that make a twin when resent (`CreateVpc`, `RegisterTaskDefinition`, moto's
/// `CreateLoadBalancer`), that fail on what they made (`CreateSecurityGroup`, the ingress rules
/// after it, `CreateRole`, `CreateLogGroup`, `CreateRule`), that carry a client token moto
/// ignores (`CreateNatGateway`, `CreateService`), and an upsert (`CreateCluster`). The step runs
/// again from the top, finds what the lost attempt made by its tags and adopts it. Never a twin,
/// and the output says what was adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_whose_responses_are_lost_are_adopted_not_duplicated() {
    use crate::support::census;
    use crate::support::proxy::{DropResponse, Fault, Proxy};
    use std::sync::atomic::Ordering;

    let env = Env::new().await;
    let lose =
        |contains: Vec<&'static str>| DropResponse { contains, times: 1, fault: Fault::Drop };
    let proxy = Proxy::start(
        env.moto.server.port(),
        vec![
            lose(vec!["Action=CreateVpc&"]),
            lose(vec!["Action=CreateSecurityGroup&", "GroupName=acceptance-default-lb"]),
            lose(vec!["Action=AuthorizeSecurityGroupIngress&", "FromPort=80&"]),
            lose(vec!["ContainerServiceV20141113.RegisterTaskDefinition", "cadvisor"]),
            lose(vec!["Action=CreateRole&", "RoleName=acceptance-default-instance"]),
            lose(vec!["Logs_20140328.CreateLogGroup", "service/web"]),
            lose(vec!["Action=CreateRule&", "Priority=100"]),
            lose(vec!["Action=CreateNatGateway&"]),
            lose(vec!["ContainerServiceV20141113.CreateService", "cadvisor"]),
            lose(vec!["Action=CreateLoadBalancer&"]),
            lose(vec!["ContainerServiceV20141113.CreateCluster"]),
        ],
    );
    let vars = proxy.env(env.moto.server.env());
    let out = env.ws.ecsops_env(&["apply", ENV, "--auto-approve"], &vars);
    out.expect_code(0);
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 11, "{}", out.stderr);
    census::take(&env.config).await.assert_one_each(&env.state());
    let adopted: BTreeSet<&str> = out
        .stderr
        .lines()
        .filter(|l| l.ends_with("(adopted an existing resource carrying its tags)"))
        .filter_map(|l| l.split(": created after ").next())
        .collect();
    // The cluster's create is an upsert: the SDK resent it, nothing to adopt.
    let expected = [
        "iam_role.instance",
        "listener_rule[web]",
        "load_balancer[default]",
        "log_group.service[web]",
        "nat_gateway[eu-west-1a]",
        "security_group.load_balancer[default]",
        "service[cadvisor]",
        "task_definition[cadvisor]",
        "vpc",
    ];
    assert_eq!(adopted, expected.into(), "{}", out.stderr);
    no_changes(&env);
}

/// A destroy that AWS refuses midway (IAM keeps answering 503 to the task execution role's
/// delete): it stops there, says why and how to continue, keeps exactly what is left in the
/// state, and once the cause is gone the same command finishes the job.
#[tokio::test]
async fn a_failed_destroy_keeps_what_is_left_and_a_rerun_finishes() {
    use crate::support::proxy::{Fault, Proxy};

    let env = Env::new().await;
    env.apply();
    // IAM sheds load on this one role's delete for the whole first destroy.
    let proxy = Proxy::always(
        env.moto.server.port(),
        vec!["Action=DeleteRole&", "RoleName=acceptance-default-task-execution"],
        Fault::Unavailable,
    );
    let out =
        env.ws.ecsops_env(&["destroy", ENV, "--auto-approve"], &proxy.env(env.moto.server.env()));
    out.expect_code(1);
    out.expect_in_stderr("Destroy stopped: ");
    out.expect_in_stderr("error: `iam_role.task_execution`: DeleteRole failed: ");
    out.expect_in_stderr("fix the cause and run `ecsops destroy acceptance` again to continue");
    // Left: the role and exactly the steps the output lists as not started (nothing new
    // starts after a failure); everything else is gone and no longer recorded.
    let mut expected: BTreeSet<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("Not started ("))
        .skip(1)
        .map_while(|l| l.strip_prefix("  ")?.strip_suffix(" (delete)"))
        .collect();
    assert!(expected.contains("iam_policy.task_execution"), "{}", out.stderr);
    expected.insert("iam_role.task_execution");
    let state = env.state();
    let left: BTreeSet<&str> =
        state["resources"].as_object().expect("resources").keys().map(String::as_str).collect();
    assert_eq!(left, expected, "{}", out.stderr);
    crate::support::census::take(&env.config).await.assert_one_each(&state);
    env.assert_unlocked();

    drop(proxy);
    let out = env.run(&["destroy", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stdout(&format!(
        "Destroy complete: 0 created, 0 updated, 0 replaced, {} destroyed.",
        left.len()
    ));
    assert!(crate::support::census::take(&env.config).await.0.is_empty());
}

/// Ctrl-C during a destroy: the running step finishes and is saved, nothing new starts, the
/// lock is released, and the same command destroys the rest.
#[tokio::test]
async fn an_interrupted_destroy_resumes() {
    let env = Env::new().await;
    env.apply();
    let mut child = env.spawn("destroy", &env.moto.server.env(), std::process::Stdio::piped());
    let remaining = || env.recorded().expect("the state file");
    wait_for(&mut child, "destroyed five", || remaining() <= 52);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("destroy ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Destroy interrupted: "), "{stderr}");
    let left = remaining();
    assert!((1..=52).contains(&left), "{left} left");
    env.assert_unlocked();
    let out = env.run(&["destroy", ENV, "--auto-approve"]);
    out.expect_code(0);
    out.expect_in_stdout(&format!(
        "Destroy complete: 0 created, 0 updated, 0 replaced, {left} destroyed."
    ));
    assert!(crate::support::census::take(&env.config).await.0.is_empty());
    assert_eq!(remaining(), 0);
}

#[tokio::test]
async fn a_lost_state_is_put_back_with_state_push_not_applied_over() {
    let env = Env::new().await;
    env.apply();
    let stored = env.dir().join(".ecsops/state/acceptance.json");
    let backup = env.dir().join("backup.json");
    std::fs::rename(&stored, &backup).expect("lose the state");
    // Applying again meets every resource under the old lineage: refused, and the way back
    // is named instead of "run it again".
    let out = env.run(&["apply", ENV, "--auto-approve"]);
    out.expect_code(1)
        .expect_in_stderr("belongs to state lineage")
        .expect_in_stderr("help: resources of this environment belong to another state")
        .expect_in_stderr("`ecsops state push acceptance FILE --force`");
    assert!(!out.stderr.contains("run `ecsops apply acceptance` again"), "{}", out.stderr);
    assert_eq!(env.vpcs().await.len(), 1, "no twin VPC");
    // The failed apply began a state of its own; the backup replaces it, lineage included.
    let backup = backup.to_str().expect("utf-8");
    env.run(&["state", "push", ENV, backup, "--force"]).expect_code(0);
    no_changes(&env);
}

/// Where a failed save's report says the state was kept instead.
fn kept_at(out: &Output) -> &str {
    out.stderr
        .split("was written to ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("the kept state's path")
}
