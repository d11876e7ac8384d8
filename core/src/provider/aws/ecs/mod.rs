//! ECS: the cluster, capacity providers, the cluster's capacity provider list, task definitions
//! and services, one module per kind. This module holds what they share: the family's refresh,
//! ECS tags, capacity provider strategies, and the compute family's IAM retry.
//!
//! Ids: a cluster and a capacity provider are addressed by name (what the manifest controls;
//! ECS accepts it wherever it takes the ARN), the cluster capacity provider list by its cluster's
//! name, a task definition and a service by ARN (a revision has no other stable name, and a
//! service name is only unique within its cluster).
//!
//! Named resources are adopted when found by name carrying this lineage's and address's
//! ownership tags; a task definition revision is adopted when one of its family's ACTIVE
//! revisions carries our tags and has the spec's content. Revisions are immutable, so a change
//! is a new revision (kept beside the old ones, the oldest retired beyond
//! `[cluster] keep_task_revisions`) and refresh only checks that the recorded revision is still
//! ACTIVE.
//!
//! Refresh: one `DescribeClusters` for the clusters and the capacity provider lists together,
//! one `DescribeCapacityProviders`, one `ListTaskDefinitions` (paginated), and
//! `DescribeServices` per cluster in batches of ten. Where a described service lacks a field
//! ecsops sets (moto stores neither the deployment configuration nor the placement of a created
//! service), the recorded value stands: AWS reported no difference.

mod capacity_provider;
mod cluster;
mod service;
mod task_definition;

pub(crate) use service::describe as describe_services;
pub(super) use task_definition::retire_revisions;

use std::convert::Infallible;

use aws_sdk_ecs::types::{CapacityProviderStrategyItem, Tag};

use super::ownership::{SdkTags, sdk_tags, send_tags, tag_map_of};
use super::{Cx, Done, Recorded, aws_says};
use crate::graph::attrs::{self, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{ProviderError, Refresh};

/// An instance profile created moments ago that EC2 or Auto Scaling cannot see yet (IAM is
/// eventually consistent): the request created nothing, so it may be sent again.
pub(crate) fn iam_profile_not_visible(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Aws { message, .. } if {
        let m = message.to_ascii_lowercase();
        m.contains("iaminstanceprofile") || m.contains("iam instance profile")
    })
}

/// ECS's answer for something that does not exist (any more): a `ClientException` whose message
/// says so, as the typed not-found codes cover only clusters and services.
fn is_gone(e: &ProviderError) -> bool {
    ["does not exist", "unable to describe", "not found"]
        .iter()
        .any(|n| aws_says(e, "ClientException", n))
}

/// A delete's result with "it does not exist" (said only in ECS's message) as success.
fn unless_gone(r: Done<()>) -> Done<()> {
    match r {
        Err(e) if is_gone(&e) => Ok(()),
        r => r,
    }
}

pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let any = |kinds: &[Kind]| resources.values().any(|r| kinds.contains(&r.kind));
    // The four reads are independent: they run at once, each into its own part.
    let parts = tokio::try_join!(
        async {
            let mut part = Refresh::default();
            if any(&[Kind::EcsCluster, Kind::ClusterCapacityProviders]) {
                cluster::refresh(cx, resources, &mut part).await?;
            }
            Ok::<_, ProviderError>(part)
        },
        async {
            let mut part = Refresh::default();
            if any(&[Kind::CapacityProvider]) {
                capacity_provider::refresh(cx, resources, &mut part).await?;
            }
            Ok(part)
        },
        async {
            let mut part = Refresh::default();
            if any(&[Kind::TaskDefinition]) {
                task_definition::refresh(cx, resources, &mut part).await?;
            }
            Ok(part)
        },
        async {
            let mut part = Refresh::default();
            if any(&[Kind::Service]) {
                service::refresh(cx, resources, &mut part).await?;
            }
            Ok(part)
        },
    )?;
    out.absorb(parts.0);
    out.absorb(parts.1);
    out.absorb(parts.2);
    out.absorb(parts.3);
    Ok(())
}

impl SdkTags for Vec<Tag> {
    fn of(a: &Address, tags: &Tags) -> Done<Self> {
        sdk_tags(a, tags, |k, v| Ok::<_, Infallible>(Tag::builder().key(k).value(v).build()))
    }
}

fn tag_map(tags: &[Tag]) -> Tags {
    tag_map_of(tags, |t| (t.key(), t.value()))
}

/// Brings the tags of `arn` from `was` to `want`, keeping (and healing) the ownership tags;
/// calls AWS only when something differs.
async fn update_tags(cx: Cx<'_>, a: &Address, arn: &str, was: &Tags, want: &Tags) -> Done<()> {
    send_tags!(
        cx, a, was, want,
        untag: cx.ecs.untag_resource().resource_arn(arn),
        tag: cx.ecs.tag_resource().resource_arn(arn),
    )
}

/// A capacity provider strategy as ECS takes it; `attribute` names it in a refusal.
fn strategy(
    a: &Address,
    attribute: &str,
    items: &[attrs::StrategyItem],
) -> Done<Vec<CapacityProviderStrategyItem>> {
    items
        .iter()
        .map(|i| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&i.capacity_provider)
                .weight(i.weight)
                .base(i.base)
                .build()
                .map_err(|e| ProviderError::InvalidAttribute {
                    address: a.clone(),
                    attribute: attribute.to_owned(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// A described strategy in the desired shape.
fn strategy_items(items: &[CapacityProviderStrategyItem]) -> Vec<attrs::StrategyItem> {
    items
        .iter()
        .map(|i| attrs::StrategyItem {
            capacity_provider: i.capacity_provider().to_owned(),
            weight: i.weight(),
            base: i.base(),
        })
        .collect()
}
