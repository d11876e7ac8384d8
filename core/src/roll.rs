//! The decisions of `ecsops roll`, as pure functions of what AWS shows: which instances a batch
//! replaces, and from one observation of a group, the one step to take next. Nothing is
//! remembered between runs: the capacity before the roll is kept in tags on the group
//! ([`Recorded`]), everything else (instances DRAINING, capacity already added) is read again,
//! which is what makes an interrupted roll continue where it stopped. `ops::roll` observes, asks
//! [`next`], acts, and observes again.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::status::{GroupStatus, InstanceStatus};

/// The group's desired capacity before the roll.
pub const TAG_DESIRED: &str = "ecsops:roll-desired";
/// The group's maximum size before the roll.
pub const TAG_MAX: &str = "ecsops:roll-max";
/// ACTIVE container instances in the cluster when the roll started: never drain below it.
pub const TAG_ACTIVE: &str = "ecsops:roll-active";
/// Present when the roll suspended the group's `AlarmNotification` process (ECS managed
/// scaling acts through it), to resume it at the end.
pub const TAG_SUSPENDED: &str = "ecsops:roll-suspended";

/// What the roll tags recorded before anything changed: what "as before" means at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Recorded {
    pub desired: i32,
    pub max: i32,
    /// ACTIVE container instances in the cluster.
    pub active: usize,
    /// The roll suspended the group's scaling alarms (managed scaling).
    pub suspended: bool,
}

impl Recorded {
    /// The roll tags of a group: `None` when it carries none (no roll in progress), `Err` with
    /// the tag when one is missing or not a number (edited by hand).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<Result<Self, String>> {
        if !tags.contains_key(TAG_DESIRED) {
            return None;
        }
        let number = |key: &str| -> Result<i64, String> {
            tags.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| key.to_owned())
        };
        let read = || -> Result<Self, String> {
            Ok(Self {
                desired: i32::try_from(number(TAG_DESIRED)?).map_err(|_| TAG_DESIRED.to_owned())?,
                max: i32::try_from(number(TAG_MAX)?).map_err(|_| TAG_MAX.to_owned())?,
                active: usize::try_from(number(TAG_ACTIVE)?).map_err(|_| TAG_ACTIVE.to_owned())?,
                suspended: tags.contains_key(TAG_SUSPENDED),
            })
        };
        Some(read())
    }

    /// The tags that record this.
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        let mut tags = vec![
            (TAG_DESIRED, self.desired.to_string()),
            (TAG_MAX, self.max.to_string()),
            (TAG_ACTIVE, self.active.to_string()),
        ];
        if self.suspended {
            tags.push((TAG_SUSPENDED, "AlarmNotification".to_owned()));
        }
        tags
    }
}

/// Where an instance is in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    /// Not registered (still booting, or its agent is not running).
    Unregistered,
    Active {
        arn: String,
    },
    /// Being drained; `tasks` non-daemon tasks still run on it.
    Draining {
        arn: String,
        tasks: usize,
    },
    /// Another status (`REGISTERING`, `DEREGISTERING`, ...).
    Other(String),
}

/// One instance of the group that is not on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub outdated: bool,
    pub container: Container,
}

/// One look at a group and its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub desired: i32,
    pub max: i32,
    /// Pending and running instances, by id.
    pub members: Vec<Member>,
    /// ACTIVE container instances in the whole cluster.
    pub active: usize,
}

/// The one thing to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing is outdated: restore the recorded capacity and remove the roll tags.
    Finish,
    /// Add the batch's capacity (raising max when it does not fit).
    ScaleOut { desired: i32, max: i32 },
    /// Wait until enough new instances are ACTIVE for the batch to be drained; `pending` are
    /// the up-to-date instances that are not ACTIVE yet.
    AwaitActive { pending: Vec<String>, want: usize },
    /// Set these instances DRAINING: `(instance id, container instance ARN)`.
    Drain(Vec<(String, String)>),
    /// Wait until these DRAINING instances run no non-daemon task: `(id, tasks left)`.
    AwaitDrained(Vec<(String, usize)>),
    /// Terminate these instances; `decrement` takes the capacity away with them (a drained
    /// instance), otherwise the group replaces them (an outdated instance that never joined
    /// the cluster has nothing to drain).
    Terminate { ids: Vec<String>, decrement: bool },
}

/// The step after `observed`, for a roll that recorded `recorded` and replaces `batch`
/// instances at a time. Instances already DRAINING are finished first (an interrupted roll);
/// capacity is added only when the group lacks it for the batch; nothing is drained while
/// that would leave fewer ACTIVE container instances than the roll started with.
pub fn next(observed: &Observed, recorded: &Recorded, batch: usize) -> Next {
    let old: Vec<&Member> = observed.members.iter().filter(|m| m.outdated).collect();
    if old.is_empty() {
        return Next::Finish;
    }
    let draining: Vec<(&Member, usize)> = old
        .iter()
        .filter_map(|m| match m.container {
            Container::Draining { tasks, .. } => Some((*m, tasks)),
            _ => None,
        })
        .collect();
    if !draining.is_empty() {
        let drained: Vec<String> =
            draining.iter().filter(|(_, tasks)| *tasks == 0).map(|(m, _)| m.id.clone()).collect();
        if drained.is_empty() {
            return Next::AwaitDrained(
                draining.iter().map(|(m, tasks)| (m.id.clone(), *tasks)).collect(),
            );
        }
        return Next::Terminate { ids: drained, decrement: true };
    }
    let active: Vec<(&Member, &String)> = old
        .iter()
        .filter_map(|m| match &m.container {
            Container::Active { arn } => Some((*m, arn)),
            _ => None,
        })
        .collect();
    if active.is_empty() {
        return Next::Terminate {
            ids: old.iter().map(|m| m.id.clone()).collect(),
            decrement: false,
        };
    }
    let n = batch.max(1).min(active.len());
    let wanted = recorded.desired.saturating_add(count(n));
    if observed.desired < wanted {
        return Next::ScaleOut { desired: wanted, max: recorded.max.max(wanted) };
    }
    let want = recorded.active + n;
    if observed.active < want {
        return Next::AwaitActive {
            pending: observed
                .members
                .iter()
                .filter(|m| !m.outdated && !matches!(m.container, Container::Active { .. }))
                .map(|m| m.id.clone())
                .collect(),
            want,
        };
    }
    Next::Drain(active.into_iter().take(n).map(|(m, arn)| (m.id.clone(), arn.clone())).collect())
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What a roll of one group will do, shown before confirming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupPlan {
    /// The key of its `autoscaling_group[...]` address.
    pub name: String,
    /// The outdated instances, in the order they are replaced, `batch` at a time.
    pub batches: Vec<Vec<PlannedInstance>>,
    /// The capacity before the roll (from the roll tags when one is being continued).
    pub desired: i32,
    pub max: i32,
    /// The largest desired capacity and max size during the roll.
    pub peak_desired: i32,
    pub peak_max: i32,
    /// A roll interrupted earlier is continued (the group carries roll tags).
    pub resumed: bool,
    /// ECS managed scaling is on: its scaling alarms are suspended during the roll.
    pub managed_scaling: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedInstance {
    pub id: String,
    /// How it differs from what the group launches now.
    pub because: Vec<String>,
}

impl GroupPlan {
    /// The plan of `group`: its outdated running instances in batches of `batch`, and the
    /// capacity it rolls with. `recorded` is the roll tags' capacity when a roll is continued.
    pub fn of(group: &GroupStatus, recorded: Option<&Recorded>, batch: usize) -> Self {
        let outdated: Vec<&InstanceStatus> =
            group.instances.iter().filter(|i| i.outdated && in_service(&i.state)).collect();
        let batch = batch.max(1);
        let batches: Vec<Vec<PlannedInstance>> = outdated
            .chunks(batch)
            .map(|c| {
                c.iter()
                    .map(|i| PlannedInstance {
                        id: i.id.clone(),
                        because: i
                            .outdated_because
                            .iter()
                            .map(crate::status::Outdated::describe)
                            .collect(),
                    })
                    .collect()
            })
            .collect();
        let (desired, max) =
            recorded.map_or((group.capacity.desired, group.capacity.max), |r| (r.desired, r.max));
        let largest = batches.iter().map(Vec::len).max().unwrap_or(0);
        let peak_desired = desired.saturating_add(count(largest));
        Self {
            name: group.name.clone(),
            batches,
            desired,
            max,
            peak_desired,
            peak_max: max.max(peak_desired),
            resumed: recorded.is_some(),
            managed_scaling: group.capacity.tags.contains_key(MANAGED_TAG),
        }
    }

    /// Nothing to replace and nothing to restore.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty() && !self.resumed
    }

    pub fn instances(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }
}

/// The tag ECS requires on a group whose capacity provider has managed scaling.
pub const MANAGED_TAG: &str = "AmazonECSManaged";

/// An EC2 state of an instance that is, or is about to be, in service.
pub fn in_service(state: &str) -> bool {
    matches!(state, "pending" | "running")
}

/// What one wait is for, for progress lines and timeout messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum Waiting {
    /// New instances to be ACTIVE in the cluster.
    Active { instances: Vec<String>, want: usize },
    /// A DRAINING instance's tasks to move.
    Drained { instance: String, tasks: usize },
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active { instances, want } if instances.is_empty() => write!(
                f,
                "the group to launch instances ({want} ACTIVE container instances needed)"
            ),
            Self::Active { instances, want } => write!(
                f,
                "{} to be ACTIVE in the cluster ({want} ACTIVE container instances needed)",
                instances.join(", ")
            ),
            Self::Drained { instance, tasks } => write!(
                f,
                "{instance} to drain ({tasks} task{} left)",
                if *tasks == 1 { "" } else { "s" }
            ),
        }
    }
}

/// A roll of the example's group (desired 2, max 4) in progress, for the renderers' tests.
#[cfg(test)]
pub(crate) fn example() -> Recorded {
    Recorded { desired: 2, max: 4, active: 2, suspended: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> Recorded {
        Recorded { desired: 2, max: 2, active: 2, suspended: false }
    }

    fn member(id: &str, outdated: bool, container: Container) -> Member {
        Member { id: id.to_owned(), outdated, container }
    }

    fn active(id: &str) -> Container {
        Container::Active { arn: format!("arn:{id}") }
    }

    fn draining(id: &str, tasks: usize) -> Member {
        member(id, true, Container::Draining { arn: format!("arn:{id}"), tasks })
    }

    fn observed(desired: i32, active: usize, members: Vec<Member>) -> Observed {
        Observed { desired, max: 4, members, active }
    }

    #[test]
    fn each_observation_has_one_next_step() {
        let old = |id| member(id, true, active(id));
        let cases: Vec<(&str, Observed, usize, Next)> = vec![
            (
                "nothing outdated",
                observed(2, 2, vec![member("i-n", false, active("i-n"))]),
                1,
                Next::Finish,
            ),
            (
                "capacity first, max raised to fit",
                observed(2, 2, vec![old("i-1"), old("i-2")]),
                1,
                Next::ScaleOut { desired: 3, max: 3 },
            ),
            (
                "a batch larger than what is left adds only what is left",
                observed(2, 2, vec![old("i-1")]),
                5,
                Next::ScaleOut { desired: 3, max: 3 },
            ),
            (
                "the new instance is not ACTIVE yet",
                observed(
                    3,
                    2,
                    vec![old("i-1"), old("i-2"), member("i-n", false, Container::Unregistered)],
                ),
                1,
                Next::AwaitActive { pending: vec!["i-n".to_owned()], want: 3 },
            ),
            (
                "enough ACTIVE: drain the first of the batch",
                observed(3, 3, vec![old("i-1"), old("i-2"), member("i-n", false, active("i-n"))]),
                1,
                Next::Drain(vec![("i-1".to_owned(), "arn:i-1".to_owned())]),
            ),
            (
                "a DRAINING instance with tasks is waited for, whatever else",
                observed(3, 2, vec![draining("i-1", 2), old("i-2")]),
                1,
                Next::AwaitDrained(vec![("i-1".to_owned(), 2)]),
            ),
            (
                "a drained instance is terminated with its capacity",
                observed(3, 2, vec![draining("i-1", 0), old("i-2")]),
                1,
                Next::Terminate { ids: vec!["i-1".to_owned()], decrement: true },
            ),
            (
                "an outdated instance outside the cluster is replaced, not drained",
                observed(2, 2, vec![member("i-1", true, Container::Unregistered)]),
                1,
                Next::Terminate { ids: vec!["i-1".to_owned()], decrement: false },
            ),
        ];
        for (why, o, batch, want) in cases {
            assert_eq!(next(&o, &recorded(), batch), want, "{why}");
        }
    }

    #[test]
    fn a_resumed_roll_adds_no_capacity_it_already_added() {
        // Killed after the scale-out: desired is already the recorded one plus the batch.
        let o = observed(
            4,
            4,
            vec![
                member("i-1", true, active("i-1")),
                member("i-2", true, active("i-2")),
                member("i-3", false, active("i-3")),
                member("i-4", false, active("i-4")),
            ],
        );
        assert_eq!(
            next(&o, &recorded(), 2),
            Next::Drain(vec![
                ("i-1".to_owned(), "arn:i-1".to_owned()),
                ("i-2".to_owned(), "arn:i-2".to_owned())
            ])
        );
    }

    #[test]
    fn never_drains_below_the_active_count_the_roll_started_with() {
        // Another group's instance left the cluster: 3 ACTIVE, but 4 are needed for a batch of
        // one when the roll started with 3.
        let r = Recorded { active: 3, ..recorded() };
        let o = observed(
            3,
            3,
            vec![member("i-1", true, active("i-1")), member("i-n", false, active("i-n"))],
        );
        assert_eq!(next(&o, &r, 1), Next::AwaitActive { pending: Vec::new(), want: 4 });
    }

    #[test]
    fn roll_tags_round_trip_and_report_what_is_wrong() {
        let r = Recorded { desired: 2, max: 4, active: 3, suspended: true };
        let tags: BTreeMap<String, String> =
            r.tags().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(Recorded::from_tags(&tags), Some(Ok(r)));
        assert_eq!(Recorded::from_tags(&BTreeMap::new()), None);
        let mut broken = tags.clone();
        broken.insert(TAG_MAX.to_owned(), "many".to_owned());
        assert_eq!(Recorded::from_tags(&broken), Some(Err(TAG_MAX.to_owned())));
    }

    #[test]
    fn the_plan_batches_outdated_running_instances() {
        let instance = |id: &str, outdated: bool, state: &str| InstanceStatus {
            id: id.to_owned(),
            state: state.to_owned(),
            image_id: None,
            instance_type: None,
            launch_template_version: None,
            outdated,
            outdated_because: Vec::new(),
        };
        let group = GroupStatus {
            name: "default".to_owned(),
            missing: false,
            launch_template: None,
            instances: vec![
                instance("i-1", true, "running"),
                instance("i-2", true, "running"),
                instance("i-3", true, "running"),
                instance("i-4", false, "running"),
                instance("i-5", true, "terminated"),
            ],
            capacity: crate::status::Capacity { min: 1, max: 4, desired: 4, tags: BTreeMap::new() },
        };
        let plan = GroupPlan::of(&group, None, 2);
        let ids: Vec<Vec<&str>> =
            plan.batches.iter().map(|b| b.iter().map(|i| i.id.as_str()).collect()).collect();
        assert_eq!(ids, [vec!["i-1", "i-2"], vec!["i-3"]]);
        assert_eq!((plan.peak_desired, plan.peak_max), (6, 6));
        assert!(!plan.is_empty());
        let resumed = GroupPlan::of(&group, Some(&recorded()), 1);
        assert_eq!((resumed.desired, resumed.peak_desired), (2, 3));
        assert!(resumed.resumed);
    }
}
