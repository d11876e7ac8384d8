//! EventBridge: rules on the default event bus and their targets.
//!
//! A rule is named deterministically and addressed by its name (the state id). `PutRule` is an
//! upsert, so create first looks the name up (`DescribeRule`) and adopts a rule that carries
//! this lineage's tags, refusing anyone else's instead of overwriting it. Refresh is ONE
//! `ListRules` (paginated) whose name prefix is the longest common prefix of the recorded
//! names; it has no tags (reading them costs one `ListTagsForResource` per rule), so a rule's
//! live `tags` are the recorded ones. Event patterns compare as parsed JSON: the desired one is
//! a JSON object, AWS answers text.
//!
//! A target has no tags and no ARN of its own: it is identified by its rule and target id
//! (state id `<rule>/<target_id>`), and `PutTargets` is an upsert of that pair. Refresh lists
//! the targets of each rule that has recorded targets: one `ListTargetsByRule` per rule, as
//! EventBridge has no call that lists the targets of several rules.
//!
//! The SDK has no paginators for `ListRules` and `ListTargetsByRule` (the service model
//! declares none), so those two follow `NextToken` by hand instead of going through `all!`.

use crate::provider::aws::send;
use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_eventbridge::types::{InputTransformer, Rule, RuleState, Tag, Target};
use serde_json::Value;

use super::ec2::visible;
use super::live::{common_prefix, found_or_none, missing, recorded, report};
use super::ownership::{SdkTags, claim, owned_tags, sdk_tags, send_tags, tag_map_of};
use super::{Cx, Done, Manage, New, Prior, RECORDED, Recorded, remove, remove_request};
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, NoOutputs, Resolved, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec, decode};

const NOT_FOUND: &str = "ResourceNotFoundException";

impl Manage for attrs::EventRule {
    /// The rule of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let name = want.name.as_str();
        let out = match send!(a, cx.events.describe_rule().name(name)) {
            Err(e) if e.aws_code() == Some(NOT_FOUND) => return Ok(None),
            r => r?,
        };
        let arn = out.arn().ok_or_else(|| missing(a, "DescribeRule", "Arn"))?;
        let listed = send!(a, cx.events.list_tags_for_resource().resource_arn(arn))?;
        let tags = tag_map_of(listed.tags(), |t| (Some(t.key()), Some(t.value())));
        claim(cx.own, a, name, &tags)?;
        Ok(Some(rule_live(
            RuleParts {
                name,
                arn: Some(arn),
                description: out.description(),
                event_pattern: out.event_pattern(),
                state: out.state(),
            },
            visible(&tags),
        )))
    }

    /// Puts the rule with its tags.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let tags = owned_tags(cx.own, a, &want.tags);
        let arn = put_rule(cx, spec, &want, Some(&tags))
            .await?
            .ok_or_else(|| missing(a, "PutRule", "RuleArn"))?;
        Ok(Applied::new(spec, &want.name, &ArnOutputs { arn }))
    }

    /// Puts the rule again when its definition differs (`PutRule` is an upsert of all of it),
    /// then sends the tag changes.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let outputs = prior.outputs::<Self>()?;
        let was: attrs::EventRule = prior.decode()?;
        if want.description != was.description
            || want.event_pattern != was.event_pattern
            || want.state != was.state
        {
            put_rule(cx, spec, &want, None).await?;
        }
        let arn = outputs.arn.as_str();
        send_tags!(
            cx, a, &was.tags, &want.tags,
            untag: cx.events.untag_resource().resource_arn(arn),
            tag: cx.events.tag_resource().resource_arn(arn),
        )?;
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Deletes the rule (its targets are deleted before it, as they depend on it); already
    /// gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(cx, prior.address, &[], &[NOT_FOUND], || {
            cx.events.delete_rule().name(prior.id).send()
        })
        .await
    }
}

impl Manage for attrs::EventTarget {
    /// The rule's target of that id.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let targets = list_targets(cx, &spec.address, &want.rule).await?;
        let mut found = targets.iter().filter(|t| t.id() == want.target_id);
        Ok(found.next().map(|t| target_live(&want.rule, t)))
    }

    /// Puts the target.
    async fn create(cx: Cx<'_>, New { spec, .. }: New<'_>, want: Self) -> Done {
        put_target(cx, spec, &want).await?;
        let id = format!("{}/{}", want.rule, want.target_id);
        Ok(Applied::new(spec, id, &NoOutputs {}))
    }

    /// Puts the target again when what it delivers differs (`PutTargets` is an upsert).
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let was: attrs::EventTarget = prior.decode()?;
        if want.arn != was.arn || want.input_transformer != was.input_transformer {
            put_target(cx, spec, &want).await?;
        }
        Ok(Applied::new(spec, prior.id, &NoOutputs {}))
    }

    /// Removes the target from its rule; already gone (or the rule gone) is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let a = prior.address;
        let was: attrs::EventTarget = prior.decode().map_err(|_| ProviderError::Failed {
            address: a.clone(),
            what: "the state records no `rule` and `target_id` for this target".to_owned(),
        })?;
        remove(cx, &[], &[NOT_FOUND], || async {
            let out = send!(a, cx.events.remove_targets().rule(&was.rule).ids(&was.target_id))?;
            failed_entry(
                a,
                "RemoveTargets",
                out.failed_entries().first().map(|e| (e.error_code(), e.error_message())),
            )
        })
        .await
    }
}

/// See the module documentation for the calls.
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let rules = recorded(resources, &[Kind::EventRule]);
    if !rules.is_empty() {
        let prefix = common_prefix(rules.iter().filter_map(|(_, r)| r.id.as_deref()));
        let listed = list_rules(cx, &Address::new(Kind::EventRule.as_str()), &prefix).await?;
        let by_name: BTreeMap<&str, &Rule> =
            listed.iter().filter_map(|r| Some((r.name()?, r))).collect();
        for (address, r) in rules {
            let live = match r.id.as_deref().and_then(|id| by_name.get(id)) {
                Some(rule) => {
                    let recorded: attrs::EventRule = Prior::of(address, r)?.decode()?;
                    Some(rule_live(
                        RuleParts {
                            name: rule.name().unwrap_or_default(),
                            arn: rule.arn(),
                            description: rule.description(),
                            event_pattern: rule.event_pattern(),
                            state: rule.state(),
                        },
                        recorded.tags,
                    ))
                }
                None => None,
            };
            report(out, address, live);
        }
    }

    let mut targets: BTreeMap<String, Vec<(&Address, attrs::EventTarget)>> = BTreeMap::new();
    for (address, r) in recorded(resources, &[Kind::EventTarget]) {
        match decode::<attrs::EventTarget>(address, Some(RECORDED), &r.attributes) {
            Ok(t) => targets.entry(t.rule.clone()).or_default().push((address, t)),
            // Without its rule a target cannot be looked up.
            Err(_) => {
                out.missing.insert(address.clone());
            }
        }
    }
    for (rule, recorded) in targets {
        let at = recorded
            .first()
            .map_or_else(|| Address::new(Kind::EventTarget.as_str()), |(a, _)| (*a).clone());
        // A rule that is gone takes its targets with it.
        let listed =
            found_or_none(list_targets(cx, &at, &rule).await, NOT_FOUND)?.unwrap_or_default();
        for (address, r) in recorded {
            let live = listed.iter().find(|t| t.id() == r.target_id).map(|t| target_live(&rule, t));
            report(out, address, live);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rules

/// Puts the rule's definition; `tags` only on create (`PutRule` ignores them on an existing
/// rule). Answers the rule's ARN.
async fn put_rule(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: &attrs::EventRule,
    tags: Option<&Tags>,
) -> Done<Option<String>> {
    let a = &spec.address;
    let pattern = match &want.event_pattern {
        v @ Value::Object(_) => v.to_string(),
        _ => return Err(spec.invalid("event_pattern", "is missing or not a JSON object")),
    };
    let out = send!(
        a,
        cx.events
            .put_rule()
            .name(&want.name)
            .set_description(want.description.clone())
            .event_pattern(pattern)
            .state(RuleState::from(want.state.as_str()))
            .set_tags(tags.map(|t| SdkTags::of(a, t)).transpose()?)
    )?;
    Ok(out.rule_arn)
}

async fn list_rules(cx: Cx<'_>, a: &Address, prefix: &str) -> Done<Vec<Rule>> {
    follow_tokens(|next| async move {
        let out = send!(
            a,
            cx.events
                .list_rules()
                .set_name_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .set_next_token(next)
        )?;
        Ok((out.rules.unwrap_or_default(), out.next_token))
    })
    .await
}

/// Every item of a listing the SDK has no paginator for: `page` answers one page's items and
/// its `NextToken` when it was given the previous one; an empty token ends it as none does.
async fn follow_tokens<T, Fut>(mut page: impl FnMut(Option<String>) -> Fut) -> Done<Vec<T>>
where
    Fut: Future<Output = Done<(Vec<T>, Option<String>)>>,
{
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let (got, token) = page(next.take()).await?;
        items.extend(got);
        match token {
            Some(t) if !t.is_empty() => next = Some(t),
            _ => return Ok(items),
        }
    }
}

/// What `DescribeRule` and `ListRules` both report of a rule.
#[derive(Clone, Copy)]
struct RuleParts<'a> {
    name: &'a str,
    arn: Option<&'a str>,
    description: Option<&'a str>,
    event_pattern: Option<&'a str>,
    state: Option<&'a RuleState>,
}

fn rule_live(parts: RuleParts<'_>, tags: Tags) -> Live {
    let event_pattern = parts.event_pattern.map_or(Value::Null, |text| {
        serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
    });
    Live::new(
        parts.name,
        &attrs::EventRule::<Resolved> {
            name: parts.name.to_owned(),
            description: parts.description.map(str::to_owned),
            event_pattern,
            state: parts.state.map(RuleState::as_str).unwrap_or_default().to_owned(),
            tags,
        },
        &ArnOutputs::of(parts.arn.unwrap_or_default()),
    )
}

impl SdkTags for Vec<Tag> {
    fn of(a: &Address, tags: &Tags) -> Done<Self> {
        sdk_tags(a, tags, |k, v| Tag::builder().key(k).value(v).build())
    }
}

// ---------------------------------------------------------------------------------------------
// Targets

async fn put_target(cx: Cx<'_>, spec: &ResourceSpec, want: &attrs::EventTarget) -> Done<()> {
    let a = &spec.address;
    let mut target = Target::builder().id(&want.target_id).arn(&want.arn);
    if let Some(t) = &want.input_transformer {
        target = target.input_transformer(input_transformer(spec, t)?);
    }
    let target = target.build().map_err(|e| spec.invalid("target_id", &e.to_string()))?;
    let out = send!(a, cx.events.put_targets().rule(&want.rule).targets(target))?;
    failed_entry(
        a,
        "PutTargets",
        out.failed_entries().first().map(|e| (e.error_code(), e.error_message())),
    )
}

fn input_transformer(spec: &ResourceSpec, t: &attrs::InputTransformer) -> Done<InputTransformer> {
    InputTransformer::builder()
        .set_input_paths_map(t.input_paths.clone().map(|m| m.into_iter().collect()))
        .input_template(&t.input_template)
        .build()
        .map_err(|e| spec.invalid("input_transformer", &e.to_string()))
}

/// The first entry EventBridge refused in a batch call, as an AWS error.
fn failed_entry(
    a: &Address,
    operation: &'static str,
    entry: Option<(Option<&str>, Option<&str>)>,
) -> Done<()> {
    match entry {
        None => Ok(()),
        Some((code, message)) => Err(ProviderError::Aws {
            address: a.clone(),
            operation,
            code: code.unwrap_or("FailedEntry").to_owned(),
            message: message.unwrap_or_default().to_owned(),
        }),
    }
}

async fn list_targets(cx: Cx<'_>, a: &Address, rule: &str) -> Done<Vec<Target>> {
    follow_tokens(|next| async move {
        let out = send!(a, cx.events.list_targets_by_rule().rule(rule).set_next_token(next))?;
        Ok((out.targets.unwrap_or_default(), out.next_token))
    })
    .await
}

/// The target in the desired shape: `input_transformer` only when it has one, as the desired
/// attributes leave it out otherwise.
fn target_live(rule: &str, t: &Target) -> Live {
    Live::new(
        format!("{rule}/{}", t.id()),
        &attrs::EventTarget::<Resolved> {
            rule: rule.to_owned(),
            target_id: t.id().to_owned(),
            arn: t.arn().to_owned(),
            input_transformer: t.input_transformer().map(|it| attrs::InputTransformer {
                input_paths: it
                    .input_paths_map()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                input_template: it.input_template().to_owned(),
            }),
        },
        &NoOutputs {},
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_target_reads_like_the_desired_one() {
        let desired = json!({
            "rule": "acceptance-default-task-stopped",
            "target_id": "alerts",
            "arn": "arn:aws:sns:eu-west-1:1:alerts",
            "input_transformer": {
                "input_paths": {"task": "$.detail.taskArn", "code": "$.detail.stopCode"},
                "input_template": "\"Task <task> stopped (<code>)\""
            }
        });
        let spec = ResourceSpec {
            address: Address::new("event_target.stopped_tasks"),
            kind: Kind::EventTarget,
            attributes: serde_json::from_value(desired.clone()).expect("a map"),
        };
        let want: attrs::EventTarget = spec.decode().expect("decodes");
        let transformer = want.input_transformer.as_ref().expect("has one");
        let target = Target::builder()
            .id("alerts")
            .arn("arn:aws:sns:eu-west-1:1:alerts")
            .input_transformer(input_transformer(&spec, transformer).expect("valid"))
            .build()
            .expect("target");
        let live = target_live("acceptance-default-task-stopped", &target);
        assert_eq!(live.attributes, spec.attributes);
        assert_eq!(live.id, "acceptance-default-task-stopped/alerts");

        let plain = Target::builder()
            .id("alerts")
            .arn("arn:aws:sns:eu-west-1:1:alerts")
            .build()
            .expect("target");
        let live = serde_json::to_value(target_live("r", &plain).attributes).expect("json");
        assert_eq!(live.get("input_transformer"), None);
    }

    #[test]
    fn event_patterns_compare_as_json() {
        let live = rule_live(
            RuleParts {
                name: "r",
                arn: Some("arn:aws:events:eu-west-1:1:rule/r"),
                description: Some("d"),
                event_pattern: Some(r#"{"source": ["aws.ecs"], "detail-type": ["x"]}"#),
                state: Some(&RuleState::Enabled),
            },
            Tags::new(),
        );
        let live = serde_json::to_value(&live.attributes).expect("json");
        assert_eq!(live["event_pattern"], json!({"detail-type": ["x"], "source": ["aws.ecs"]}));
        assert_eq!(live["state"], json!("ENABLED"));
    }
}
