//! The rollout wait after an apply: whether each service the apply created or changed has
//! finished its deployment ([`judge`], pure), and the loop that asks AWS until every one has,
//! one has failed, the timeout passes or an interrupt comes ([`wait`]).
//!
//! The rule follows `aws ecs wait services-stable` with the deployment circuit breaker in mind:
//! done when the PRIMARY deployment runs the task definition the apply set and its
//! `rolloutState` is `COMPLETED` (or, where AWS reports no rollout state, the service has a
//! single deployment and runs as many tasks as it wants); failed when that state is `FAILED`
//! or the PRIMARY deployment runs another task definition (ECS rolled back, or someone else
//! deployed). Failed tasks alone do not fail a rollout: ECS keeps replacing them until the
//! circuit breaker gives up, so the wait does too, until its timeout.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::events::{ServiceEvent, ServiceHistory, StoppedTask, arn_name};
use crate::graph::Address;

/// A service the apply created or changed, and what it was set to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub address: Address,
    /// The key of its `service[...]` address.
    pub name: String,
    /// The cluster's ARN.
    pub cluster: String,
    /// The service's ARN.
    pub arn: String,
    /// The ARN of the task definition revision the apply set.
    pub task_definition: String,
}

/// One deployment of a service, as `DescribeServices` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub task_definition: Option<String>,
    /// `COMPLETED`, `IN_PROGRESS` or `FAILED`; absent where AWS does not report it.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub failed_tasks: i32,
}

/// A service's counts and deployments, as `DescribeServices` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<Deployment>,
}

impl Observed {
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// Tasks that failed to start or stay healthy, over every deployment.
    pub fn failed_tasks(&self) -> i32 {
        self.deployments.iter().map(|d| d.failed_tasks).sum()
    }
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Done,
    Waiting,
    Failed(Why),
}

/// Why a rollout did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    #[error("the service no longer exists in ECS")]
    Missing,
    #[error("the deployment failed (circuit breaker){}", because(.reason.as_ref()))]
    CircuitBreaker { reason: Option<String> },
    #[error("ECS runs `{}` again instead of `{}` (rolled back){}", arn_name(.running), arn_name(.applied), because(.reason.as_ref()))]
    RolledBack { running: String, applied: String, reason: Option<String> },
    #[error("timed out after {} waiting for the rollout", duration(*.after))]
    TimedOut { after: Duration },
    #[error("interrupted while waiting for the rollout")]
    Interrupted,
    #[error("reading the service failed: {0}")]
    Unreadable(String),
}

fn because(r: Option<&String>) -> String {
    r.map(|r| format!(": {r}")).unwrap_or_default()
}

/// A wait's length as the report says it (`20s`, `10m`), here and in the CLI's live line.
pub fn duration(d: Duration) -> impl std::fmt::Display {
    humantime::format_duration(d)
}

/// Where the rollout of a service set to run `applied` stands, from what ECS reports
/// (`None`: the service is gone).
pub fn judge(applied: &str, observed: Option<&Observed>) -> Judgement {
    let Some(o) = observed else {
        return Judgement::Failed(Why::Missing);
    };
    let Some(primary) = o.primary() else {
        // No deployment at all: only the counts tell.
        return if o.running == o.desired && o.pending == 0 {
            Judgement::Done
        } else {
            Judgement::Waiting
        };
    };
    if let Some(running) = &primary.task_definition
        && running != applied
    {
        // After a circuit breaker rollback ECS keeps the failed deployment for a while, with
        // the reason; by then a PRIMARY deployment runs the last completed revision.
        let failed = o
            .deployments
            .iter()
            .find(|d| d.task_definition.as_deref() == Some(applied))
            .and_then(|d| d.rollout_state_reason.clone());
        return Judgement::Failed(Why::RolledBack {
            running: running.clone(),
            applied: applied.to_owned(),
            reason: failed,
        });
    }
    match primary.rollout_state.as_deref() {
        Some("COMPLETED") => Judgement::Done,
        Some("FAILED") => {
            Judgement::Failed(Why::CircuitBreaker { reason: primary.rollout_state_reason.clone() })
        }
        Some(_) => Judgement::Waiting,
        None if o.deployments.len() == 1 && o.running == o.desired => Judgement::Done,
        None => Judgement::Waiting,
    }
}

/// How a rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    Completed,
    Failed,
    TimedOut,
    Interrupted,
}

/// A service's rollout, as the wait left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutResult {
    pub address: Address,
    pub service: String,
    pub result: Finish,
    /// `family:revision` the apply set.
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    /// The PRIMARY deployment's `rolloutState` when last read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_state: Option<String>,
    /// Its `rolloutStateReason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_state_reason: Option<String>,
    /// Why it did not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip)]
    pub why: Option<Why>,
    pub seconds: u64,
    /// What explains a failure, when it could be read (absent otherwise).
    #[serde(flatten)]
    pub details: Details,
}

impl RolloutResult {
    pub fn completed(&self) -> bool {
        self.result == Finish::Completed
    }

    /// Whether the service's events and stopped tasks explain why it did not complete: a
    /// rollout ECS failed, rolled back or did not finish in time (not one of a service that is
    /// gone, unreadable or whose wait was interrupted).
    pub fn explainable(&self) -> bool {
        matches!(
            self.why,
            Some(Why::CircuitBreaker { .. } | Why::RolledBack { .. } | Why::TimedOut { .. })
        )
    }
}

/// How many of a service's events a failed rollout's report keeps: the ones that tell what
/// ECS did last, without its whole history.
pub const LAST_EVENTS: usize = 5;

/// Fills the details of each explainable rollout from its service's history (by service
/// name); a service without one (ECS no longer has it) keeps none.
pub fn explain(results: &mut [RolloutResult], histories: Vec<ServiceHistory>) {
    for h in histories {
        if let Some(r) = results.iter_mut().find(|r| r.explainable() && r.service == h.service) {
            let mut events = h.events;
            events.truncate(LAST_EVENTS);
            r.details = Details { events, stopped_tasks: h.stopped_tasks, unreadable: None };
        }
    }
}

/// Notes on each explainable rollout that its details could not be read, and why: the
/// rollout's failure is reported all the same.
pub fn unexplained(results: &mut [RolloutResult], error: &str) {
    for r in results.iter_mut().filter(|r| r.explainable()) {
        r.details.unreadable = Some(error.to_owned());
    }
}

/// What explains a failed rollout, newest first: the service's last events and the stopped
/// tasks of the new revision (what `crate::events` reads). Filled after the wait, for failed
/// rollouts only; each field appears in the JSON report only when it has something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Details {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ServiceEvent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_tasks: Vec<StoppedTask>,
    /// Why they could not be read, when they could not.
    #[serde(rename = "details_error", skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A service still rolling out, for the live line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub service: String,
    pub observed: Observed,
}

/// What the wait reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// After each read: the services still rolling out.
    Waiting(Vec<Progress>),
    Finished(Box<RolloutResult>),
}

/// How long to wait and how often to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    pub timeout: Duration,
    pub poll: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_mins(10), poll: Duration::from_secs(5) }
    }
}

/// Reads the services of `watched` (`observe` answers by service ARN; one missing is gone)
/// until each rollout finished, the timeout passed or `interrupt` resolved.
pub async fn wait<F, Fut>(
    watched: Vec<Watched>,
    options: WaitOptions,
    mut observe: F,
    interrupt: impl Future<Output = ()> + Send,
    ticks: &mut (dyn FnMut(Tick) + Send),
) -> Vec<RolloutResult>
where
    F: FnMut(Vec<Watched>) -> Fut,
    Fut: Future<Output = Result<BTreeMap<String, Observed>, String>>,
{
    let started = Instant::now();
    let mut interrupt = std::pin::pin!(interrupt);
    let mut waiting: Vec<(Watched, Observed)> =
        watched.into_iter().map(|w| (w, Observed::default())).collect();
    let mut results = Vec::new();
    let mut end = |w: &Watched, o: &Observed, why: Option<Why>, ticks: &mut dyn FnMut(Tick)| {
        let result = result(w, o, why, started.elapsed());
        ticks(Tick::Finished(Box::new(result.clone())));
        results.push(result);
    };
    while !waiting.is_empty() {
        let read = tokio::select! {
            r = observe(waiting.iter().map(|(w, _)| w.clone()).collect()) => r,
            () = &mut interrupt => Err(String::new()),
        };
        let read = match read {
            Ok(r) => r,
            Err(error) => {
                let why = if error.is_empty() { Why::Interrupted } else { Why::Unreadable(error) };
                for (w, o) in waiting.drain(..) {
                    end(&w, &o, Some(why.clone()), ticks);
                }
                break;
            }
        };
        let mut still = Vec::new();
        for (w, last) in waiting.drain(..) {
            let observed = read.get(&w.arn);
            match judge(&w.task_definition, observed) {
                Judgement::Done => end(&w, observed.unwrap_or(&last), None, ticks),
                Judgement::Failed(why) => end(&w, observed.unwrap_or(&last), Some(why), ticks),
                Judgement::Waiting => still.push((w, observed.cloned().unwrap_or(last))),
            }
        }
        waiting = still;
        if waiting.is_empty() {
            break;
        }
        ticks(Tick::Waiting(
            waiting
                .iter()
                .map(|(w, o)| Progress { service: w.name.clone(), observed: o.clone() })
                .collect(),
        ));
        let Some(left) = options.timeout.checked_sub(started.elapsed()) else {
            let why = Why::TimedOut { after: options.timeout };
            for (w, o) in waiting.drain(..) {
                end(&w, &o, Some(why.clone()), ticks);
            }
            break;
        };
        // Then one more read, at the deadline at the latest: a rollout that just completed
        // counts.
        tokio::select! {
            () = tokio::time::sleep(options.poll.min(left)) => {}
            () = &mut interrupt => {
                for (w, o) in waiting.drain(..) {
                    end(&w, &o, Some(Why::Interrupted), ticks);
                }
            }
        }
    }
    results
}

fn result(w: &Watched, o: &Observed, why: Option<Why>, elapsed: Duration) -> RolloutResult {
    let primary = o.primary();
    let finish = match &why {
        None => Finish::Completed,
        Some(Why::TimedOut { .. }) => Finish::TimedOut,
        Some(Why::Interrupted) => Finish::Interrupted,
        Some(_) => Finish::Failed,
    };
    RolloutResult {
        address: w.address.clone(),
        service: w.name.clone(),
        result: finish,
        task_definition: arn_name(&w.task_definition).to_owned(),
        desired: o.desired,
        running: o.running,
        pending: o.pending,
        failed_tasks: o.failed_tasks(),
        rollout_state: primary.and_then(|p| p.rollout_state.clone()),
        rollout_state_reason: primary.and_then(|p| p.rollout_state_reason.clone()),
        reason: why.as_ref().map(ToString::to_string),
        why,
        seconds: elapsed.as_secs(),
        details: Details::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/acc-default-web:3";
    const NEW: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/acc-default-web:4";

    fn deployment(status: &str, td: &str, state: Option<&str>, reason: Option<&str>) -> Deployment {
        Deployment {
            status: status.to_owned(),
            task_definition: Some(td.to_owned()),
            rollout_state: state.map(str::to_owned),
            rollout_state_reason: reason.map(str::to_owned),
            failed_tasks: 0,
        }
    }

    fn service(running: i32, deployments: Vec<Deployment>) -> Observed {
        Observed { desired: 2, running, pending: 2 - running, deployments }
    }

    /// An update in progress as AWS shows it: the new PRIMARY deployment rolling out, the old
    /// one still ACTIVE and COMPLETED.
    #[test]
    fn an_update_waits_for_its_primary_deployment_and_not_the_old_one() {
        let mut o = service(
            1,
            vec![
                deployment(
                    "PRIMARY",
                    NEW,
                    Some("IN_PROGRESS"),
                    Some("ECS deployment ecs-svc/1 in progress."),
                ),
                deployment("ACTIVE", OLD, Some("COMPLETED"), None),
            ],
        );
        assert_eq!(judge(NEW, Some(&o)), Judgement::Waiting);
        o.deployments[0].rollout_state = Some("COMPLETED".to_owned());
        o.deployments.pop();
        assert_eq!(judge(NEW, Some(&o)), Judgement::Done);
    }

    #[test]
    fn failed_tasks_alone_keep_the_wait_going_until_the_circuit_breaker_fails_it() {
        let mut o = service(0, vec![deployment("PRIMARY", NEW, Some("IN_PROGRESS"), None)]);
        o.deployments[0].failed_tasks = 2;
        assert_eq!(o.failed_tasks(), 2);
        assert_eq!(judge(NEW, Some(&o)), Judgement::Waiting);
        let reason = "ECS deployment circuit breaker: tasks failed to start.";
        o.deployments[0].rollout_state = Some("FAILED".to_owned());
        o.deployments[0].rollout_state_reason = Some(reason.to_owned());
        let Judgement::Failed(why) = judge(NEW, Some(&o)) else { panic!("failed") };
        assert_eq!(why.to_string(), format!("the deployment failed (circuit breaker): {reason}"));
    }

    /// A circuit breaker rollback as AWS shows it: a new PRIMARY deployment of the last
    /// completed revision, the failed one ACTIVE with the breaker's reason.
    #[test]
    fn a_rollback_to_the_old_revision_fails_with_the_failed_deployments_reason() {
        let reason = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.";
        let o = service(
            2,
            vec![
                deployment("PRIMARY", OLD, Some("IN_PROGRESS"), None),
                deployment("ACTIVE", NEW, Some("FAILED"), Some(reason)),
            ],
        );
        let Judgement::Failed(why) = judge(NEW, Some(&o)) else { panic!("failed") };
        assert_eq!(
            why.to_string(),
            format!(
                "ECS runs `acc-default-web:3` again instead of `acc-default-web:4` (rolled back): {reason}"
            )
        );
        // Once ECS dropped the failed deployment, the PRIMARY alone still tells.
        let gone = service(2, vec![deployment("PRIMARY", OLD, Some("COMPLETED"), None)]);
        assert!(matches!(
            judge(NEW, Some(&gone)),
            Judgement::Failed(Why::RolledBack { reason: None, .. })
        ));
    }

    /// Regions and deployment controllers without a rollout state: `services-stable`'s rule.
    #[test]
    fn without_a_rollout_state_one_deployment_running_what_it_wants_is_done() {
        let one = service(2, vec![deployment("PRIMARY", NEW, None, None)]);
        assert_eq!(judge(NEW, Some(&one)), Judgement::Done);
        let short_of = service(1, vec![deployment("PRIMARY", NEW, None, None)]);
        assert_eq!(judge(NEW, Some(&short_of)), Judgement::Waiting);
        let two = service(
            2,
            vec![deployment("PRIMARY", NEW, None, None), deployment("ACTIVE", OLD, None, None)],
        );
        assert_eq!(judge(NEW, Some(&two)), Judgement::Waiting);
        assert_eq!(judge(NEW, None), Judgement::Failed(Why::Missing));
    }

    fn watched() -> Watched {
        Watched {
            address: Address::from("service[web]"),
            name: "web".to_owned(),
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/acc".to_owned(),
            arn: "arn:aws:ecs:eu-west-1:123456789012:service/acc/web".to_owned(),
            task_definition: NEW.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_rollout_that_never_completes_times_out_with_its_last_counts() {
        let mut reads = 0;
        let mut ticks = Vec::new();
        let stuck = service(0, vec![deployment("PRIMARY", NEW, Some("IN_PROGRESS"), None)]);
        let results = wait(
            vec![watched()],
            WaitOptions { timeout: Duration::from_millis(200), poll: Duration::from_millis(50) },
            |w| {
                reads += 1;
                let answer = BTreeMap::from([(w[0].arn.clone(), stuck.clone())]);
                async move { Ok(answer) }
            },
            std::future::pending(),
            &mut |t| ticks.push(t),
        )
        .await;
        let [r] = results.as_slice() else { panic!("one result: {results:?}") };
        assert_eq!(r.result, Finish::TimedOut);
        assert_eq!(r.reason.as_deref(), Some("timed out after 200ms waiting for the rollout"));
        assert_eq!((r.desired, r.running, r.pending), (2, 0, 2));
        assert_eq!(r.task_definition, "acc-default-web:4");
        // At 0, 50, 100, 150 ms and the deadline (a slow machine may manage fewer).
        assert!((2..=5).contains(&reads), "{reads} reads");
        assert!(matches!(ticks.last(), Some(Tick::Finished(_))));
    }

    #[test]
    fn only_failed_rolled_back_or_timed_out_rollouts_get_their_last_events_and_stopped_tasks() {
        let o = service(0, vec![deployment("PRIMARY", NEW, Some("IN_PROGRESS"), None)]);
        let w = watched();
        let elapsed = Duration::from_secs(1);
        let timed_out = Why::TimedOut { after: elapsed };
        let mut results = vec![
            result(&w, &o, Some(timed_out.clone()), elapsed),
            result(&w, &o, Some(Why::Interrupted), elapsed),
        ];
        let event = |n: usize| ServiceEvent {
            id: Some(format!("e{n}")),
            at: None,
            message: format!("event {n}"),
        };
        let history = ServiceHistory {
            service: "web".to_owned(),
            events: (0..8).map(event).collect(),
            stopped_tasks: Vec::new(),
        };
        explain(&mut results, vec![history]);
        let ids: Vec<_> =
            results[0].details.events.iter().filter_map(|e| e.id.as_deref()).collect();
        assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"], "the newest five");
        assert_eq!(results[1].details, Details::default(), "interrupted: not read");

        unexplained(&mut results, "throttled");
        assert_eq!(results[0].details.unreadable.as_deref(), Some("throttled"));
        assert_eq!(results[1].details.unreadable, None);
        assert_eq!(results[0].result, Finish::TimedOut, "still a failure");
    }

    #[tokio::test]
    async fn a_service_that_completes_on_a_later_read_finishes_then() {
        let mut reads = 0;
        let results = wait(
            vec![watched()],
            WaitOptions { timeout: Duration::from_secs(10), poll: Duration::from_millis(10) },
            |w| {
                reads += 1;
                let state = if reads < 3 { "IN_PROGRESS" } else { "COMPLETED" };
                let o = service(2, vec![deployment("PRIMARY", NEW, Some(state), None)]);
                async move { Ok(BTreeMap::from([(w[0].arn.clone(), o)])) }
            },
            std::future::pending(),
            &mut |_| {},
        )
        .await;
        assert_eq!(reads, 3);
        assert!(results[0].completed(), "{results:?}");
        assert_eq!(results[0].reason, None);
    }
}
