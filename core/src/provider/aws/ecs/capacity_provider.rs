//! Capacity providers (an instance group's auto scaling group as ECS capacity) and the
//! cluster's capacity provider list.

use crate::provider::aws::send;
use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider,
    CapacityProviderField, CapacityProviderStatus, Cluster, ManagedDraining, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};

use super::super::ec2::{Tagged, settle, visible};
use super::super::live::{as_set, missing, recorded_by_id};
use super::super::once::send_once;
use super::super::ownership::{claim_described, create_tags};
use super::super::{Cx, Done, Manage, New, Prior, Recorded, remove_request, retry_while};
use super::{strategy, strategy_items, tag_map, unless_gone, update_tags};
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, NoOutputs, Resolved};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, Refresh, ResourceSpec};

/// A provider or list change ECS is still applying (a list put moments ago, an update in
/// flight): the next request waits for it.
const BUSY: &[&str] = &["UpdateInProgressException", "ResourceInUseException"];

impl Manage for attrs::CapacityProvider {
    /// The provider of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let found = describe(cx, a, vec![want.name.clone()]).await?;
        let live = |p: &CapacityProvider| provider_live(p, None);
        let missing_asg = ("DescribeCapacityProviders", "autoScalingGroupProvider");
        claim_described(cx, a, found.first(), live, missing_asg)
    }

    /// Creates the provider.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let name = want.name.as_str();
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(&want.auto_scaling_group_arn)
            .set_managed_scaling(managed_scaling(&want))
            .set_managed_termination_protection(
                want.managed_termination_protection
                    .as_deref()
                    .map(ManagedTerminationProtection::from),
            )
            .set_managed_draining(want.managed_draining.as_deref().map(ManagedDraining::from))
            .build()
            .map_err(|e| spec.invalid("auto_scaling_group_arn", &e.to_string()))?;
        let out = send_once!(
            a,
            cx.ecs
                .create_capacity_provider()
                .name(name)
                .auto_scaling_group_provider(provider)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = out
            .capacity_provider()
            .and_then(CapacityProvider::capacity_provider_arn)
            .ok_or_else(|| missing(a, "CreateCapacityProvider", "capacityProviderArn"))?
            .to_owned();
        Ok(Applied::new(spec, name, &ArnOutputs { arn }))
    }

    /// Sets the managed scaling, termination protection and draining when any differs, then
    /// the tags.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::CapacityProvider = prior.decode()?;
        let outputs = prior.outputs::<attrs::CapacityProvider>()?;
        if want.managed_scaling != was.managed_scaling
            || want.managed_termination_protection != was.managed_termination_protection
            || want.managed_draining != was.managed_draining
        {
            send!(
                a,
                cx.ecs.update_capacity_provider().name(prior.id).auto_scaling_group_provider(
                    AutoScalingGroupProviderUpdate::builder()
                        .set_managed_scaling(managed_scaling(&want))
                        .set_managed_termination_protection(
                            want.managed_termination_protection
                                .as_deref()
                                .map(ManagedTerminationProtection::from),
                        )
                        .set_managed_draining(
                            want.managed_draining.as_deref().map(ManagedDraining::from),
                        )
                        .build(),
                )
            )?;
        }
        update_tags(cx, a, &outputs.arn, &was.tags, &want.tags).await?;
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Deletes the provider unless it is already gone. It is looked up first because ECS
    /// answers a delete of a missing provider with a generic `ClientException` (and moto with a
    /// server error).
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let a = prior.address;
        if describe(cx, a, vec![prior.id.to_owned()]).await?.is_empty() {
            return Ok(());
        }
        // Still in a cluster's list until that list is cleared (deleted before, applied late).
        let r = remove_request(cx, a, BUSY, &[], || {
            cx.ecs.delete_capacity_provider().capacity_provider(prior.id).send()
        })
        .await;
        unless_gone(r)
    }
}

impl Manage for attrs::ClusterCapacityProviders {
    /// Puts the list; see [`put`].
    async fn create(cx: Cx<'_>, New { spec, .. }: New<'_>, want: Self) -> Done {
        put(cx, spec, &want).await
    }

    /// Immutable: nothing can differ in place, and a put is idempotent.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, _prior: Prior<'_>) -> Done {
        put(cx, spec, &want).await
    }

    /// Empties the cluster's list and default strategy; a cluster already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(cx, prior.address, BUSY, &["ClusterNotFoundException"], || {
            cx.ecs
                .put_cluster_capacity_providers()
                .cluster(prior.id)
                .set_capacity_providers(Some(Vec::new()))
                .set_default_capacity_provider_strategy(Some(Vec::new()))
                .send()
        })
        .await
    }
}

/// The capacity provider list and default strategy of the cluster, overwriting what it had: a
/// replacement and a retry are the same request.
async fn put(cx: Cx<'_>, spec: &ResourceSpec, want: &attrs::ClusterCapacityProviders) -> Done {
    let a = &spec.address;
    let default = strategy(a, "default_strategy", &want.default_strategy)?;
    retry_while(cx.waits, cx.waits.dependency, BUSY, || async {
        send!(
            a,
            cx.ecs
                .put_cluster_capacity_providers()
                .cluster(&want.cluster)
                .set_capacity_providers(Some(want.capacity_providers.clone()))
                .set_default_capacity_provider_strategy(Some(default.clone()))
        )
    })
    .await?;
    Ok(Applied::new(spec, &want.cluster, &NoOutputs {}))
}

/// A cluster's capacity provider list in the desired shape, the providers in the recorded
/// order when they are the same set.
pub(super) fn list_live(c: &Cluster, was: &attrs::ClusterCapacityProviders) -> Live {
    let cluster = c.cluster_name().unwrap_or_default();
    Live::new(
        cluster,
        &attrs::ClusterCapacityProviders::<Resolved> {
            cluster: cluster.to_owned(),
            capacity_providers: as_set(
                c.capacity_providers().to_vec(),
                Some(&was.capacity_providers),
            ),
            default_strategy: strategy_items(c.default_capacity_provider_strategy()),
        },
        &NoOutputs {},
    )
}

/// The named providers that exist (not INACTIVE).
async fn describe(cx: Cx<'_>, a: &Address, names: Vec<String>) -> Done<Vec<CapacityProvider>> {
    let mut all = Vec::new();
    // DescribeCapacityProviders takes at most 100 names; it pages by token, and the SDK has no
    // paginator for it (so no `all!`).
    for chunk in names.chunks(100) {
        let mut token = None;
        loop {
            let out = send!(
                a,
                cx.ecs
                    .describe_capacity_providers()
                    .set_capacity_providers(Some(chunk.to_vec()))
                    .include(CapacityProviderField::Tags)
                    .set_next_token(token)
            )?;
            token = out.next_token;
            all.extend(
                out.capacity_providers
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| p.status().map(CapacityProviderStatus::as_str) != Some("INACTIVE")),
            );
            if token.is_none() {
                break;
            }
        }
    }
    Ok(all)
}

/// A described provider in the desired shape; what the answer lacks keeps the recorded value.
fn provider_live(
    p: &CapacityProvider,
    recorded: Option<&attrs::CapacityProvider>,
) -> Option<Tagged> {
    let name = p.name()?;
    let asg = p.auto_scaling_group_provider()?;
    let tags = tag_map(p.tags());
    let managed_scaling = asg
        .managed_scaling()
        .map(|m| attrs::ManagedScaling {
            status: m.status().map(ManagedScalingStatus::as_str).unwrap_or_default().to_owned(),
            target_capacity: m.target_capacity().unwrap_or_default(),
        })
        .or_else(|| recorded.and_then(|r| r.managed_scaling.clone()));
    let attributes = attrs::CapacityProvider::<Resolved> {
        name: name.to_owned(),
        auto_scaling_group_arn: asg.auto_scaling_group_arn().to_owned(),
        managed_scaling,
        managed_termination_protection: asg
            .managed_termination_protection()
            .map(|m| m.as_str().to_owned())
            .or_else(|| recorded.and_then(|r| r.managed_termination_protection.clone())),
        managed_draining: asg
            .managed_draining()
            .map(|m| m.as_str().to_owned())
            .or_else(|| recorded.and_then(|r| r.managed_draining.clone())),
        tags: visible(&tags),
    };
    let outputs = ArnOutputs { arn: p.capacity_provider_arn()?.to_owned() };
    Some(Tagged::of(name, tags, &attributes, &outputs))
}

fn managed_scaling(want: &attrs::CapacityProvider) -> Option<ManagedScaling> {
    want.managed_scaling.as_ref().map(|m| {
        ManagedScaling::builder()
            .status(ManagedScalingStatus::from(m.status.as_str()))
            .target_capacity(m.target_capacity)
            .build()
    })
}

/// One `DescribeCapacityProviders` of the recorded names.
pub(super) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let recorded: BTreeMap<_, attrs::CapacityProvider> = recorded_by_id(resources)?;
    let a = Address::new(Kind::CapacityProvider.as_str());
    let names = recorded.keys().map(|n| (*n).to_owned()).collect();
    let providers = describe(cx, &a, names).await?;
    let found = providers
        .iter()
        .filter_map(|p| provider_live(p, p.name().and_then(|n| recorded.get(n))))
        .collect();
    settle(cx.own, resources, &[Kind::CapacityProvider], found, out);
    Ok(())
}
