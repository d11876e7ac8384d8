//! Alerts: the EventBridge rule for STOPPED tasks and its SNS topic, policy and targets.

use super::Builder;
use crate::graph::Address;
use crate::graph::Expr;
use crate::graph::Kind;
use serde_json::json;
use std::collections::BTreeMap;

pub(super) fn alerts(b: &mut Builder<'_>, cluster: &Address) {
    let a = &b.manifest.alerts;
    if !a.stopped_tasks {
        return;
    }
    let topic_name = format!("{}-alerts", b.prefix);
    let topic = b.add_untyped(
        Address::new("sns_topic.alerts"),
        Kind::SnsTopic,
        vec![("name", Expr::str(topic_name)), ("tags", b.tags(None))],
        [],
    );
    let stopped = format!("{}-task-stopped", b.prefix);
    let failed = format!("{}-deployment-failed", b.prefix);
    let stopped_rule = b.add_untyped(
        Address::new("event_rule.stopped_tasks"),
        Kind::EventRule,
        vec![
            ("name", Expr::str(stopped.clone())),
            (
                "description",
                Expr::str(format!(
                    "Tasks of {} that stopped because a container failed",
                    b.prefix
                )),
            ),
            (
                "event_pattern",
                Expr::Map(BTreeMap::from([
                    ("source".to_owned(), Expr::Lit(json!(["aws.ecs"]))),
                    (
                        "detail-type".to_owned(),
                        Expr::Lit(json!(["ECS Task State Change"])),
                    ),
                    (
                        "detail".to_owned(),
                        Expr::Map(BTreeMap::from([
                            (
                                "clusterArn".to_owned(),
                                Expr::List(vec![Builder::r(cluster, "arn")]),
                            ),
                            ("lastStatus".to_owned(), Expr::Lit(json!(["STOPPED"]))),
                            (
                                "stopCode".to_owned(),
                                Expr::Lit(json!(["EssentialContainerExited", "TaskFailedToStart"])),
                            ),
                        ])),
                    ),
                ])),
            ),
            ("state", "ENABLED".into()),
            ("tags", b.tags(None)),
        ],
        [],
    );
    let failed_rule = b.add_untyped(
        Address::new("event_rule.deployment_failed"),
        Kind::EventRule,
        vec![
            ("name", Expr::str(failed.clone())),
            (
                "description",
                Expr::str(format!("Deployments of {} that failed or rolled back", b.prefix)),
            ),
            (
                "event_pattern",
                Expr::Lit(json!({
                    "source": ["aws.ecs"],
                    "detail-type": ["ECS Deployment State Change"],
                    "resources": [{"wildcard": format!("arn:aws:ecs:{}:*:service/{}/*", b.region, b.prefix)}],
                    "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]}
                })),
            ),
            ("state", "ENABLED".into()),
            ("tags", b.tags(None)),
        ],
        [],
    );
    // Without this policy EventBridge cannot publish to the topic (the reference's bug).
    let policy = b.add_untyped(
        Address::new("sns_topic_policy.alerts"),
        Kind::SnsTopicPolicy,
        vec![
            ("topic_arn", Builder::r(&topic, "arn")),
            (
                "policy",
                Expr::Map(BTreeMap::from([
                    ("Version".to_owned(), Expr::str("2012-10-17")),
                    (
                        "Statement".to_owned(),
                        Expr::List(vec![Expr::Map(BTreeMap::from([
                            ("Sid".to_owned(), Expr::str("EventBridgePublish")),
                            ("Effect".to_owned(), Expr::str("Allow")),
                            (
                                "Principal".to_owned(),
                                Expr::Lit(json!({"Service": "events.amazonaws.com"})),
                            ),
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
            ),
        ],
        [],
    );
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
        let mut attrs = vec![
            ("rule", Expr::str(rule_name)),
            ("target_id", "alerts".into()),
            ("arn", Builder::r(&topic, "arn")),
        ];
        if let Some(t) = input {
            attrs.push(("input_transformer", Expr::Lit(t)));
        }
        b.add_untyped(
            Address::new(&format!("event_target.{key}")),
            Kind::EventTarget,
            attrs,
            [rule.clone(), policy.clone()],
        );
    }
    for email in &a.email {
        b.add_untyped(
            Address::keyed("sns_subscription.alerts", email),
            Kind::SnsSubscription,
            vec![
                ("topic_arn", Builder::r(&topic, "arn")),
                ("protocol", "email".into()),
                ("endpoint", Expr::str(email.clone())),
            ],
            [],
        );
    }
}
