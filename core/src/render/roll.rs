//! `ecsops roll`: the plan shown before confirming, one line per step, and the closing report,
//! as text; the report as the JSON document of `docs/json-output.md` (versioned like the other
//! reports).

use std::fmt::Write as _;

use super::printable;
use super::reports::render;
use crate::ops::roll::{Ended, RollPlan, RollReport, Step, minutes};

/// `roll --format json`: the whole report.
pub fn json(report: &RollReport) -> String {
    render(report)
}

/// The plan, before confirming.
pub fn plan(plan: &RollPlan) -> String {
    let mut out = String::new();
    let env = printable(&plan.environment);
    if plan.groups.is_empty() {
        let _ = writeln!(
            out,
            "Nothing to roll in `{env}`: its state records no instance group (none was applied yet, or the environment was destroyed)."
        );
        return out;
    }
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "Nothing to roll in `{env}`: every instance runs its group's current launch template."
        );
        return out;
    }
    for g in plan.groups.iter().filter(|g| !g.is_empty()) {
        let name = printable(&g.name);
        let resumed = if g.resumed { " (continuing an interrupted roll)" } else { "" };
        let _ = writeln!(
            out,
            "instance group {name}: {} outdated instance{}{resumed}",
            g.instances(),
            if g.instances() == 1 { "" } else { "s" }
        );
        for (n, batch) in g.batches.iter().enumerate() {
            let _ = writeln!(out, "  batch {}:", n + 1);
            for i in batch {
                let line =
                    format!("    {}  {}", printable(&i.id), printable(&i.because.join(", ")));
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        let _ = writeln!(
            out,
            "  capacity: desired {} (up to {} during the roll), max {}{}",
            g.desired,
            g.peak_desired,
            g.max,
            if g.peak_max > g.max {
                format!(" (raised to {} during the roll)", g.peak_max)
            } else {
                String::new()
            }
        );
        if g.managed_scaling {
            let _ = writeln!(
                out,
                "  managed scaling: its scaling alarms are suspended during the roll and resumed after"
            );
        }
    }
    out
}

/// One step, as a line of its own (or the live line on a terminal).
pub fn step(step: &Step) -> String {
    match step {
        Step::Recorded { group, recorded } => format!(
            "{}: recorded desired {}, max {}, {} ACTIVE container instances in roll tags",
            printable(group),
            recorded.desired,
            recorded.max,
            recorded.active
        ),
        Step::Suspended { group } => {
            format!("{}: suspended the scaling alarms (managed scaling)", printable(group))
        }
        Step::ScaledOut { group, desired, max } => {
            format!("{}: raised desired capacity to {desired} (max {max})", printable(group))
        }
        Step::Waiting { group, waiting, waited } => format!(
            "{}: waiting for {} ({})",
            printable(group),
            printable(&waiting.to_string()),
            minutes(waited.as_secs())
        ),
        Step::Draining { group, instances } => {
            format!("{}: set {} DRAINING", printable(group), printable(&instances.join(", ")))
        }
        Step::Terminated { group, instance, replaced } => format!(
            "{}: terminated {}{}",
            printable(group),
            printable(instance),
            if *replaced {
                " (not in the cluster; the group replaces it)"
            } else {
                " with its capacity"
            }
        ),
        Step::Restored { group, desired, max } => format!(
            "{}: restored desired {desired}, max {max}; roll tags removed",
            printable(group)
        ),
    }
}

/// The closing report.
pub fn report(report: &RollReport) -> String {
    let mut out = String::new();
    let env = printable(&report.plan.environment);
    for g in &report.groups {
        let _ = writeln!(
            out,
            "instance group {}: {} replaced{}",
            printable(&g.name),
            g.replaced.len(),
            if g.finished { ", capacity restored" } else { "" }
        );
    }
    let line = match report.ended {
        Ended::NothingToDo | Ended::DryRun => return out,
        Ended::Cancelled => {
            format!("Roll cancelled: only `{}` confirms; nothing was changed.", report.plan.answer)
        }
        Ended::Interrupted => {
            format!("Roll interrupted; run `ecsops roll {env}` again to continue.")
        }
        Ended::Done => format!("Roll of `{env}` complete."),
        Ended::Stopped => format!("Roll of `{env}` stopped."),
    };
    let _ = writeln!(out, "{line}");
    out
}

/// A report with every field, for the tests that keep `docs/json-output.md` in step.
#[cfg(test)]
pub(crate) fn example() -> RollReport {
    RollReport {
        ended: Ended::Stopped,
        plan: tests::plan(),
        groups: vec![crate::ops::roll::GroupReport {
            name: "default".to_owned(),
            replaced: vec!["i-1".to_owned()],
            finished: false,
        }],
        stopped: Some(crate::ops::roll::Stopped::NotActive {
            group: "default".to_owned(),
            instances: vec!["i-3".to_owned()],
            after_seconds: 600,
            log_group: Some("/ecsops/acc/default/var/log/ecs/ecs-agent.log".to_owned()),
        }),
        lock_left: Some(crate::ops::apply::LockLeft {
            id: "lock-1".to_owned(),
            reason: "`acc` is not locked".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::roll::{GroupPlan, PlannedInstance, Waiting};

    pub(super) fn plan() -> RollPlan {
        RollPlan {
            environment: "acc".to_owned(),
            batch: 1,
            groups: vec![GroupPlan {
                name: "default".to_owned(),
                batches: vec![
                    vec![PlannedInstance {
                        id: "i-1".to_owned(),
                        because: vec!["type t3.medium, now t3.large".to_owned()],
                    }],
                    vec![PlannedInstance { id: "i-2".to_owned(), because: Vec::new() }],
                ],
                desired: 2,
                max: 2,
                peak_desired: 3,
                peak_max: 3,
                resumed: false,
                managed_scaling: false,
            }],
            answer: "yes".to_owned(),
        }
    }

    #[test]
    fn the_plan_lists_each_batch_and_the_capacity_during_the_roll() {
        assert_eq!(
            super::plan(&plan()),
            "instance group default: 2 outdated instances\n  batch 1:\n    i-1  type t3.medium, now t3.large\n  batch 2:\n    i-2\n  capacity: desired 2 (up to 3 during the roll), max 2 (raised to 3 during the roll)\n"
        );
    }

    #[test]
    fn nothing_to_roll_says_whether_no_group_is_recorded_or_every_instance_is_current() {
        let mut plan = plan();
        for g in &mut plan.groups {
            g.batches.clear();
        }
        assert_eq!(
            super::plan(&plan),
            "Nothing to roll in `acc`: every instance runs its group's current launch template.\n"
        );
        plan.groups.clear();
        assert_eq!(
            super::plan(&plan),
            "Nothing to roll in `acc`: its state records no instance group (none was applied yet, or the environment was destroyed).\n"
        );
    }

    #[test]
    fn a_wait_says_what_for_and_how_long() {
        let line = step(&Step::Waiting {
            group: "default".to_owned(),
            waiting: Waiting::Drained { instance: "i-1".to_owned(), tasks: 1 },
            waited: Duration::from_secs(75),
        });
        assert_eq!(line, "default: waiting for i-1 to drain (1 task left) (1m15s)");
    }

    #[test]
    fn the_json_report_is_versioned() {
        let doc: serde_json::Value = serde_json::from_str(&json(&RollReport {
            ended: Ended::DryRun,
            plan: plan(),
            groups: Vec::new(),
            stopped: None,
            lock_left: None,
        }))
        .expect("JSON");
        assert_eq!(doc["format_version"], crate::render::reports::REPORT_FORMAT_VERSION);
        assert_eq!(doc["ended"], "dry_run");
        assert_eq!(doc["plan"]["groups"][0]["batches"][0][0]["id"], "i-1");
    }
}
