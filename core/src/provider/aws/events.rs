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

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{InputTransformer, Rule, RuleState, Tag, Target};
use serde_json::{Map, Value};

use super::ec2::{create_tags, visible_tags};
use super::live::{attrs, common_prefix, missing, recorded, report};
use super::ownership::{TagChanges, adopt, claim, invalid_tags, tag_changes};
use super::{AwsResultExt, Cx, Prior, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

const NOT_FOUND: &str = "ResourceNotFoundException";

pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    let found = match spec.kind {
        Kind::EventRule => find_rule(cx, spec).await?,
        Kind::EventTarget => {
            let (rule, target_id) = (spec.str("rule")?, spec.str("target_id")?);
            list_targets(cx, &spec.address, rule)
                .await?
                .iter()
                .find(|t| t.id() == target_id)
                .map(|t| target_live(rule, t))
        }
        other => return Err(super::not_implemented(&spec.address, other, "create")),
    };
    if let Some(live) = found {
        return adopt(spec, &live, |prior| update(cx, spec, prior)).await;
    }
    if spec.kind == Kind::EventRule {
        let out = put_rule(cx, spec, Some(&create_tags(cx.own, spec)?)).await?;
        let arn = out.ok_or_else(|| missing(&spec.address, "PutRule", "RuleArn"))?;
        return Ok(applied(spec, spec.str("name")?, Some(&arn)));
    }
    put_target(cx, spec).await?;
    Ok(applied(spec, &target_key(spec)?, None))
}

/// Sends the rule or target again when anything but tags differs (both calls are upserts of
/// the whole definition), and the rule's tag changes.
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let differs = |name: &str| spec.attributes.get(name) != prior.attributes.get(name);
    match spec.kind {
        Kind::EventRule => {
            let arn = prior
                .outputs
                .get("arn")
                .and_then(Value::as_str)
                .ok_or_else(|| ProviderError::Failed {
                    address: a.clone(),
                    what: format!(
                        "the state records no `arn` for it; {}",
                        super::UNRECORDED_ID
                    ),
                })?;
            if differs("description") || differs("event_pattern") || differs("state") {
                put_rule(cx, spec, None).await?;
            }
            if let Some(TagChanges { removed, set }) =
                tag_changes(cx.own, spec, prior.attributes.get("tags"))?
            {
                if !removed.is_empty() {
                    cx.aws
                        .events
                        .untag_resource()
                        .resource_arn(arn)
                        .set_tag_keys(Some(removed))
                        .send()
                        .await
                        .at(a, "UntagResource")?;
                }
                cx.aws
                    .events
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(events_tags(a, &set)?))
                    .send()
                    .await
                    .at(a, "TagResource")?;
            }
            Ok(applied(spec, prior.id, Some(arn)))
        }
        Kind::EventTarget => {
            if differs("arn") || differs("input_transformer") {
                put_target(cx, spec).await?;
            }
            Ok(applied(spec, prior.id, None))
        }
        other => Err(super::not_implemented(a, other, "update")),
    }
}

/// Deletes the rule (its targets are deleted before it, as they depend on it) or removes the
/// target; already gone is success.
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = match kind {
        Kind::EventRule => cx
            .aws
            .events
            .delete_rule()
            .name(prior.id)
            .send()
            .await
            .at(address, "DeleteRule")
            .map(drop),
        Kind::EventTarget => {
            let attr = |name: &str| prior.attributes.get(name).and_then(Value::as_str);
            let (Some(rule), Some(target_id)) = (attr("rule"), attr("target_id")) else {
                return Err(ProviderError::Failed {
                    address: address.clone(),
                    what: "the state records no `rule` and `target_id` for this target".to_owned(),
                });
            };
            match cx
                .aws
                .events
                .remove_targets()
                .rule(rule)
                .ids(target_id)
                .send()
                .await
                .at(address, "RemoveTargets")
            {
                Ok(out) => failed_entry(
                    address,
                    "RemoveTargets",
                    out.failed_entries()
                        .first()
                        .map(|e| (e.error_code(), e.error_message())),
                ),
                Err(e) => Err(e),
            }
        }
        other => return Err(super::not_implemented(address, other, "delete")),
    };
    tolerate(r, &[NOT_FOUND])
}

/// See the module documentation for the calls.
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let rules = recorded(resources, &[Kind::EventRule]);
    if !rules.is_empty() {
        let prefix = common_prefix(rules.iter().filter_map(|(_, r)| r.id.as_deref()));
        let listed = list_rules(cx, &Address::new(Kind::EventRule.as_str()), &prefix).await?;
        let by_name: BTreeMap<&str, &Rule> =
            listed.iter().filter_map(|r| Some((r.name()?, r))).collect();
        for (address, r) in rules {
            let live = r.id.as_deref().and_then(|id| by_name.get(id)).map(|rule| {
                rule_live(
                    RuleParts {
                        name: rule.name().unwrap_or_default(),
                        arn: rule.arn(),
                        description: rule.description(),
                        event_pattern: rule.event_pattern(),
                        state: rule.state(),
                    },
                    r.attributes.get("tags").cloned().unwrap_or(Value::Null),
                )
            });
            report(out, address, live);
        }
    }

    let mut targets: BTreeMap<&str, Vec<(&Address, &ResourceState)>> = BTreeMap::new();
    for (address, r) in resources
        .iter()
        .filter(|(_, r)| r.kind == Kind::EventTarget)
    {
        match r.attributes.get("rule").and_then(Value::as_str) {
            Some(rule) => targets.entry(rule).or_default().push((address, r)),
            None => {
                out.missing.insert(address.clone());
            }
        }
    }
    for (rule, recorded) in targets {
        let at = recorded.first().map_or_else(
            || Address::new(Kind::EventTarget.as_str()),
            |(a, _)| (*a).clone(),
        );
        // A rule that is gone takes its targets with it.
        let listed = match list_targets(cx, &at, rule).await {
            Err(e) if e.aws_code() == Some(NOT_FOUND) => Vec::new(),
            r => r?,
        };
        for (address, r) in recorded {
            let target_id = r.attributes.get("target_id").and_then(Value::as_str);
            let live = listed
                .iter()
                .find(|t| Some(t.id()) == target_id)
                .map(|t| target_live(rule, t));
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
    tags: Option<&BTreeMap<String, String>>,
) -> Result<Option<String>, ProviderError> {
    let a = &spec.address;
    let pattern = match spec.attributes.get("event_pattern") {
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => return Err(spec.invalid("event_pattern", "is missing or not a JSON object")),
    };
    let out = cx
        .aws
        .events
        .put_rule()
        .name(spec.str("name")?)
        .set_description(spec.opt_str("description").map(str::to_owned))
        .event_pattern(pattern)
        .state(RuleState::from(spec.str("state")?))
        .set_tags(tags.map(|t| events_tags(a, t)).transpose()?)
        .send()
        .await
        .at(a, "PutRule")?;
    Ok(out.rule_arn)
}

/// The rule of the spec's name, when it exists and carries this address's tags.
async fn find_rule(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Option<Live>, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let out = match cx
        .aws
        .events
        .describe_rule()
        .name(name)
        .send()
        .await
        .at(a, "DescribeRule")
    {
        Err(e) if e.aws_code() == Some(NOT_FOUND) => return Ok(None),
        r => r?,
    };
    let arn = out.arn().ok_or_else(|| missing(a, "DescribeRule", "Arn"))?;
    let tags: BTreeMap<String, String> = cx
        .aws
        .events
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .at(a, "ListTagsForResource")?
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    claim(cx.own, a, name, &tags)?;
    Ok(Some(rule_live(
        RuleParts {
            name,
            arn: Some(arn),
            description: out.description(),
            event_pattern: out.event_pattern(),
            state: out.state(),
        },
        visible_tags(&tags),
    )))
}

async fn list_rules(cx: Cx<'_>, a: &Address, prefix: &str) -> Result<Vec<Rule>, ProviderError> {
    let mut rules = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = cx
            .aws
            .events
            .list_rules()
            .set_name_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
            .set_next_token(next.take())
            .send()
            .await
            .at(a, "ListRules")?;
        rules.extend(out.rules().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return Ok(rules),
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

fn rule_live(parts: RuleParts<'_>, tags: Value) -> Live {
    let opt = |v: Option<&str>| v.map_or(Value::Null, Value::from);
    let pattern = parts.event_pattern.map_or(Value::Null, |text| {
        serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
    });
    Live {
        kind: Kind::EventRule,
        id: parts.name.to_owned(),
        attributes: attrs([
            ("name", Value::from(parts.name)),
            ("description", opt(parts.description)),
            ("event_pattern", pattern),
            ("state", opt(parts.state.map(RuleState::as_str))),
            ("tags", tags),
        ]),
        outputs: attrs([("arn", opt(parts.arn))]),
    }
}

fn events_tags(a: &Address, tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid_tags(a, &e))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Targets

fn target_key(spec: &ResourceSpec) -> Result<String, ProviderError> {
    Ok(format!("{}/{}", spec.str("rule")?, spec.str("target_id")?))
}

async fn put_target(cx: Cx<'_>, spec: &ResourceSpec) -> Result<(), ProviderError> {
    let a = &spec.address;
    let mut target = Target::builder()
        .id(spec.str("target_id")?)
        .arn(spec.str("arn")?);
    match spec.attributes.get("input_transformer") {
        None | Some(Value::Null) => {}
        Some(Value::Object(t)) => target = target.input_transformer(input_transformer(spec, t)?),
        Some(_) => return Err(spec.invalid("input_transformer", "is not a table")),
    }
    let target = target
        .build()
        .map_err(|e| spec.invalid("target_id", &e.to_string()))?;
    let out = cx
        .aws
        .events
        .put_targets()
        .rule(spec.str("rule")?)
        .targets(target)
        .send()
        .await
        .at(a, "PutTargets")?;
    failed_entry(
        a,
        "PutTargets",
        out.failed_entries()
            .first()
            .map(|e| (e.error_code(), e.error_message())),
    )
}

fn input_transformer(
    spec: &ResourceSpec,
    t: &Map<String, Value>,
) -> Result<InputTransformer, ProviderError> {
    let invalid = |reason: &str| spec.invalid("input_transformer", reason);
    let paths = match t.get("input_paths") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(
            m.iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_owned()))
                        .ok_or_else(|| invalid("has an `input_paths` value that is not a string"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err(invalid("has an `input_paths` that is not a table")),
    };
    let template = t
        .get("input_template")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("has no `input_template` string"))?;
    InputTransformer::builder()
        .set_input_paths_map(paths)
        .input_template(template)
        .build()
        .map_err(|e| invalid(&e.to_string()))
}

/// The first entry EventBridge refused in a batch call, as an AWS error.
fn failed_entry(
    a: &Address,
    operation: &'static str,
    entry: Option<(Option<&str>, Option<&str>)>,
) -> Result<(), ProviderError> {
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

async fn list_targets(cx: Cx<'_>, a: &Address, rule: &str) -> Result<Vec<Target>, ProviderError> {
    let mut targets = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = cx
            .aws
            .events
            .list_targets_by_rule()
            .rule(rule)
            .set_next_token(next.take())
            .send()
            .await
            .at(a, "ListTargetsByRule")?;
        targets.extend(out.targets().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return Ok(targets),
        }
    }
}

/// The target in the desired shape: `input_transformer` only when it has one, as the desired
/// attributes leave it out otherwise.
fn target_live(rule: &str, t: &Target) -> Live {
    let mut attributes = attrs([
        ("rule", Value::from(rule)),
        ("target_id", Value::from(t.id())),
        ("arn", Value::from(t.arn())),
    ]);
    if let Some(it) = t.input_transformer() {
        let mut m = Map::new();
        if let Some(paths) = it.input_paths_map() {
            let sorted: BTreeMap<&String, &String> = paths.iter().collect();
            m.insert(
                "input_paths".to_owned(),
                Value::Object(
                    sorted
                        .into_iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect(),
                ),
            );
        }
        m.insert(
            "input_template".to_owned(),
            Value::from(it.input_template()),
        );
        attributes.insert("input_transformer".to_owned(), Value::Object(m));
    }
    Live {
        kind: Kind::EventTarget,
        id: format!("{rule}/{}", t.id()),
        attributes,
        outputs: BTreeMap::new(),
    }
}

fn applied(spec: &ResourceSpec, id: &str, arn: Option<&str>) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs: arn.map_or_else(BTreeMap::new, |arn| attrs([("arn", Value::from(arn))])),
        adopted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_target_reads_like_the_desired_one() {
        let transformer = json!({
            "input_paths": {"task": "$.detail.taskArn", "code": "$.detail.stopCode"},
            "input_template": "\"Task <task> stopped (<code>)\""
        });
        let spec = ResourceSpec {
            address: Address::new("event_target.stopped_tasks"),
            kind: Kind::EventTarget,
            attributes: attrs([
                ("rule", json!("acceptance-default-task-stopped")),
                ("target_id", json!("alerts")),
                ("arn", json!("arn:aws:sns:eu-west-1:1:alerts")),
                ("input_transformer", transformer.clone()),
            ]),
        };
        let Some(Value::Object(t)) = spec.attributes.get("input_transformer") else {
            panic!("a table")
        };
        let target = Target::builder()
            .id("alerts")
            .arn("arn:aws:sns:eu-west-1:1:alerts")
            .input_transformer(input_transformer(&spec, t).expect("valid"))
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
        assert!(
            !target_live("r", &plain)
                .attributes
                .contains_key("input_transformer")
        );
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
            json!({}),
        );
        assert_eq!(
            live.attributes["event_pattern"],
            json!({"detail-type": ["x"], "source": ["aws.ecs"]})
        );
        assert_eq!(live.attributes["state"], json!("ENABLED"));
    }
}
