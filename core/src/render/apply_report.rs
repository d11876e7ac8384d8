//! The JSON report of `apply`, `destroy` and `rollback` (`--format json`): how the command
//! ended, what was done, what failed, what was destroyed to be replaced and not made again, and
//! what was not started, per resource address and action, and each service's rollout. One
//! document whatever the ending, so that a pipeline reads stdout the same way after a failure;
//! versioned like the other reports (`docs/json-output.md`).

use std::fmt::Write as _;

use serde::Serialize;

use super::reports::render;
use crate::apply::Outcome;
use crate::graph::Address;
use crate::ops::apply::{Done, LockLeft, Tagging};
use crate::plan::Action;
use crate::rollout::RolloutResult;
use crate::state::Operation;

/// How the command ended, as the CLI saw it.
#[derive(Debug, Clone, Copy)]
pub enum Ended<'a> {
    NoChanges,
    /// The operator did not confirm.
    Cancelled,
    /// Ctrl-C before anything changed.
    Interrupted,
    /// The walk ran (and the rollout wait, when it did).
    Done(&'a Done),
    /// The state could not be saved; what the walk did is in the outcome.
    SaveFailed(&'a Outcome, &'a str),
    /// The command stopped before the walk (a lock, a check, a read), and its lock, when
    /// releasing it failed too.
    Error(&'a str, Option<&'a LockLeft>),
}

#[derive(Serialize)]
struct Document<'a> {
    environment: &'a str,
    operation: Operation,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    done: Vec<Step<'a>>,
    failed: Vec<Step<'a>>,
    not_started: Vec<Step<'a>>,
    /// Replacements whose old resource is gone and whose new one was not made.
    destroyed_not_recreated: Vec<Step<'a>>,
    /// Deletes held until the rollouts complete, left for the next apply when they did not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    held_until_rollout: Vec<Step<'a>>,
    /// Recorded resources found deleted outside ecsops, which the state no longer records.
    forgotten: &'a [Address],
    rollouts: &'a [RolloutResult],
    /// Instance groups whose running instances the new launch template leaves outdated, for a
    /// pipeline to run `ecsops roll` after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    outdated: Vec<Outdated<'a>>,
    /// The lock, when releasing it failed after the apply ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_left: Option<&'a LockLeft>,
}

#[derive(Serialize)]
struct Outdated<'a> {
    group: &'a str,
    instances: usize,
}

#[derive(Serialize)]
struct Step<'a> {
    address: &'a Address,
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn steps(list: &[(Address, Action)]) -> Vec<Step<'_>> {
    list.iter().map(|(address, action)| Step { address, action: *action, error: None }).collect()
}

/// The report of `operation` on `environment`.
pub fn json(environment: &str, operation: Operation, ended: Ended<'_>) -> String {
    let mut doc = Document {
        environment,
        operation,
        result: "",
        serial: None,
        tag: None,
        error: None,
        done: Vec::new(),
        failed: Vec::new(),
        not_started: Vec::new(),
        held_until_rollout: Vec::new(),
        destroyed_not_recreated: Vec::new(),
        forgotten: &[],
        rollouts: &[],
        outdated: Vec::new(),
        lock_left: None,
    };
    let outcome = match ended {
        Ended::NoChanges => {
            doc.result = "no_changes";
            None
        }
        Ended::Cancelled => {
            doc.result = "cancelled";
            None
        }
        Ended::Interrupted => {
            doc.result = "interrupted";
            None
        }
        Ended::Error(e, left) => {
            doc.result = "error";
            doc.error = Some(e.to_owned());
            doc.lock_left = left;
            None
        }
        Ended::SaveFailed(outcome, e) => {
            doc.result = "failed";
            doc.error = Some(e.to_owned());
            Some(outcome)
        }
        Ended::Done(done) => {
            let outcome = &done.outcome;
            let unfinished: Vec<&str> = done
                .rollouts
                .iter()
                .filter(|r| !r.completed())
                .map(|r| r.service.as_str())
                .collect();
            doc.result = if outcome.interrupted {
                "interrupted"
            } else if !outcome.succeeded() {
                "failed"
            } else if !unfinished.is_empty() {
                "rollout_failed"
            } else {
                "applied"
            };
            if !outcome.succeeded() {
                let mut error = format!(
                    "{} failed, {} not started",
                    outcome.failed.len(),
                    outcome.not_started.len()
                );
                let gone = outcome.destroyed_not_recreated.len();
                if gone > 0 {
                    let _ = write!(error, ", {gone} destroyed and not re-created");
                }
                doc.error = Some(error);
            } else if !unfinished.is_empty() {
                doc.error =
                    Some(format!("the rollout did not complete: {}", unfinished.join(", ")));
            }
            if let Tagging::Tagged { name, .. } = &done.tagging {
                doc.tag = Some(name);
            }
            doc.rollouts = &done.rollouts;
            doc.lock_left = done.lock_left.as_ref();
            doc.forgotten = &done.forgotten;
            doc.outdated = done
                .outdated
                .iter()
                .map(|(group, instances)| Outdated { group, instances: *instances })
                .collect();
            Some(outcome)
        }
    };
    if let Some(o) = outcome {
        doc.serial = Some(o.state.serial);
        doc.done = steps(&o.done);
        doc.not_started = steps(&o.not_started);
        doc.destroyed_not_recreated = steps(&o.destroyed_not_recreated);
        doc.held_until_rollout = steps(&o.after_rollout);
        doc.failed = o
            .failed
            .iter()
            .map(|f| Step {
                address: &f.address,
                action: f.action,
                error: Some(f.error.to_string()),
            })
            .collect();
    }
    render(doc)
}

/// A failed rollout after a walk that also failed a step, with every field filled: for the
/// documentation test and the CLI's tests.
#[cfg(test)]
pub(crate) fn example() -> Done {
    use crate::apply::Failure;
    use crate::events::{ContainerExit, ServiceEvent, StoppedTask};
    use crate::provider::ProviderError;
    use crate::rollout::{Details, Finish};
    use crate::state::State;

    let mut state = State::new("acc", "lineage".to_owned());
    state.serial = 7;
    Done {
        outcome: Outcome {
            state,
            done: vec![(Address::from("service[web]"), Action::Update)],
            failed: vec![Failure {
                address: Address::from("service[api]"),
                action: Action::Update,
                error: ProviderError::Failed {
                    address: Address::from("service[api]"),
                    what: "the service is draining".to_owned(),
                },
            }],
            not_started: vec![(Address::from("alarm[api]"), Action::Create)],
            destroyed_not_recreated: vec![(Address::from("listener_rule[api]"), Action::Replace)],
            interrupted: false,
            retirements: Vec::new(),
            after_rollout: vec![(Address::from("iam_role.task[api]"), Action::Delete)],
        },
        rollouts: vec![RolloutResult {
            address: Address::from("service[web]"),
            service: "web".to_owned(),
            result: Finish::TimedOut,
            task_definition: "acc-default-web:4".to_owned(),
            desired: 2,
            running: 0,
            pending: 2,
            failed_tasks: 2,
            rollout_state: Some("IN_PROGRESS".to_owned()),
            rollout_state_reason: Some("ECS deployment ecs-svc/1 in progress.".to_owned()),
            reason: Some("timed out after 20s waiting for the rollout".to_owned()),
            why: None,
            seconds: 20,
            details: Details {
                events: vec![ServiceEvent {
                    id: Some("e-1".to_owned()),
                    at: Some("2026-01-01T00:00:00Z".to_owned()),
                    message: "(service web) is unable to consistently start tasks successfully."
                        .to_owned(),
                }],
                stopped_tasks: vec![StoppedTask {
                    task_arn: "arn:aws:ecs:eu-west-1:123456789012:task/acc/0123".to_owned(),
                    task_definition: "acc-default-web:4".to_owned(),
                    stopped_reason: Some("Essential container in task exited".to_owned()),
                    stop_code: Some("EssentialContainerExited".to_owned()),
                    stopped_at: Some("2026-01-01T00:00:10Z".to_owned()),
                    containers: vec![ContainerExit {
                        name: "web".to_owned(),
                        exit_code: Some(1),
                        reason: None,
                        log_group: Some("/ecsops/acc/service/web".to_owned()),
                        log_stream: Some("web/web/0123".to_owned()),
                    }],
                }],
                // Never beside events in a real report; here so every field is shown.
                unreadable: Some("reading the stopped tasks failed: throttled".to_owned()),
            },
        }],
        tagging: Tagging::Tagged { name: "ecsops/acc/8".to_owned(), commit: "0".repeat(40) },
        rollback: None,
        outdated: vec![("default".to_owned(), 2)],
        forgotten: vec![Address::from("log_group.service[old]")],
        recorded: Vec::new(),
        lock_left: Some(LockLeft {
            id: "lock-1".to_owned(),
            reason: "`acc` is not locked".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_timed_out_rollout_is_a_failure_with_its_counts_and_reason() {
        let done = example();
        let v: Value =
            serde_json::from_str(&json("acc", Operation::Apply, Ended::Done(&done))).expect("json");
        // The walk's own failure comes first.
        assert_eq!(v["result"], "failed");
        assert_eq!(v["error"], "1 failed, 1 not started, 1 destroyed and not re-created");
        assert_eq!(
            v["destroyed_not_recreated"],
            json!([{"address": "listener_rule[api]", "action": "replace"}])
        );
        let mut done = example();
        done.outcome.failed.clear();
        done.outcome.not_started.clear();
        done.outcome.destroyed_not_recreated.clear();
        let v: Value =
            serde_json::from_str(&json("acc", Operation::Apply, Ended::Done(&done))).expect("json");
        assert_eq!(v["result"], "rollout_failed");
        assert_eq!(v["error"], "the rollout did not complete: web");
        assert_eq!(v["serial"], 7);
        assert_eq!(v["done"], json!([{"address": "service[web]", "action": "update"}]));
        let r = &v["rollouts"][0];
        assert_eq!(r["result"], "timed_out");
        assert_eq!((r["running"].clone(), r["failed_tasks"].clone()), (json!(0), json!(2)));
        assert!(r.get("why").is_none());
    }

    #[test]
    fn an_error_before_the_walk_is_one_document_too() {
        let v: Value = serde_json::from_str(&json(
            "acc",
            Operation::Destroy,
            Ended::Error("the lock is held", None),
        ))
        .expect("json");
        assert_eq!(v["operation"], "destroy");
        assert_eq!(v["result"], "error");
        assert_eq!(v["done"], json!([]));
        assert!(v.get("serial").is_none());
    }
}
