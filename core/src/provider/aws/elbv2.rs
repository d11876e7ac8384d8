//! The ELBv2 family: application load balancers, target groups, listeners and listener rules.
//!
//! Load balancers and target groups are named, so create looks them up by their deterministic
//! name first; listeners are found by their natural key (load balancer + port) and rules by
//! theirs (listener + priority). What is found is adopted only when its tags claim this address
//! and this state lineage; anything else under our name is refused. ELBv2 has no idempotency
//! tokens, so that lookup is the only guard against twins.
//!
//! Refresh sends one describe per kind, filtered by the recorded ARNs, and one `DescribeTags`
//! for every ARN found (20 per call, the API's limit). AWS fails a filtered describe as a whole
//! when one ARN is gone; the describe then runs again for everything (load balancers, target
//! groups) or per parent (listeners per load balancer, rules per listener) and the answer is
//! narrowed to the recorded ARNs, so the gone ones show as missing. Load balancer attributes
//! (`idle_timeout`, `deletion_protection`, `drop_invalid_header_fields`) and the target group's
//! `deregistration_delay` are readable only with one call per resource: refresh keeps their
//! recorded values.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Instant;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig,
    Listener, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum, Matcher, PathPatternConditionConfig, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, Rule, RuleCondition, RulePriorityPair, Tag, TargetGroup,
    TargetGroupAttribute, TargetTypeEnum,
};
use serde_json::{Map, Value, json};

use super::ec2::{Tagged, create_tags, settle, visible_tags};
use super::live::{as_set, missing};
use super::once::send_once;
use super::ownership::{adopt, claim};
use super::{AwsResultExt, Cx, Prior, retry_while, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{
    Applied, Live, ProviderError, Refresh, ResourceSpec, is_bookkeeping_tag, tags_of,
};
use crate::state::ResourceState;

/// The most ARNs (or names) one `DescribeTags` accepts; the filtered describes get the same.
pub(super) const PER_CALL: usize = 20;

/// Load balancer attributes as `(attribute, AWS key)`.
const LB_ATTRIBUTES: [(&str, &str); 3] = [
    ("idle_timeout", "idle_timeout.timeout_seconds"),
    ("deletion_protection", "deletion_protection.enabled"),
    (
        "drop_invalid_header_fields",
        "routing.http.drop_invalid_header_fields.enabled",
    ),
];

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

// ---------------------------------------------------------------------------------------------
// Entry points (dispatched from `aws::AwsProvider`)

/// Creates the resource, or adopts the one found under its name (natural key) when its tags
/// say it is this address's, and brings it to the spec.
pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    if let Some(live) = find(cx, spec).await? {
        return adopt(spec, &live, |prior| update(cx, spec, prior)).await;
    }
    match spec.kind {
        Kind::LoadBalancer => create_load_balancer(cx, spec).await,
        Kind::TargetGroup => create_target_group(cx, spec).await,
        Kind::Listener => create_listener(cx, spec).await,
        Kind::ListenerRule => create_rule(cx, spec).await,
        other => Err(super::not_implemented(&spec.address, other, "create")),
    }
}

/// Brings an existing resource to the spec in place, calling AWS only for what differs.
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let arn = prior.id;
    let differs = |name: &str| spec.attributes.get(name) != prior.attributes.get(name);
    let elbv2 = &cx.aws.elbv2;
    match spec.kind {
        Kind::LoadBalancer => {
            if !same_set(
                prior.attributes.get("subnets"),
                spec.attributes.get("subnets"),
            ) {
                elbv2
                    .set_subnets()
                    .load_balancer_arn(arn)
                    .set_subnets(Some(spec.strings("subnets")?))
                    .send()
                    .await
                    .at(a, "SetSubnets")?;
            }
            if !same_set(
                prior.attributes.get("security_groups"),
                spec.attributes.get("security_groups"),
            ) {
                elbv2
                    .set_security_groups()
                    .load_balancer_arn(arn)
                    .set_security_groups(Some(spec.strings("security_groups")?))
                    .send()
                    .await
                    .at(a, "SetSecurityGroups")?;
            }
            let changed: Vec<&str> = LB_ATTRIBUTES
                .iter()
                .map(|(name, _)| *name)
                .filter(|name| differs(name))
                .collect();
            set_load_balancer_attributes(cx, spec, arn, &changed).await?;
        }
        Kind::TargetGroup => {
            if differs("health_check") {
                let hc = HealthCheck::of(spec)?;
                elbv2
                    .modify_target_group()
                    .target_group_arn(arn)
                    .set_health_check_protocol(hc.protocol.as_deref().map(ProtocolEnum::from))
                    .set_health_check_port(hc.port)
                    .set_health_check_path(hc.path)
                    .set_health_check_interval_seconds(hc.interval)
                    .set_health_check_timeout_seconds(hc.timeout)
                    .set_healthy_threshold_count(hc.healthy_threshold)
                    .set_unhealthy_threshold_count(hc.unhealthy_threshold)
                    .set_matcher(hc.matcher.map(|m| Matcher::builder().http_code(m).build()))
                    .send()
                    .await
                    .at(a, "ModifyTargetGroup")?;
            }
            if differs("deregistration_delay") {
                set_deregistration_delay(cx, spec, arn).await?;
            }
        }
        Kind::Listener => {
            if [
                "port",
                "protocol",
                "default_action",
                "certificate_arn",
                "ssl_policy",
            ]
            .iter()
            .any(|name| differs(name))
            {
                elbv2
                    .modify_listener()
                    .listener_arn(arn)
                    .port(spec.int("port")?)
                    .protocol(ProtocolEnum::from(spec.str("protocol")?))
                    .default_actions(default_action(spec)?)
                    .set_certificates(certificate(spec))
                    .set_ssl_policy(spec.opt_str("ssl_policy").map(str::to_owned))
                    .send()
                    .await
                    .at(a, "ModifyListener")?;
            }
        }
        Kind::ListenerRule => {
            if differs("conditions") || differs("forward_to") {
                elbv2
                    .modify_rule()
                    .rule_arn(arn)
                    .set_conditions(Some(conditions(spec)?))
                    .actions(forward(spec)?)
                    .send()
                    .await
                    .at(a, "ModifyRule")?;
            }
            if differs("priority") {
                elbv2
                    .set_rule_priorities()
                    .rule_priorities(
                        RulePriorityPair::builder()
                            .rule_arn(arn)
                            .priority(spec.int("priority")?)
                            .build(),
                    )
                    .send()
                    .await
                    .at(a, "SetRulePriorities")?;
            }
        }
        other => return Err(super::not_implemented(a, other, "update")),
    }
    sync_tags(cx, spec, arn, prior.attributes.get("tags")).await?;
    let mut outputs = prior.outputs.clone();
    outputs.insert("arn".to_owned(), Value::from(arn));
    Ok(applied(spec, arn, outputs))
}

/// Deletes the resource; already gone is success. A load balancer is waited for until AWS no
/// longer lists it; a target group is retried while the rule using it is still being deleted.
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let arn = prior.id;
    let elbv2 = &cx.aws.elbv2;
    match kind {
        Kind::LoadBalancer => {
            if prior.attributes.get("deletion_protection") == Some(&Value::Bool(true)) {
                return Err(ProviderError::Failed {
                    address: address.clone(),
                    what: "deletion protection is on; set `deletion_protection = false` for this \
                           load balancer, apply, then delete it"
                        .to_owned(),
                });
            }
            let r = elbv2
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .at(address, "DeleteLoadBalancer")
                .map(drop);
            tolerate(r, &["LoadBalancerNotFound"])?;
            wait_load_balancer(cx, address, arn, Until::Gone).await
        }
        Kind::TargetGroup => {
            let r = retry_while(
                cx.waits,
                cx.waits.dependency,
                &["ResourceInUse"],
                || async {
                    elbv2
                        .delete_target_group()
                        .target_group_arn(arn)
                        .send()
                        .await
                        .at(address, "DeleteTargetGroup")
                        .map(drop)
                },
            )
            .await;
            tolerate(r, &["TargetGroupNotFound"])
        }
        Kind::Listener => {
            let r = elbv2
                .delete_listener()
                .listener_arn(arn)
                .send()
                .await
                .at(address, "DeleteListener")
                .map(drop);
            tolerate(r, &["ListenerNotFound", "LoadBalancerNotFound"])
        }
        Kind::ListenerRule => {
            let r = elbv2
                .delete_rule()
                .rule_arn(arn)
                .send()
                .await
                .at(address, "DeleteRule")
                .map(drop);
            tolerate(r, &["RuleNotFound", "ListenerNotFound"])
        }
        other => Err(super::not_implemented(address, other, "delete")),
    }
}

/// Reads every recorded resource of the family: one describe per kind present, filtered by the
/// recorded ARNs (see the module doc for the fallback when one is gone), and one `DescribeTags`
/// per 20 ARNs found.
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let kinds = super::family_kinds(Kind::LoadBalancer);
    let recorded = |kind: Kind| -> Vec<(&str, &ResourceState)> {
        resources
            .values()
            .filter(|r| r.kind == kind)
            .filter_map(|r| Some((r.id.as_deref()?, r)))
            .collect()
    };
    let by_id: BTreeMap<&str, &BTreeMap<String, Value>> = kinds
        .iter()
        .flat_map(|k| recorded(*k))
        .map(|(id, r)| (id, &r.attributes))
        .collect();
    if by_id.is_empty() {
        settle(cx.own, resources, &kinds, Vec::new(), out);
        return Ok(());
    }
    // Errors of a batched read name the kind: no single address is at fault.
    let at = |kind: Kind| Address::new(kind.as_str());
    let ids = |kind: Kind| -> Vec<String> {
        recorded(kind)
            .into_iter()
            .map(|(id, _)| id.to_owned())
            .collect()
    };
    let parents = |kind: Kind, attribute: &str| -> BTreeSet<String> {
        recorded(kind)
            .into_iter()
            .filter_map(|(_, r)| r.attributes.get(attribute)?.as_str().map(str::to_owned))
            .collect()
    };

    let (lb_at, tg_at, listener_at, rule_at) = (
        at(Kind::LoadBalancer),
        at(Kind::TargetGroup),
        at(Kind::Listener),
        at(Kind::ListenerRule),
    );
    let lbs = describe_load_balancers(cx, &lb_at, &ids(Kind::LoadBalancer)).await?;
    let lbs = only_recorded(lbs, &by_id, LoadBalancer::load_balancer_arn);
    let tgs = describe_target_groups(cx, &tg_at, &ids(Kind::TargetGroup)).await?;
    let tgs = only_recorded(tgs, &by_id, TargetGroup::target_group_arn);
    let load_balancers = parents(Kind::Listener, "load_balancer_arn");
    let listeners =
        describe_listeners(cx, &listener_at, &ids(Kind::Listener), &load_balancers).await?;
    let listeners = only_recorded(listeners, &by_id, Listener::listener_arn);
    let listener_arns = parents(Kind::ListenerRule, "listener_arn");
    let rules = describe_rules(cx, &rule_at, &ids(Kind::ListenerRule), &listener_arns).await?;
    let rules = only_recorded(rules, &by_id, Rule::rule_arn);

    let arns: Vec<String> = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .chain(tgs.iter().filter_map(|t| t.target_group_arn()))
        .chain(listeners.iter().filter_map(|l| l.listener_arn()))
        .chain(rules.iter().filter_map(|r| r.rule_arn()))
        .map(str::to_owned)
        .collect();
    let tags = describe_tags(cx, &lb_at, &arns).await?;
    let tags_of = |arn: Option<&str>| arn.and_then(|a| tags.get(a)).cloned().unwrap_or_default();
    let rec = |arn: Option<&str>| arn.and_then(|a| by_id.get(a).copied());
    let mut found: Vec<Tagged> = Vec::new();
    found.extend(lbs.iter().filter_map(|l| {
        let arn = l.load_balancer_arn();
        load_balancer_live(l, tags_of(arn), rec(arn))
    }));
    found.extend(tgs.iter().filter_map(|t| {
        let arn = t.target_group_arn();
        target_group_live(t, tags_of(arn), rec(arn))
    }));
    found.extend(
        listeners
            .iter()
            .filter_map(|l| listener_live(l, tags_of(l.listener_arn()))),
    );
    found.extend(
        rules
            .iter()
            .filter_map(|r| rule_live(r, tags_of(r.rule_arn()), None)),
    );
    settle(cx.own, resources, &kinds, found, out);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Create, per kind

async fn create_load_balancer(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = send_once!(
        aws_sdk_elasticloadbalancingv2,
        cx.aws
            .elbv2
            .create_load_balancer()
            .name(spec.str("name")?)
            .r#type(LoadBalancerTypeEnum::from(spec.str("type")?))
            .scheme(LoadBalancerSchemeEnum::from(spec.str("scheme")?))
            .set_subnets(Some(spec.strings("subnets")?))
            .set_security_groups(Some(spec.strings("security_groups")?))
            .set_tags(Some(to_tags(&create_tags(cx.own, spec)?)))
    )
    .await
    .at(a, "CreateLoadBalancer")?;
    let lb = out
        .load_balancers()
        .first()
        .ok_or_else(|| missing(a, "CreateLoadBalancer", "LoadBalancers"))?;
    let outputs = load_balancer_outputs(lb).ok_or_else(|| {
        missing(
            a,
            "CreateLoadBalancer",
            "LoadBalancerArn, DNSName or CanonicalHostedZoneId",
        )
    })?;
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let names: Vec<&str> = LB_ATTRIBUTES.iter().map(|(name, _)| *name).collect();
    set_load_balancer_attributes(cx, spec, arn, &names).await?;
    wait_load_balancer(cx, a, arn, Until::Active).await?;
    Ok(applied(spec, arn, outputs))
}

async fn set_load_balancer_attributes(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    arn: &str,
    names: &[&str],
) -> Result<(), ProviderError> {
    let mut attributes = Vec::new();
    for (name, key) in LB_ATTRIBUTES.iter().filter(|(n, _)| names.contains(n)) {
        let value = spec
            .attributes
            .get(*name)
            .and_then(attribute_string)
            .ok_or_else(|| spec.invalid(name, "is missing or not a number or boolean"))?;
        attributes.push(
            LoadBalancerAttribute::builder()
                .key(*key)
                .value(value)
                .build(),
        );
    }
    if attributes.is_empty() {
        return Ok(());
    }
    cx.aws
        .elbv2
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .at(&spec.address, "ModifyLoadBalancerAttributes")
        .map(drop)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    Active,
    Gone,
}

/// Polls the load balancer until it is `active` (or `active_impaired`) or no longer listed,
/// for at most the dependency wait (provisioning takes AWS a few minutes).
async fn wait_load_balancer(
    cx: Cx<'_>,
    a: &Address,
    arn: &str,
    until: Until,
) -> Result<(), ProviderError> {
    let start = Instant::now();
    loop {
        let r = cx
            .aws
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .at(a, "DescribeLoadBalancers");
        let state = match r {
            Ok(out) => out
                .load_balancers()
                .first()
                .and_then(LoadBalancer::state)
                .map(|s| (s.code().cloned(), s.reason().map(str::to_owned))),
            Err(e) if e.aws_code() == Some("LoadBalancerNotFound") => None,
            Err(e) => return Err(e),
        };
        match (until, state) {
            (Until::Gone, None) => return Ok(()),
            (
                Until::Active,
                Some((
                    Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired),
                    _,
                )),
            ) => return Ok(()),
            (Until::Active, Some((Some(LoadBalancerStateEnum::Failed), reason))) => {
                return Err(ProviderError::Failed {
                    address: a.clone(),
                    what: format!(
                        "AWS failed to provision the load balancer: {}",
                        reason.unwrap_or_else(|| "no reason given".to_owned())
                    ),
                });
            }
            _ => {}
        }
        if start.elapsed() + cx.waits.poll >= cx.waits.dependency {
            return Err(ProviderError::Timeout {
                address: a.clone(),
                what: match until {
                    Until::Active => "the load balancer to become active".to_owned(),
                    Until::Gone => "the load balancer to be deleted".to_owned(),
                },
                seconds: cx.waits.dependency.as_secs(),
            });
        }
        tokio::time::sleep(cx.waits.poll).await;
    }
}

async fn create_target_group(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let hc = HealthCheck::of(spec)?;
    let out = send_once!(
        aws_sdk_elasticloadbalancingv2,
        cx.aws
            .elbv2
            .create_target_group()
            .name(spec.str("name")?)
            .protocol(ProtocolEnum::from(spec.str("protocol")?))
            .port(spec.int("port")?)
            .vpc_id(spec.str("vpc_id")?)
            .target_type(TargetTypeEnum::from(spec.str("target_type")?))
            .set_health_check_protocol(hc.protocol.as_deref().map(ProtocolEnum::from))
            .set_health_check_port(hc.port)
            .set_health_check_path(hc.path)
            .set_health_check_interval_seconds(hc.interval)
            .set_health_check_timeout_seconds(hc.timeout)
            .set_healthy_threshold_count(hc.healthy_threshold)
            .set_unhealthy_threshold_count(hc.unhealthy_threshold)
            .set_matcher(hc.matcher.map(|m| Matcher::builder().http_code(m).build()))
            .set_tags(Some(to_tags(&create_tags(cx.own, spec)?)))
    )
    .await
    .at(a, "CreateTargetGroup")?;
    let arn = out
        .target_groups()
        .first()
        .and_then(TargetGroup::target_group_arn)
        .ok_or_else(|| missing(a, "CreateTargetGroup", "TargetGroupArn"))?;
    set_deregistration_delay(cx, spec, arn).await?;
    Ok(applied(spec, arn, arn_output(arn)))
}

async fn set_deregistration_delay(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    arn: &str,
) -> Result<(), ProviderError> {
    let Some(delay) = spec
        .attributes
        .get("deregistration_delay")
        .and_then(attribute_string)
    else {
        return Ok(());
    };
    cx.aws
        .elbv2
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key(DEREGISTRATION_DELAY)
                .value(delay)
                .build(),
        )
        .send()
        .await
        .at(&spec.address, "ModifyTargetGroupAttributes")
        .map(drop)
}

async fn create_listener(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = send_once!(
        aws_sdk_elasticloadbalancingv2,
        cx.aws
            .elbv2
            .create_listener()
            .load_balancer_arn(spec.str("load_balancer_arn")?)
            .port(spec.int("port")?)
            .protocol(ProtocolEnum::from(spec.str("protocol")?))
            .default_actions(default_action(spec)?)
            .set_certificates(certificate(spec))
            .set_ssl_policy(spec.opt_str("ssl_policy").map(str::to_owned))
            .set_tags(Some(to_tags(&create_tags(cx.own, spec)?)))
    )
    .await
    .at(a, "CreateListener")?;
    let arn = out
        .listeners()
        .first()
        .and_then(Listener::listener_arn)
        .ok_or_else(|| missing(a, "CreateListener", "ListenerArn"))?;
    Ok(applied(spec, arn, arn_output(arn)))
}

async fn create_rule(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = send_once!(
        aws_sdk_elasticloadbalancingv2,
        cx.aws
            .elbv2
            .create_rule()
            .listener_arn(spec.str("listener_arn")?)
            .priority(spec.int("priority")?)
            .set_conditions(Some(conditions(spec)?))
            .actions(forward(spec)?)
            .set_tags(Some(to_tags(&create_tags(cx.own, spec)?)))
    )
    .await
    .at(a, "CreateRule")?;
    let arn = out
        .rules()
        .first()
        .and_then(Rule::rule_arn)
        .ok_or_else(|| missing(a, "CreateRule", "RuleArn"))?;
    Ok(applied(spec, arn, arn_output(arn)))
}

// ---------------------------------------------------------------------------------------------
// Adoption

/// The existing resource under the spec's name or natural key, when its tags make it ours;
/// `None` when there is none. Attributes readable only with an extra call are left out of the
/// live shape, so the update that follows sets them.
async fn find(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Option<Live>, ProviderError> {
    let a = &spec.address;
    let elbv2 = &cx.aws.elbv2;
    let tagged = match spec.kind {
        Kind::LoadBalancer => {
            let r = elbv2
                .describe_load_balancers()
                .names(spec.str("name")?)
                .send()
                .await
                .at(a, "DescribeLoadBalancers");
            let Some(lb) = found_or_none(r, "LoadBalancerNotFound")?
                .and_then(|o| o.load_balancers().first().cloned())
            else {
                return Ok(None);
            };
            let tags = tags_for(cx, a, lb.load_balancer_arn()).await?;
            load_balancer_live(&lb, tags, None)
        }
        Kind::TargetGroup => {
            let r = elbv2
                .describe_target_groups()
                .names(spec.str("name")?)
                .send()
                .await
                .at(a, "DescribeTargetGroups");
            let Some(tg) = found_or_none(r, "TargetGroupNotFound")?
                .and_then(|o| o.target_groups().first().cloned())
            else {
                return Ok(None);
            };
            let tags = tags_for(cx, a, tg.target_group_arn()).await?;
            target_group_live(&tg, tags, None)
        }
        Kind::Listener => {
            let port = spec.int("port")?;
            let listeners = elbv2
                .describe_listeners()
                .load_balancer_arn(spec.str("load_balancer_arn")?)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(a, "DescribeListeners")?;
            let Some(l) = listeners.into_iter().find(|l| l.port() == Some(port)) else {
                return Ok(None);
            };
            let tags = tags_for(cx, a, l.listener_arn()).await?;
            listener_live(&l, tags)
        }
        Kind::ListenerRule => {
            let listener = spec.str("listener_arn")?;
            let priority = spec.int("priority")?.to_string();
            let rules = elbv2
                .describe_rules()
                .listener_arn(listener)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(a, "DescribeRules")?;
            let Some(r) = rules
                .into_iter()
                .find(|r| r.priority() == Some(priority.as_str()))
            else {
                return Ok(None);
            };
            let tags = tags_for(cx, a, r.rule_arn()).await?;
            rule_live(&r, tags, Some(listener))
        }
        other => return Err(super::not_implemented(a, other, "create")),
    };
    let Some(t) = tagged else {
        return Ok(None);
    };
    claim(cx.own, a, &t.live.id, &t.tags)?;
    Ok(Some(t.live))
}

/// The answer, or `None` when AWS says the one thing asked for does not exist.
fn found_or_none<T>(
    r: Result<T, ProviderError>,
    not_found: &str,
) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.aws_code() == Some(not_found) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn tags_for(
    cx: Cx<'_>,
    a: &Address,
    arn: Option<&str>,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let Some(arn) = arn else {
        return Ok(BTreeMap::new());
    };
    let mut tags = describe_tags(cx, a, &[arn.to_owned()]).await?;
    Ok(tags.remove(arn).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Tags

fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Brings the visible tags from `before` to the spec's, keeping (and healing) the ownership
/// tags. Calls AWS only when something differs.
async fn sync_tags(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    arn: &str,
    before: Option<&Value>,
) -> Result<(), ProviderError> {
    let a = &spec.address;
    let before = tags_of(a, before)?;
    let after = spec.tags()?;
    if before == after {
        return Ok(());
    }
    let removed: Vec<String> = before
        .keys()
        .filter(|k| !after.contains_key(*k) && !is_bookkeeping_tag(k))
        .cloned()
        .collect();
    if !removed.is_empty() {
        cx.aws
            .elbv2
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .at(a, "RemoveTags")?;
    }
    cx.aws
        .elbv2
        .add_tags()
        .resource_arns(arn)
        .set_tags(Some(to_tags(&create_tags(cx.own, spec)?)))
        .send()
        .await
        .at(a, "AddTags")
        .map(drop)
}

// ---------------------------------------------------------------------------------------------
// Batched describes

/// Runs `primary` per chunk of `ids`; when AWS fails a chunk because one of them is gone,
/// returns what `fallback` reads instead (a wider read the caller narrows to `ids`).
async fn batched<T, P, PF, F, FF>(
    ids: &[String],
    gone: &[&str],
    mut primary: P,
    fallback: F,
) -> Result<Vec<T>, ProviderError>
where
    P: FnMut(Vec<String>) -> PF,
    PF: Future<Output = Result<Vec<T>, ProviderError>>,
    F: FnOnce() -> FF,
    FF: Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut all = Vec::new();
    for chunk in ids.chunks(PER_CALL) {
        match primary(chunk.to_vec()).await {
            Ok(items) => all.extend(items),
            Err(e) if e.aws_code().is_some_and(|c| gone.contains(&c)) => return fallback().await,
            Err(e) => return Err(e),
        }
    }
    Ok(all)
}

/// The described items whose ARN the state records (a fallback read returns more).
fn only_recorded<T>(
    items: Vec<T>,
    recorded: &BTreeMap<&str, &BTreeMap<String, Value>>,
    arn: impl Fn(&T) -> Option<&str>,
) -> Vec<T> {
    items
        .into_iter()
        .filter(|i| arn(i).is_some_and(|a| recorded.contains_key(a)))
        .collect()
}

async fn describe_load_balancers(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
) -> Result<Vec<LoadBalancer>, ProviderError> {
    let page = |arns: Option<Vec<String>>| async move {
        cx.aws
            .elbv2
            .describe_load_balancers()
            .set_load_balancer_arns(arns)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .at(a, "DescribeLoadBalancers")
    };
    batched(
        arns,
        &["LoadBalancerNotFound"],
        |c| page(Some(c)),
        || page(None),
    )
    .await
}

async fn describe_target_groups(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
) -> Result<Vec<TargetGroup>, ProviderError> {
    let page = |arns: Option<Vec<String>>| async move {
        cx.aws
            .elbv2
            .describe_target_groups()
            .set_target_group_arns(arns)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .at(a, "DescribeTargetGroups")
    };
    batched(
        arns,
        &["TargetGroupNotFound"],
        |c| page(Some(c)),
        || page(None),
    )
    .await
}

/// Listeners by ARN; when one is gone, the listeners of each recorded load balancer (one call
/// per load balancer; a gone load balancer has none).
async fn describe_listeners(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
    load_balancers: &BTreeSet<String>,
) -> Result<Vec<Listener>, ProviderError> {
    let by_arns = |arns: Vec<String>| async move {
        cx.aws
            .elbv2
            .describe_listeners()
            .set_listener_arns(Some(arns))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .at(a, "DescribeListeners")
    };
    let per_load_balancer = || async move {
        let mut all = Vec::new();
        for lb in load_balancers {
            let r = cx
                .aws
                .elbv2
                .describe_listeners()
                .load_balancer_arn(lb)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(a, "DescribeListeners");
            all.extend(found_or_none(r, "LoadBalancerNotFound")?.unwrap_or_default());
        }
        Ok(all)
    };
    batched(arns, &["ListenerNotFound"], by_arns, per_load_balancer).await
}

/// Rules by ARN; when one is gone, the rules of each recorded listener (one call per listener;
/// a gone listener has none).
async fn describe_rules(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
    listeners: &BTreeSet<String>,
) -> Result<Vec<Rule>, ProviderError> {
    let by_arns = |arns: Vec<String>| async move {
        cx.aws
            .elbv2
            .describe_rules()
            .set_rule_arns(Some(arns))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .at(a, "DescribeRules")
    };
    let per_listener = || async move {
        let mut all = Vec::new();
        for listener in listeners {
            let r = cx
                .aws
                .elbv2
                .describe_rules()
                .listener_arn(listener)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(a, "DescribeRules");
            all.extend(
                found_or_none(r, "ListenerNotFound")?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.is_default() != Some(true)),
            );
        }
        Ok(all)
    };
    batched(arns, &["RuleNotFound"], by_arns, per_listener).await
}

/// Every tag of each ARN, 20 ARNs per call.
async fn describe_tags(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
    let mut tags = BTreeMap::new();
    for chunk in arns.chunks(PER_CALL) {
        let out = cx
            .aws
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .at(a, "DescribeTags")?;
        for d in out.tag_descriptions() {
            if let Some(arn) = d.resource_arn() {
                let map = d
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect();
                tags.insert(arn.to_owned(), map);
            }
        }
    }
    Ok(tags)
}

// ---------------------------------------------------------------------------------------------
// Live shapes

fn tagged(
    kind: Kind,
    id: &str,
    tags: BTreeMap<String, String>,
    attributes: BTreeMap<String, Value>,
    outputs: BTreeMap<String, Value>,
) -> Tagged {
    Tagged {
        tags,
        live: Live {
            kind,
            id: id.to_owned(),
            attributes,
            outputs,
        },
    }
}

fn load_balancer_outputs(lb: &LoadBalancer) -> Option<BTreeMap<String, Value>> {
    Some(BTreeMap::from([
        ("arn".to_owned(), Value::from(lb.load_balancer_arn()?)),
        ("dns_name".to_owned(), Value::from(lb.dns_name()?)),
        (
            "zone_id".to_owned(),
            Value::from(lb.canonical_hosted_zone_id()?),
        ),
    ]))
}

/// The live load balancer; the attributes only `DescribeLoadBalancerAttributes` returns are
/// the recorded ones.
fn load_balancer_live(
    lb: &LoadBalancer,
    tags: BTreeMap<String, String>,
    recorded: Option<&BTreeMap<String, Value>>,
) -> Option<Tagged> {
    let arn = lb.load_balancer_arn()?;
    let rec = |name: &str| recorded.and_then(|r| r.get(name));
    let subnets = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_owned))
        .collect();
    let mut attributes = BTreeMap::from([
        ("name".to_owned(), opt(lb.load_balancer_name())),
        (
            "type".to_owned(),
            opt(lb.r#type().map(LoadBalancerTypeEnum::as_str)),
        ),
        (
            "scheme".to_owned(),
            opt(lb.scheme().map(LoadBalancerSchemeEnum::as_str)),
        ),
        ("vpc_id".to_owned(), opt(lb.vpc_id())),
        ("subnets".to_owned(), as_set(subnets, rec("subnets"))),
        (
            "security_groups".to_owned(),
            as_set(lb.security_groups().to_vec(), rec("security_groups")),
        ),
        ("tags".to_owned(), visible_tags(&tags)),
    ]);
    for (name, _) in LB_ATTRIBUTES {
        if let Some(v) = rec(name) {
            attributes.insert(name.to_owned(), v.clone());
        }
    }
    Some(tagged(
        Kind::LoadBalancer,
        arn,
        tags,
        attributes,
        load_balancer_outputs(lb)?,
    ))
}

/// The live target group; `deregistration_delay` is the recorded one.
fn target_group_live(
    tg: &TargetGroup,
    tags: BTreeMap<String, String>,
    recorded: Option<&BTreeMap<String, Value>>,
) -> Option<Tagged> {
    let arn = tg.target_group_arn()?;
    let mut attributes = BTreeMap::from([
        ("name".to_owned(), opt(tg.target_group_name())),
        (
            "port".to_owned(),
            tg.port().map_or(Value::Null, Value::from),
        ),
        (
            "protocol".to_owned(),
            opt(tg.protocol().map(ProtocolEnum::as_str)),
        ),
        ("vpc_id".to_owned(), opt(tg.vpc_id())),
        (
            "target_type".to_owned(),
            opt(tg.target_type().map(TargetTypeEnum::as_str)),
        ),
        (
            "health_check".to_owned(),
            json!({
                "path": tg.health_check_path(),
                "matcher": tg.matcher().and_then(Matcher::http_code),
                "interval": tg.health_check_interval_seconds(),
                "timeout": tg.health_check_timeout_seconds(),
                "healthy_threshold": tg.healthy_threshold_count(),
                "unhealthy_threshold": tg.unhealthy_threshold_count(),
                "protocol": tg.health_check_protocol().map(ProtocolEnum::as_str),
                "port": tg.health_check_port(),
            }),
        ),
        ("tags".to_owned(), visible_tags(&tags)),
    ]);
    if let Some(delay) = recorded.and_then(|r| r.get("deregistration_delay")) {
        attributes.insert("deregistration_delay".to_owned(), delay.clone());
    }
    Some(tagged(
        Kind::TargetGroup,
        arn,
        tags,
        attributes,
        arn_output(arn),
    ))
}

/// The live listener. Listeners carry only the ownership tags (the desired graph gives them
/// no `tags`), so no `tags` attribute.
fn listener_live(l: &Listener, tags: BTreeMap<String, String>) -> Option<Tagged> {
    let arn = l.listener_arn()?;
    let mut attributes = BTreeMap::from([
        ("load_balancer_arn".to_owned(), opt(l.load_balancer_arn())),
        ("port".to_owned(), l.port().map_or(Value::Null, Value::from)),
        (
            "protocol".to_owned(),
            opt(l.protocol().map(ProtocolEnum::as_str)),
        ),
        (
            "default_action".to_owned(),
            l.default_actions()
                .first()
                .map_or(Value::Null, action_value),
        ),
    ]);
    // Certificates and TLS policies mean something only to TLS listeners (moto reports a
    // policy for plain HTTP ones too).
    if matches!(l.protocol(), Some(ProtocolEnum::Https | ProtocolEnum::Tls)) {
        if let Some(cert) = l
            .certificates()
            .first()
            .and_then(Certificate::certificate_arn)
        {
            attributes.insert("certificate_arn".to_owned(), Value::from(cert));
        }
        if let Some(policy) = l.ssl_policy() {
            attributes.insert("ssl_policy".to_owned(), Value::from(policy));
        }
    }
    Some(tagged(
        Kind::Listener,
        arn,
        tags,
        attributes,
        arn_output(arn),
    ))
}

/// The live rule. A rule does not name its listener: its ARN is the listener's ARN with one
/// more segment (`listener-rule/app/<lb>/<id>/<listener id>/<rule id>`).
fn rule_live(r: &Rule, tags: BTreeMap<String, String>, listener: Option<&str>) -> Option<Tagged> {
    let arn = r.rule_arn()?;
    let listener = listener.map(str::to_owned).or_else(|| {
        let (parent, _) = arn.rsplit_once('/')?;
        Some(parent.replacen(":listener-rule/", ":listener/", 1))
    })?;
    let priority: i64 = r.priority()?.parse().ok()?;
    let forward_to = r
        .actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .and_then(|a| {
            a.target_group_arn().or_else(|| {
                a.forward_config()?
                    .target_groups()
                    .first()?
                    .target_group_arn()
            })
        });
    let attributes = BTreeMap::from([
        ("listener_arn".to_owned(), Value::from(listener)),
        ("priority".to_owned(), Value::from(priority)),
        ("conditions".to_owned(), conditions_value(r.conditions())),
        ("forward_to".to_owned(), opt(forward_to)),
        ("tags".to_owned(), visible_tags(&tags)),
    ]);
    Some(tagged(
        Kind::ListenerRule,
        arn,
        tags,
        attributes,
        arn_output(arn),
    ))
}

// ---------------------------------------------------------------------------------------------
// Attribute shapes

/// The desired health check (the `health_check` table), field by field.
#[derive(Debug, Default)]
struct HealthCheck {
    path: Option<String>,
    matcher: Option<String>,
    interval: Option<i32>,
    timeout: Option<i32>,
    healthy_threshold: Option<i32>,
    unhealthy_threshold: Option<i32>,
    protocol: Option<String>,
    port: Option<String>,
}

impl HealthCheck {
    fn of(spec: &ResourceSpec) -> Result<Self, ProviderError> {
        let m = match spec.attributes.get("health_check") {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(spec.invalid("health_check", "is not a table")),
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let n = |k: &str| -> Result<Option<i32>, ProviderError> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        spec.invalid("health_check", &format!("has a `{k}` that is not a number"))
                    }),
            }
        };
        Ok(Self {
            path: s("path"),
            matcher: s("matcher"),
            interval: n("interval")?,
            timeout: n("timeout")?,
            healthy_threshold: n("healthy_threshold")?,
            unhealthy_threshold: n("unhealthy_threshold")?,
            protocol: s("protocol"),
            port: s("port"),
        })
    }
}

/// The listener's `default_action` table as an action: `fixed-response` or `redirect`.
fn default_action(spec: &ResourceSpec) -> Result<Action, ProviderError> {
    let Some(Value::Object(m)) = spec.attributes.get("default_action") else {
        return Err(spec.invalid("default_action", "is missing or not a table"));
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    match s("type").as_deref() {
        Some("fixed-response") => Ok(Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .set_status_code(s("status_code"))
                    .set_content_type(s("content_type"))
                    .set_message_body(s("message_body"))
                    .build(),
            )
            .build()),
        Some("redirect") => Ok(Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .set_protocol(s("protocol"))
                    .set_port(s("port"))
                    .set_status_code(
                        s("status_code").map(|c| RedirectActionStatusCodeEnum::from(c.as_str())),
                    )
                    .build(),
            )
            .build()),
        _ => Err(spec.invalid(
            "default_action",
            "has a `type` other than `fixed-response` or `redirect`",
        )),
    }
}

/// An action in the shape of `default_action`; other action types show by their type alone,
/// so a change made outside ecsops still shows as a difference.
fn action_value(a: &Action) -> Value {
    let kind = a.r#type().map_or("", ActionTypeEnum::as_str);
    let mut m = Map::new();
    m.insert("type".to_owned(), Value::from(kind));
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), Value::from(v));
        }
    };
    if let Some(f) = a.fixed_response_config() {
        put("status_code", f.status_code());
        put("content_type", f.content_type());
        put("message_body", f.message_body());
    }
    if let Some(r) = a.redirect_config() {
        put("protocol", r.protocol());
        put("port", r.port());
        put(
            "status_code",
            r.status_code().map(RedirectActionStatusCodeEnum::as_str),
        );
    }
    put("target_group_arn", a.target_group_arn());
    Value::Object(m)
}

/// The rule's `forward_to` target group as its one action.
fn forward(spec: &ResourceSpec) -> Result<Action, ProviderError> {
    Ok(Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(spec.str("forward_to")?)
        .build())
}

/// Condition attribute keys and the AWS fields they stand for.
const CONDITIONS: [(&str, &str); 2] = [
    ("path_patterns", "path-pattern"),
    ("host_headers", "host-header"),
];

/// The `conditions` table as rule conditions (the `*Config` forms, which allow several values).
fn conditions(spec: &ResourceSpec) -> Result<Vec<RuleCondition>, ProviderError> {
    let Some(Value::Object(m)) = spec.attributes.get("conditions") else {
        return Err(spec.invalid("conditions", "is missing or not a table"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !CONDITIONS.iter().any(|(key, _)| key == k))
    {
        return Err(spec.invalid("conditions", &format!("has the unknown key `{k}`")));
    }
    let mut out = Vec::new();
    for (key, field) in CONDITIONS {
        let Some(v) = m.get(key) else { continue };
        let values: Option<Vec<String>> = v
            .as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_owned)).collect());
        let values = values.ok_or_else(|| {
            spec.invalid(
                "conditions",
                &format!("has a `{key}` that is not a list of strings"),
            )
        })?;
        let c = RuleCondition::builder().field(field);
        out.push(
            match field {
                "host-header" => c.host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(values))
                        .build(),
                ),
                _ => c.path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(values))
                        .build(),
                ),
            }
            .build(),
        );
    }
    Ok(out)
}

/// Rule conditions in the shape of `conditions`; a field ecsops does not set shows under its
/// AWS name, so it still reads as a difference.
fn conditions_value(conditions: &[RuleCondition]) -> Value {
    let mut m = Map::new();
    for c in conditions {
        let Some(field) = c.field() else { continue };
        let config = match field {
            "path-pattern" => c
                .path_pattern_config()
                .map(PathPatternConditionConfig::values),
            "host-header" => c
                .host_header_config()
                .map(HostHeaderConditionConfig::values),
            _ => None,
        };
        let values = config
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| c.values());
        let key = CONDITIONS
            .iter()
            .find(|(_, f)| *f == field)
            .map_or(field, |(k, _)| *k);
        m.insert(key.to_owned(), json!(values));
    }
    Value::Object(m)
}

fn certificate(spec: &ResourceSpec) -> Option<Vec<Certificate>> {
    spec.opt_str("certificate_arn")
        .filter(|c| !c.is_empty())
        .map(|c| vec![Certificate::builder().certificate_arn(c).build()])
}

// ---------------------------------------------------------------------------------------------
// Small helpers, shared with the classic load balancer module

fn arn_output(arn: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([("arn".to_owned(), Value::from(arn))])
}

pub(super) fn applied(spec: &ResourceSpec, id: &str, outputs: BTreeMap<String, Value>) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs,
        adopted: false,
    }
}

pub(super) fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// An attribute value as the string AWS attribute APIs take.
fn attribute_string(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Whether two list values hold the same items, in any order (AWS reorders subnets and
/// security groups).
pub(super) fn same_set(a: Option<&Value>, b: Option<&Value>) -> bool {
    let set = |v: Option<&Value>| -> Option<BTreeSet<String>> {
        v?.as_array()?
            .iter()
            .map(|s| serde_json::to_string(s).ok())
            .collect()
    };
    match (set(a), set(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{AvailabilityZone, LoadBalancerState};

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn lists_align_to_the_recorded_order_when_equal_as_sets() {
        let recorded = json!(["subnet-b", "subnet-a"]);
        let live = vec!["subnet-a".to_owned(), "subnet-b".to_owned()];
        assert_eq!(as_set(live.clone(), Some(&recorded)), recorded);
        assert_eq!(
            as_set(
                vec!["subnet-c".to_owned(), "subnet-a".to_owned()],
                Some(&recorded)
            ),
            json!(["subnet-a", "subnet-c"])
        );
        assert!(same_set(Some(&recorded), Some(&json!(live))));
    }

    #[test]
    fn a_described_load_balancer_reads_like_the_desired_one() {
        let lb = LoadBalancer::builder()
            .load_balancer_arn("arn:lb")
            .load_balancer_name("acceptance-default")
            .dns_name("dns")
            .canonical_hosted_zone_id("Z1")
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-b").build())
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-a").build())
            .security_groups("sg-1")
            .state(
                LoadBalancerState::builder()
                    .code(LoadBalancerStateEnum::Active)
                    .build(),
            )
            .build();
        let recorded = BTreeMap::from([
            ("subnets".to_owned(), json!(["subnet-a", "subnet-b"])),
            ("idle_timeout".to_owned(), json!(60)),
        ]);
        let t = load_balancer_live(
            &lb,
            tags(&[("Name", "n"), ("ecsops:lineage", "L")]),
            Some(&recorded),
        )
        .expect("live");
        let attrs = &t.live.attributes;
        assert_eq!(attrs["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(attrs["scheme"], json!("internet-facing"));
        assert_eq!(attrs["type"], json!("application"));
        assert_eq!(attrs["idle_timeout"], json!(60));
        assert_eq!(attrs["tags"], json!({"Name": "n"}));
        assert!(!attrs.contains_key("deletion_protection"));
        assert_eq!(t.live.outputs["zone_id"], json!("Z1"));
    }

    #[test]
    fn rules_read_back_their_listener_conditions_and_target() {
        let spec = ResourceSpec {
            address: Address::keyed("listener_rule", "web"),
            kind: Kind::ListenerRule,
            attributes: BTreeMap::from([
                (
                    "conditions".to_owned(),
                    json!({"path_patterns": ["/api/*"], "host_headers": ["a.example", "b.example"]}),
                ),
                ("forward_to".to_owned(), json!("arn:tg")),
            ]),
        };
        let rule = Rule::builder()
            .rule_arn("arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/lb/1/2/3")
            .priority("10")
            .set_conditions(Some(conditions(&spec).expect("conditions")))
            .actions(forward(&spec).expect("action"))
            .build();
        let live = rule_live(&rule, BTreeMap::new(), None).expect("live").live;
        assert_eq!(
            live.attributes["listener_arn"],
            json!("arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb/1/2")
        );
        assert_eq!(live.attributes["priority"], json!(10));
        assert_eq!(live.attributes["conditions"], spec.attributes["conditions"]);
        assert_eq!(live.attributes["forward_to"], json!("arn:tg"));
        let bad = ResourceSpec {
            attributes: BTreeMap::from([("conditions".to_owned(), json!({"methods": ["GET"]}))]),
            ..spec
        };
        assert!(conditions(&bad).is_err());
    }

    #[test]
    fn default_actions_round_trip() {
        for action in [
            json!({"type": "redirect", "protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}),
            json!({"type": "fixed-response", "status_code": "404", "content_type": "text/plain",
                   "message_body": "no service matches this request"}),
        ] {
            let spec = ResourceSpec {
                address: Address::keyed("listener", "default:80"),
                kind: Kind::Listener,
                attributes: BTreeMap::from([("default_action".to_owned(), action.clone())]),
            };
            assert_eq!(
                action_value(&default_action(&spec).expect("action")),
                action
            );
        }
    }
}
