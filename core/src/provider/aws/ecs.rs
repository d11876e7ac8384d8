//! ECS: the cluster, capacity providers, the cluster's capacity provider list, task definitions
//! and services. Also the small helpers the compute family shares (adoption of a named
//! resource, a retry that looks at AWS's message, integer and list attributes).
//!
//! Ids: a cluster and a capacity provider are addressed by name (what the manifest controls;
//! ECS accepts it wherever it takes the ARN), the cluster capacity provider list by its cluster's
//! name, a task definition and a service by ARN (a revision has no other stable name, and a
//! service name is only unique within its cluster).
//!
//! Named resources are adopted when found by name carrying this lineage's and address's
//! ownership tags; a task definition revision is adopted when it is its family's latest ACTIVE
//! one, carries our tags and has the spec's content. Revisions are immutable, so a change is a
//! new revision (the kind is replaced, create first) and refresh only checks that the recorded
//! revision is still ACTIVE.
//!
//! Refresh: one `DescribeClusters` for the clusters and the capacity provider lists together,
//! one `DescribeCapacityProviders`, one `ListTaskDefinitions` (paginated), and
//! `DescribeServices` per cluster in batches of ten. Where a described service lacks a field
//! ecsops sets (moto stores neither the deployment configuration nor the placement of a created
//! service), the recorded value stands: AWS reported no difference.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use aws_sdk_ecs::types::{AutoScalingGroupProvider, AutoScalingGroupProviderUpdate};
use aws_sdk_ecs::types::{
    CapacityProvider, CapacityProviderField, CapacityProviderStatus, CapacityProviderStrategyItem,
    Cluster, ClusterField, ClusterSetting, ClusterSettingName, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, HostVolumeProperties, KeyValuePair,
    LaunchType, LoadBalancer, LogConfiguration, LogDriver, ManagedDraining, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection, MountPoint, NetworkMode,
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType,
    PortMapping, PropagateTags, SchedulingStrategy, Secret, Service, ServiceField, Tag,
    TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol, Volume,
};
use serde_json::{Map, Value, json};

use super::ec2::{Tagged, create_tags, other_environment, owner, settle, visible_tags};
use super::live::{as_set, attrs, missing};
use super::once::send_once;
use super::ownership::{TagChanges, claim, tag_changes};
use super::{AwsResultExt, Cx, Prior, aws_says, retry_when, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

// ---------------------------------------------------------------------------------------------
// Helpers shared by the compute family (launch templates, auto scaling groups, ECS)

/// An instance profile created moments ago that EC2 or Auto Scaling cannot see yet (IAM is
/// eventually consistent): the request created nothing, so it may be sent again.
pub(crate) fn iam_profile_not_visible(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Aws { message, .. } if {
        let m = message.to_ascii_lowercase();
        m.contains("iaminstanceprofile") || m.contains("iam instance profile")
    })
}

// ---------------------------------------------------------------------------------------------
// Entry points

pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    token_seed: u64,
) -> Result<Applied, ProviderError> {
    match spec.kind {
        Kind::EcsCluster => Box::pin(create_cluster(cx, spec)).await,
        Kind::CapacityProvider => Box::pin(create_capacity_provider(cx, spec)).await,
        Kind::ClusterCapacityProviders => Box::pin(put_capacity_providers(cx, spec)).await,
        Kind::TaskDefinition => Box::pin(create_task_definition(cx, spec)).await,
        Kind::Service => Box::pin(create_service(cx, spec, token_seed)).await,
        other => Err(super::not_implemented(&spec.address, other, "create")),
    }
}

pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    match spec.kind {
        Kind::EcsCluster => Box::pin(update_cluster(cx, spec, prior)).await,
        Kind::CapacityProvider => Box::pin(update_capacity_provider(cx, spec, prior)).await,
        // Immutable kinds: nothing can differ in place, and a put is idempotent.
        Kind::ClusterCapacityProviders => Box::pin(put_capacity_providers(cx, spec)).await,
        Kind::TaskDefinition => Ok(Applied {
            id: prior.id.to_owned(),
            attributes: spec.attributes.clone(),
            outputs: prior.outputs.clone(),
            adopted: false,
        }),
        Kind::Service => Box::pin(update_service(cx, spec, prior)).await,
        other => Err(super::not_implemented(&spec.address, other, "update")),
    }
}

pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    match kind {
        Kind::EcsCluster => Box::pin(delete_cluster(cx, address, prior)).await,
        Kind::CapacityProvider => Box::pin(delete_capacity_provider(cx, address, prior)).await,
        Kind::ClusterCapacityProviders => {
            Box::pin(clear_capacity_providers(cx, address, prior)).await
        }
        Kind::TaskDefinition => {
            let r = cx
                .aws
                .ecs
                .deregister_task_definition()
                .task_definition(prior.id)
                .send()
                .await
                .at(address, "DeregisterTaskDefinition")
                .map(drop);
            match r {
                Err(e) if is_gone(&e) => Ok(()),
                r => r,
            }
        }
        Kind::Service => Box::pin(delete_service(cx, address, prior)).await,
        other => Err(super::not_implemented(address, other, "delete")),
    }
}

/// ECS's answer for something that does not exist (any more): a `ClientException` whose message
/// says so, as the typed not-found codes cover only clusters and services.
fn is_gone(e: &ProviderError) -> bool {
    ["does not exist", "unable to describe", "not found"]
        .iter()
        .any(|n| aws_says(e, "ClientException", n))
}

pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let of = |kind: Kind| -> Vec<(&Address, &ResourceState)> {
        resources.iter().filter(|(_, r)| r.kind == kind).collect()
    };
    let clusters = of(Kind::EcsCluster);
    let lists = of(Kind::ClusterCapacityProviders);
    let definitions = of(Kind::TaskDefinition);
    let services = of(Kind::Service);
    // The four reads are independent: they run at once, each into its own part.
    let parts = tokio::try_join!(
        async {
            let mut part = Refresh::default();
            if !clusters.is_empty() || !lists.is_empty() {
                refresh_clusters(cx, resources, &lists, &mut part).await?;
            }
            Ok::<_, ProviderError>(part)
        },
        async {
            let mut part = Refresh::default();
            if !of(Kind::CapacityProvider).is_empty() {
                refresh_capacity_providers(cx, resources, &mut part).await?;
            }
            Ok(part)
        },
        async {
            let mut part = Refresh::default();
            if !definitions.is_empty() {
                refresh_task_definitions(cx, &definitions, &mut part).await?;
            }
            Ok(part)
        },
        async {
            let mut part = Refresh::default();
            if !services.is_empty() {
                refresh_services(cx, &services, &mut part).await?;
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

// ---------------------------------------------------------------------------------------------
// Tags

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// Brings the tags of `arn` from `before` to the spec's, keeping (and healing) the ownership
/// tags; calls AWS only when something differs.
async fn sync_tags(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    arn: &str,
    before: Option<&Value>,
) -> Result<(), ProviderError> {
    let Some(TagChanges { removed, set }) = tag_changes(cx.own, spec, before)? else {
        return Ok(());
    };
    if !removed.is_empty() {
        cx.aws
            .ecs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .at(&spec.address, "UntagResource")?;
    }
    cx.aws
        .ecs
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(ecs_tags(&set)))
        .send()
        .await
        .at(&spec.address, "TagResource")?;
    Ok(())
}

/// A described resource with its ownership tags, whose only output is its ARN.
fn tagged(
    kind: Kind,
    id: &str,
    arn: &str,
    tags: &[Tag],
    attributes: BTreeMap<String, Value>,
) -> Tagged {
    let mut t = Tagged::new(kind, id, tag_map(tags), attributes);
    t.live.outputs = arn_output(arn);
    t
}

fn arn_output(arn: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([("arn".to_owned(), Value::from(arn))])
}

fn applied(spec: &ResourceSpec, id: &str, outputs: BTreeMap<String, Value>) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs,
        adopted: false,
    }
}

/// Adopts `live` (found by the spec's name or content and claimed): brings it to the spec.
async fn adopt(cx: Cx<'_>, spec: &ResourceSpec, live: &Live) -> Result<Applied, ProviderError> {
    super::ownership::adopt(spec, live, |prior| update(cx, spec, prior)).await
}

// ---------------------------------------------------------------------------------------------
// Clusters and their capacity provider lists

async fn describe_clusters(
    cx: Cx<'_>,
    a: &Address,
    names: Vec<String>,
) -> Result<Vec<Cluster>, ProviderError> {
    let mut all = Vec::new();
    // DescribeClusters takes at most 100 clusters.
    for chunk in names.chunks(100) {
        let out = cx
            .aws
            .ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .at(a, "DescribeClusters")?;
        all.extend(
            out.clusters
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.status() != Some("INACTIVE")),
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

fn cluster_live(c: &Cluster, recorded: Option<&ResourceState>) -> Option<Tagged> {
    let name = c.cluster_name()?;
    let insights = insights(c).map(Value::from).or_else(|| {
        recorded
            .and_then(|r| r.attributes.get("container_insights"))
            .cloned()
    });
    let mut attributes = attrs([("name", Value::from(name))]);
    if let Some(i) = insights {
        attributes.insert("container_insights".to_owned(), i);
    }
    Some(tagged(
        Kind::EcsCluster,
        name,
        c.cluster_arn()?,
        c.tags(),
        attributes,
    ))
}

fn insights_setting(spec: &ResourceSpec) -> Result<ClusterSetting, ProviderError> {
    Ok(ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(spec.str("container_insights")?)
        .build())
}

async fn create_cluster(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    if let Some(c) = describe_clusters(cx, a, vec![name.to_owned()])
        .await?
        .first()
    {
        let t =
            cluster_live(c, None).ok_or_else(|| missing(a, "DescribeClusters", "clusterArn"))?;
        claim(cx.own, a, name, &t.tags)?;
        return adopt(cx, spec, &t.live).await;
    }
    let out = cx
        .aws
        .ecs
        .create_cluster()
        .cluster_name(name)
        .settings(insights_setting(spec)?)
        .set_tags(Some(ecs_tags(&create_tags(cx.own, spec)?)))
        .send()
        .await
        .at(a, "CreateCluster")?;
    let arn = out
        .cluster()
        .and_then(Cluster::cluster_arn)
        .ok_or_else(|| missing(a, "CreateCluster", "cluster.clusterArn"))?;
    Ok(applied(spec, name, arn_output(arn)))
}

async fn update_cluster(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let arn = prior
        .outputs
        .get("arn")
        .and_then(Value::as_str)
        .ok_or_else(|| missing(a, "the recorded outputs", "arn"))?;
    if prior.attributes.get("container_insights") != spec.attributes.get("container_insights") {
        cx.aws
            .ecs
            .update_cluster()
            .cluster(prior.id)
            .settings(insights_setting(spec)?)
            .send()
            .await
            .at(a, "UpdateCluster")?;
    }
    sync_tags(cx, spec, arn, prior.attributes.get("tags")).await?;
    Ok(applied(spec, prior.id, arn_output(arn)))
}

/// Deletes the cluster once its services and instances are gone (they are deleted first, but
/// ECS releases them late).
async fn delete_cluster(cx: Cx<'_>, a: &Address, prior: Prior<'_>) -> Result<(), ProviderError> {
    let r = retry_when(
        cx.waits,
        cx.waits.dependency,
        |e| {
            e.aws_code().is_some_and(|c| {
                matches!(
                    c,
                    "ClusterContainsServicesException"
                        | "ClusterContainsContainerInstancesException"
                        | "ClusterContainsTasksException"
                        | "ClusterContainsCapacityProviderException"
                        | "UpdateInProgressException"
                        | "ResourceInUseException"
                )
            })
        },
        || async {
            cx.aws
                .ecs
                .delete_cluster()
                .cluster(prior.id)
                .send()
                .await
                .at(a, "DeleteCluster")
                .map(drop)
        },
    )
    .await;
    tolerate(r, &["ClusterNotFoundException"])
}

fn strategy(
    spec: &ResourceSpec,
    name: &str,
) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
    let Some(items) = spec.attributes.get(name).and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|i| {
            let n = |k: &str| {
                i.get(k)
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
            };
            CapacityProviderStrategyItem::builder()
                .capacity_provider(
                    i.get("capacity_provider")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
                .set_weight(n("weight"))
                .set_base(n("base"))
                .build()
                .map_err(|e| spec.invalid(name, &e.to_string()))
        })
        .collect()
}

fn strategy_value(items: &[CapacityProviderStrategyItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| json!({"capacity_provider": i.capacity_provider(), "weight": i.weight(), "base": i.base()}))
            .collect(),
    )
}

/// The capacity provider list and default strategy of the cluster, overwriting what it had: a
/// replacement and a retry are the same request.
async fn put_capacity_providers(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let cluster = spec.str("cluster")?;
    let providers = spec.strings("capacity_providers")?;
    let default = strategy(spec, "default_strategy")?;
    retry_when(
        cx.waits,
        cx.waits.dependency,
        |e| {
            matches!(
                e.aws_code(),
                Some("UpdateInProgressException" | "ResourceInUseException")
            )
        },
        || async {
            cx.aws
                .ecs
                .put_cluster_capacity_providers()
                .cluster(cluster)
                .set_capacity_providers(Some(providers.clone()))
                .set_default_capacity_provider_strategy(Some(default.clone()))
                .send()
                .await
                .at(a, "PutClusterCapacityProviders")
        },
    )
    .await?;
    Ok(applied(spec, cluster, BTreeMap::new()))
}

async fn clear_capacity_providers(
    cx: Cx<'_>,
    a: &Address,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = retry_when(
        cx.waits,
        cx.waits.dependency,
        |e| {
            matches!(
                e.aws_code(),
                Some("UpdateInProgressException" | "ResourceInUseException")
            )
        },
        || async {
            cx.aws
                .ecs
                .put_cluster_capacity_providers()
                .cluster(prior.id)
                .set_capacity_providers(Some(Vec::new()))
                .set_default_capacity_provider_strategy(Some(Vec::new()))
                .send()
                .await
                .at(a, "PutClusterCapacityProviders")
                .map(drop)
        },
    )
    .await;
    tolerate(r, &["ClusterNotFoundException"])
}

/// One `DescribeClusters` for both kinds that live on a cluster. A capacity provider list of a
/// cluster with no providers and no default strategy is missing: nothing of it is left.
async fn refresh_clusters(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    lists: &[(&Address, &ResourceState)],
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let names: BTreeSet<String> = resources
        .values()
        .filter(|r| matches!(r.kind, Kind::EcsCluster | Kind::ClusterCapacityProviders))
        .filter_map(|r| r.id.clone())
        .collect();
    let a = Address::new(Kind::EcsCluster.as_str());
    let clusters = describe_clusters(cx, &a, names.into_iter().collect()).await?;
    let by_name: BTreeMap<&str, &Cluster> = clusters
        .iter()
        .filter_map(|c| Some((c.cluster_name()?, c)))
        .collect();
    let found = clusters
        .iter()
        .filter_map(|c| {
            let recorded = resources
                .values()
                .find(|r| r.kind == Kind::EcsCluster && r.id.as_deref() == c.cluster_name());
            cluster_live(c, recorded)
        })
        .collect();
    settle(cx.own, resources, &[Kind::EcsCluster], found, out);
    for (address, r) in lists {
        let cluster = r.id.as_deref().and_then(|id| by_name.get(id));
        match cluster {
            Some(c)
                if !c.capacity_providers().is_empty()
                    || !c.default_capacity_provider_strategy().is_empty() =>
            {
                let attributes = attrs([
                    ("cluster", Value::from(c.cluster_name().unwrap_or_default())),
                    (
                        "capacity_providers",
                        as_set(
                            c.capacity_providers().to_vec(),
                            r.attributes.get("capacity_providers"),
                        ),
                    ),
                    (
                        "default_strategy",
                        strategy_value(c.default_capacity_provider_strategy()),
                    ),
                ]);
                out.live.insert(
                    (*address).clone(),
                    Live {
                        kind: Kind::ClusterCapacityProviders,
                        id: c.cluster_name().unwrap_or_default().to_owned(),
                        attributes,
                        outputs: BTreeMap::new(),
                    },
                );
            }
            _ => {
                out.missing.insert((*address).clone());
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Capacity providers

async fn describe_capacity_providers(
    cx: Cx<'_>,
    a: &Address,
    names: Vec<String>,
) -> Result<Vec<CapacityProvider>, ProviderError> {
    let mut all = Vec::new();
    // DescribeCapacityProviders takes at most 100 names; it pages by token, not by paginator.
    for chunk in names.chunks(100) {
        let mut token = None;
        loop {
            let out = cx
                .aws
                .ecs
                .describe_capacity_providers()
                .set_capacity_providers(Some(chunk.to_vec()))
                .include(CapacityProviderField::Tags)
                .set_next_token(token)
                .send()
                .await
                .at(a, "DescribeCapacityProviders")?;
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

fn capacity_provider_live(
    p: &CapacityProvider,
    recorded: Option<&ResourceState>,
) -> Option<Tagged> {
    let name = p.name()?;
    let asg = p.auto_scaling_group_provider()?;
    let rec = |k: &str| recorded.and_then(|r| r.attributes.get(k)).cloned();
    let scaling = asg.managed_scaling().map_or_else(
        || rec("managed_scaling").unwrap_or(Value::Null),
        |m| {
            json!({
                "status": m.status().map(ManagedScalingStatus::as_str),
                "target_capacity": m.target_capacity(),
            })
        },
    );
    let mut attributes = attrs([
        ("name", Value::from(name)),
        (
            "auto_scaling_group_arn",
            Value::from(asg.auto_scaling_group_arn()),
        ),
        ("managed_scaling", scaling),
    ]);
    if let Some(v) = asg
        .managed_termination_protection()
        .map(|m| Value::from(m.as_str()))
        .or_else(|| rec("managed_termination_protection"))
    {
        attributes.insert("managed_termination_protection".to_owned(), v);
    }
    if let Some(v) = asg
        .managed_draining()
        .map(|m| Value::from(m.as_str()))
        .or_else(|| rec("managed_draining"))
    {
        attributes.insert("managed_draining".to_owned(), v);
    }
    Some(tagged(
        Kind::CapacityProvider,
        name,
        p.capacity_provider_arn()?,
        p.tags(),
        attributes,
    ))
}

fn managed_scaling(spec: &ResourceSpec) -> Option<ManagedScaling> {
    let m = spec.attributes.get("managed_scaling")?;
    Some(
        ManagedScaling::builder()
            .set_status(
                m.get("status")
                    .and_then(Value::as_str)
                    .map(ManagedScalingStatus::from),
            )
            .set_target_capacity(
                m.get("target_capacity")
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok()),
            )
            .build(),
    )
}

async fn create_capacity_provider(
    cx: Cx<'_>,
    spec: &ResourceSpec,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let found = describe_capacity_providers(cx, a, vec![name.to_owned()]).await?;
    if let Some(p) = found.first() {
        let t = capacity_provider_live(p, None)
            .ok_or_else(|| missing(a, "DescribeCapacityProviders", "autoScalingGroupProvider"))?;
        claim(cx.own, a, name, &t.tags)?;
        return adopt(cx, spec, &t.live).await;
    }
    let provider = AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn(spec.str("auto_scaling_group_arn")?)
        .set_managed_scaling(managed_scaling(spec))
        .set_managed_termination_protection(
            spec.opt_str("managed_termination_protection")
                .map(ManagedTerminationProtection::from),
        )
        .set_managed_draining(spec.opt_str("managed_draining").map(ManagedDraining::from))
        .build()
        .map_err(|e| spec.invalid("auto_scaling_group_arn", &e.to_string()))?;
    let out = send_once!(
        aws_sdk_ecs,
        cx.aws
            .ecs
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(ecs_tags(&create_tags(cx.own, spec)?)))
    )
    .await
    .at(a, "CreateCapacityProvider")?;
    let arn = out
        .capacity_provider()
        .and_then(CapacityProvider::capacity_provider_arn)
        .ok_or_else(|| missing(a, "CreateCapacityProvider", "capacityProviderArn"))?;
    Ok(applied(spec, name, arn_output(arn)))
}

async fn update_capacity_provider(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let arn = prior
        .outputs
        .get("arn")
        .and_then(Value::as_str)
        .ok_or_else(|| missing(a, "the recorded outputs", "arn"))?;
    let differs = [
        "managed_scaling",
        "managed_termination_protection",
        "managed_draining",
    ]
    .iter()
    .any(|k| prior.attributes.get(*k) != spec.attributes.get(*k));
    if differs {
        cx.aws
            .ecs
            .update_capacity_provider()
            .name(prior.id)
            .auto_scaling_group_provider(
                AutoScalingGroupProviderUpdate::builder()
                    .set_managed_scaling(managed_scaling(spec))
                    .set_managed_termination_protection(
                        spec.opt_str("managed_termination_protection")
                            .map(ManagedTerminationProtection::from),
                    )
                    .set_managed_draining(
                        spec.opt_str("managed_draining").map(ManagedDraining::from),
                    )
                    .build(),
            )
            .send()
            .await
            .at(a, "UpdateCapacityProvider")?;
    }
    sync_tags(cx, spec, arn, prior.attributes.get("tags")).await?;
    Ok(applied(spec, prior.id, arn_output(arn)))
}

/// Deletes the provider unless it is already gone. It is looked up first because ECS answers a
/// delete of a missing provider with a generic `ClientException` (and moto with a server error).
async fn delete_capacity_provider(
    cx: Cx<'_>,
    a: &Address,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    if describe_capacity_providers(cx, a, vec![prior.id.to_owned()])
        .await?
        .is_empty()
    {
        return Ok(());
    }
    // Still in a cluster's list until that list is cleared (deleted before, applied late).
    let r = retry_when(
        cx.waits,
        cx.waits.dependency,
        |e| {
            matches!(
                e.aws_code(),
                Some("ResourceInUseException" | "UpdateInProgressException")
            )
        },
        || async {
            cx.aws
                .ecs
                .delete_capacity_provider()
                .capacity_provider(prior.id)
                .send()
                .await
                .at(a, "DeleteCapacityProvider")
                .map(drop)
        },
    )
    .await;
    match r {
        Err(e) if is_gone(&e) => Ok(()),
        r => r,
    }
}

async fn refresh_capacity_providers(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let recorded: BTreeMap<&str, &ResourceState> = resources
        .values()
        .filter(|r| r.kind == Kind::CapacityProvider)
        .filter_map(|r| Some((r.id.as_deref()?, r)))
        .collect();
    let a = Address::new(Kind::CapacityProvider.as_str());
    let names = recorded.keys().map(|n| (*n).to_owned()).collect();
    let providers = describe_capacity_providers(cx, &a, names).await?;
    let found = providers
        .iter()
        .filter_map(|p| capacity_provider_live(p, p.name().and_then(|n| recorded.get(n).copied())))
        .collect();
    settle(cx.own, resources, &[Kind::CapacityProvider], found, out);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Task definitions

/// A container definition from its JSON object (ECS's camelCase keys).
fn container(spec: &ResourceSpec, c: &Value) -> Result<ContainerDefinition, ProviderError> {
    const ATTR: &str = "container_definitions";
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let number = |k: &str| {
        c.get(k)
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
    };
    let flag = |k: &str| c.get(k).and_then(Value::as_bool);
    let list = |k: &str| {
        c.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut d = ContainerDefinition::builder()
        .set_name(text("name"))
        .set_image(text("image"))
        .set_cpu(number("cpu"))
        .set_memory(number("memory"))
        .set_essential(flag("essential"))
        .set_privileged(flag("privileged"));
    for arg in list("command") {
        if let Some(arg) = arg.as_str() {
            d = d.command(arg);
        }
    }
    for e in list("environment") {
        d = d.environment(
            KeyValuePair::builder()
                .set_name(e.get("name").and_then(Value::as_str).map(str::to_owned))
                .set_value(e.get("value").and_then(Value::as_str).map(str::to_owned))
                .build(),
        );
    }
    for e in list("secrets") {
        d = d.secrets(
            Secret::builder()
                .set_name(e.get("name").and_then(Value::as_str).map(str::to_owned))
                .set_value_from(
                    e.get("valueFrom")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
                .build()
                .map_err(|err| spec.invalid(ATTR, &err.to_string()))?,
        );
    }
    for p in list("portMappings") {
        let pn = |k: &str| {
            p.get(k)
                .and_then(Value::as_i64)
                .and_then(|v| i32::try_from(v).ok())
        };
        d = d.port_mappings(
            PortMapping::builder()
                .set_container_port(pn("containerPort"))
                .set_host_port(pn("hostPort"))
                .set_protocol(
                    p.get("protocol")
                        .and_then(Value::as_str)
                        .map(TransportProtocol::from),
                )
                .build(),
        );
    }
    for m in list("mountPoints") {
        d = d.mount_points(
            MountPoint::builder()
                .set_source_volume(
                    m.get("sourceVolume")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
                .set_container_path(
                    m.get("containerPath")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
                .set_read_only(m.get("readOnly").and_then(Value::as_bool))
                .build(),
        );
    }
    if let Some(l) = c.get("logConfiguration") {
        let options: Option<HashMap<String, String>> =
            l.get("options").and_then(Value::as_object).map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            });
        d = d.log_configuration(
            LogConfiguration::builder()
                .set_log_driver(
                    l.get("logDriver")
                        .and_then(Value::as_str)
                        .map(LogDriver::from),
                )
                .set_options(options)
                .build()
                .map_err(|err| spec.invalid(ATTR, &err.to_string()))?,
        );
    }
    Ok(d.build())
}

/// A described container definition as JSON, the keys ecsops sets only.
fn container_value(c: &ContainerDefinition) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("name", json!(c.name()));
    put("image", json!(c.image()));
    put("cpu", json!(c.cpu()));
    put("memory", json!(c.memory()));
    put("essential", json!(c.essential()));
    put("privileged", json!(c.privileged()));
    put("command", json!(c.command()));
    put(
        "environment",
        Value::Array(
            c.environment()
                .iter()
                .map(|e| json!({"name": e.name(), "value": e.value()}))
                .collect(),
        ),
    );
    put(
        "secrets",
        Value::Array(
            c.secrets()
                .iter()
                .map(|e| json!({"name": e.name(), "valueFrom": e.value_from()}))
                .collect(),
        ),
    );
    put(
        "portMappings",
        Value::Array(
            c.port_mappings()
                .iter()
                .map(|p| {
                    json!({"containerPort": p.container_port(), "hostPort": p.host_port(),
                           "protocol": p.protocol().map(TransportProtocol::as_str)})
                })
                .collect(),
        ),
    );
    put(
        "mountPoints",
        Value::Array(
            c.mount_points()
                .iter()
                .map(|p| {
                    json!({"sourceVolume": p.source_volume(), "containerPath": p.container_path(),
                           "readOnly": p.read_only()})
                })
                .collect(),
        ),
    );
    if let Some(l) = c.log_configuration() {
        let options: BTreeMap<&str, &str> = l
            .options()
            .map(|o| o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
            .unwrap_or_default();
        put(
            "logConfiguration",
            json!({"logDriver": l.log_driver().as_str(), "options": options}),
        );
    }
    Value::Object(m)
}

/// Without nulls, empty lists and empty tables: AWS leaves out what is empty, so content is
/// compared on what is there.
fn pruned(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Object(m) if m.is_empty() => None,
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(pruned).collect())),
        Value::Object(m) => {
            let m: Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), pruned(v)?)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        other => Some(other.clone()),
    }
}

/// A described revision in the desired shape (for adoption: content equality).
fn task_definition_attributes(td: &TaskDefinition, tags: &[Tag]) -> BTreeMap<String, Value> {
    let mut a = attrs([
        ("family", json!(td.family())),
        ("network_mode", json!(td.network_mode().map(NetworkMode::as_str))),
        (
            "requires_compatibilities",
            json!(td.requires_compatibilities().iter().map(Compatibility::as_str).collect::<Vec<_>>()),
        ),
        (
            "container_definitions",
            Value::Array(td.container_definitions().iter().map(container_value).collect()),
        ),
        ("execution_role_arn", json!(td.execution_role_arn())),
        (
            "volumes",
            Value::Array(
                td.volumes()
                    .iter()
                    .map(|v| json!({"name": v.name(), "host": {"sourcePath": v.host().and_then(HostVolumeProperties::source_path)}}))
                    .collect(),
            ),
        ),
    ]);
    a.insert("tags".to_owned(), visible_tags(&tag_map(tags)));
    a
}

fn same_content(spec: &BTreeMap<String, Value>, live: &BTreeMap<String, Value>) -> bool {
    let whole =
        |m: &BTreeMap<String, Value>| pruned(&Value::Object(m.clone().into_iter().collect()));
    whole(spec) == whole(live)
}

fn td_outputs(td: &TaskDefinition) -> Option<(String, BTreeMap<String, Value>)> {
    let arn = td.task_definition_arn()?;
    Some((
        arn.to_owned(),
        BTreeMap::from([
            ("arn".to_owned(), Value::from(arn)),
            ("revision".to_owned(), Value::from(td.revision())),
        ]),
    ))
}

/// The family's latest ACTIVE revision when it is ours and already holds the spec's content:
/// the registration of a run that crashed before recording it.
async fn adoptable_revision(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    family: &str,
) -> Result<Option<Applied>, ProviderError> {
    let a = &spec.address;
    let described = cx
        .aws
        .ecs
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .at(a, "DescribeTaskDefinition");
    let out = match described {
        Err(e) if is_gone(&e) => return Ok(None),
        r => r?,
    };
    let Some(td) = out.task_definition() else {
        return Ok(None);
    };
    if td.status() != Some(&TaskDefinitionStatus::Active) {
        return Ok(None);
    }
    let (arn, outputs) =
        td_outputs(td).ok_or_else(|| missing(a, "DescribeTaskDefinition", "taskDefinitionArn"))?;
    let tags = tag_map(out.tags());
    // Families are not exclusive: a revision of another address or environment, or one without
    // our tags, is no reason to refuse a new one; another lineage's family is.
    if other_environment(cx.own, &tags).is_some() {
        return Ok(None);
    }
    match owner(&tags) {
        Some((_, lineage)) if lineage != cx.own.lineage => {
            return Err(ProviderError::ForeignLineage {
                address: a.clone(),
                id: arn,
                found: lineage.to_owned(),
                expected: cx.own.lineage.clone(),
            });
        }
        Some((owner_address, _)) if owner_address == *a => {}
        _ => return Ok(None),
    }
    if !same_content(
        &spec.attributes,
        &task_definition_attributes(td, out.tags()),
    ) {
        return Ok(None);
    }
    tracing::info!(address = %a, arn, "adopting an existing task definition revision");
    Ok(Some(Applied {
        id: arn,
        attributes: spec.attributes.clone(),
        outputs,
        adopted: true,
    }))
}

async fn create_task_definition(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    const ATTR: &str = "container_definitions";
    let a = &spec.address;
    let family = spec.str("family")?;
    if let Some(done) = adoptable_revision(cx, spec, family).await? {
        return Ok(done);
    }
    let containers = spec
        .attributes
        .get(ATTR)
        .and_then(Value::as_array)
        .ok_or_else(|| spec.invalid(ATTR, "is missing or not a list"))?
        .iter()
        .map(|c| container(spec, c))
        .collect::<Result<Vec<_>, _>>()?;
    let volumes: Vec<Volume> = spec
        .attributes
        .get("volumes")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    Volume::builder()
                        .set_name(v.get("name").and_then(Value::as_str).map(str::to_owned))
                        .set_host(
                            v.pointer("/host/sourcePath")
                                .and_then(Value::as_str)
                                .map(|p| HostVolumeProperties::builder().source_path(p).build()),
                        )
                        .build()
                })
                .collect()
        })
        .unwrap_or_default();
    let compatibilities = spec
        .strings("requires_compatibilities")?
        .iter()
        .map(|c| Compatibility::from(c.as_str()))
        .collect();
    let out = send_once!(
        aws_sdk_ecs,
        cx.aws
            .ecs
            .register_task_definition()
            .family(family)
            .set_network_mode(spec.opt_str("network_mode").map(NetworkMode::from))
            .set_requires_compatibilities(Some(compatibilities))
            .set_execution_role_arn(spec.opt_str("execution_role_arn").map(str::to_owned))
            .set_container_definitions(Some(containers))
            .set_volumes((!volumes.is_empty()).then_some(volumes))
            .set_tags(Some(ecs_tags(&create_tags(cx.own, spec)?)))
    )
    .await
    .at(a, "RegisterTaskDefinition")?;
    let (arn, outputs) = out
        .task_definition()
        .and_then(td_outputs)
        .ok_or_else(|| missing(a, "RegisterTaskDefinition", "taskDefinitionArn"))?;
    Ok(applied(spec, &arn, outputs))
}

/// Revisions are immutable: one `ListTaskDefinitions` of the ACTIVE ones says which recorded
/// revisions still exist; their live attributes are the recorded ones.
async fn refresh_task_definitions(
    cx: Cx<'_>,
    recorded: &[(&Address, &ResourceState)],
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let a = Address::new(Kind::TaskDefinition.as_str());
    let active: BTreeSet<String> = cx
        .aws
        .ecs
        .list_task_definitions()
        .status(TaskDefinitionStatus::Active)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(&a, "ListTaskDefinitions")?
        .into_iter()
        .collect();
    for (address, r) in recorded {
        match r.id.as_ref().filter(|id| active.contains(*id)) {
            Some(id) => {
                out.live.insert(
                    (*address).clone(),
                    Live {
                        kind: Kind::TaskDefinition,
                        id: id.clone(),
                        attributes: r.attributes.clone(),
                        outputs: r.outputs.clone(),
                    },
                );
            }
            None => {
                out.missing.insert((*address).clone());
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Services

fn deployment_configuration(spec: &ResourceSpec) -> Option<DeploymentConfiguration> {
    let d = spec.attributes.get("deployment_configuration")?;
    let n = |k: &str| {
        d.get(k)
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
    };
    let breaker = d.get("circuit_breaker").map(|c| {
        DeploymentCircuitBreaker::builder()
            .enable(c.get("enable").and_then(Value::as_bool).unwrap_or(false))
            .rollback(c.get("rollback").and_then(Value::as_bool).unwrap_or(false))
            .build()
    });
    Some(
        DeploymentConfiguration::builder()
            .set_minimum_healthy_percent(n("minimum_healthy_percent"))
            .set_maximum_percent(n("maximum_percent"))
            .set_deployment_circuit_breaker(breaker)
            .build(),
    )
}

fn placement_strategy(spec: &ResourceSpec) -> Vec<PlacementStrategy> {
    spec.attributes
        .get("placement_strategy")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|p| {
                    PlacementStrategy::builder()
                        .set_type(
                            p.get("type")
                                .and_then(Value::as_str)
                                .map(PlacementStrategyType::from),
                        )
                        .set_field(p.get("field").and_then(Value::as_str).map(str::to_owned))
                        .build()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn placement_constraints(spec: &ResourceSpec) -> Vec<PlacementConstraint> {
    spec.attributes
        .get("placement_constraints")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|p| {
                    PlacementConstraint::builder()
                        .set_type(
                            p.get("type")
                                .and_then(Value::as_str)
                                .map(PlacementConstraintType::from),
                        )
                        .set_expression(
                            p.get("expression")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                        )
                        .build()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn load_balancers(spec: &ResourceSpec) -> Vec<LoadBalancer> {
    spec.attributes
        .get("load_balancers")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|b| {
                    let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
                    LoadBalancer::builder()
                        .set_target_group_arn(s("target_group_arn"))
                        .set_load_balancer_name(s("load_balancer_name"))
                        .set_container_name(s("container_name"))
                        .set_container_port(
                            b.get("container_port")
                                .and_then(Value::as_i64)
                                .and_then(|v| i32::try_from(v).ok()),
                        )
                        .build()
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn describe_services(
    cx: Cx<'_>,
    a: &Address,
    cluster: &str,
    services: &[String],
) -> Result<Vec<Service>, ProviderError> {
    let mut all = Vec::new();
    // DescribeServices takes at most 10 services.
    for chunk in services.chunks(10) {
        let out = cx
            .aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await;
        let out = match out.at(a, "DescribeServices") {
            // The cluster itself is gone: so are its services.
            Err(e) if e.aws_code() == Some("ClusterNotFoundException") => return Ok(Vec::new()),
            r => r?,
        };
        all.extend(
            out.services
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.status() == Some("ACTIVE")),
        );
    }
    Ok(all)
}

/// A described service in the desired shape. Optional attributes appear when the recorded
/// ones have them; a field the answer lacks keeps the recorded value (AWS reported no
/// difference). `enable_ecs_managed_tags` reads as recorded unless AWS says `true`: the SDK
/// turns a missing boolean into `false`, so a `false` tells nothing.
fn service_live(s: &Service, recorded: Option<&ResourceState>) -> Option<Tagged> {
    let arn = s.service_arn()?;
    let rec = |k: &str| recorded.and_then(|r| r.attributes.get(k)).cloned();
    let has = |k: &str| recorded.is_some_and(|r| r.attributes.contains_key(k));
    let mut attributes = attrs([
        ("name", json!(s.service_name())),
        ("cluster", json!(s.cluster_arn())),
        ("task_definition", json!(s.task_definition())),
        (
            "scheduling_strategy",
            json!(s.scheduling_strategy().map(SchedulingStrategy::as_str)),
        ),
        (
            "enable_ecs_managed_tags",
            if s.enable_ecs_managed_tags() {
                Value::Bool(true)
            } else {
                rec("enable_ecs_managed_tags").unwrap_or(Value::Bool(false))
            },
        ),
    ]);
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v.or_else(|| rec(k)) {
            attributes.insert(k.to_owned(), v);
        }
    };
    let listed = |v: Value| match &v {
        Value::Array(l) if l.is_empty() => None,
        _ => Some(v),
    };
    if has("desired_count") {
        put("desired_count", Some(json!(s.desired_count())));
    }
    if has("launch_type") {
        put("launch_type", s.launch_type().map(|l| json!(l.as_str())));
    }
    put(
        "propagate_tags",
        s.propagate_tags().map(|p| json!(p.as_str())),
    );
    if has("capacity_provider_strategy") {
        put(
            "capacity_provider_strategy",
            listed(strategy_value(s.capacity_provider_strategy())),
        );
    }
    let recorded_deployment = rec("deployment_configuration");
    put(
        "deployment_configuration",
        s.deployment_configuration().map(|d| {
            let mut v = json!({
                "minimum_healthy_percent": d.minimum_healthy_percent(),
                "maximum_percent": d.maximum_percent(),
            });
            if recorded_deployment.as_ref().is_some_and(|r| r.get("circuit_breaker").is_some()) {
                v["circuit_breaker"] = json!({
                    "enable": d.deployment_circuit_breaker().is_some_and(DeploymentCircuitBreaker::enable),
                    "rollback": d.deployment_circuit_breaker().is_some_and(DeploymentCircuitBreaker::rollback),
                });
            }
            v
        }),
    );
    if has("placement_strategy") {
        put(
            "placement_strategy",
            listed(Value::Array(
                s.placement_strategy()
                    .iter()
                    .map(|p| json!({"type": p.r#type().map(PlacementStrategyType::as_str), "field": p.field()}))
                    .collect(),
            )),
        );
    }
    if has("placement_constraints") {
        put(
            "placement_constraints",
            listed(Value::Array(
                s.placement_constraints()
                    .iter()
                    .map(|p| json!({"type": p.r#type().map(PlacementConstraintType::as_str), "expression": p.expression()}))
                    .collect(),
            )),
        );
    }
    if has("load_balancers") || !s.load_balancers().is_empty() {
        put(
            "load_balancers",
            Some(Value::Array(
                s.load_balancers()
                    .iter()
                    .map(|b| {
                        let mut v = Map::new();
                        if let Some(t) = b.target_group_arn() {
                            v.insert("target_group_arn".to_owned(), json!(t));
                        }
                        if let Some(n) = b.load_balancer_name() {
                            v.insert("load_balancer_name".to_owned(), json!(n));
                        }
                        v.insert("container_name".to_owned(), json!(b.container_name()));
                        v.insert("container_port".to_owned(), json!(b.container_port()));
                        Value::Object(v)
                    })
                    .collect(),
            )),
        );
    }
    if has("health_check_grace_period") {
        put(
            "health_check_grace_period",
            s.health_check_grace_period_seconds().map(Value::from),
        );
    }
    Some(tagged(Kind::Service, arn, arn, s.tags(), attributes))
}

async fn create_service(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    token_seed: u64,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let cluster = spec.str("cluster")?;
    if let Some(s) = describe_services(cx, a, cluster, &[name.to_owned()])
        .await?
        .first()
    {
        let t =
            service_live(s, None).ok_or_else(|| missing(a, "DescribeServices", "serviceArn"))?;
        claim(cx.own, a, &t.live.id, &t.tags)?;
        return adopt(cx, spec, &t.live).await;
    }
    let scheduling = spec.str("scheduling_strategy")?;
    let mut token = spec.client_token(&cx.own.lineage, token_seed);
    // CreateService takes at most 36 characters.
    token.truncate(36);
    let strategy = strategy(spec, "capacity_provider_strategy")?;
    let out = send_once!(
        aws_sdk_ecs,
        cx.aws
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(spec.str("task_definition")?)
            .set_desired_count(spec.opt_int("desired_count")?)
            .scheduling_strategy(SchedulingStrategy::from(scheduling))
            .set_launch_type(spec.opt_str("launch_type").map(LaunchType::from))
            .set_capacity_provider_strategy((!strategy.is_empty()).then_some(strategy))
            .set_deployment_configuration(deployment_configuration(spec))
            .set_placement_strategy(Some(placement_strategy(spec)))
            .set_placement_constraints(Some(placement_constraints(spec)))
            .set_load_balancers(Some(load_balancers(spec)))
            .set_health_check_grace_period_seconds(spec.opt_int("health_check_grace_period")?)
            .enable_ecs_managed_tags(spec.bool_or("enable_ecs_managed_tags", false)?)
            .set_propagate_tags(spec.opt_str("propagate_tags").map(PropagateTags::from))
            .set_tags(Some(ecs_tags(&create_tags(cx.own, spec)?)))
            .client_token(token)
    )
    .await
    .at(a, "CreateService")?;
    let arn = out
        .service()
        .and_then(Service::service_arn)
        .ok_or_else(|| missing(a, "CreateService", "service.serviceArn"))?;
    Ok(applied(spec, arn, arn_output(arn)))
}

/// One `UpdateService` with every changed field (none: no call), then the tags.
async fn update_service(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let changed = |k: &str| prior.attributes.get(k) != spec.attributes.get(k);
    let mut req = cx
        .aws
        .ecs
        .update_service()
        .cluster(spec.str("cluster")?)
        .service(prior.id);
    let mut any = false;
    if changed("task_definition") {
        req = req.task_definition(spec.str("task_definition")?);
        any = true;
    }
    if changed("desired_count") {
        req = req.set_desired_count(spec.opt_int("desired_count")?);
        any = true;
    }
    if changed("deployment_configuration") {
        req = req.set_deployment_configuration(deployment_configuration(spec));
        any = true;
    }
    if changed("capacity_provider_strategy") {
        // ECS applies a new strategy only with a new deployment.
        req = req
            .set_capacity_provider_strategy(Some(strategy(spec, "capacity_provider_strategy")?))
            .force_new_deployment(true);
        any = true;
    }
    if changed("placement_strategy") {
        req = req.set_placement_strategy(Some(placement_strategy(spec)));
        any = true;
    }
    if changed("placement_constraints") {
        req = req.set_placement_constraints(Some(placement_constraints(spec)));
        any = true;
    }
    if changed("load_balancers") {
        req = req.set_load_balancers(Some(load_balancers(spec)));
        any = true;
    }
    if changed("health_check_grace_period") {
        req = req.set_health_check_grace_period_seconds(spec.opt_int("health_check_grace_period")?);
        any = true;
    }
    if changed("enable_ecs_managed_tags") {
        req = req.enable_ecs_managed_tags(spec.bool_or("enable_ecs_managed_tags", false)?);
        any = true;
    }
    if changed("propagate_tags") {
        req = req.set_propagate_tags(spec.opt_str("propagate_tags").map(PropagateTags::from));
        any = true;
    }
    if any {
        req.send().await.at(a, "UpdateService")?;
    }
    sync_tags(cx, spec, prior.id, prior.attributes.get("tags")).await?;
    Ok(applied(spec, prior.id, arn_output(prior.id)))
}

/// Scales a replica service to zero, deletes it and waits until ECS reports it INACTIVE: its
/// name is reusable and its cluster deletable only then.
async fn delete_service(cx: Cx<'_>, a: &Address, prior: Prior<'_>) -> Result<(), ProviderError> {
    const GONE: &[&str] = &[
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "ClusterNotFoundException",
    ];
    let cluster = prior
        .attributes
        .get("cluster")
        .and_then(Value::as_str)
        .ok_or_else(|| missing(a, "the recorded attributes", "cluster"))?;
    if prior
        .attributes
        .get("scheduling_strategy")
        .and_then(Value::as_str)
        != Some("DAEMON")
    {
        let r = cx
            .aws
            .ecs
            .update_service()
            .cluster(cluster)
            .service(prior.id)
            .desired_count(0)
            .send()
            .await
            .at(a, "UpdateService")
            .map(drop);
        tolerate(r, GONE)?;
    }
    let r = cx
        .aws
        .ecs
        .delete_service()
        .cluster(cluster)
        .service(prior.id)
        .force(true)
        .send()
        .await
        .at(a, "DeleteService")
        .map(drop);
    tolerate(r, GONE)?;
    let start = Instant::now();
    while !describe_services(cx, a, cluster, &[prior.id.to_owned()])
        .await?
        .is_empty()
    {
        if start.elapsed() + cx.waits.poll >= cx.waits.dependency {
            return Err(ProviderError::Timeout {
                address: a.clone(),
                what: "the service to drain and become INACTIVE".to_owned(),
                seconds: cx.waits.dependency.as_secs(),
            });
        }
        tokio::time::sleep(cx.waits.poll).await;
    }
    Ok(())
}

/// `DescribeServices` per cluster, ten services a request.
async fn refresh_services(
    cx: Cx<'_>,
    recorded: &[(&Address, &ResourceState)],
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let a = Address::new(Kind::Service.as_str());
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (address, r) in recorded {
        match (r.attributes.get("cluster").and_then(Value::as_str), &r.id) {
            (Some(cluster), Some(id)) => by_cluster.entry(cluster).or_default().push(id.clone()),
            _ => {
                out.missing.insert((*address).clone());
            }
        }
    }
    let by_id: BTreeMap<&str, &ResourceState> = recorded
        .iter()
        .filter_map(|(_, r)| Some((r.id.as_deref()?, *r)))
        .collect();
    let mut found = Vec::new();
    for (cluster, ids) in by_cluster {
        for s in describe_services(cx, &a, cluster, &ids).await? {
            let rec = s.service_arn().and_then(|arn| by_id.get(arn).copied());
            found.extend(service_live(&s, rec));
        }
    }
    let resources: BTreeMap<Address, ResourceState> = recorded
        .iter()
        .filter(|(address, _)| !out.missing.contains(*address))
        .map(|(address, r)| ((*address).clone(), (*r).clone()))
        .collect();
    settle(cx.own, &resources, &[Kind::Service], found, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_round_trip_through_the_sdk_shape() {
        let spec = ResourceSpec {
            address: Address::keyed("task_definition", "web"),
            kind: Kind::TaskDefinition,
            attributes: BTreeMap::new(),
        };
        let c = json!({
            "name": "web", "image": "nginx", "cpu": 256, "memory": 256, "essential": true,
            "environment": [{"name": "A", "value": "1"}],
            "secrets": [{"name": "P", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/p"}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
            "command": []
        });
        let d = container(&spec, &c).expect("container");
        assert_eq!(pruned(&container_value(&d)), pruned(&c));
    }

    #[test]
    fn live_lists_keep_the_recorded_order_when_equal_as_sets() {
        let recorded = json!(["b", "a"]);
        assert_eq!(
            as_set(vec!["a".to_owned(), "b".to_owned()], Some(&recorded)),
            recorded
        );
        assert_eq!(
            as_set(vec!["c".to_owned(), "a".to_owned()], Some(&recorded)),
            json!(["a", "c"])
        );
    }
}
