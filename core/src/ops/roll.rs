//! `ecsops roll ENV`: replaces the outdated container instances of each instance group without
//! disrupting a task, under the environment's lock and the same account guard as apply.
//! account guard → lock → read state → observe every group → plan (show, confirm like apply;
//! `--dry-run` stops here) → per group: record the capacity in roll tags, then observe → do the
//! one step `roll::next` says → observe again, until nothing is outdated → restore the capacity,
//! remove the tags → unlock.
//!
//! Progress lives in AWS only (DRAINING instances, capacity added, the roll tags), so a roll
//! interrupted at any point is continued by running it again.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::provider::aws::AwsProvider;
use crate::provider::aws::roll::{RollTarget, agent_log_group};
use crate::roll::{
    GroupPlan, MANAGED_TAG, Next, Observed, Recorded, TAG_ACTIVE, TAG_DESIRED, TAG_MAX,
    TAG_SUSPENDED, Waiting, next,
};
use crate::state::{LockInfo, State};
use crate::workspace::Workspace;

use super::OpsError;
use super::apply::{Answer, LockLeft};
use super::diff::desired;
use super::session::Session;
use super::state::{acquire, target};

#[derive(Debug, Clone)]
pub struct RollRequest {
    pub state_url: Option<String>,
    /// Only this instance group (the key of `[instance_groups.NAME]`).
    pub group: Option<String>,
    /// Instances replaced at once.
    pub batch: usize,
    /// Show the plan and stop.
    pub dry_run: bool,
    pub auto_approve: bool,
    pub lock_timeout: Duration,
    /// How long each wait may take (an instance to be ACTIVE, one to drain).
    pub wait_timeout: Duration,
    /// Between two looks at AWS while waiting.
    pub poll: Duration,
}

impl Default for RollRequest {
    fn default() -> Self {
        Self {
            state_url: None,
            group: None,
            batch: 1,
            dry_run: false,
            auto_approve: false,
            lock_timeout: Duration::ZERO,
            wait_timeout: Duration::from_mins(10),
            poll: Duration::from_secs(10),
        }
    }
}

/// What a roll will do, per group.
#[derive(Debug, Clone, Serialize)]
pub struct RollPlan {
    pub environment: String,
    pub batch: usize,
    pub groups: Vec<GroupPlan>,
    /// What confirms the roll: `yes`, or the environment's name when it is protected (as
    /// for an apply: production's instances are not replaced by a reflexive `yes`).
    #[serde(skip)]
    pub answer: String,
}

impl RollPlan {
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(GroupPlan::is_empty)
    }
}

/// One thing the roll did or is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The capacity before the roll was recorded in the group's tags.
    Recorded {
        group: String,
        recorded: Recorded,
    },
    /// ECS managed scaling's alarms were suspended for the roll.
    Suspended {
        group: String,
    },
    ScaledOut {
        group: String,
        desired: i32,
        max: i32,
    },
    /// Still waiting, for `waited` so far.
    Waiting {
        group: String,
        waiting: Waiting,
        #[serde(serialize_with = "seconds")]
        waited: Duration,
    },
    Draining {
        group: String,
        instances: Vec<String>,
    },
    Terminated {
        group: String,
        instance: String,
        replaced: bool,
    },
    /// Capacity, alarms and tags are as before the roll.
    Restored {
        group: String,
        desired: i32,
        max: i32,
    },
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// The CLI's side of a roll.
pub trait RollInteraction: Send {
    fn waiting_for_lock(&mut self, holder: &LockInfo, left: Duration);
    /// The plan, before confirmation (also when there is nothing to do).
    fn planned(&mut self, plan: &RollPlan);
    /// Whether the operator confirmed; `Err` with the reason when nobody can be asked.
    fn confirm(&mut self, plan: &RollPlan) -> Answer;
    fn step(&mut self, step: &Step);
}

/// How a roll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// Nothing outdated, no roll to finish.
    NothingToDo,
    DryRun,
    Cancelled,
    /// Ctrl-C: what was done stays; running `roll` again continues.
    Interrupted,
    Done,
    /// A wait timed out; `RollReport::stopped` says which.
    Stopped,
}

/// Why a roll stopped before it finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stopped {
    /// New instances did not join the cluster; the capacity added for the batch was taken
    /// away again and the old instances were left ACTIVE.
    #[error("{}: is the ECS agent running?{}", not_active(.instances, *.after_seconds), .log_group.as_ref().map(|g| format!(" see the host log group {g}")).unwrap_or_default())]
    NotActive {
        group: String,
        instances: Vec<String>,
        after_seconds: u64,
        log_group: Option<String>,
    },
    /// A DRAINING instance still runs tasks; it stays DRAINING and the roll tags stay.
    #[error("{instance} still runs {tasks} task(s) after {} DRAINING: they have not moved to other instances", minutes(*.after_seconds))]
    NotDrained { group: String, instance: String, tasks: usize, after_seconds: u64 },
    /// A roll tag was changed by hand and cannot be read.
    #[error("the roll tag `{tag}` of instance group `{group}` is missing or not a number")]
    BrokenTag { group: String, tag: String },
}

impl Stopped {
    /// What to do next.
    pub fn help(&self, environment: &str) -> String {
        match self {
            Self::NotActive { .. } => format!(
                "the old instances are still ACTIVE and the capacity is as before; fix what keeps new instances out of the cluster, then run `ecsops roll {environment}` again"
            ),
            Self::NotDrained { .. } => format!(
                "see why the services do not place the tasks elsewhere (`ecsops status {environment}`), then run `ecsops roll {environment}` again to continue"
            ),
            Self::BrokenTag { group, .. } => format!(
                "set `{TAG_DESIRED}`, `{TAG_MAX}` and `{TAG_ACTIVE}` on the group to its capacity before the roll, or remove all three, then run `ecsops roll {environment}` again (group `{group}`)"
            ),
        }
    }
}

fn not_active(ids: &[String], after_seconds: u64) -> String {
    let after = minutes(after_seconds);
    if ids.is_empty() {
        format!("no new instance joined the cluster in {after}")
    } else {
        format!("{} not ACTIVE in the cluster after {after}", ids.join(", "))
    }
}

/// `10m`, `1m30s`, `45s`.
pub fn minutes(seconds: u64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// What the roll did, per group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub name: String,
    /// Outdated instances terminated.
    pub replaced: Vec<String>,
    /// The capacity was restored and the roll tags removed.
    pub finished: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollReport {
    pub ended: Ended,
    pub plan: RollPlan,
    pub groups: Vec<GroupReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// The lock, when releasing it failed after the roll ended: the report stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_left: Option<LockLeft>,
}

/// Runs a roll. `interrupt` resolving (Ctrl-C) stops it between two steps; the lock is
/// released on every way out.
pub async fn roll(
    ws: &Workspace,
    environment: &str,
    request: &RollRequest,
    ui: &mut dyn RollInteraction,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<RollReport, OpsError> {
    let mut interrupt = std::pin::pin!(interrupt);
    let desired = desired(ws, environment)?;
    let (session, target) = tokio::try_join!(
        Session::open(environment, &desired.manifest),
        target(ws, environment, request.state_url.as_deref())
    )?;
    let lock = LockInfo::new("roll", ws.root()).running_as(&session.caller);
    let mut waiting = |h: &LockInfo, left| ui.waiting_for_lock(h, left);
    let acquired = tokio::select! {
        r = acquire(&target, &lock, request.lock_timeout, &mut waiting) => r,
        () = &mut interrupt => {
            let _ = target.backend.unlock(&lock.id).await;
            return Ok(report(environment, request, Ended::Interrupted));
        }
    };
    acquired?;
    let result = async {
        let state = target.backend.read().await?.map(|s| s.state);
        locked(
            environment,
            desired.manifest.environment.protected,
            request,
            &session,
            state,
            ui,
            interrupt.as_mut(),
        )
        .await
    }
    .await;
    let Some(left) = super::state::release(&target, &lock).await else {
        return result;
    };
    // What the roll did stays the news: a lock left behind is said beside it.
    match result {
        Ok(mut report) => {
            report.lock_left = Some(left);
            Ok(report)
        }
        Err(error) => Err(OpsError::LockLeft {
            error: Some(Box::new(error)),
            environment: environment.to_owned(),
            left,
        }),
    }
}

fn report(environment: &str, request: &RollRequest, ended: Ended) -> RollReport {
    RollReport {
        ended,
        plan: RollPlan {
            environment: environment.to_owned(),
            batch: request.batch,
            groups: Vec::new(),
            answer: String::new(),
        },
        groups: Vec::new(),
        stopped: None,
        lock_left: None,
    }
}

async fn locked(
    environment: &str,
    protected: bool,
    request: &RollRequest,
    session: &Session,
    state: Option<State>,
    ui: &mut dyn RollInteraction,
    mut interrupt: Pin<&mut (impl Future<Output = ()> + Send)>,
) -> Result<RollReport, OpsError> {
    let Some(state) = state.filter(|s| !s.resources.is_empty()) else {
        let report = report(environment, request, Ended::NothingToDo);
        ui.planned(&report.plan);
        return Ok(report);
    };
    session.check_recorded(&state)?;
    let provider = session.provider(&state);
    let targets = RollTarget::recorded(&state.resources, request.group.as_deref())?;
    if let Some(group) = &request.group
        && targets.is_empty()
    {
        return Err(OpsError::UnknownGroup {
            environment: environment.to_owned(),
            group: group.clone(),
            known: RollTarget::recorded(&state.resources, None)?
                .iter()
                .map(|t| t.key().to_owned())
                .collect(),
        });
    }
    let mut plan = RollPlan {
        environment: environment.to_owned(),
        batch: request.batch,
        groups: Vec::new(),
        answer: if protected { environment.to_owned() } else { "yes".to_owned() },
    };
    for t in &targets {
        let (group, _) = provider.roll_observe(&state.resources, t).await?;
        let recorded = Recorded::from_tags(&group.capacity.tags).and_then(Result::ok);
        plan.groups.push(GroupPlan::of(&group, recorded.as_ref(), request.batch));
    }
    ui.planned(&plan);
    let mut out = RollReport {
        ended: Ended::NothingToDo,
        plan: plan.clone(),
        groups: Vec::new(),
        stopped: None,
        lock_left: None,
    };
    if plan.is_empty() {
        return Ok(out);
    }
    if request.dry_run {
        out.ended = Ended::DryRun;
        return Ok(out);
    }
    if !request.auto_approve {
        let confirmed = tokio::select! {
            r = ui.confirm(&plan) => r.map_err(|reason| OpsError::NotConfirmed {
                environment: environment.to_owned(),
                operation: "roll",
                reason,
            })?,
            () = &mut interrupt => {
                out.ended = Ended::Interrupted;
                return Ok(out);
            }
        };
        if !confirmed {
            out.ended = Ended::Cancelled;
            return Ok(out);
        }
    }
    let log_group = agent_log_group(&state.resources);
    out.ended = Ended::Done;
    for (t, p) in targets.iter().zip(&plan.groups) {
        if p.is_empty() {
            continue;
        }
        let mut group = Rolling {
            provider: &provider,
            state: &state,
            target: t,
            request,
            log_group: log_group.as_deref(),
            report: GroupReport { name: t.key().to_owned(), replaced: Vec::new(), finished: false },
            ui: &mut *ui,
        };
        let ended = tokio::select! {
            r = group.run() => Some(r),
            () = &mut interrupt => None,
        };
        out.groups.push(group.report);
        match ended {
            None => {
                out.ended = Ended::Interrupted;
                return Ok(out);
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(Some(stopped))) => {
                out.ended = Ended::Stopped;
                out.stopped = Some(stopped);
                return Ok(out);
            }
            Some(Ok(None)) => {}
        }
    }
    Ok(out)
}

/// The roll of one group.
struct Rolling<'a> {
    provider: &'a AwsProvider,
    state: &'a State,
    target: &'a RollTarget,
    request: &'a RollRequest,
    log_group: Option<&'a str>,
    report: GroupReport,
    ui: &'a mut dyn RollInteraction,
}

impl Rolling<'_> {
    fn name(&self) -> String {
        self.target.key().to_owned()
    }

    async fn observe(&self) -> Result<(crate::status::GroupStatus, Observed), OpsError> {
        Ok(self.provider.roll_observe(&self.state.resources, self.target).await?)
    }

    /// Rolls the group to the end, or to the wait that timed out.
    async fn run(&mut self) -> Result<Option<Stopped>, OpsError> {
        let (group, observed) = self.observe().await?;
        let recorded = match Recorded::from_tags(&group.capacity.tags) {
            Some(Ok(r)) => {
                // The roll that recorded this may have died before it suspended the alarms, or
                // its suspension failed: suspending again changes nothing when it had.
                if r.suspended {
                    self.provider.roll_scaling_alarms(self.target, true).await?;
                }
                r
            }
            Some(Err(tag)) => {
                return Ok(Some(Stopped::BrokenTag { group: self.name(), tag }));
            }
            None => {
                let r = Recorded {
                    desired: observed.desired,
                    max: observed.max,
                    active: observed.active,
                    suspended: group.capacity.tags.contains_key(MANAGED_TAG),
                };
                // Tags first: a roll killed right after suspending still knows to resume.
                self.provider.roll_tag(self.target, &r.tags()).await?;
                self.ui.step(&Step::Recorded { group: self.name(), recorded: r });
                if r.suspended {
                    self.provider.roll_scaling_alarms(self.target, true).await?;
                    self.ui.step(&Step::Suspended { group: self.name() });
                }
                r
            }
        };
        let mut wait: Option<(Waiting, Instant)> = None;
        loop {
            let (_, observed) = self.observe().await?;
            let step = next(&observed, &recorded, self.request.batch);
            // A wait is timed from when it started; any action starts the next one afresh.
            if !matches!(step, Next::AwaitActive { .. } | Next::AwaitDrained(_)) {
                wait = None;
            }
            match step {
                Next::Finish => {
                    self.restore(&recorded).await?;
                    self.report.finished = true;
                    return Ok(None);
                }
                Next::ScaleOut { desired, max } => {
                    self.provider.roll_capacity(self.target, desired, max).await?;
                    self.ui.step(&Step::ScaledOut { group: self.name(), desired, max });
                }
                Next::AwaitActive { pending, want } => {
                    let waiting = Waiting::Active { instances: pending.clone(), want };
                    if let Some(after) = self.waited(&mut wait, waiting) {
                        // Take the batch's capacity away with the instances that did not come
                        // up, so the old ones (still ACTIVE) keep serving as before.
                        for id in &pending {
                            self.provider.roll_terminate(self.target, id, true).await?;
                        }
                        self.restore(&recorded).await?;
                        return Ok(Some(Stopped::NotActive {
                            group: self.name(),
                            instances: pending,
                            after_seconds: after.as_secs(),
                            log_group: self.log_group.map(str::to_owned),
                        }));
                    }
                    tokio::time::sleep(self.request.poll).await;
                }
                Next::Drain(instances) => {
                    let arns: Vec<String> = instances.iter().map(|(_, a)| a.clone()).collect();
                    self.provider.roll_drain(self.target, &arns).await?;
                    self.ui.step(&Step::Draining {
                        group: self.name(),
                        instances: instances.into_iter().map(|(id, _)| id).collect(),
                    });
                }
                Next::AwaitDrained(left) => {
                    let (instance, tasks) = left.first().cloned().unwrap_or_default();
                    let waiting = Waiting::Drained { instance: instance.clone(), tasks };
                    if let Some(after) = self.waited(&mut wait, waiting) {
                        return Ok(Some(Stopped::NotDrained {
                            group: self.name(),
                            instance,
                            tasks,
                            after_seconds: after.as_secs(),
                        }));
                    }
                    tokio::time::sleep(self.request.poll).await;
                }
                Next::Terminate { ids, decrement } => {
                    for id in ids {
                        self.provider.roll_terminate(self.target, &id, decrement).await?;
                        self.ui.step(&Step::Terminated {
                            group: self.name(),
                            instance: id.clone(),
                            replaced: !decrement,
                        });
                        self.report.replaced.push(id);
                    }
                }
            }
        }
    }

    /// Reports the wait and whether it has gone on too long: the time a wait started is kept
    /// while the same thing is waited for (the same instance drains, new instances are awaited).
    fn waited(&mut self, wait: &mut Option<(Waiting, Instant)>, now: Waiting) -> Option<Duration> {
        let same = match (wait.as_ref(), &now) {
            (Some((Waiting::Active { .. }, _)), Waiting::Active { .. }) => true,
            (
                Some((Waiting::Drained { instance: a, .. }, _)),
                Waiting::Drained { instance: b, .. },
            ) => a == b,
            _ => false,
        };
        let started = match wait.take() {
            Some((_, at)) if same => at,
            _ => Instant::now(),
        };
        let waited = started.elapsed();
        self.ui.step(&Step::Waiting { group: self.name(), waiting: now.clone(), waited });
        *wait = Some((now, started));
        (waited >= self.request.wait_timeout).then_some(waited)
    }

    /// Puts the recorded capacity back, resumes what the roll suspended, removes the tags.
    async fn restore(&mut self, recorded: &Recorded) -> Result<(), OpsError> {
        let (_, observed) = self.observe().await?;
        if (observed.desired, observed.max) != (recorded.desired, recorded.max) {
            self.provider.roll_capacity(self.target, recorded.desired, recorded.max).await?;
        }
        if recorded.suspended {
            self.provider.roll_scaling_alarms(self.target, false).await?;
        }
        let mut tags = vec![TAG_DESIRED, TAG_MAX, TAG_ACTIVE];
        if recorded.suspended {
            tags.push(TAG_SUSPENDED);
        }
        self.provider.roll_untag(self.target, &tags).await?;
        self.ui.step(&Step::Restored {
            group: self.name(),
            desired: recorded.desired,
            max: recorded.max,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_names_the_instance_what_did_not_happen_and_where_to_look() {
        let stopped = Stopped::NotActive {
            group: "default".to_owned(),
            instances: vec!["i-0abc".to_owned()],
            after_seconds: 600,
            log_group: Some("/ecsops/acceptance/default/var/log/ecs/ecs-agent.log".to_owned()),
        };
        assert_eq!(
            stopped.to_string(),
            "i-0abc not ACTIVE in the cluster after 10m: is the ECS agent running? see the host log group /ecsops/acceptance/default/var/log/ecs/ecs-agent.log"
        );
        let none = Stopped::NotActive {
            group: "default".to_owned(),
            instances: Vec::new(),
            after_seconds: 90,
            log_group: None,
        };
        assert_eq!(
            none.to_string(),
            "no new instance joined the cluster in 1m30s: is the ECS agent running?"
        );
        let drain = Stopped::NotDrained {
            group: "default".to_owned(),
            instance: "i-1".to_owned(),
            tasks: 2,
            after_seconds: 45,
        };
        assert_eq!(
            drain.to_string(),
            "i-1 still runs 2 task(s) after 45s DRAINING: they have not moved to other instances"
        );
    }
}
