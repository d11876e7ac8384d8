//! What `status` reads from AWS about the recorded services and instance groups, one batched
//! read per kind like refresh: `DescribeServices` per cluster (ten a request) at the same time as
//! one `DescribeAutoScalingGroups`; then, at once, one `DescribeInstances` of every group's
//! instances, `DescribeLaunchTemplateVersions` per group (the API takes one template's
//! versions) and `DescribeTaskDefinition` only for a revision the state does not record (a
//! service ECS rolled back, say): the recorded revisions already say their images.
//!
//! The rollout wait reads through the same `DescribeServices` batches ([`AwsProvider::observe`]),
//! and `status` shows a service's counts and rollout state from the same [`Observed`].
//!
//! Nothing here changes AWS, and nothing depends on the ownership tags: the state says what is
//! ours.

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ec2::types::{Instance, Tag};
use aws_sdk_ecs::types::Service;

use super::Done;
use super::live::{all, recorded};
use super::revision::{self, Container};
use super::service_log::service_event;
use super::{AwsProvider, AwsResultExt, Cx, Prior, autoscaling, ecs, joined};
use crate::events::arn_name;
use crate::graph::attrs;
use crate::graph::{Address, Kind};
use crate::rollout::{Deployment, Observed, Watched};
use crate::state::ResourceState;
use crate::status::{
    Capacity, ContainerImage, GroupStatus, InstanceStatus, ServiceStatus, TemplateVersion,
    launched_version, outdated,
};

/// The services and instance groups of an environment as AWS reports them, in address order.
#[derive(Debug, Clone, Default)]
pub struct LiveStatus {
    pub services: Vec<ServiceStatus>,
    pub instance_groups: Vec<GroupStatus>,
}

/// The tag EC2 puts on an instance launched from a launch template.
const VERSION_TAG: &str = "aws:ec2launchtemplate:version";

impl AwsProvider {
    /// Reads the live status of the recorded services and instance groups.
    pub async fn status(&self, resources: &BTreeMap<Address, ResourceState>) -> Done<LiveStatus> {
        let cx = self.cx();
        let services = recorded_services(resources)?;
        let groups: Vec<(&Address, &str)> = recorded(resources, &[Kind::AutoscalingGroup])
            .into_iter()
            .filter_map(|(a, r)| Some((a, r.id.as_deref()?)))
            .collect();
        let (described, asgs) =
            tokio::try_join!(describe_services(cx, &services), describe_groups(cx, &groups))?;
        let images = revision::recorded_containers(resources)?;
        let unrecorded: Vec<String> = described
            .values()
            .filter_map(Service::task_definition)
            .filter(|arn| !images.contains_key(*arn))
            .map(str::to_owned)
            .collect();
        let instance_ids: Vec<String> = asgs
            .values()
            .flat_map(AutoScalingGroup::instances)
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        let templates: Vec<(String, String)> = asgs
            .values()
            .filter_map(|g| {
                let t = g.launch_template()?;
                Some((t.launch_template_id()?.to_owned(), t.version()?.to_owned()))
            })
            .collect();
        let (instances, versions, more_images) = tokio::try_join!(
            describe_instances(cx, instance_ids),
            each(self, templates, |p, (id, version)| async move {
                template_version(p.cx(), &id, &version).await.map(|v| ((id, version), v))
            }),
            revision::described(self, unrecorded),
        )?;
        let images: BTreeMap<String, Vec<ContainerImage>> = images
            .into_iter()
            .chain(more_images)
            .map(|(arn, containers)| (arn, containers.into_iter().map(image).collect()))
            .collect();
        let versions: BTreeMap<(String, String), Option<TemplateVersion>> =
            versions.into_iter().collect();
        Ok(LiveStatus {
            services: services
                .iter()
                .map(|s| service_status(s, described.get(s.arn.as_str()), &images))
                .collect(),
            instance_groups: groups
                .iter()
                .map(|(a, name)| {
                    let g = asgs.get(*name);
                    let current = g.and_then(|g| {
                        let t = g.launch_template()?;
                        let key = (t.launch_template_id()?.to_owned(), t.version()?.to_owned());
                        versions.get(&key).cloned().flatten()
                    });
                    group_status(a, g, current, &instances)
                })
                .collect(),
        })
    }
}

impl AwsProvider {
    /// What the rollout wait watches: the recorded services at `addresses`.
    pub fn watched(
        resources: &BTreeMap<Address, ResourceState>,
        addresses: &BTreeSet<Address>,
    ) -> Done<Vec<Watched>> {
        Ok(recorded_services(resources)?
            .into_iter()
            .filter(|s| addresses.contains(&s.address))
            .map(|s| Watched {
                address: s.address,
                name: s.name,
                cluster: s.cluster,
                arn: s.arn,
                task_definition: s.task_definition,
            })
            .collect())
    }

    /// The deployments of `services` as ECS reports them now, by service ARN; a service ECS
    /// no longer has is absent.
    pub async fn observe(&self, services: &[Watched]) -> Done<BTreeMap<String, Observed>> {
        let found =
            described(self.cx(), services.iter().map(|w| (w.cluster.as_str(), &w.arn))).await?;
        Ok(found.into_iter().map(|(arn, s)| (arn, observed(&s))).collect())
    }
}

/// A service's counts and deployments: what the rollout wait judges and `status` shows.
fn observed(s: &Service) -> Observed {
    Observed {
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                status: d.status().unwrap_or_default().to_owned(),
                task_definition: d.task_definition().map(str::to_owned),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_owned()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
                failed_tasks: d.failed_tasks(),
            })
            .collect(),
    }
}

/// A recorded service: its name, whether it is a system container, where and what it is.
pub(super) struct Recorded {
    pub address: Address,
    pub name: String,
    pub system: bool,
    pub cluster: String,
    pub arn: String,
    pub task_definition: String,
}

pub(super) fn recorded_services(
    resources: &BTreeMap<Address, ResourceState>,
) -> Done<Vec<Recorded>> {
    recorded(resources, &[Kind::Service])
        .into_iter()
        .filter(|(_, r)| r.id.is_some())
        .map(|(a, r)| {
            let s: attrs::Service = Prior::of(a, r)?.decode()?;
            Ok(Recorded {
                address: a.clone(),
                name: key(a),
                // System containers are the daemons: services are replicas.
                system: s.scheduling_strategy == "DAEMON",
                cluster: s.cluster,
                arn: r.id.clone().unwrap_or_default(),
                task_definition: s.task_definition,
            })
        })
        .collect()
}

/// The address's key (`web` of `service[web]`), or the address itself.
fn key(a: &Address) -> String {
    a.key().map_or_else(|| a.to_string(), |(_, k)| k.to_owned())
}

/// The recorded services ECS still has, by ARN.
pub(super) async fn describe_services(
    cx: Cx<'_>,
    services: &[Recorded],
) -> Done<BTreeMap<String, Service>> {
    described(cx, services.iter().map(|s| (s.cluster.as_str(), &s.arn))).await
}

/// The services at `(cluster, arn)` ECS still has, by ARN: one `DescribeServices` per cluster
/// and ten services.
async fn described<'s>(
    cx: Cx<'_>,
    services: impl Iterator<Item = (&'s str, &'s String)>,
) -> Done<BTreeMap<String, Service>> {
    let a = Address::new(Kind::Service.as_str());
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (cluster, arn) in services {
        by_cluster.entry(cluster).or_default().push(arn.clone());
    }
    let mut found = BTreeMap::new();
    for (cluster, arns) in by_cluster {
        for s in ecs::describe_services(cx, &a, cluster, &arns).await? {
            if let Some(arn) = s.service_arn() {
                found.insert(arn.to_owned(), s.clone());
            }
        }
    }
    Ok(found)
}

/// The recorded groups Auto Scaling still has, by name.
async fn describe_groups(
    cx: Cx<'_>,
    groups: &[(&Address, &str)],
) -> Done<BTreeMap<String, AutoScalingGroup>> {
    let a = Address::new(Kind::AutoscalingGroup.as_str());
    let names = groups.iter().map(|(_, n)| (*n).to_owned()).collect();
    Ok(autoscaling::describe(cx, &a, names)
        .await?
        .into_iter()
        .filter_map(|g| Some((g.auto_scaling_group_name()?.to_owned(), g)))
        .collect())
}

/// The instances of `ids`, by id.
async fn describe_instances(cx: Cx<'_>, ids: Vec<String>) -> Done<BTreeMap<String, Instance>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let a = Address::new("instance");
    let reservations = all!(cx.ec2.describe_instances().set_instance_ids(Some(ids)), &a)?;
    Ok(reservations
        .into_iter()
        .flat_map(|r| r.instances.unwrap_or_default())
        .filter_map(|i| Some((i.instance_id()?.to_owned(), i)))
        .collect())
}

/// Version `version` (a number or a label) of template `id`, resolved to its number; `None`
/// when AWS has no such version.
async fn template_version(cx: Cx<'_>, id: &str, version: &str) -> Done<Option<TemplateVersion>> {
    let a = Address::new(Kind::LaunchTemplate.as_str());
    let out = send!(
        &a,
        cx.ec2.describe_launch_template_versions().launch_template_id(id).versions(version)
    )?;
    Ok(out.launch_template_versions().first().and_then(|v| {
        let data = v.launch_template_data();
        Some(TemplateVersion {
            id: id.to_owned(),
            version: v.version_number()?,
            image_id: data.and_then(|d| d.image_id()).map(str::to_owned),
            instance_type: data.and_then(|d| d.instance_type()).map(|t| t.as_str().to_owned()),
        })
    }))
}

fn image(c: Container) -> ContainerImage {
    ContainerImage { name: c.name, image: c.image }
}

/// Runs `read` on every item at once.
pub(super) async fn each<I, T, F, Fut>(
    provider: &AwsProvider,
    items: Vec<I>,
    read: F,
) -> Done<Vec<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(AwsProvider, I) -> Fut,
    Fut: Future<Output = Done<T>> + Send + 'static,
{
    let mut reads = tokio::task::JoinSet::new();
    for item in items {
        reads.spawn(read(provider.clone(), item));
    }
    joined(reads, "status").await
}

fn service_status(
    recorded: &Recorded,
    live: Option<&Service>,
    images: &BTreeMap<String, Vec<ContainerImage>>,
) -> ServiceStatus {
    let Some(s) = live else {
        return ServiceStatus {
            name: recorded.name.clone(),
            system: recorded.system,
            missing: true,
            task_definition: None,
            desired: 0,
            running: 0,
            pending: 0,
            rollout_state: None,
            last_event: None,
            containers: Vec::new(),
        };
    };
    let arn = s.task_definition();
    let o = observed(s);
    ServiceStatus {
        name: recorded.name.clone(),
        system: recorded.system,
        missing: false,
        task_definition: arn.map(|a| arn_name(a).to_owned()),
        desired: o.desired,
        running: o.running,
        pending: o.pending,
        rollout_state: o.primary().and_then(|d| d.rollout_state.clone()),
        // ECS lists events newest first.
        last_event: s.events().first().and_then(service_event),
        containers: arn.and_then(|a| images.get(a)).cloned().unwrap_or_default(),
    }
}

fn group_status(
    a: &Address,
    live: Option<&AutoScalingGroup>,
    current: Option<TemplateVersion>,
    instances: &BTreeMap<String, Instance>,
) -> GroupStatus {
    let Some(g) = live else {
        return GroupStatus {
            name: key(a),
            missing: true,
            launch_template: None,
            instances: Vec::new(),
            capacity: Capacity::default(),
        };
    };
    let mut listed: Vec<InstanceStatus> = g
        .instances()
        .iter()
        .filter_map(|i| {
            let id = i.instance_id()?;
            let ec2 = instances.get(id);
            let tag = ec2.and_then(|e| tag(e.tags(), VERSION_TAG));
            let version = launched_version(tag, i.launch_template().and_then(|t| t.version()));
            let instance_type = ec2
                .and_then(|e| e.instance_type())
                .map(|t| t.as_str().to_owned())
                .or_else(|| i.instance_type().map(str::to_owned));
            let image_id = ec2.and_then(|e| e.image_id()).map(str::to_owned);
            let state = ec2
                .and_then(|e| e.state()?.name())
                .map(|s| s.as_str().to_owned())
                .or_else(|| i.lifecycle_state().map(|s| s.as_str().to_owned()))
                .unwrap_or_default();
            let because = current.as_ref().map_or_else(Vec::new, |c| {
                outdated(version.as_deref(), instance_type.as_deref(), image_id.as_deref(), c)
            });
            Some(InstanceStatus {
                id: id.to_owned(),
                state,
                image_id,
                instance_type,
                launch_template_version: version,
                outdated: !because.is_empty(),
                outdated_because: because,
            })
        })
        .collect();
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    GroupStatus {
        name: key(a),
        missing: false,
        launch_template: current,
        instances: listed,
        capacity: Capacity {
            min: g.min_size().unwrap_or_default(),
            max: g.max_size().unwrap_or_default(),
            desired: g.desired_capacity().unwrap_or_default(),
            tags: g
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
        },
    }
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(Tag::value)
}

#[cfg(test)]
mod tests {
    use aws_sdk_autoscaling::types::{Instance as GroupInstance, LaunchTemplateSpecification};
    use aws_sdk_ec2::types::{InstanceState, InstanceStateName, InstanceType};
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, ServiceEvent as Event};

    use super::*;
    use crate::status::Outdated;

    /// Shaped like real AWS output: moto writes no service events and no rollout state for an
    /// updated service, so these are canned.
    #[test]
    fn a_service_reports_its_primary_rollout_newest_event_and_images() {
        let arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/acc-default-web:4";
        let s = Service::builder()
            .service_arn("arn:aws:ecs:eu-west-1:123456789012:service/acc/web")
            .task_definition(arn)
            .desired_count(2)
            .running_count(1)
            .pending_count(1)
            .deployments(
                Deployment::builder()
                    .status("ACTIVE")
                    .rollout_state(DeploymentRolloutState::Completed)
                    .build(),
            )
            .deployments(
                Deployment::builder()
                    .status("PRIMARY")
                    .rollout_state(DeploymentRolloutState::InProgress)
                    .build(),
            )
            .events(
                Event::builder()
                    .created_at(DateTime::from_secs(1_767_225_600))
                    .message("(service web) has started 1 tasks: (task 1).")
                    .build(),
            )
            .events(Event::builder().message("older").build())
            .build();
        let recorded = Recorded {
            address: Address::from("service[web]"),
            name: "web".to_owned(),
            system: false,
            cluster: "acc".to_owned(),
            arn: "arn:aws:ecs:eu-west-1:123456789012:service/acc/web".to_owned(),
            task_definition: arn.to_owned(),
        };
        let images = BTreeMap::from([(
            arn.to_owned(),
            vec![ContainerImage { name: "web".to_owned(), image: "nginx:1".to_owned() }],
        )]);
        let status = service_status(&recorded, Some(&s), &images);
        assert_eq!(status.task_definition.as_deref(), Some("acc-default-web:4"));
        assert_eq!((status.desired, status.running, status.pending), (2, 1, 1));
        assert_eq!(status.rollout_state.as_deref(), Some("IN_PROGRESS"));
        assert_eq!(
            status.last_event,
            Some(crate::events::ServiceEvent {
                id: None,
                at: Some("2026-01-01T00:00:00Z".to_owned()),
                message: "(service web) has started 1 tasks: (task 1).".to_owned()
            })
        );
        assert_eq!(status.containers, images[arn]);
        assert!(service_status(&recorded, None, &images).missing);
    }

    #[test]
    fn an_instance_without_the_launch_tag_is_judged_by_what_auto_scaling_reports() {
        let g = AutoScalingGroup::builder()
            .instances(
                GroupInstance::builder()
                    .instance_id("i-2")
                    .launch_template(LaunchTemplateSpecification::builder().version("2").build())
                    .build(),
            )
            .instances(
                GroupInstance::builder()
                    .instance_id("i-1")
                    .launch_template(LaunchTemplateSpecification::builder().version("3").build())
                    .build(),
            )
            .build();
        let ec2 = |id: &str, tag: Option<&str>| {
            let mut i = Instance::builder()
                .instance_id(id)
                .image_id("ami-1")
                .instance_type(InstanceType::T3Large)
                .state(InstanceState::builder().name(InstanceStateName::Running).build());
            if let Some(v) = tag {
                i = i.tags(Tag::builder().key(VERSION_TAG).value(v).build());
            }
            (id.to_owned(), i.build())
        };
        // i-1's tag says 2 although Auto Scaling reports 3 (as moto does for every instance).
        let instances = BTreeMap::from([ec2("i-1", Some("2")), ec2("i-2", None)]);
        let current = TemplateVersion {
            id: "lt-1".to_owned(),
            version: 3,
            image_id: Some("ami-1".to_owned()),
            instance_type: Some("t3.large".to_owned()),
        };
        let status = group_status(
            &Address::from("autoscaling_group[default]"),
            Some(&g),
            Some(current),
            &instances,
        );
        assert_eq!(status.name, "default");
        let [one, two] = status.instances.as_slice() else {
            panic!("two instances: {status:?}");
        };
        assert_eq!((one.id.as_str(), one.state.as_str()), ("i-1", "running"));
        assert_eq!(one.outdated_because, [Outdated::Version { has: "2".to_owned(), current: 3 }]);
        assert_eq!(two.launch_template_version.as_deref(), Some("2"));
        assert!(two.outdated);
    }
}
