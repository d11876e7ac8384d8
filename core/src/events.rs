//! What ECS says happened to an environment's services: their service events and their stopped
//! tasks with why each stopped (the task's reason and stop code, each container's exit code and
//! reason, and the log stream to read). The provider reads a [`ServiceHistory`] per service,
//! newest first as ECS lists them; `events` merges them into one log ([`timeline`], oldest first)
//! and `--follow` prints only what it has not printed yet ([`Seen`]). A failed rollout's report
//! shows the same histories.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde::Serialize;

/// One service event as ECS wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEvent {
    /// ECS's id of the event, which tells a new event from one already shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// RFC 3339, when ECS says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub message: String,
}

/// A task ECS stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedTask {
    pub task_arn: String,
    /// `family:revision` of the task definition it ran.
    pub task_definition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// ECS's category of the stop (`EssentialContainerExited`, `TaskFailedToStart`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// RFC 3339; absent while the task is still stopping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    pub containers: Vec<ContainerExit>,
}

/// How one container of a stopped task ended, and where its output went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerExit {
    pub name: String,
    /// Absent when the container never ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// ECS's reason (`OutOfMemoryError: ...`, `CannotPullContainerError: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The CloudWatch log group of an `awslogs` container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// Its stream in that group: `prefix/container/task-id`, known when the task definition
    /// sets `awslogs-stream-prefix` (ecsops always does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
}

/// What ECS says of one service (the key of its `service[...]` address), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceHistory {
    pub service: String,
    pub events: Vec<ServiceEvent>,
    pub stopped_tasks: Vec<StoppedTask>,
}

/// One line of the merged log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    ServiceEvent {
        service: String,
        #[serde(flatten)]
        event: ServiceEvent,
    },
    StoppedTask {
        service: String,
        #[serde(flatten)]
        task: StoppedTask,
    },
}

impl Entry {
    pub fn service(&self) -> &str {
        match self {
            Self::ServiceEvent { service, .. } | Self::StoppedTask { service, .. } => service,
        }
    }

    /// When it happened (RFC 3339), when ECS says.
    pub fn at(&self) -> Option<&str> {
        match self {
            Self::ServiceEvent { event, .. } => event.at.as_deref(),
            Self::StoppedTask { task, .. } => task.stopped_at.as_deref(),
        }
    }

    fn when(&self) -> Option<SystemTime> {
        self.at().and_then(|at| humantime::parse_rfc3339(at).ok())
    }

    /// What tells it from every other entry across reads: ECS's event id (its time and text
    /// when there is none); a task's ARN with its stop time, as a stopping task is listed
    /// before ECS sets `stoppedAt` and should be shown again once it has stopped.
    fn key(&self) -> String {
        match self {
            Self::ServiceEvent { service, event } => match &event.id {
                Some(id) => format!("event {id}"),
                None => format!(
                    "event {service} {} {}",
                    event.at.as_deref().unwrap_or_default(),
                    event.message
                ),
            },
            Self::StoppedTask { task, .. } => {
                format!("task {} {}", task.task_arn, task.stopped_at.as_deref().unwrap_or_default())
            }
        }
    }
}

/// The last part of an ECS ARN's resource: a task's id (`.../task/<cluster>/<id>`), a service's
/// name (`.../service/<cluster>/<name>`), a revision's `family:revision`
/// (`.../task-definition/<family>:<revision>`).
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The histories as one log, oldest first, without what happened before `since`. An entry
/// without a time cannot be placed: it comes first and `since` keeps it (it may be recent).
pub fn timeline(histories: Vec<ServiceHistory>, since: Option<SystemTime>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = histories
        .into_iter()
        .flat_map(|h| {
            let service = h.service;
            let events = h.events.into_iter().map({
                let service = service.clone();
                move |event| Entry::ServiceEvent { service: service.clone(), event }
            });
            let tasks = h
                .stopped_tasks
                .into_iter()
                .map(move |task| Entry::StoppedTask { service: service.clone(), task });
            // Each list is newest first: reversed, equal times keep ECS's order.
            events.rev().chain(tasks.rev()).collect::<Vec<_>>()
        })
        .filter(|e| match (since, e.when()) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        })
        .collect();
    // Stable: entries at the same time stay in the order above.
    entries.sort_by_key(Entry::when);
    entries
}

/// The entries shown so far, for `--follow`.
#[derive(Debug, Default)]
pub struct Seen(BTreeSet<String>);

impl Seen {
    /// The entries of `read` not shown before, in their order; from now on they count as shown.
    pub fn fresh(&mut self, read: Vec<Entry>) -> Vec<Entry> {
        read.into_iter().filter(|e| self.0.insert(e.key())).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(id: &str, at: &str, message: &str) -> ServiceEvent {
        ServiceEvent {
            id: Some(id.to_owned()),
            at: Some(at.to_owned()),
            message: message.to_owned(),
        }
    }

    fn task(arn: &str, stopped_at: Option<&str>) -> StoppedTask {
        StoppedTask {
            task_arn: arn.to_owned(),
            task_definition: "acc-web:2".to_owned(),
            stopped_reason: Some("Essential container in task exited".to_owned()),
            stop_code: Some("EssentialContainerExited".to_owned()),
            stopped_at: stopped_at.map(str::to_owned),
            containers: Vec::new(),
        }
    }

    fn histories() -> Vec<ServiceHistory> {
        vec![
            ServiceHistory {
                service: "web".to_owned(),
                events: vec![
                    event("e3", "2026-01-01T00:03:00Z", "web steady"),
                    // Fractions sort by time, not as text ("00:01:00.5Z" < "00:01:00Z" as text).
                    event("e2", "2026-01-01T00:01:00.500Z", "web started"),
                ],
                stopped_tasks: vec![task("t2", Some("2026-01-01T00:02:00Z"))],
            },
            ServiceHistory {
                service: "worker".to_owned(),
                events: vec![event("e1", "2026-01-01T00:01:00Z", "worker started")],
                stopped_tasks: vec![task("t1", None)],
            },
        ]
    }

    fn order(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::ServiceEvent { event, .. } => event.id.clone().unwrap_or_default(),
                Entry::StoppedTask { task, .. } => task.task_arn.clone(),
            })
            .collect()
    }

    #[test]
    fn the_timeline_merges_services_oldest_first_with_untimed_entries_first() {
        assert_eq!(order(&timeline(histories(), None)), ["t1", "e1", "e2", "t2", "e3"]);
    }

    #[test]
    fn since_drops_what_happened_before_it_but_keeps_what_has_no_time() {
        let since = humantime::parse_rfc3339("2026-01-01T00:02:00Z").expect("time");
        assert_eq!(order(&timeline(histories(), Some(since))), ["t1", "t2", "e3"]);
        let later = since + Duration::from_hours(1);
        assert_eq!(order(&timeline(histories(), Some(later))), ["t1"]);
    }

    #[test]
    fn seen_passes_each_entry_once_and_a_task_again_once_it_has_stopped() {
        let mut seen = Seen::default();
        assert_eq!(seen.fresh(timeline(histories(), None)).len(), 5);
        assert_eq!(seen.fresh(timeline(histories(), None)), []);
        let mut more = histories();
        more[0].events.insert(0, event("e4", "2026-01-01T00:04:00Z", "web again"));
        more[1].stopped_tasks[0].stopped_at = Some("2026-01-01T00:00:30Z".to_owned());
        assert_eq!(order(&seen.fresh(timeline(more, None))), ["t1", "e4"]);
    }

    #[test]
    fn an_entry_serializes_flat_with_its_kind_and_service() {
        let entries = timeline(histories(), None);
        let json = serde_json::to_value(&entries[4]).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"kind": "service_event", "service": "web", "id": "e3",
                               "at": "2026-01-01T00:03:00Z", "message": "web steady"})
        );
        let json = serde_json::to_value(&entries[0]).expect("json");
        assert_eq!(json["kind"], "stopped_task");
        assert_eq!(json["service"], "worker");
        assert_eq!(json["stop_code"], "EssentialContainerExited");
    }
}
