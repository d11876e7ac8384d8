//! ECS clusters, and the one `DescribeClusters` that refreshes them together with their
//! capacity provider lists.

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};

use super::super::ec2::{Tagged, settle, visible};
use super::super::live::{missing, recorded, recorded_by_id, report};
use super::super::ownership::{claim_described, create_tags};
use super::super::{Cx, Done, Manage, New, Prior, Recorded, remove_request};
use super::{capacity_provider, tag_map, update_tags};
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, Refresh, ResourceSpec};

impl Manage for attrs::EcsCluster {
    /// The cluster of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let found = describe(cx, a, vec![want.name.clone()]).await?;
        let live = |c: &Cluster| cluster_live(c, None);
        claim_described(cx, a, found.first(), live, ("DescribeClusters", "clusterArn"))
    }

    /// Creates the cluster.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let name = want.name.as_str();
        let out = send!(
            a,
            cx.ecs
                .create_cluster()
                .cluster_name(name)
                .settings(insights_setting(spec, &want)?)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = out
            .cluster()
            .and_then(Cluster::cluster_arn)
            .ok_or_else(|| missing(a, "CreateCluster", "cluster.clusterArn"))?
            .to_owned();
        Ok(Applied::new(spec, name, &ArnOutputs { arn }))
    }

    /// Sets the container insights setting and tags that differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::EcsCluster = prior.decode()?;
        let outputs = prior.outputs::<attrs::EcsCluster>()?;
        if was.container_insights != want.container_insights {
            send!(
                a,
                cx.ecs.update_cluster().cluster(prior.id).settings(insights_setting(spec, &want)?)
            )?;
        }
        update_tags(cx, a, &outputs.arn, &was.tags, &want.tags).await?;
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Deletes the cluster once its services and instances are gone (they are deleted first,
    /// but ECS releases them late).
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        const BUSY: &[&str] = &[
            "ClusterContainsServicesException",
            "ClusterContainsContainerInstancesException",
            "ClusterContainsTasksException",
            "ClusterContainsCapacityProviderException",
            "UpdateInProgressException",
            "ResourceInUseException",
        ];
        remove_request(cx, prior.address, BUSY, &["ClusterNotFoundException"], || {
            cx.ecs.delete_cluster().cluster(prior.id).send()
        })
        .await
    }
}

fn insights_setting(spec: &ResourceSpec, want: &attrs::EcsCluster) -> Done<ClusterSetting> {
    let value = spec.required("container_insights", want.container_insights.as_ref())?;
    Ok(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(value).build())
}

/// The named clusters that exist (not INACTIVE), with their tags and settings.
pub(super) async fn describe(cx: Cx<'_>, a: &Address, names: Vec<String>) -> Done<Vec<Cluster>> {
    let mut all = Vec::new();
    // DescribeClusters takes at most 100 clusters and has no pages.
    for chunk in names.chunks(100) {
        let out = send!(
            a,
            cx.ecs
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(ClusterField::Tags)
                .include(ClusterField::Settings)
        )?;
        all.extend(
            out.clusters.unwrap_or_default().into_iter().filter(|c| c.status() != Some("INACTIVE")),
        );
    }
    Ok(all)
}

fn insights(c: &Cluster) -> Option<&str> {
    c.settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(ClusterSetting::value)
}

/// A described cluster in the desired shape; a cluster that reports no insights setting keeps
/// the recorded one.
fn cluster_live(c: &Cluster, recorded: Option<&attrs::EcsCluster>) -> Option<Tagged> {
    let name = c.cluster_name()?;
    let tags = tag_map(c.tags());
    let container_insights = insights(c)
        .map(str::to_owned)
        .or_else(|| recorded.and_then(|r| r.container_insights.clone()));
    let attributes = attrs::EcsCluster::<Resolved> {
        name: name.to_owned(),
        container_insights,
        tags: visible(&tags),
    };
    let outputs = ArnOutputs { arn: c.cluster_arn()?.to_owned() };
    Some(Tagged::of(name, tags, &attributes, &outputs))
}

/// One `DescribeClusters` for both kinds that live on a cluster. A capacity provider list of a
/// cluster with no providers and no default strategy is missing: nothing of it is left.
pub(super) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let names: BTreeSet<String> = resources
        .values()
        .filter(|r| matches!(r.kind, Kind::EcsCluster | Kind::ClusterCapacityProviders))
        .filter_map(|r| r.id.clone())
        .collect();
    let a = Address::new(Kind::EcsCluster.as_str());
    let clusters = describe(cx, &a, names.into_iter().collect()).await?;
    let by_name: BTreeMap<&str, &Cluster> =
        clusters.iter().filter_map(|c| Some((c.cluster_name()?, c))).collect();
    let recorded_clusters: BTreeMap<_, attrs::EcsCluster> = recorded_by_id(resources)?;
    let found = clusters
        .iter()
        .filter_map(|c| cluster_live(c, c.cluster_name().and_then(|n| recorded_clusters.get(n))))
        .collect();
    settle(cx.own, resources, &[Kind::EcsCluster], found, out);
    for (address, r) in recorded(resources, &[Kind::ClusterCapacityProviders]) {
        let live = match r.id.as_deref().and_then(|id| by_name.get(id)) {
            Some(c)
                if !c.capacity_providers().is_empty()
                    || !c.default_capacity_provider_strategy().is_empty() =>
            {
                let was: attrs::ClusterCapacityProviders = Prior::of(address, r)?.decode()?;
                Some(capacity_provider::list_live(c, &was))
            }
            _ => None,
        };
        report(out, address, live);
    }
    Ok(())
}
