//! The AWS provider's IAM, CloudWatch Logs, SNS and EventBridge families against moto: the
//! acceptance environment's roles, policies, instance profile, log groups and alerts (with one
//! e-mail subscription added) are created through the provider in dependency order, the ECS
//! cluster the alert rule names being a recorded state entry. Then checked in the emulator with
//! plain SDK calls: attributes, ownership tags, adoption instead of twins, one batched read per
//! kind on refresh without drift, changes made outside showing as drift, in-place updates, and
//! idempotent deletion.

use std::collections::{BTreeMap, BTreeSet};

use ecsops_core::graph::{self, Address, Graph, Kind};
use ecsops_core::provider::aws::AwsProvider;
use ecsops_core::provider::aws::sdk::events::types::{InputTransformer, RuleState, Target};
use ecsops_core::provider::aws::sdk::iam::types::{PolicyScopeType, Role};
use ecsops_core::provider::{Provider, ProviderError};
use ecsops_core::state::ResourceState;
use serde_json::{Value, json};

use crate::support::iam::{
    attached_policy_arns, instance_profile, policy, policy_document, policy_versions, role,
};
use crate::support::provider::Fixture;

const ENV: &str = "acceptance";
const LINEAGE: &str = "7a3e5b1c-provider-iam-logs-alerts";
const CLUSTER_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/acceptance-default";
const EMAIL: &str = "ops@example.com";

fn provided(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::IamRole
            | Kind::IamPolicy
            | Kind::InstanceProfile
            | Kind::LogGroup
            | Kind::SnsTopic
            | Kind::SnsTopicPolicy
            | Kind::SnsSubscription
            | Kind::EventRule
            | Kind::EventTarget
    )
}

/// The acceptance graph, with an alert e-mail, restricted to the provided kinds.
fn family_graph() -> Graph {
    let mut manifest = crate::support::aws::acceptance_manifest();
    manifest.alerts.email.push(EMAIL.to_owned());
    let mut graph = graph::build(&manifest, ENV).expect("acceptance builds");
    graph.resources.retain(|_, r| provided(r.kind));
    graph
}

/// The cluster of another family, as the state would record it.
fn cluster() -> (Address, ResourceState) {
    (
        Address::new("ecs_cluster"),
        ResourceState {
            kind: Kind::EcsCluster,
            id: Some(CLUSTER_ARN.to_owned()),
            attributes: BTreeMap::new(),
            outputs: BTreeMap::from([("arn".to_owned(), json!(CLUSTER_ARN))]),
            dependencies: BTreeSet::new(),
        },
    )
}

/// A fresh emulator with the family's resources created through the provider.
async fn created() -> Fixture {
    let mut f = Fixture::new(LINEAGE, None, family_graph()).await;
    let (address, cluster) = cluster();
    f.state.insert(address.clone(), cluster);
    f.create_graph().await;
    f.state.remove(&address);
    f
}

fn a(address: &str) -> Address {
    Address::from(address)
}

fn name(f: &Fixture, address: &str) -> String {
    f.specs[&a(address)].attributes["name"].as_str().expect("a name").to_owned()
}

fn output(f: &Fixture, address: &str, output: &str) -> String {
    f.state[&a(address)].outputs[output].as_str().expect("an output").to_owned()
}

fn subscription() -> Address {
    Address::keyed("sns_subscription.alerts", EMAIL)
}

fn assert_owned(tags: &BTreeMap<String, String>, address: &str) {
    for (k, v) in [
        ("Environment", ENV),
        ("Team", "platform"),
        ("ecsops:environment", ENV),
        ("ecsops:address", address),
        ("ecsops:lineage", LINEAGE),
    ] {
        assert_eq!(tags.get(k).map(String::as_str), Some(v), "{address} tag {k}");
    }
}

/// How many of each family's resources the emulator holds.
async fn census(p: &AwsProvider, f: &Fixture) -> BTreeMap<&'static str, usize> {
    let c = p.clients();
    let roles = c.iam.list_roles().path_prefix("/ecsops/").send().await.expect("roles");
    let policies =
        c.iam.list_policies().scope(PolicyScopeType::Local).send().await.expect("policies");
    let profiles = c.iam.list_instance_profiles().send().await.expect("profiles");
    let groups = c.logs.describe_log_groups().send().await.expect("groups");
    let topics = c.sns.list_topics().send().await.expect("topics");
    let subscriptions = c.sns.list_subscriptions().send().await.expect("subs");
    let rules = c.events.list_rules().send().await.expect("rules");
    let mut targets = 0;
    for rule in [name(f, "event_rule.stopped_tasks"), name(f, "event_rule.deployment_failed")] {
        targets += c
            .events
            .list_targets_by_rule()
            .rule(rule)
            .send()
            .await
            .map_or(0, |t| t.targets().len());
    }
    BTreeMap::from([
        ("roles", roles.roles().len()),
        ("policies", policies.policies().len()),
        ("instance profiles", profiles.instance_profiles().len()),
        ("log groups", groups.log_groups().len()),
        ("topics", topics.topics().len()),
        ("subscriptions", subscriptions.subscriptions().len()),
        ("rules", rules.rules().len()),
        ("targets", targets),
    ])
}

#[tokio::test]
async fn creates_roles_logs_and_alerts_as_the_example_says() {
    let f = Box::pin(created()).await;
    let c = f.provider.clients();
    let census = census(&f.provider, &f).await;
    let log_groups = f.state.values().filter(|r| r.kind == Kind::LogGroup).count();
    assert!(log_groups >= 6, "host and service log groups: {log_groups}");
    assert_eq!(
        census,
        BTreeMap::from([
            ("roles", 2),
            ("policies", 2),
            ("instance profiles", 1),
            ("log groups", log_groups),
            ("topics", 1),
            ("subscriptions", 1),
            ("rules", 2),
            ("targets", 2),
        ])
    );

    // The instance role: trust, the two AWS policies and the customer one, tags.
    let role_name = name(&f, "iam_role.instance");
    let role = role(&c.iam, &role_name).await;
    assert_eq!(role.path(), "/ecsops/");
    assert_eq!(role.arn(), output(&f, "iam_role.instance", "arn"));
    assert!(
        role.assume_role_policy_document().is_some_and(|d| d.contains("ec2.amazonaws.com")),
        "{:?}",
        role.assume_role_policy_document()
    );
    let tags: BTreeMap<String, String> =
        role.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    assert_owned(&tags, "iam_role.instance");
    let attached = attached_policy_arns(&c.iam, &role_name).await;
    let policy_arn = output(&f, "iam_policy.instance", "arn");
    assert_eq!(
        attached,
        BTreeSet::from([
            "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role".to_owned(),
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore".to_owned(),
            policy_arn.clone(),
        ])
    );

    // The customer policy: its document, tags and one version.
    let policy = policy(&c.iam, &policy_arn).await;
    assert_eq!(policy.path(), Some("/ecsops/"));
    assert_eq!(f.id("iam_policy.instance"), policy_arn);
    let tags: BTreeMap<String, String> =
        policy.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    assert_owned(&tags, "iam_policy.instance");
    let document = policy_document(&c.iam, &policy_arn).await.to_string();
    assert!(document.contains("ShipHostAndContainerLogs"), "{document}");

    // The instance profile holds the instance role.
    let profile = instance_profile(&c.iam, &name(&f, "instance_profile")).await;
    assert_eq!(profile.path(), "/ecsops/");
    assert_eq!(profile.arn(), output(&f, "instance_profile", "arn"));
    assert_eq!(
        profile.roles().iter().map(Role::role_name).collect::<Vec<_>>(),
        vec![role_name.as_str()]
    );

    // Log groups: every one with the manifest's retention, tagged, ARN without `:*`.
    let groups = c.logs.describe_log_groups().send().await.expect("log groups");
    for g in groups.log_groups() {
        assert_eq!(g.retention_in_days(), Some(30), "{:?}", g.log_group_name());
    }
    let docker = a("log_group.host[docker]");
    let arn = output(&f, docker.as_str(), "arn");
    assert!(!arn.ends_with(":*"), "{arn}");
    let tags = c
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("log group tags")
        .tags
        .unwrap_or_default()
        .into_iter()
        .collect();
    assert_owned(&tags, docker.as_str());

    // The topic, its policy letting the two rules publish, the e-mail subscription.
    let topic = f.id("sns_topic.alerts");
    assert_eq!(topic, output(&f, "sns_topic.alerts", "arn"));
    let tags = c
        .sns
        .list_tags_for_resource()
        .resource_arn(&topic)
        .send()
        .await
        .expect("topic tags")
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    assert_owned(&tags, "sns_topic.alerts");
    let attributes =
        c.sns.get_topic_attributes().topic_arn(&topic).send().await.expect("topic attributes");
    let policy: Value = serde_json::from_str(
        attributes.attributes().and_then(|m| m.get("Policy")).expect("a policy"),
    )
    .expect("policy JSON");
    assert_eq!(policy["Statement"][0]["Sid"], json!("EventBridgePublish"));
    assert_eq!(
        policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!([
            output(&f, "event_rule.stopped_tasks", "arn"),
            output(&f, "event_rule.deployment_failed", "arn")
        ])
    );
    let subscriptions =
        c.sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.expect("subscriptions");
    let s = &subscriptions.subscriptions()[0];
    assert_eq!((s.protocol(), s.endpoint()), (Some("email"), Some(EMAIL)));
    assert_eq!(s.subscription_arn(), Some(f.id(subscription().as_str()).as_str()));

    // The rules (enabled, naming the cluster) and their targets (the topic).
    let stopped = name(&f, "event_rule.stopped_tasks");
    let rule = c.events.describe_rule().name(&stopped).send().await.expect("rule");
    assert_eq!(rule.state().map(RuleState::as_str), Some("ENABLED"));
    let pattern: Value =
        serde_json::from_str(rule.event_pattern().expect("a pattern")).expect("pattern JSON");
    assert_eq!(pattern["detail"]["clusterArn"], json!([CLUSTER_ARN]));
    let tags = c
        .events
        .list_tags_for_resource()
        .resource_arn(rule.arn().expect("rule arn"))
        .send()
        .await
        .expect("rule tags")
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    assert_owned(&tags, "event_rule.stopped_tasks");
    let targets = c.events.list_targets_by_rule().rule(&stopped).send().await.expect("targets");
    let t = &targets.targets()[0];
    assert_eq!((t.id(), t.arn()), ("alerts", topic.as_str()));
    let transformer = t.input_transformer().expect("an input transformer");
    assert!(transformer.input_template().contains("<reason>"), "{transformer:?}");
    assert_eq!(
        transformer.input_paths_map().and_then(|m| m.get("task")).map(String::as_str),
        Some("$.detail.taskArn")
    );
    assert_eq!(f.id("event_target.stopped_tasks"), format!("{stopped}/alerts"));
}

#[tokio::test]
async fn refresh_reads_each_kind_once_without_drift() {
    let f = Box::pin(created()).await;
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    let counts = f.provider.calls().counts();
    let expected: BTreeMap<String, usize> = [
        // Roles, policies and the instance profile (nested in its role).
        ("GetAccountAuthorizationDetails", 1),
        ("DescribeLogGroups", 1),
        ("ListTopics", 1),
        // One topic: its policy and its subscriptions (SNS has no batched form).
        ("GetTopicAttributes", 1),
        ("ListSubscriptionsByTopic", 1),
        ("ListRules", 1),
        // One per rule: EventBridge has no batched form.
        ("ListTargetsByRule", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected);
    assert!(refresh.missing.is_empty(), "{:?}", refresh.missing);
    assert!(refresh.unsupported.is_empty(), "{:?}", refresh.unsupported);
    assert!(refresh.untracked.is_empty(), "{:?}", refresh.untracked);
    assert_eq!(refresh.live.len(), f.state.len());
    for (address, live) in &refresh.live {
        let recorded = &f.state[address];
        assert_eq!(live.attributes, recorded.attributes, "{address}");
        assert_eq!(live.outputs, recorded.outputs, "{address}");
        assert_eq!(Some(&live.id), recorded.id.as_ref(), "{address}");
    }
}

#[tokio::test]
async fn a_second_create_adopts_instead_of_duplicating() {
    let f = Box::pin(created()).await;
    // A crash between create and state write: a new run (same lineage) creates everything again.
    let rerun = f.provider_as(LINEAGE).await;
    let before = census(&rerun, &f).await;
    // Half done: the profile lost its role (a crash between its two calls).
    let c = rerun.clients();
    c.iam
        .remove_role_from_instance_profile()
        .instance_profile_name(name(&f, "instance_profile"))
        .role_name(name(&f, "iam_role.instance"))
        .send()
        .await
        .expect("remove the role outside ecsops");
    // And a policy put on a role by hand, which `GetRole` does not show.
    c.iam
        .put_role_policy()
        .role_name(name(&f, "iam_role.instance"))
        .policy_name("added-by-hand")
        .policy_document(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}"#)
        .send()
        .await
        .expect("put an inline policy outside ecsops");
    f.assert_created_again_adopts(&rerun, &f.graph.topological_order()).await;
    assert_eq!(census(&rerun, &f).await, before, "no twins");
    let profile = instance_profile(&c.iam, &name(&f, "instance_profile")).await;
    assert_eq!(profile.roles().len(), 1, "adoption put the role back");
    let inline = c.iam.list_role_policies().role_name(name(&f, "iam_role.instance")).send().await;
    assert!(inline.expect("inline policies").policy_names().is_empty(), "adoption removed it");
    let versions = policy_versions(&c.iam, &f.id("iam_policy.instance")).await;
    assert_eq!(versions.len(), 1, "an unchanged document makes no version");

    // Another state lineage claiming the same names is refused, never adopted.
    let stranger = f.provider_as("another-lineage").await;
    for address in [
        "iam_role.instance",
        "iam_policy.instance",
        "instance_profile",
        "log_group.host[docker]",
        "sns_topic.alerts",
        "event_rule.stopped_tasks",
    ] {
        let err = stranger.create(&f.specs[&a(address)], 1).await.expect_err("foreign");
        assert!(matches!(err, ProviderError::ForeignLineage { .. }), "{address}: {err}");
        assert!(err.to_string().contains(address), "{err}");
    }
    assert_eq!(census(&rerun, &f).await, before);
}

#[tokio::test]
async fn changes_made_outside_show_as_drift_and_missing() {
    let f = Box::pin(created()).await;
    let c = f.provider.clients();
    let docker = a("log_group.host[docker]");
    c.logs
        .put_retention_policy()
        .log_group_name(name(&f, docker.as_str()))
        .retention_in_days(7)
        .send()
        .await
        .expect("retention outside ecsops");
    c.iam
        .detach_role_policy()
        .role_name(name(&f, "iam_role.instance"))
        .policy_arn("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
        .send()
        .await
        .expect("detach outside ecsops");
    c.events
        .disable_rule()
        .name(name(&f, "event_rule.deployment_failed"))
        .send()
        .await
        .expect("disable outside ecsops");
    let stopped = name(&f, "event_rule.stopped_tasks");
    let topic = f.id("sns_topic.alerts");
    c.events
        .put_targets()
        .rule(&stopped)
        .targets(
            Target::builder()
                .id("alerts")
                .arn(&topic)
                .input_transformer(
                    InputTransformer::builder()
                        .input_paths_map("task", "$.detail.taskArn")
                        .input_template("\"<task>\"")
                        .build()
                        .expect("transformer"),
                )
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("retarget outside ecsops");
    c.sns
        .set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(json!({"Version": "2012-10-17", "Statement": []}).to_string())
        .send()
        .await
        .expect("policy outside ecsops");
    // Deleted outside: a log group and a target.
    let agent = a("log_group.host[ecs-agent]");
    c.logs
        .delete_log_group()
        .log_group_name(name(&f, agent.as_str()))
        .send()
        .await
        .expect("delete outside ecsops");
    c.events
        .remove_targets()
        .rule(name(&f, "event_rule.deployment_failed"))
        .ids("alerts")
        .send()
        .await
        .expect("remove target outside ecsops");

    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert_eq!(
        refresh.missing,
        BTreeSet::from([agent.clone(), a("event_target.deployment_failed")])
    );
    let drift: BTreeMap<String, Vec<String>> = refresh
        .live
        .iter()
        .filter_map(|(address, live)| {
            let recorded = &f.state[address].attributes;
            let changed: Vec<String> = recorded
                .keys()
                .filter(|k| live.attributes.get(*k) != recorded.get(*k))
                .cloned()
                .collect();
            (!changed.is_empty()).then(|| (address.to_string(), changed))
        })
        .collect();
    let expected: BTreeMap<String, Vec<String>> = [
        ("event_rule.deployment_failed", "state"),
        ("event_target.stopped_tasks", "input_transformer"),
        ("iam_role.instance", "policy_arns"),
        ("log_group.host[docker]", "retention_in_days"),
        ("sns_topic_policy.alerts", "policy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
    .collect();
    assert_eq!(drift, expected);
    assert_eq!(refresh.live[&docker].attributes["retention_in_days"], json!(7));
    assert_eq!(
        refresh.live[&a("event_rule.deployment_failed")].attributes["state"],
        json!("DISABLED")
    );

    // Repair: in-place updates from the refreshed state, re-creates of the missing ones, and
    // the topic policy (replaced by overwriting) set again.
    let refreshed = refresh.apply_to(&f.state);
    for address in refreshed.keys() {
        if expected.contains_key(address.as_str()) && address.as_str() != "sns_topic_policy.alerts"
        {
            f.provider
                .update(&f.specs[address], &refreshed[address])
                .await
                .unwrap_or_else(|e| panic!("repair {address}: {e}"));
        }
    }
    for address in
        [agent.clone(), a("event_target.deployment_failed"), a("sns_topic_policy.alerts")]
    {
        let applied = f
            .provider
            .create(&f.specs[&address], 2)
            .await
            .unwrap_or_else(|e| panic!("re-create {address}: {e}"));
        assert_eq!(Some(&applied.id), f.state[&address].id.as_ref(), "{address}");
    }
    let again = f.provider.refresh(&f.state).await.expect("refresh");
    assert!(again.missing.is_empty(), "{:?}", again.missing);
    assert_eq!(again.live.len(), f.state.len(), "every resource came back live");
    for (address, live) in &again.live {
        assert_eq!(live.attributes, f.state[address].attributes, "{address}");
        assert_eq!(live.outputs, f.state[address].outputs, "{address}");
    }
}

#[tokio::test]
async fn updates_in_place_change_documents_attachments_roles_and_tags() {
    let mut f = Box::pin(created()).await;
    let task_role = name(&f, "iam_role.task_execution");
    let tags = json!({"Environment": ENV, "Name": "renamed"});
    let mut document = f.specs[&a("iam_policy.instance")].attributes["document"].clone();
    let statements = document["Statement"].as_array_mut().expect("statements");
    statements.push(
        json!({"Sid": "Extra0", "Effect": "Allow", "Action": "ec2:DescribeTags", "Resource": "*"}),
    );
    let updates = [
        ("iam_policy.instance", json!({"document": document.clone()})),
        (
            "iam_role.instance",
            json!({"policy_arns": [
                "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
                output(&f, "iam_policy.instance", "arn"),
            ], "tags": tags}),
        ),
        ("instance_profile", json!({"role": task_role})),
        ("log_group.host[docker]", json!({"retention_in_days": 90, "tags": tags})),
        ("sns_topic.alerts", json!({"tags": tags})),
        ("event_rule.stopped_tasks", json!({"description": "changed", "tags": tags})),
        (
            "event_target.stopped_tasks",
            json!({"input_transformer": {"input_paths": {"task": "$.detail.taskArn"}, "input_template": "\"<task>\""}}),
        ),
    ];
    for (address, changes) in &updates {
        let spec = f.patched(address, changes);
        let applied = f
            .provider
            .update(&spec, &f.state[&a(address)])
            .await
            .unwrap_or_else(|e| panic!("update {address}: {e}"));
        assert!(!applied.adopted);
        assert_eq!(applied.outputs, f.state[&a(address)].outputs, "{address}");
        let deps = f.state[&a(address)].dependencies.clone();
        f.state.insert(a(address), applied.into_state(spec.kind, deps));
        f.specs.insert(a(address), spec);
    }
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert!(refresh.missing.is_empty(), "{:?}", refresh.missing);
    assert_eq!(refresh.live.len(), f.state.len(), "every resource came back live");
    for (address, live) in &refresh.live {
        assert_eq!(live.attributes, f.state[address].attributes, "{address}");
    }

    let c = f.provider.clients();
    let role = role(&c.iam, &name(&f, "iam_role.instance")).await;
    let role_tags: BTreeMap<&str, &str> =
        role.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(role_tags.get("Name"), Some(&"renamed"));
    assert_eq!(role_tags.get("Team"), None, "a tag left out of the spec is removed");
    assert_eq!(role_tags.get("ecsops:lineage"), Some(&LINEAGE), "ownership tags stay");
    let topic_tags = c
        .sns
        .list_tags_for_resource()
        .resource_arn(f.id("sns_topic.alerts"))
        .send()
        .await
        .expect("topic tags");
    let topic_tags: BTreeMap<&str, &str> =
        topic_tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(topic_tags.get("Name"), Some(&"renamed"));
    assert_eq!(topic_tags.get("Team"), None);
    assert_eq!(topic_tags.get("ecsops:address"), Some(&"sns_topic.alerts"));
    let group_tags = c
        .logs
        .list_tags_for_resource()
        .resource_arn(output(&f, "log_group.host[docker]", "arn"))
        .send()
        .await
        .expect("group tags")
        .tags
        .unwrap_or_default();
    assert_eq!(group_tags.get("Name").map(String::as_str), Some("renamed"));
    assert_eq!(group_tags.get("Team"), None);
    let rule = c
        .events
        .describe_rule()
        .name(name(&f, "event_rule.stopped_tasks"))
        .send()
        .await
        .expect("rule");
    assert_eq!(rule.description(), Some("changed"));

    // A document change is a new default version; the oldest goes when five exist.
    let policy = a("iam_policy.instance");
    for n in 1..=5 {
        let mut doc = document.clone();
        doc["Statement"][1]["Sid"] = json!(format!("Extra{n}"));
        let spec = f.patched(policy.as_str(), &json!({"document": doc}));
        let applied = f.provider.update(&spec, &f.state[&policy]).await.expect("new document");
        f.state.insert(policy.clone(), applied.into_state(spec.kind, BTreeSet::new()));
    }
    let versions = policy_versions(&c.iam, &f.id("iam_policy.instance")).await;
    assert_eq!(versions.len(), 5, "{versions:?}");
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert_eq!(
        refresh.live[&policy].attributes["document"]["Statement"][1]["Sid"],
        json!("Extra5")
    );

    // A change IAM cannot make in place is refused: the planner must replace.
    let spec = f.patched("iam_role.instance", &json!({"path": "/other/"}));
    f.assert_update_replaces(&spec, "path").await;
}

#[tokio::test]
async fn delete_removes_everything_and_again_succeeds() {
    let f = Box::pin(created()).await;
    let order = f.deletion_order(provided);
    f.delete_each(&order).await;
    let left = census(&f.provider, &f).await;
    assert!(left.values().all(|n| *n == 0), "{left:?}");
    // The managed policies AWS owns are untouched.
    let aws_managed = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
    let aws_policy = policy(&f.provider.clients().iam, aws_managed).await;
    assert_eq!(aws_policy.arn(), Some(aws_managed));
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert_eq!(refresh.missing.len(), f.state.len(), "everything is gone");
    f.delete_each(&order).await;
}

#[tokio::test]
async fn a_policy_still_attached_is_detached_before_delete() {
    let f = Box::pin(created()).await;
    // Replacing the policy deletes it first, while the role still holds it.
    let policy = a("iam_policy.instance");
    f.provider.delete(&policy, &f.state[&policy]).await.expect("delete an attached policy");
    let refresh = f.provider.refresh(&f.state).await.expect("refresh");
    assert!(refresh.missing.contains(&policy));
    let role = &refresh.live[&a("iam_role.instance")];
    assert_eq!(
        role.attributes["policy_arns"].as_array().map(Vec::len),
        Some(2),
        "the role lost the deleted policy: {:?}",
        role.attributes["policy_arns"]
    );
}
