//! Auto scaling groups: the container instances of an instance group, launched from its launch
//! template into the private subnets.
//!
//! A group is addressed by its name (the id), found by name for adoption, and refreshed with one
//! `DescribeAutoScalingGroups` of the recorded names. The desired tags propagate to instances;
//! the `ecsops:` tags do not, because an instance is no resource of ecsops and must not claim
//! the group's address. `desired_capacity` is absent when ECS managed scaling owns it: then it is
//! neither sent nor read. Subnets and classic load balancers compare as sets (AWS keeps no
//! order).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification, Tag};
use serde_json::Value;

use super::ec2::{Tagged, create_tags, settle};
use super::ecs::iam_profile_not_visible;
use super::live::{as_set, missing};
use super::once::send_once;
use super::ownership::{TagChanges, adopt, claim, tag_changes};
use super::{AwsResultExt, Cx, Prior, aws_says, retry_when};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

/// Auto Scaling's answer for a group that does not exist: a `ValidationError` saying so.
fn not_found(e: &ProviderError) -> bool {
    aws_says(e, "ValidationError", "not found")
}

pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    if let Some(g) = describe(cx, a, vec![name.to_owned()]).await?.first() {
        let t = group_live(g, None)
            .ok_or_else(|| missing(a, "DescribeAutoScalingGroups", "AutoScalingGroupARN"))?;
        claim(cx.own, a, name, &t.tags)?;
        return adopt(spec, &t.live, |prior| update(cx, spec, prior)).await;
    }
    let tags = group_tags(name, &create_tags(cx.own, spec)?);
    let template = launch_template(spec)?;
    let subnets = spec.strings("vpc_zone_identifier")?.join(",");
    let load_balancers = spec.strings("load_balancers")?;
    // A group launching from a template whose instance profile IAM has not propagated yet is
    // refused; nothing was created, so the request may be sent again (no token needed: the
    // name makes a duplicate impossible).
    retry_when(
        cx.waits,
        cx.waits.consistency,
        iam_profile_not_visible,
        || async {
            send_once!(
                aws_sdk_autoscaling,
                cx.aws
                    .autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .min_size(spec.int("min_size")?)
                    .max_size(spec.int("max_size")?)
                    .set_desired_capacity(spec.opt_int("desired_capacity")?)
                    .launch_template(template.clone())
                    .vpc_zone_identifier(&subnets)
                    .set_health_check_type(spec.opt_str("health_check_type").map(str::to_owned))
                    .set_health_check_grace_period(spec.opt_int("health_check_grace_period")?)
                    .new_instances_protected_from_scale_in(
                        spec.bool_or("protect_from_scale_in", false)?,
                    )
                    .set_load_balancer_names(
                        (!load_balancers.is_empty()).then(|| load_balancers.clone()),
                    )
                    .set_tags(Some(tags.clone()))
            )
            .await
            .at(a, "CreateAutoScalingGroup")
        },
    )
    .await?;
    let arn = describe(cx, a, vec![name.to_owned()])
        .await?
        .first()
        .and_then(|g| g.auto_scaling_group_arn().map(str::to_owned))
        .ok_or_else(|| missing(a, "DescribeAutoScalingGroups", "AutoScalingGroupARN"))?;
    Ok(applied(spec, name, &arn))
}

fn applied(spec: &ResourceSpec, name: &str, arn: &str) -> Applied {
    Applied {
        id: name.to_owned(),
        attributes: spec.attributes.clone(),
        outputs: BTreeMap::from([("arn".to_owned(), Value::from(arn))]),
        adopted: false,
    }
}

/// The template reference; the version attribute is the template's `latest_version` number.
fn launch_template(spec: &ResourceSpec) -> Result<LaunchTemplateSpecification, ProviderError> {
    let version = match spec.attributes.get("launch_template_version") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "$Default".to_owned(),
    };
    Ok(LaunchTemplateSpecification::builder()
        .launch_template_id(spec.str("launch_template_id")?)
        .version(version)
        .build())
}

/// Group tags: desired ones propagate to instances, the bookkeeping ones stay on the group.
fn group_tags(name: &str, tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(!k.starts_with("ecsops:"))
                .build()
        })
        .collect()
}

pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let changed = |k: &str| prior.attributes.get(k) != spec.attributes.get(k);
    let group = [
        "min_size",
        "max_size",
        "desired_capacity",
        "launch_template_id",
        "launch_template_version",
        "vpc_zone_identifier",
        "health_check_type",
        "health_check_grace_period",
        "protect_from_scale_in",
    ];
    if group.iter().any(|k| changed(k)) {
        let mut req = cx
            .aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(prior.id)
            .min_size(spec.int("min_size")?)
            .max_size(spec.int("max_size")?)
            .launch_template(launch_template(spec)?)
            .vpc_zone_identifier(spec.strings("vpc_zone_identifier")?.join(","))
            .set_health_check_type(spec.opt_str("health_check_type").map(str::to_owned))
            .set_health_check_grace_period(spec.opt_int("health_check_grace_period")?)
            .new_instances_protected_from_scale_in(spec.bool_or("protect_from_scale_in", false)?);
        // Under managed scaling ECS sets the desired capacity: never reset it.
        if changed("desired_capacity") {
            req = req.set_desired_capacity(spec.opt_int("desired_capacity")?);
        }
        req.send().await.at(a, "UpdateAutoScalingGroup")?;
    }
    if changed("load_balancers") {
        sync_load_balancers(cx, spec, prior).await?;
    }
    if let Some(TagChanges { removed, set }) =
        tag_changes(cx.own, spec, prior.attributes.get("tags"))?
    {
        if !removed.is_empty() {
            let keys: BTreeMap<String, String> =
                removed.into_iter().map(|k| (k, String::new())).collect();
            cx.aws
                .autoscaling
                .delete_tags()
                .set_tags(Some(group_tags(prior.id, &keys)))
                .send()
                .await
                .at(a, "DeleteTags")?;
        }
        cx.aws
            .autoscaling
            .create_or_update_tags()
            .set_tags(Some(group_tags(prior.id, &set)))
            .send()
            .await
            .at(a, "CreateOrUpdateTags")?;
    }
    let arn = match prior.outputs.get("arn").and_then(Value::as_str) {
        Some(arn) => arn.to_owned(),
        None => describe(cx, a, vec![prior.id.to_owned()])
            .await?
            .first()
            .and_then(|g| g.auto_scaling_group_arn().map(str::to_owned))
            .ok_or_else(|| missing(a, "DescribeAutoScalingGroups", "AutoScalingGroupARN"))?,
    };
    Ok(applied(spec, prior.id, &arn))
}

/// Attaches the classic load balancers the spec adds, then detaches the ones it drops.
async fn sync_load_balancers(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let a = &spec.address;
    let before: BTreeSet<String> = prior
        .attributes
        .get("load_balancers")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let after: BTreeSet<String> = spec.strings("load_balancers")?.into_iter().collect();
    let add: Vec<String> = after.difference(&before).cloned().collect();
    if !add.is_empty() {
        cx.aws
            .autoscaling
            .attach_load_balancers()
            .auto_scaling_group_name(prior.id)
            .set_load_balancer_names(Some(add))
            .send()
            .await
            .at(a, "AttachLoadBalancers")?;
    }
    let remove: Vec<String> = before.difference(&after).cloned().collect();
    if !remove.is_empty() {
        cx.aws
            .autoscaling
            .detach_load_balancers()
            .auto_scaling_group_name(prior.id)
            .set_load_balancer_names(Some(remove))
            .send()
            .await
            .at(a, "DetachLoadBalancers")?;
    }
    Ok(())
}

/// Deletes the group with its instances and waits until it is gone: the launch template, the
/// subnets and the capacity provider's cluster can only go after it.
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    _kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = retry_when(
        cx.waits,
        cx.waits.dependency,
        |e| {
            matches!(
                e.aws_code(),
                Some("ScalingActivityInProgress" | "ResourceInUse")
            )
        },
        || async {
            cx.aws
                .autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name(prior.id)
                .force_delete(true)
                .send()
                .await
                .at(address, "DeleteAutoScalingGroup")
                .map(drop)
        },
    )
    .await;
    match r {
        Err(e) if not_found(&e) => return Ok(()),
        r => r?,
    }
    let start = Instant::now();
    while !describe(cx, address, vec![prior.id.to_owned()])
        .await?
        .is_empty()
    {
        if start.elapsed() + cx.waits.poll >= cx.waits.dependency {
            return Err(ProviderError::Timeout {
                address: address.clone(),
                what: "the auto scaling group and its instances to be deleted".to_owned(),
                seconds: cx.waits.dependency.as_secs(),
            });
        }
        tokio::time::sleep(cx.waits.poll).await;
    }
    Ok(())
}

pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    if !resources.values().any(|r| r.kind == Kind::AutoscalingGroup) {
        return Ok(());
    }
    let recorded: BTreeMap<&str, &ResourceState> = resources
        .values()
        .filter(|r| r.kind == Kind::AutoscalingGroup)
        .filter_map(|r| Some((r.id.as_deref()?, r)))
        .collect();
    let a = Address::new(Kind::AutoscalingGroup.as_str());
    let groups = describe(cx, &a, recorded.keys().map(|n| (*n).to_owned()).collect()).await?;
    let found = groups
        .iter()
        .filter_map(|g| {
            group_live(
                g,
                g.auto_scaling_group_name()
                    .and_then(|n| recorded.get(n).copied()),
            )
        })
        .collect();
    settle(cx.own, resources, &[Kind::AutoscalingGroup], found, out);
    Ok(())
}

/// The named groups that exist and are not being deleted.
async fn describe(
    cx: Cx<'_>,
    a: &Address,
    names: Vec<String>,
) -> Result<Vec<AutoScalingGroup>, ProviderError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let groups = cx
        .aws
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeAutoScalingGroups")?;
    Ok(groups
        .into_iter()
        .filter(|g| g.status().is_none_or(|s| !s.starts_with("Delete")))
        .collect())
}

/// A described group in the desired shape; `recorded` decides whether `desired_capacity` is
/// part of it and the order of the set-like lists.
fn group_live(g: &AutoScalingGroup, recorded: Option<&ResourceState>) -> Option<Tagged> {
    let name = g.auto_scaling_group_name()?;
    let arn = g.auto_scaling_group_arn()?;
    let rec = |k: &str| recorded.and_then(|r| r.attributes.get(k));
    let template = g.launch_template();
    let version = template
        .and_then(LaunchTemplateSpecification::version)
        .map(|v| {
            v.parse::<i64>()
                .map_or_else(|_| Value::from(v), Value::from)
        });
    let subnets: Vec<String> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let tags: BTreeMap<String, String> = g
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let opt = |v: Option<Value>| v.unwrap_or(Value::Null);
    let mut attributes = BTreeMap::from([
        ("name".to_owned(), Value::from(name)),
        ("min_size".to_owned(), opt(g.min_size().map(Value::from))),
        ("max_size".to_owned(), opt(g.max_size().map(Value::from))),
        (
            "launch_template_id".to_owned(),
            opt(template
                .and_then(LaunchTemplateSpecification::launch_template_id)
                .map(Value::from)),
        ),
        ("launch_template_version".to_owned(), opt(version)),
        (
            "vpc_zone_identifier".to_owned(),
            as_set(subnets, rec("vpc_zone_identifier")),
        ),
        (
            "health_check_type".to_owned(),
            opt(g.health_check_type().map(Value::from)),
        ),
        (
            "health_check_grace_period".to_owned(),
            opt(g.health_check_grace_period().map(Value::from)),
        ),
        (
            "protect_from_scale_in".to_owned(),
            Value::from(g.new_instances_protected_from_scale_in().unwrap_or(false)),
        ),
        (
            "load_balancers".to_owned(),
            as_set(g.load_balancer_names().to_vec(), rec("load_balancers")),
        ),
    ]);
    if recorded.is_none_or(|r| r.attributes.contains_key("desired_capacity")) {
        attributes.insert(
            "desired_capacity".to_owned(),
            opt(g.desired_capacity().map(Value::from)),
        );
    }
    let mut t = Tagged::new(Kind::AutoscalingGroup, name, tags, attributes);
    t.live.outputs = BTreeMap::from([("arn".to_owned(), Value::from(arn))]);
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tags_of;
    use aws_sdk_autoscaling::types::TagDescription;
    use serde_json::json;

    #[test]
    fn a_described_group_reads_like_the_desired_one() {
        let g = AutoScalingGroup::builder()
            .auto_scaling_group_name("acc-default-default")
            .auto_scaling_group_arn("arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:x")
            .min_size(1)
            .max_size(4)
            .desired_capacity(2)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id("lt-1")
                    .version("3")
                    .build(),
            )
            .vpc_zone_identifier("subnet-b,subnet-a")
            .health_check_type("EC2")
            .health_check_grace_period(300)
            .new_instances_protected_from_scale_in(false)
            .tags(TagDescription::builder().key("Name").value("n").build())
            .tags(
                TagDescription::builder()
                    .key("ecsops:lineage")
                    .value("L")
                    .build(),
            )
            .build();
        let recorded = ResourceState {
            kind: Kind::AutoscalingGroup,
            id: Some("acc-default-default".to_owned()),
            attributes: BTreeMap::from([(
                "vpc_zone_identifier".to_owned(),
                json!(["subnet-a", "subnet-b"]),
            )]),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        };
        let live = group_live(&g, Some(&recorded)).expect("live").live;
        assert_eq!(
            serde_json::to_value(&live.attributes).expect("json"),
            json!({
                "name": "acc-default-default", "min_size": 1, "max_size": 4,
                "launch_template_id": "lt-1", "launch_template_version": 3,
                "vpc_zone_identifier": ["subnet-a", "subnet-b"],
                "health_check_type": "EC2", "health_check_grace_period": 300,
                "protect_from_scale_in": false, "load_balancers": [],
                "tags": {"Name": "n"}
            }),
            "no desired capacity when the recorded group has none (managed scaling)"
        );
        assert_eq!(
            live.outputs["arn"],
            json!("arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:x")
        );
        let tags = group_tags(
            "g",
            &tags_of(
                &Address::new("g"),
                Some(&json!({"ecsops:address": "g", "Name": "n"})),
            )
            .expect("tags"),
        );
        assert!(
            tags.iter()
                .all(|t| t.propagate_at_launch() == Some(t.key() == Some("Name")))
        );
    }
}
