//! Auto scaling groups: the container instances of an instance group, launched from its launch
//! template into the private subnets.
//!
//! A group is addressed by its name (the id), found by name for adoption, and refreshed with one
//! `DescribeAutoScalingGroups` of the recorded names. The desired tags propagate to instances;
//! the `ecsops:` tags do not, because an instance is no resource of ecsops and must not claim
//! the group's address. `desired_capacity` is absent when ECS managed scaling owns it: then it is
//! neither sent nor read. Subnets and classic load balancers compare as sets (AWS keeps no
//! order).

use crate::provider::aws::send;
use std::collections::BTreeMap;

use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification, Tag};

use super::ec2::{Tagged, settle, visible};
use super::ec2_launch_template::until_profile_visible;
use super::live::{all, as_set, missing, recorded_by_id};
use super::ownership::{claim_described, owned_tags, sync_tags, tag_diff, tag_map_of};
use super::wait::poll_until;
use super::{
    AwsResultExt, Clients, Cx, Done, Manage, New, Prior, Recorded, aws_says, remove_request,
    set_changes,
};
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, Tags, TemplateVersion};
use crate::graph::{Address, Kind};
use crate::provider::aws::once::send_once;
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};
use crate::roll::Recorded as RollRecorded;

/// Auto Scaling's answer for a group that does not exist: a `ValidationError` saying so.
fn not_found(e: &ProviderError) -> bool {
    aws_says(e, "ValidationError", "not found")
}

impl Manage for attrs::AutoscalingGroup {
    /// The group of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let found = describe(cx, a, vec![want.name.clone()]).await?;
        let live = |g: &AutoScalingGroup| group_live(g, None);
        let missing_arn = ("DescribeAutoScalingGroups", "AutoScalingGroupARN");
        claim_described(cx, a, found.first(), live, missing_arn)
    }

    /// Creates the group.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let name = want.name.as_str();
        let tags = group_tags(name, &owned_tags(cx.own, a, &want.tags));
        let template = launch_template(&want);
        let subnets = want.vpc_zone_identifier.join(",");
        let load_balancers = &want.load_balancers;
        // A group launching from a template whose instance profile IAM has not propagated yet
        // is refused (no token needed: the name makes a duplicate impossible).
        until_profile_visible(cx, || async {
            send_once!(
                a,
                cx.autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .min_size(want.min_size)
                    .max_size(want.max_size)
                    .set_desired_capacity(want.desired_capacity)
                    .launch_template(template.clone())
                    .vpc_zone_identifier(&subnets)
                    .health_check_type(&want.health_check_type)
                    .health_check_grace_period(want.health_check_grace_period)
                    .new_instances_protected_from_scale_in(want.protect_from_scale_in)
                    .set_load_balancer_names(
                        (!load_balancers.is_empty()).then(|| load_balancers.clone()),
                    )
                    .set_tags(Some(tags.clone()))
            )
        })
        .await?;
        let arn = group_arn(cx, a, name).await?;
        Ok(Applied::new(spec, name, &ArnOutputs { arn }))
    }

    /// One `UpdateAutoScalingGroup` when a group setting differs, the classic load balancers,
    /// then the tags.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::AutoscalingGroup = prior.decode()?;
        let group_changed = want.min_size != was.min_size
            || want.max_size != was.max_size
            || want.desired_capacity != was.desired_capacity
            || want.launch_template_id != was.launch_template_id
            || want.launch_template_version != was.launch_template_version
            || want.vpc_zone_identifier != was.vpc_zone_identifier
            || want.health_check_type != was.health_check_type
            || want.health_check_grace_period != was.health_check_grace_period
            || want.protect_from_scale_in != was.protect_from_scale_in;
        let capacity_changed =
            want.max_size != was.max_size || want.desired_capacity != was.desired_capacity;
        // A roll in progress owns the capacity: the new sizes go into its tags, which it
        // restores when it finishes.
        let roll = if capacity_changed {
            describe(cx, a, vec![prior.id.to_owned()]).await?.first().and_then(rolling)
        } else {
            None
        };
        if let Some(r) = roll {
            let recorded = RollRecorded {
                desired: want.desired_capacity.unwrap_or(r.desired),
                max: want.max_size,
                ..r
            };
            let tags: Tags = recorded.tags().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            put_tags(cx.aws, a, prior.id, &tags).await?;
        }
        if group_changed {
            let mut req = cx
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(prior.id)
                .min_size(want.min_size)
                .set_max_size(roll.is_none().then_some(want.max_size))
                .launch_template(launch_template(&want))
                .vpc_zone_identifier(want.vpc_zone_identifier.join(","))
                .health_check_type(&want.health_check_type)
                .health_check_grace_period(want.health_check_grace_period)
                .new_instances_protected_from_scale_in(want.protect_from_scale_in);
            // Under managed scaling ECS sets the desired capacity: never reset it.
            if want.desired_capacity != was.desired_capacity && roll.is_none() {
                req = req.set_desired_capacity(want.desired_capacity);
            }
            send!(a, req)?;
        }
        if want.load_balancers != was.load_balancers {
            sync_load_balancers(cx, a, prior.id, &was.load_balancers, &want.load_balancers).await?;
        }
        sync_tags(
            tag_diff(cx.own, a, &was.tags, &want.tags),
            async |keys| remove_tags(cx.aws, a, prior.id, keys).await,
            async |tags| put_tags(cx.aws, a, prior.id, &tags).await,
        )
        .await?;
        // State written before the ARN was recorded: read it back rather than refuse.
        let arn = match prior.outputs::<attrs::AutoscalingGroup>() {
            Ok(outputs) => outputs.arn,
            Err(_) => group_arn(cx, a, prior.id).await?,
        };
        Ok(Applied::new(spec, prior.id, &ArnOutputs { arn }))
    }

    /// Deletes the group with its instances and waits until it is gone: the launch template,
    /// the subnets and the capacity provider's cluster can only go after it.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let a = prior.address;
        let r = remove_request(cx, a, &["ScalingActivityInProgress", "ResourceInUse"], &[], || {
            cx.autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name(prior.id)
                .force_delete(true)
                .send()
        })
        .await;
        match r {
            // Already gone: nothing to wait for.
            Err(e) if not_found(&e) => return Ok(()),
            r => r?,
        }
        poll_until(
            cx,
            a,
            "the auto scaling group and its instances to be deleted",
            cx.waits.dependency,
            || async {
                let left = describe(cx, a, vec![prior.id.to_owned()]).await?;
                Ok(left.is_empty().then_some(()))
            },
        )
        .await
    }
}

/// The ARN of group `name`, which only a describe answers.
async fn group_arn(cx: Cx<'_>, a: &Address, name: &str) -> Done<String> {
    describe(cx, a, vec![name.to_owned()])
        .await?
        .first()
        .and_then(|g| g.auto_scaling_group_arn().map(str::to_owned))
        .ok_or_else(|| missing(a, "DescribeAutoScalingGroups", "AutoScalingGroupARN"))
}

/// The template reference; the version is the template's `latest_version` number.
fn launch_template(want: &attrs::AutoscalingGroup) -> LaunchTemplateSpecification {
    let version = want
        .launch_template_version
        .as_ref()
        .map_or_else(|| "$Default".to_owned(), TemplateVersion::to_string);
    LaunchTemplateSpecification::builder()
        .launch_template_id(&want.launch_template_id)
        .version(version)
        .build()
}

/// Group tags: desired ones propagate to instances, the bookkeeping ones stay on the group.
fn group_tags(name: &str, tags: &Tags) -> Vec<Tag> {
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

/// Sets tags on group `name`.
pub(crate) async fn put_tags(aws: &Clients, a: &Address, name: &str, tags: &Tags) -> Done<()> {
    send!(a, aws.autoscaling.create_or_update_tags().set_tags(Some(group_tags(name, tags))))
        .map(drop)
}

/// Removes the tags `keys` from group `name`.
pub(crate) async fn remove_tags(
    aws: &Clients,
    a: &Address,
    name: &str,
    keys: impl IntoIterator<Item = String>,
) -> Done<()> {
    let keys: Tags = keys.into_iter().map(|k| (k, String::new())).collect();
    send!(a, aws.autoscaling.delete_tags().set_tags(Some(group_tags(name, &keys)))).map(drop)
}

/// Attaches the classic load balancers the spec adds, then detaches the ones it drops.
async fn sync_load_balancers(
    cx: Cx<'_>,
    a: &Address,
    name: &str,
    was: &[String],
    want: &[String],
) -> Done<()> {
    let (attach, detach) = set_changes(was, want);
    if !attach.is_empty() {
        send!(
            a,
            cx.autoscaling
                .attach_load_balancers()
                .auto_scaling_group_name(name)
                .set_load_balancer_names(Some(attach))
        )?;
    }
    if !detach.is_empty() {
        send!(
            a,
            cx.autoscaling
                .detach_load_balancers()
                .auto_scaling_group_name(name)
                .set_load_balancer_names(Some(detach))
        )?;
    }
    Ok(())
}

pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    if !resources.values().any(|r| r.kind == Kind::AutoscalingGroup) {
        return Ok(());
    }
    let recorded: BTreeMap<_, attrs::AutoscalingGroup> = recorded_by_id(resources)?;
    let a = Address::new(Kind::AutoscalingGroup.as_str());
    let groups = describe(cx, &a, recorded.keys().map(|n| (*n).to_owned()).collect()).await?;
    let found = groups
        .iter()
        .filter_map(|g| group_live(g, g.auto_scaling_group_name().and_then(|n| recorded.get(n))))
        .collect();
    settle(cx.own, resources, &[Kind::AutoscalingGroup], found, out);
    for g in &groups {
        let address = resources.iter().find(|(_, r)| {
            r.kind == Kind::AutoscalingGroup && r.id.as_deref() == g.auto_scaling_group_name()
        });
        if let (Some((address, _)), Some(roll)) = (address, rolling(g)) {
            out.rolls.insert(address.clone(), roll);
        }
    }
    Ok(())
}

/// What the roll tags of a group recorded, when a roll is in progress.
fn rolling(g: &AutoScalingGroup) -> Option<RollRecorded> {
    RollRecorded::from_tags(&tag_map_of(g.tags(), |t| (t.key(), t.value()))).and_then(Result::ok)
}

/// The named groups that exist and are not being deleted.
pub(crate) async fn describe(
    cx: Cx<'_>,
    a: &Address,
    names: Vec<String>,
) -> Done<Vec<AutoScalingGroup>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let groups = all!(
        cx.autoscaling.describe_auto_scaling_groups().set_auto_scaling_group_names(Some(names)),
        a
    )?;
    Ok(groups.into_iter().filter(|g| g.status().is_none_or(|s| !s.starts_with("Delete"))).collect())
}

/// A described group in the desired shape; `recorded` decides whether `desired_capacity` is
/// part of it and the order of the set-like lists.
fn group_live(g: &AutoScalingGroup, recorded: Option<&attrs::AutoscalingGroup>) -> Option<Tagged> {
    let name = g.auto_scaling_group_name()?;
    let arn = g.auto_scaling_group_arn()?;
    let template = g.launch_template();
    let version = template.and_then(LaunchTemplateSpecification::version).map(|v| {
        v.parse::<i64>()
            .map_or_else(|_| TemplateVersion::Label(v.to_owned()), TemplateVersion::Number)
    });
    let subnets: Vec<String> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let tags = tag_map_of(g.tags(), |t| (t.key(), t.value()));
    // During a roll the group's capacity is the roll's: it reads as it was before the roll, so
    // a plan neither shows the extra capacity as drift nor takes it away.
    let roll = rolling(g);
    let attributes = attrs::AutoscalingGroup::<Resolved> {
        name: name.to_owned(),
        min_size: g.min_size().unwrap_or_default(),
        max_size: roll.map_or_else(|| g.max_size().unwrap_or_default(), |r| r.max),
        desired_capacity: recorded
            .is_none_or(|r| r.desired_capacity.is_some())
            .then(|| roll.map(|r| r.desired).or(g.desired_capacity()))
            .flatten(),
        launch_template_id: template
            .and_then(LaunchTemplateSpecification::launch_template_id)
            .unwrap_or_default()
            .to_owned(),
        launch_template_version: version,
        vpc_zone_identifier: as_set(subnets, recorded.map(|r| r.vpc_zone_identifier.as_slice())),
        health_check_type: g.health_check_type().unwrap_or_default().to_owned(),
        health_check_grace_period: g.health_check_grace_period().unwrap_or_default(),
        protect_from_scale_in: g.new_instances_protected_from_scale_in().unwrap_or(false),
        load_balancers: as_set(
            g.load_balancer_names().to_vec(),
            recorded.map(|r| r.load_balancers.as_slice()),
        ),
        tags: visible(&tags),
    };
    let outputs = ArnOutputs::of(arn);
    Some(Tagged::of(name, tags, &attributes, &outputs))
}

#[cfg(test)]
mod tests {
    use super::*;
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
            .tags(TagDescription::builder().key("ecsops:lineage").value("L").build())
            .build();
        let recorded = attrs::AutoscalingGroup {
            name: "acc-default-default".to_owned(),
            min_size: 1,
            max_size: 4,
            desired_capacity: None,
            launch_template_id: "lt-1".to_owned(),
            launch_template_version: Some(TemplateVersion::Number(3)),
            vpc_zone_identifier: vec!["subnet-a".to_owned(), "subnet-b".to_owned()],
            health_check_type: "EC2".to_owned(),
            health_check_grace_period: 300,
            protect_from_scale_in: false,
            load_balancers: Vec::new(),
            tags: Tags::new(),
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
            &Tags::from([
                ("ecsops:address".to_owned(), "g".to_owned()),
                ("Name".to_owned(), "n".to_owned()),
            ]),
        );
        assert!(tags.iter().all(|t| t.propagate_at_launch() == Some(t.key() == Some("Name"))));
    }
}
