//! Alerts: the EventBridge rule for STOPPED tasks and its SNS topic, policy and targets.

use std::collections::BTreeMap;

use serde_json::json;

use super::Builder;
use crate::graph::attrs::{self, Desired};
use crate::graph::{Address, Expr};

pub(super) fn alerts(b: &mut Builder<'_>, cluster: &Address) {
    let a = &b.manifest.alerts;
    if !a.stopped_tasks {
        return;
    }
    let topic_name = format!("{}-alerts", b.prefix);
    let topic = attrs::SnsTopic::<Desired> { name: Expr::str(topic_name), tags: b.tags(None) };
    let topic = b.add(Address::new("sns_topic.alerts"), &topic, []);
    let stopped = format!("{}-task-stopped", b.prefix);
    let failed = format!("{}-deployment-failed", b.prefix);
    let stopped_rule = attrs::EventRule::<Desired> {
        name: Expr::str(stopped.clone()),
        description: Expr::str(format!(
            "Tasks of {} that stopped because a container failed",
            b.prefix
        )),
        event_pattern: Expr::Map(BTreeMap::from([
            ("source".to_owned(), Expr::Lit(json!(["aws.ecs"]))),
            ("detail-type".to_owned(), Expr::Lit(json!(["ECS Task State Change"]))),
            (
                "detail".to_owned(),
                Expr::Map(BTreeMap::from([
                    ("clusterArn".to_owned(), Expr::List(vec![Builder::r(cluster, "arn")])),
                    ("lastStatus".to_owned(), Expr::Lit(json!(["STOPPED"]))),
                    (
                        "stopCode".to_owned(),
                        Expr::Lit(json!(["EssentialContainerExited", "TaskFailedToStart"])),
                    ),
                ])),
            ),
        ])),
        state: "ENABLED".into(),
        tags: b.tags(None),
    };
    let stopped_rule = b.add(Address::new("event_rule.stopped_tasks"), &stopped_rule, []);
    let failed_rule = attrs::EventRule::<Desired> {
        name: Expr::str(failed.clone()),
        description: Expr::str(format!("Deployments of {} that failed or rolled back", b.prefix)),
        event_pattern: Expr::Lit(json!({
            "source": ["aws.ecs"],
            "detail-type": ["ECS Deployment State Change"],
            "resources": [{"wildcard": format!("arn:{}:ecs:{}:*:service/{}/*", b.partition.name, b.region, b.prefix)}],
            "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]}
        })),
        state: "ENABLED".into(),
        tags: b.tags(None),
    };
    let failed_rule = b.add(Address::new("event_rule.deployment_failed"), &failed_rule, []);
    // Without this policy EventBridge cannot publish to the topic (the reference's bug).
    let policy = attrs::SnsTopicPolicy::<Desired> {
        topic_arn: Builder::r(&topic, "arn"),
        policy: Expr::Map(BTreeMap::from([
            ("Version".to_owned(), Expr::str("2012-10-17")),
            (
                "Statement".to_owned(),
                Expr::List(vec![Expr::Map(BTreeMap::from([
                    ("Sid".to_owned(), Expr::str("EventBridgePublish")),
                    ("Effect".to_owned(), Expr::str("Allow")),
                    ("Principal".to_owned(), Expr::Lit(json!({"Service": "events.amazonaws.com"}))),
                    ("Action".to_owned(), Expr::str("sns:Publish")),
                    ("Resource".to_owned(), Builder::r(&topic, "arn")),
                    (
                        "Condition".to_owned(),
                        Expr::Map(BTreeMap::from([(
                            "ArnEquals".to_owned(),
                            Expr::Map(BTreeMap::from([(
                                "aws:SourceArn".to_owned(),
                                Expr::List(vec![
                                    Builder::r(&stopped_rule, "arn"),
                                    Builder::r(&failed_rule, "arn"),
                                ]),
                            )])),
                        )])),
                    ),
                ]))]),
            ),
        ])),
    };
    let policy = b.add(Address::new("sns_topic_policy.alerts"), &policy, []);
    // Keep the event's details in the alert (the reference replaced them with a constant).
    let transformer = json!({
        "input_paths": {"cluster": "$.detail.clusterArn", "group": "$.detail.group",
                        "task": "$.detail.taskArn", "reason": "$.detail.stoppedReason",
                        "code": "$.detail.stopCode"},
        "input_template": "\"Task <task> of <group> in <cluster> stopped (<code>): <reason>\""
    });
    for (key, rule, rule_name, input) in [
        ("stopped_tasks", &stopped_rule, stopped, Some(transformer)),
        ("deployment_failed", &failed_rule, failed, None),
    ] {
        let target = attrs::EventTarget::<Desired> {
            rule: Expr::str(rule_name),
            target_id: "alerts".into(),
            arn: Builder::r(&topic, "arn"),
            input_transformer: input.map(Expr::Lit),
        };
        b.add(
            Address::new(&format!("event_target.{key}")),
            &target,
            [rule.clone(), policy.clone()],
        );
    }
    for email in &a.email {
        let subscription = attrs::SnsSubscription::<Desired> {
            topic_arn: Builder::r(&topic, "arn"),
            protocol: "email".into(),
            endpoint: Expr::str(email.clone()),
        };
        b.add(Address::keyed("sns_subscription.alerts", email), &subscription, []);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use crate::graph::attrs::{Document, SnsSubscription, SnsTopicPolicy};
    use crate::graph::{Address, Kind, build};
    use crate::manifest::Manifest;
    use crate::provider::ResourceSpec;
    use crate::state::ResourceState;

    /// Subscriptions exist only with alert e-mails, which the examples have none of: their
    /// attributes (and the topic policy's document) are checked against their struct here.
    #[test]
    fn alert_resources_decode_as_their_structs_and_write_back_unchanged() {
        let manifest: Manifest = serde_json::from_value(json!({
            "environment": {"region": "eu-west-1", "availability_zones": ["eu-west-1a"]},
            "network": {"cidr": "10.0.0.0/16"},
            "alerts": {"email": ["ops@example.com"]}
        }))
        .expect("manifest");
        let graph = build(&manifest, "acceptance").expect("builds");
        let recorded: BTreeMap<Address, ResourceState> = graph
            .resources
            .values()
            .map(|r| {
                let outputs = r
                    .kind
                    .outputs()
                    .iter()
                    .map(|o| ((*o).to_owned(), Value::from(format!("arn:{}", r.address))))
                    .collect();
                let state = ResourceState {
                    kind: r.kind,
                    id: Some(r.address.to_string()),
                    attributes: BTreeMap::new(),
                    outputs,
                    dependencies: r.depends_on.clone(),
                };
                (r.address.clone(), state)
            })
            .collect();
        let spec = |address: Address| {
            ResourceSpec::resolve(&graph.resources[&address], &recorded).expect("resolves")
        };
        let written =
            |spec: &ResourceSpec| Value::Object(spec.attributes.clone().into_iter().collect());

        let subscription = spec(Address::keyed("sns_subscription.alerts", "ops@example.com"));
        assert_eq!(subscription.kind, Kind::SnsSubscription);
        let typed: SnsSubscription = subscription.decode().expect("decodes");
        assert_eq!(typed.endpoint, "ops@example.com");
        assert_eq!(serde_json::to_value(&typed).ok(), Some(written(&subscription)));

        let policy = spec(Address::new("sns_topic_policy.alerts"));
        let typed: SnsTopicPolicy = policy.decode().expect("decodes");
        assert!(matches!(typed.policy, Document::Policy(_)), "{typed:?}");
        assert_eq!(serde_json::to_value(&typed).ok(), Some(written(&policy)));
    }
}
