//! What `roll` reads and changes in AWS for one instance group: an observation (the group and
//! its instances through the `status` reader, the cluster's container instances, and the tasks
//! left on those DRAINING), and the single calls each step makes (capacity, roll tags, draining,
//! terminating, suspending the scaling alarms of managed scaling). The decisions are
//! `crate::roll`'s.

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus};

use super::Done;
use super::autoscaling::{put_tags, remove_tags};
use super::live::{all, recorded};
use super::service_log::describe_tasks;
use super::{AwsProvider, AwsResultExt, Prior};
use crate::graph::attrs;
use crate::graph::{Address, Kind};
use crate::provider::ProviderError;
use crate::roll::{Container, Member, Observed, in_service};
use crate::state::ResourceState;
use crate::status::GroupStatus;

/// The group being rolled and where its instances serve.
#[derive(Debug, Clone)]
pub struct RollTarget {
    /// `autoscaling_group[NAME]`.
    pub address: Address,
    /// The group's name in AWS.
    pub name: String,
    /// The cluster its instances join.
    pub cluster: String,
    /// The task groups (`service:NAME`) of the system containers: daemon tasks, which do not
    /// hold a drain up (ECS stops them last).
    pub daemons: BTreeSet<String>,
}

impl RollTarget {
    /// The recorded instance groups (only `only`, when named), with the cluster their
    /// instances join and the system containers' task groups, from the state.
    pub fn recorded(
        resources: &BTreeMap<Address, ResourceState>,
        only: Option<&str>,
    ) -> Done<Vec<Self>> {
        let cluster = recorded(resources, &[Kind::EcsCluster])
            .into_iter()
            .find_map(|(_, r)| r.id.clone())
            .unwrap_or_default();
        let mut daemons = BTreeSet::new();
        for (a, r) in recorded(resources, &[Kind::Service]) {
            let s: attrs::Service = Prior::of(a, r)?.decode()?;
            if s.scheduling_strategy == "DAEMON" {
                daemons.insert(format!("service:{}", s.name));
            }
        }
        Ok(recorded(resources, &[Kind::AutoscalingGroup])
            .into_iter()
            .filter(|(a, _)| only.is_none_or(|o| a.key().is_some_and(|(_, k)| k == o)))
            .filter_map(|(a, r)| {
                Some(Self {
                    address: a.clone(),
                    name: r.id.clone()?,
                    cluster: cluster.clone(),
                    daemons: daemons.clone(),
                })
            })
            .collect())
    }

    /// The key of its address (`default`).
    pub fn key(&self) -> &str {
        self.address.key().map_or("", |(_, k)| k)
    }
}

/// The log group of the ECS agent's host log, when the environment ships host logs: where to
/// look when an instance does not join its cluster.
pub fn agent_log_group(resources: &BTreeMap<Address, ResourceState>) -> Option<String> {
    resources.get(&Address::keyed("log_group.host", "ecs-agent")).and_then(|r| r.id.clone())
}

/// A container instance as ECS reports it.
struct Registered {
    arn: String,
    status: String,
}

/// The scaling process ECS managed scaling acts through (its target tracking alarms).
const ALARMS: &str = "AlarmNotification";

impl AwsProvider {
    /// One look at the group (read like `status` reads it) and at its cluster.
    pub async fn roll_observe(
        &self,
        resources: &BTreeMap<Address, ResourceState>,
        target: &RollTarget,
    ) -> Done<(GroupStatus, Observed)> {
        let group_only: BTreeMap<Address, ResourceState> = resources
            .iter()
            .filter(|(a, _)| **a == target.address)
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect();
        let (live, registered) =
            tokio::try_join!(self.status(&group_only), self.container_instances(target))?;
        let group =
            live.instance_groups.into_iter().next().filter(|g| !g.missing).ok_or_else(|| {
                ProviderError::Failed {
                    address: target.address.clone(),
                    what: format!(
                        "Auto Scaling has no group `{}`; run `ecsops apply {}` first",
                        target.name, self.ownership.environment
                    ),
                }
            })?;
        let mut members = Vec::new();
        for i in group.instances.iter().filter(|i| in_service(&i.state)) {
            let container = match registered.get(&i.id) {
                None => Container::Unregistered,
                Some(r) if r.status == "ACTIVE" => Container::Active { arn: r.arn.clone() },
                Some(r) if r.status == "DRAINING" => Container::Draining {
                    arn: r.arn.clone(),
                    tasks: self.tasks_left(target, &r.arn).await?,
                },
                Some(r) => Container::Other(r.status.clone()),
            };
            members.push(Member { id: i.id.clone(), outdated: i.outdated, container });
        }
        let observed = Observed {
            desired: group.capacity.desired,
            max: group.capacity.max,
            members,
            active: registered.values().filter(|r| r.status == "ACTIVE").count(),
        };
        Ok((group, observed))
    }

    /// The cluster's container instances (all but INACTIVE ones), by EC2 instance id.
    async fn container_instances(&self, target: &RollTarget) -> Done<BTreeMap<String, Registered>> {
        let a = &target.address;
        let ecs = &self.clients().ecs;
        let arns = all!(ecs.list_container_instances().cluster(&target.cluster), a)?;
        let mut found = BTreeMap::new();
        for chunk in arns.chunks(100) {
            let out = send!(
                a,
                ecs.describe_container_instances()
                    .cluster(&target.cluster)
                    .set_container_instances(Some(chunk.to_vec()))
            )?;
            for ci in out.container_instances() {
                if let (Some(id), Some(arn)) = (ci.ec2_instance_id(), ci.container_instance_arn()) {
                    found.insert(
                        id.to_owned(),
                        Registered {
                            arn: arn.to_owned(),
                            status: ci.status().unwrap_or_default().to_owned(),
                        },
                    );
                }
            }
        }
        Ok(found)
    }

    /// The tasks still meant to run on container instance `arn`, daemons not counted.
    async fn tasks_left(&self, target: &RollTarget, arn: &str) -> Done<usize> {
        let a = &target.address;
        let ecs = &self.clients().ecs;
        let tasks = all!(
            ecs.list_tasks()
                .cluster(&target.cluster)
                .container_instance(arn)
                .desired_status(DesiredStatus::Running),
            a
        )?;
        let described = describe_tasks(self.cx(), a, &target.cluster, tasks).await?;
        Ok(described
            .values()
            .filter(|t| t.last_status() != Some("STOPPED"))
            .filter(|t| t.group().is_none_or(|g| !target.daemons.contains(g)))
            .count())
    }

    /// Sets the group's desired capacity and maximum size.
    pub async fn roll_capacity(&self, target: &RollTarget, desired: i32, max: i32) -> Done<()> {
        send!(
            &target.address,
            self.clients()
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&target.name)
                .desired_capacity(desired)
                .max_size(max)
        )
        .map(drop)
    }

    /// Puts tags on the group (never propagated to instances: they are `ecsops:` tags).
    pub async fn roll_tag(&self, target: &RollTarget, tags: &[(&str, String)]) -> Done<()> {
        let tags = tags.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        put_tags(self.clients(), &target.address, &target.name, &tags).await
    }

    /// Removes tags from the group.
    pub async fn roll_untag(&self, target: &RollTarget, keys: &[&str]) -> Done<()> {
        let keys = keys.iter().map(|k| (*k).to_owned());
        remove_tags(self.clients(), &target.address, &target.name, keys).await
    }

    /// Sets container instances DRAINING: ECS stops placing tasks there and services move
    /// theirs away.
    pub async fn roll_drain(&self, target: &RollTarget, arns: &[String]) -> Done<()> {
        send!(
            &target.address,
            self.clients()
                .ecs
                .update_container_instances_state()
                .cluster(&target.cluster)
                .set_container_instances(Some(arns.to_vec()))
                .status(ContainerInstanceStatus::Draining)
        )
        .map(drop)
    }

    /// Terminates one instance of the group; `decrement` lowers the desired capacity with it,
    /// otherwise the group launches a replacement.
    pub async fn roll_terminate(&self, target: &RollTarget, id: &str, decrement: bool) -> Done<()> {
        send!(
            &target.address,
            self.clients()
                .autoscaling
                .terminate_instance_in_auto_scaling_group()
                .instance_id(id)
                .should_decrement_desired_capacity(decrement)
        )
        .map(drop)
    }

    /// Suspends (or resumes) the group's scaling alarms, through which ECS managed scaling
    /// changes the desired capacity.
    pub async fn roll_scaling_alarms(&self, target: &RollTarget, suspended: bool) -> Done<()> {
        let autoscaling = &self.clients().autoscaling;
        if suspended {
            send!(
                &target.address,
                autoscaling
                    .suspend_processes()
                    .auto_scaling_group_name(&target.name)
                    .scaling_processes(ALARMS)
            )
            .map(drop)
        } else {
            send!(
                &target.address,
                autoscaling
                    .resume_processes()
                    .auto_scaling_group_name(&target.name)
                    .scaling_processes(ALARMS)
            )
            .map(drop)
        }
    }
}
