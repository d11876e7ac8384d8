//! What ECS says happened to recorded services (`events`, and the report of a failed rollout):
//! each service's events, from the `DescribeServices` that `status` sends too (ten a request per
//! cluster), and its stopped tasks with why they stopped: `ListTasks` (`desiredStatus=STOPPED`)
//! per service at once, then `DescribeTasks` per cluster, a hundred a request. The log stream
//! of each container comes from its task definition's `awslogs` options (see [`revision`]).
//!
//! ECS keeps a stopped task for about an hour and a service's last hundred events: this reads
//! what is there. Nothing here changes AWS.

use crate::provider::aws::send;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ecs::types::{DesiredStatus, Task};

use super::Done;
use super::live::all;
use super::revision::{self, Container};
use super::status::{Recorded, describe_services, each, recorded_services};
use super::{AwsProvider, AwsResultExt, Cx};
use crate::events::{ContainerExit, ServiceEvent, ServiceHistory, StoppedTask, arn_name};
use crate::graph::{Address, Kind};
use crate::state::ResourceState;

/// A service to read the history of: the key of its `service[...]` address, and when only the
/// tasks of one revision matter (those of a rollout's new one), that revision's ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub service: String,
    pub task_definition: Option<String>,
}

impl AwsProvider {
    /// The history of each wanted service the state records and ECS still has, in the order
    /// of `wanted`; events and stopped tasks newest first.
    pub async fn service_histories(
        &self,
        resources: &BTreeMap<Address, ResourceState>,
        wanted: &[Wanted],
    ) -> Done<Vec<ServiceHistory>> {
        let cx = self.cx();
        let services: Vec<Recorded> = recorded_services(resources)?
            .into_iter()
            .filter(|r| wanted.iter().any(|w| w.service == r.name))
            .collect();
        let described = describe_services(cx, &services).await?;
        let listed: BTreeMap<String, Vec<String>> = each(
            self,
            services
                .iter()
                .filter(|s| described.contains_key(&s.arn))
                .map(|s| (s.cluster.clone(), s.arn.clone()))
                .collect(),
            |p, (cluster, arn)| async move {
                stopped_task_arns(p.cx(), &cluster, &arn).await.map(|tasks| (arn, tasks))
            },
        )
        .await?
        .into_iter()
        .collect();
        let mut by_cluster: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for s in &services {
            if let Some(tasks) = listed.get(&s.arn) {
                by_cluster.entry(&s.cluster).or_default().extend(tasks.iter().cloned());
            }
        }
        let mut tasks: BTreeMap<String, Task> = BTreeMap::new();
        for (cluster, arns) in by_cluster {
            let arns = arns.into_iter().collect();
            tasks.extend(describe_tasks(cx, &Address::new("task"), cluster, arns).await?);
        }
        let arns =
            tasks.values().filter_map(|t| t.task_definition_arn().map(str::to_owned)).collect();
        let revisions = revision::containers(self, resources, arns).await?;
        Ok(wanted
            .iter()
            .filter_map(|w| {
                let recorded = services.iter().find(|r| r.name == w.service)?;
                let live = described.get(&recorded.arn)?;
                let name = arn_name(&recorded.arn);
                let mut stopped: Vec<&Task> = listed
                    .get(&recorded.arn)
                    .into_iter()
                    .flatten()
                    .filter_map(|arn| tasks.get(arn))
                    .filter(|t| of_service(t, name))
                    .filter(|t| {
                        w.task_definition
                            .as_deref()
                            .is_none_or(|td| t.task_definition_arn() == Some(td))
                    })
                    .collect();
                stopped.sort_by_key(|t| Reverse(stopped_time(t)));
                Some(ServiceHistory {
                    service: w.service.clone(),
                    events: live.events().iter().filter_map(service_event).collect(),
                    stopped_tasks: stopped
                        .into_iter()
                        .filter_map(|t| {
                            let containers = t
                                .task_definition_arn()
                                .and_then(|td| revisions.get(td))
                                .map_or(&[][..], Vec::as_slice);
                            stopped_task(t, containers)
                        })
                        .collect(),
                })
            })
            .collect())
    }
}

/// Whether a listed task is the service's: ECS starts a service's tasks in group
/// `service:<name>`. ListTasks filters by service already; this keeps a listing that did not
/// (moto's) from showing a task under every service.
fn of_service(t: &Task, service: &str) -> bool {
    t.group().is_none_or(|g| g.strip_prefix("service:") == Some(service))
}

/// When the task stopped, or else began to, or else was created: its place among the others.
fn stopped_time(t: &Task) -> Option<(i64, u32)> {
    t.stopped_at().or(t.stopping_at()).or(t.created_at()).map(|d| (d.secs(), d.subsec_nanos()))
}

fn rfc3339(t: &DateTime) -> Option<String> {
    t.fmt(DateTimeFormat::DateTime).ok()
}

/// A service event as ECS reports it; `None` without a message.
pub(super) fn service_event(e: &aws_sdk_ecs::types::ServiceEvent) -> Option<ServiceEvent> {
    Some(ServiceEvent {
        id: e.id().map(str::to_owned),
        at: e.created_at().and_then(rfc3339),
        message: e.message()?.to_owned(),
    })
}

/// A stopped task as ECS describes it, each container with the log stream its revision's
/// `containers` say it wrote to; `None` without an ARN.
fn stopped_task(t: &Task, containers: &[Container]) -> Option<StoppedTask> {
    let arn = t.task_arn()?;
    Some(StoppedTask {
        task_arn: arn.to_owned(),
        task_definition: arn_name(t.task_definition_arn().unwrap_or_default()).to_owned(),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        stopped_at: t.stopped_at().and_then(rfc3339),
        containers: t
            .containers()
            .iter()
            .map(|c| {
                let name = c.name().unwrap_or_default();
                let logs = containers.iter().find(|d| d.name == name).and_then(|d| d.logs.as_ref());
                ContainerExit {
                    name: name.to_owned(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_owned),
                    log_group: logs.map(|l| l.group.clone()),
                    log_stream: logs.and_then(|l| l.stream(name, arn)),
                }
            })
            .collect(),
    })
}

/// The ARNs of the service's stopped tasks; none when ECS no longer has the service.
async fn stopped_task_arns(cx: Cx<'_>, cluster: &str, service_arn: &str) -> Done<Vec<String>> {
    let a = Address::new(Kind::Service.as_str());
    let listed = all!(
        cx.ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(arn_name(service_arn))
            .desired_status(DesiredStatus::Stopped),
        &a
    );
    match listed {
        Err(e)
            if matches!(
                e.aws_code(),
                Some("ClusterNotFoundException" | "ServiceNotFoundException")
            ) =>
        {
            Ok(Vec::new())
        }
        r => r,
    }
}

/// The tasks `arns` of `cluster`, by ARN; a failure is named for `a`.
pub(super) async fn describe_tasks(
    cx: Cx<'_>,
    a: &Address,
    cluster: &str,
    arns: Vec<String>,
) -> Done<BTreeMap<String, Task>> {
    let mut found = BTreeMap::new();
    // DescribeTasks takes at most 100 tasks and has no pages.
    for chunk in arns.chunks(100) {
        let out =
            send!(a, cx.ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())))?;
        for t in out.tasks.unwrap_or_default() {
            if let Some(arn) = t.task_arn() {
                found.insert(arn.to_owned(), t);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Container as TaskContainer, TaskStopCode};

    use super::*;
    use crate::provider::aws::revision::AwsLogs;

    const TASK: &str = "arn:aws:ecs:eu-west-1:123456789012:task/acc/0123456789abcdef";

    /// Shaped like DescribeTasks' answer for a task the kernel killed; moto's stopped tasks
    /// have exit code 0, no reason and no `stoppedAt`, so this is canned.
    fn killed() -> Task {
        Task::builder()
            .task_arn(TASK)
            .task_definition_arn("arn:aws:ecs:eu-west-1:123456789012:task-definition/acc-web:4")
            .group("service:acc-web")
            .stopped_reason("Essential container in task exited")
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_at(DateTime::from_secs(1_767_225_600))
            .containers(
                TaskContainer::builder()
                    .name("web")
                    .exit_code(137)
                    .reason("OutOfMemoryError: Container killed due to memory usage")
                    .build(),
            )
            .containers(TaskContainer::builder().name("sidecar").build())
            .build()
    }

    #[test]
    fn a_stopped_task_names_its_reason_exit_codes_and_log_streams() {
        let containers = [Container {
            name: "web".to_owned(),
            image: "nginx:1".to_owned(),
            logs: Some(AwsLogs {
                group: "/ecsops/acc/service/web".to_owned(),
                stream_prefix: Some("web".to_owned()),
            }),
        }];
        let task = stopped_task(&killed(), &containers).expect("a task");
        assert_eq!(
            task,
            StoppedTask {
                task_arn: TASK.to_owned(),
                task_definition: "acc-web:4".to_owned(),
                stopped_reason: Some("Essential container in task exited".to_owned()),
                stop_code: Some("EssentialContainerExited".to_owned()),
                stopped_at: Some("2026-01-01T00:00:00Z".to_owned()),
                containers: vec![
                    ContainerExit {
                        name: "web".to_owned(),
                        exit_code: Some(137),
                        reason: Some(
                            "OutOfMemoryError: Container killed due to memory usage".to_owned()
                        ),
                        log_group: Some("/ecsops/acc/service/web".to_owned()),
                        log_stream: Some("web/web/0123456789abcdef".to_owned()),
                    },
                    ContainerExit {
                        name: "sidecar".to_owned(),
                        exit_code: None,
                        reason: None,
                        log_group: None,
                        log_stream: None,
                    },
                ]
            }
        );
    }

    #[test]
    fn a_task_of_another_service_group_is_not_the_services() {
        assert!(of_service(&killed(), "acc-web"));
        assert!(!of_service(&killed(), "acc-worker"));
        assert!(of_service(&Task::builder().build(), "acc-web"), "no group");
    }

    #[test]
    fn a_service_event_keeps_its_id_time_and_message() {
        let e = aws_sdk_ecs::types::ServiceEvent::builder()
            .id("e-1")
            .created_at(DateTime::from_millis(1_767_225_600_500))
            .message("(service acc-web) has reached a steady state.")
            .build();
        assert_eq!(
            service_event(&e),
            Some(ServiceEvent {
                id: Some("e-1".to_owned()),
                at: Some("2026-01-01T00:00:00.5Z".to_owned()),
                message: "(service acc-web) has reached a steady state.".to_owned(),
            })
        );
        assert_eq!(service_event(&aws_sdk_ecs::types::ServiceEvent::builder().build()), None);
    }
}
