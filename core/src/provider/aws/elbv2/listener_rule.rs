//! Listener rules: found by their natural key (listener + priority); conditions and target are
//! changed with `ModifyRule`, the priority with `SetRulePriorities`.

use crate::provider::aws::send;
use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, PathPatternConditionConfig, Rule,
    RuleCondition, RulePriorityPair,
};

use super::super::ec2::{Tagged, visible};
use super::super::live::{all, found_or_none};
use super::super::once::send_once;
use super::super::ownership::create_tags;
use super::super::{AwsResultExt, Cx, Done, Manage, New, Prior, remove_request};
use super::{batched, claim_found, created_arn};
use crate::graph::Address;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, RuleConditions, Tags};
use crate::provider::{Applied, Live, ResourceSpec};

const PATH_PATTERN: &str = "path-pattern";
const HOST_HEADER: &str = "host-header";

impl Manage for attrs::ListenerRule {
    /// The rule of the same priority on the listener, when its tags say it is this address's.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let priority = want.priority.to_string();
        let rules = all!(cx.elbv2.describe_rules().listener_arn(&want.listener_arn), a)?;
        let found = rules.into_iter().find(|r| r.priority() == Some(priority.as_str()));
        claim_found(cx, a, found, Rule::rule_arn, |r, tags| live(r, tags, Some(&want.listener_arn)))
            .await
    }

    /// Creates the rule.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send_once!(
            a,
            cx.elbv2
                .create_rule()
                .listener_arn(&want.listener_arn)
                .priority(priority(spec, &want)?)
                .set_conditions(Some(conditions(spec, &want.conditions)?))
                .actions(forward(spec, &want)?)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = created_arn(a, "CreateRule", "RuleArn", out.rules(), Rule::rule_arn)?;
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// Sets the conditions and target, the priority and the tags that differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::ListenerRule = prior.decode()?;
        let arn = prior.id;
        let elbv2 = &cx.elbv2;
        if want.conditions != was.conditions || want.forward_to != was.forward_to {
            send!(
                a,
                elbv2
                    .modify_rule()
                    .rule_arn(arn)
                    .set_conditions(Some(conditions(spec, &want.conditions)?))
                    .actions(forward(spec, &want)?)
            )?;
        }
        if want.priority != was.priority {
            send!(
                a,
                elbv2.set_rule_priorities().rule_priorities(
                    RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(priority(spec, &want)?)
                        .build(),
                )
            )?;
        }
        super::update_tags(cx, a, arn, &was.tags, &want.tags).await?;
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// Deletes the rule; already gone (or its listener gone) is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let gone = ["RuleNotFound", "ListenerNotFound"];
        remove_request(cx, prior.address, &[], &gone, || {
            cx.elbv2.delete_rule().rule_arn(prior.id).send()
        })
        .await
    }
}

fn priority(spec: &ResourceSpec, want: &attrs::ListenerRule) -> Done<i32> {
    i32::try_from(want.priority)
        .map_err(|_| spec.invalid("priority", "is not a whole number that fits 32 bits"))
}

/// The rule's `forward_to` target group as its one action.
fn forward(spec: &ResourceSpec, want: &attrs::ListenerRule) -> Done<Action> {
    let target_group = spec.required("forward_to", want.forward_to.as_ref())?;
    Ok(Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group).build())
}

/// The conditions as AWS takes them (the `*Config` forms, which allow several values).
fn conditions(spec: &ResourceSpec, c: &RuleConditions) -> Done<Vec<RuleCondition>> {
    if let Some(k) = c.other.keys().next() {
        return Err(spec.invalid("conditions", &format!("has the unknown key `{k}`")));
    }
    let mut out = Vec::new();
    if let Some(paths) = &c.path_patterns {
        out.push(
            RuleCondition::builder()
                .field(PATH_PATTERN)
                .path_pattern_config(
                    PathPatternConditionConfig::builder().set_values(Some(paths.clone())).build(),
                )
                .build(),
        );
    }
    if let Some(hosts) = &c.host_headers {
        out.push(
            RuleCondition::builder()
                .field(HOST_HEADER)
                .host_header_config(
                    HostHeaderConditionConfig::builder().set_values(Some(hosts.clone())).build(),
                )
                .build(),
        );
    }
    Ok(out)
}

/// Rule conditions in the shape of `conditions`; a field ecsops does not set shows under its
/// AWS name, so it still reads as a difference.
fn conditions_of(conditions: &[RuleCondition]) -> RuleConditions {
    let mut out = RuleConditions::default();
    for c in conditions {
        let Some(field) = c.field() else { continue };
        let config = match field {
            PATH_PATTERN => c.path_pattern_config().map(PathPatternConditionConfig::values),
            HOST_HEADER => c.host_header_config().map(HostHeaderConditionConfig::values),
            _ => None,
        };
        let values = config.filter(|v| !v.is_empty()).unwrap_or_else(|| c.values()).to_vec();
        match field {
            PATH_PATTERN => out.path_patterns = Some(values),
            HOST_HEADER => out.host_headers = Some(values),
            other => {
                out.other.insert(other.to_owned(), values);
            }
        }
    }
    out
}

/// Rules by ARN; when one is gone, the rules of each recorded listener (one call per listener;
/// a gone listener has none).
pub(super) async fn describe(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
    listeners: &BTreeSet<String>,
) -> Done<Vec<Rule>> {
    let by_arns = |arns: Vec<String>| async move {
        all!(cx.elbv2.describe_rules().set_rule_arns(Some(arns)), a)
    };
    let per_listener = || async move {
        let mut rules = Vec::new();
        for listener in listeners {
            let r = all!(cx.elbv2.describe_rules().listener_arn(listener), a);
            rules.extend(
                found_or_none(r, "ListenerNotFound")?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.is_default() != Some(true)),
            );
        }
        Ok(rules)
    };
    batched(arns, &["RuleNotFound"], by_arns, per_listener).await
}

/// The live rule. A rule does not name its listener: its ARN is the listener's ARN with one
/// more segment (`listener-rule/app/<lb>/<id>/<listener id>/<rule id>`).
pub(super) fn live(r: &Rule, tags: Tags, listener: Option<&str>) -> Option<Tagged> {
    let arn = r.rule_arn()?;
    let listener = listener.map(str::to_owned).or_else(|| {
        let (parent, _) = arn.rsplit_once('/')?;
        Some(parent.replacen(":listener-rule/", ":listener/", 1))
    })?;
    let priority: u32 = r.priority()?.parse().ok()?;
    let forward_to =
        r.actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward)).and_then(|a| {
            a.target_group_arn()
                .or_else(|| a.forward_config()?.target_groups().first()?.target_group_arn())
        });
    let attributes = attrs::ListenerRule::<Resolved> {
        listener_arn: listener,
        priority,
        conditions: conditions_of(r.conditions()),
        forward_to: forward_to.map(str::to_owned),
        tags: visible(&tags),
    };
    Some(Tagged::of(arn, tags, &attributes, &ArnOutputs::of(arn)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::graph::Kind;

    #[test]
    fn rules_read_back_their_listener_conditions_and_target() {
        let spec = ResourceSpec {
            address: Address::keyed("listener_rule", "web"),
            kind: Kind::ListenerRule,
            attributes: BTreeMap::new(),
        };
        let want = attrs::ListenerRule {
            listener_arn: "arn:listener".to_owned(),
            priority: 10,
            conditions: serde_json::from_value(
                json!({"path_patterns": ["/api/*"], "host_headers": ["a.example", "b.example"]}),
            )
            .expect("conditions"),
            forward_to: Some("arn:tg".to_owned()),
            tags: Tags::new(),
        };
        let rule = Rule::builder()
            .rule_arn("arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/lb/1/2/3")
            .priority("10")
            .set_conditions(Some(conditions(&spec, &want.conditions).expect("conditions")))
            .actions(forward(&spec, &want).expect("action"))
            .build();
        let live = live(&rule, Tags::new(), None).expect("live").live;
        assert_eq!(
            live.attributes["listener_arn"],
            json!("arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb/1/2")
        );
        assert_eq!(live.attributes["priority"], json!(10));
        assert_eq!(
            live.attributes["conditions"],
            serde_json::to_value(&want.conditions).expect("json")
        );
        assert_eq!(live.attributes["forward_to"], json!("arn:tg"));
        let bad: RuleConditions =
            serde_json::from_value(json!({"methods": ["GET"]})).expect("decodes");
        assert!(conditions(&spec, &bad).is_err());
    }
}
