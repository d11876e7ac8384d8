//! ECS services: created with a client token, updated with one `UpdateService`, scaled to zero
//! and drained on delete; refreshed with `DescribeServices` per cluster, ten a request.

use crate::provider::aws::send;
use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, LoadBalancer,
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType,
    PropagateTags, SchedulingStrategy, Service, ServiceField,
};

use super::super::ec2::{Tagged, settle, visible};
use super::super::live::{found_or_none, missing, recorded};
use super::super::once::send_once;
use super::super::ownership::{claim_described, create_tags};
use super::super::wait::poll_until;
use super::super::{Cx, Done, Manage, New, Prior, Recorded, remove, remove_request};
use super::{strategy, strategy_items, tag_map, update_tags};
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, Refresh, ResourceSpec};

const STRATEGY: &str = "capacity_provider_strategy";

impl Manage for attrs::Service {
    /// The service of that name in the cluster, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let found = describe(cx, a, &want.cluster, std::slice::from_ref(&want.name)).await?;
        let live = |s: &Service| service_live(s, None);
        claim_described(cx, a, found.first(), live, ("DescribeServices", "serviceArn"))
    }

    /// Creates the service (with a client token from the spec).
    async fn create(cx: Cx<'_>, New { a, spec, token }: New<'_>, want: Self) -> Done {
        // CreateService takes at most 36 characters (the token is hex).
        let token = token.get(..36).unwrap_or(token);
        let strategy =
            strategy(a, STRATEGY, want.capacity_provider_strategy.as_deref().unwrap_or_default())?;
        let out = send_once!(
            a,
            cx.ecs
                .create_service()
                .cluster(&want.cluster)
                .service_name(&want.name)
                .task_definition(&want.task_definition)
                .set_desired_count(want.desired_count)
                .scheduling_strategy(SchedulingStrategy::from(want.scheduling_strategy.as_str()))
                .set_launch_type(want.launch_type.as_deref().map(LaunchType::from))
                .set_capacity_provider_strategy((!strategy.is_empty()).then_some(strategy))
                .set_deployment_configuration(deployment_configuration(&want))
                .set_placement_strategy(Some(placement_strategy(&want)))
                .set_placement_constraints(Some(placement_constraints(&want)))
                .set_load_balancers(Some(load_balancers(&want)))
                .set_health_check_grace_period_seconds(want.health_check_grace_period)
                .enable_ecs_managed_tags(want.enable_ecs_managed_tags)
                .set_propagate_tags(want.propagate_tags.as_deref().map(PropagateTags::from))
                .set_enable_execute_command(want.enable_execute_command)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
                .client_token(token)
        )?;
        let arn = out
            .service()
            .and_then(Service::service_arn)
            .ok_or_else(|| missing(a, "CreateService", "service.serviceArn"))?;
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// One `UpdateService` with every changed field (none: no call), then the tags.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::Service = prior.decode()?;
        let mut req = cx.ecs.update_service().cluster(&want.cluster).service(prior.id);
        let mut any = false;
        if want.task_definition != was.task_definition {
            req = req.task_definition(&want.task_definition);
            any = true;
        }
        if want.desired_count != was.desired_count {
            req = req.set_desired_count(want.desired_count);
            any = true;
        }
        if want.deployment_configuration != was.deployment_configuration {
            req = req.set_deployment_configuration(deployment_configuration(&want));
            any = true;
        }
        if want.capacity_provider_strategy != was.capacity_provider_strategy {
            let items = want.capacity_provider_strategy.as_deref().unwrap_or_default();
            // ECS applies a new strategy only with a new deployment.
            req = req
                .set_capacity_provider_strategy(Some(strategy(a, STRATEGY, items)?))
                .force_new_deployment(true);
            any = true;
        }
        if want.placement_strategy != was.placement_strategy {
            req = req.set_placement_strategy(Some(placement_strategy(&want)));
            any = true;
        }
        if want.placement_constraints != was.placement_constraints {
            req = req.set_placement_constraints(Some(placement_constraints(&want)));
            any = true;
        }
        if want.load_balancers != was.load_balancers {
            req = req.set_load_balancers(Some(load_balancers(&want)));
            any = true;
        }
        if want.health_check_grace_period != was.health_check_grace_period {
            req = req.set_health_check_grace_period_seconds(want.health_check_grace_period);
            any = true;
        }
        if want.enable_ecs_managed_tags != was.enable_ecs_managed_tags {
            req = req.enable_ecs_managed_tags(want.enable_ecs_managed_tags);
            any = true;
        }
        if want.propagate_tags != was.propagate_tags {
            req = req.set_propagate_tags(want.propagate_tags.as_deref().map(PropagateTags::from));
            any = true;
        }
        if want.enable_execute_command != was.enable_execute_command {
            // Running tasks keep the setting they started with: only a new deployment lets
            // ECS Exec in (or shuts it out).
            req = req
                .enable_execute_command(want.enable_execute_command.unwrap_or(false))
                .force_new_deployment(true);
            any = true;
        }
        if any {
            send!(a, req)?;
        }
        update_tags(cx, a, prior.id, &was.tags, &want.tags).await?;
        Ok(Applied::new(spec, prior.id, &ArnOutputs::of(prior.id)))
    }

    /// Scales a replica service to zero, deletes it and waits until ECS reports it INACTIVE:
    /// its name is reusable and its cluster deletable only then.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        const GONE: &[&str] =
            &["ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"];
        let a = prior.address;
        let was: attrs::Service = prior.decode()?;
        let cluster = was.cluster.as_str();
        if was.scheduling_strategy != "DAEMON" {
            remove_request(cx, a, &[], GONE, || {
                cx.ecs.update_service().cluster(cluster).service(prior.id).desired_count(0).send()
            })
            .await?;
        }
        remove(cx, &[], GONE, || async {
            send!(a, cx.ecs.delete_service().cluster(cluster).service(prior.id).force(true))
                .map(drop)
        })
        .await?;
        poll_until(
            cx,
            a,
            "the service to drain and become INACTIVE",
            cx.waits.dependency,
            || async {
                let left = describe(cx, a, cluster, &[prior.id.to_owned()]).await?;
                Ok(left.is_empty().then_some(()))
            },
        )
        .await
    }
}

fn deployment_configuration(want: &attrs::Service) -> Option<DeploymentConfiguration> {
    let d = want.deployment_configuration.as_ref()?;
    let breaker = d
        .circuit_breaker
        .as_ref()
        .map(|c| DeploymentCircuitBreaker::builder().enable(c.enable).rollback(c.rollback).build());
    Some(
        DeploymentConfiguration::builder()
            .minimum_healthy_percent(d.minimum_healthy_percent)
            .maximum_percent(d.maximum_percent)
            .set_deployment_circuit_breaker(breaker)
            .build(),
    )
}

fn placement_strategy(want: &attrs::Service) -> Vec<PlacementStrategy> {
    want.placement_strategy
        .iter()
        .flatten()
        .map(|p| {
            PlacementStrategy::builder()
                .r#type(PlacementStrategyType::from(p.kind.as_str()))
                .field(&p.field)
                .build()
        })
        .collect()
}

fn placement_constraints(want: &attrs::Service) -> Vec<PlacementConstraint> {
    want.placement_constraints
        .iter()
        .flatten()
        .map(|p| {
            PlacementConstraint::builder()
                .r#type(PlacementConstraintType::from(p.kind.as_str()))
                .expression(&p.expression)
                .build()
        })
        .collect()
}

fn load_balancers(want: &attrs::Service) -> Vec<LoadBalancer> {
    want.load_balancers
        .iter()
        .flatten()
        .map(|b| {
            LoadBalancer::builder()
                .set_target_group_arn(b.target_group_arn.clone())
                .set_load_balancer_name(b.load_balancer_name.clone())
                .container_name(&b.container_name)
                .container_port(b.container_port)
                .build()
        })
        .collect()
}

/// The named services of `cluster` that are ACTIVE; none when the cluster itself is gone.
pub(crate) async fn describe(
    cx: Cx<'_>,
    a: &Address,
    cluster: &str,
    services: &[String],
) -> Done<Vec<Service>> {
    let mut all = Vec::new();
    // DescribeServices takes at most 10 services and has no pages.
    for chunk in services.chunks(10) {
        let out = send!(
            a,
            cx.ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
        );
        // The cluster itself is gone: so are its services.
        let Some(out) = found_or_none(out, "ClusterNotFoundException")? else {
            return Ok(Vec::new());
        };
        all.extend(
            out.services.unwrap_or_default().into_iter().filter(|s| s.status() == Some("ACTIVE")),
        );
    }
    Ok(all)
}

/// A list read from AWS, `None` when empty (so that the recorded one stands).
fn listed<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// A described service in the desired shape. Optional attributes appear when the recorded
/// ones have them; a field the answer lacks keeps the recorded value (AWS reported no
/// difference). `enable_ecs_managed_tags` reads as recorded unless AWS says `true`: the SDK
/// turns a missing boolean into `false`, so a `false` tells nothing. `enable_execute_command`
/// is the exception: ECS always answers it, and its `false` is the drift to show.
fn service_live(s: &Service, recorded: Option<&attrs::Service>) -> Option<Tagged> {
    let arn = s.service_arn()?;
    let tags = tag_map(s.tags());
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    // A field the recorded service has: `live` (read only then), else the recorded value.
    macro_rules! when_recorded {
        ($field:ident, $live:expr) => {
            recorded.and_then(|r| r.$field.as_ref().map(|was| $live.unwrap_or_else(|| was.clone())))
        };
    }
    let recorded_deployment = recorded.and_then(|r| r.deployment_configuration.as_ref());
    let deployment = s.deployment_configuration().map(|d| {
        let breaker = d.deployment_circuit_breaker();
        attrs::DeploymentConfiguration {
            minimum_healthy_percent: d.minimum_healthy_percent().unwrap_or_default(),
            maximum_percent: d.maximum_percent().unwrap_or_default(),
            circuit_breaker: recorded_deployment.is_some_and(|r| r.circuit_breaker.is_some()).then(
                || attrs::CircuitBreaker {
                    enable: breaker.is_some_and(DeploymentCircuitBreaker::enable),
                    rollback: breaker.is_some_and(DeploymentCircuitBreaker::rollback),
                },
            ),
        }
    });
    let load_balancers: Option<Vec<_>> = (recorded.is_some_and(|r| r.load_balancers.is_some())
        || !s.load_balancers().is_empty())
    .then(|| {
        s.load_balancers()
            .iter()
            .map(|b| attrs::ServiceLoadBalancer {
                target_group_arn: b.target_group_arn().map(str::to_owned),
                load_balancer_name: b.load_balancer_name().map(str::to_owned),
                container_name: text(b.container_name()),
                container_port: b.container_port().unwrap_or_default(),
            })
            .collect()
    });
    let attributes = attrs::Service::<Resolved> {
        name: text(s.service_name()),
        cluster: text(s.cluster_arn()),
        task_definition: text(s.task_definition()),
        desired_count: when_recorded!(desired_count, Some(s.desired_count())),
        scheduling_strategy: text(s.scheduling_strategy().map(SchedulingStrategy::as_str)),
        launch_type: when_recorded!(launch_type, s.launch_type().map(|l| l.as_str().to_owned())),
        capacity_provider_strategy: when_recorded!(
            capacity_provider_strategy,
            listed(strategy_items(s.capacity_provider_strategy()))
        ),
        deployment_configuration: deployment.or_else(|| recorded_deployment.cloned()),
        placement_strategy: when_recorded!(
            placement_strategy,
            listed(
                s.placement_strategy()
                    .iter()
                    .map(|p| attrs::PlacementStrategy {
                        kind: text(p.r#type().map(PlacementStrategyType::as_str)),
                        field: text(p.field()),
                    })
                    .collect()
            )
        ),
        placement_constraints: when_recorded!(
            placement_constraints,
            listed(
                s.placement_constraints()
                    .iter()
                    .map(|p| attrs::PlacementConstraint {
                        kind: text(p.r#type().map(PlacementConstraintType::as_str)),
                        expression: text(p.expression()),
                    })
                    .collect()
            )
        ),
        load_balancers,
        health_check_grace_period: when_recorded!(
            health_check_grace_period,
            s.health_check_grace_period_seconds()
        ),
        enable_ecs_managed_tags: s.enable_ecs_managed_tags()
            || recorded.is_some_and(|r| r.enable_ecs_managed_tags),
        propagate_tags: s
            .propagate_tags()
            .map(|p| p.as_str().to_owned())
            .or_else(|| recorded.and_then(|r| r.propagate_tags.clone())),
        // Read when recorded (so that exec turned off outside ecsops shows), or when on: a
        // service that never asked for it has no attribute to compare.
        enable_execute_command: (s.enable_execute_command()
            || recorded.is_some_and(|r| r.enable_execute_command.is_some()))
        .then_some(s.enable_execute_command()),
        tags: visible(&tags),
    };
    Some(Tagged::of(arn, tags, &attributes, &ArnOutputs::of(arn)))
}

/// `DescribeServices` per cluster, ten services a request.
pub(super) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let a = Address::new(Kind::Service.as_str());
    let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut by_id: BTreeMap<&str, attrs::Service> = BTreeMap::new();
    let mut ours = BTreeMap::new();
    for (address, r) in recorded(resources, &[Kind::Service]) {
        let Some(id) = r.id.as_deref() else {
            out.missing.insert(address.clone());
            continue;
        };
        let was: attrs::Service = Prior::of(address, r)?.decode()?;
        by_cluster.entry(was.cluster.clone()).or_default().push(id.to_owned());
        by_id.insert(id, was);
        ours.insert(address.clone(), r.clone());
    }
    let mut found = Vec::new();
    for (cluster, ids) in by_cluster {
        for s in describe(cx, &a, &cluster, &ids).await? {
            let was = s.service_arn().and_then(|arn| by_id.get(arn));
            found.extend(service_live(&s, was));
        }
    }
    settle(cx.own, &ours, &[Kind::Service], found, out);
    Ok(())
}
