//! Which steps of a plan must wait for which: the apply engine's dependency graph.
//!
//! - A create, update or replace waits for the steps that make what the desired resource
//!   depends on.
//! - A delete waits until what depended on the resource when it was recorded is gone (deleted,
//!   or destroyed by its replacement), and for the updates and replaces of those dependents
//!   that drop the reference (a capacity provider is deleted only after the cluster's provider
//!   list no longer names it).
//! - A replacement of a kind that must be destroyed before it is made again (its name is
//!   unique) is two steps, as Terraform does: destroy the old one once everything that used it
//!   is gone, then create the new one before anything that uses it. One step could not do
//!   both: a VPC whose CIDR changes can only go after its old subnets, and its new subnets can
//!   only come after the new VPC.
//! - A new revision (a task definition) is registered in one step; a second step retires the
//!   revisions beyond the ones kept for rollback once every step that makes a desired user of
//!   it (the service moving to the new revision) has finished.
//! - A listener rule taking a priority waits for the step that lets go of it (the holder's
//!   delete, replacement's destroy or move: `plan::priorities`); of rules trading priorities
//!   in a circle, one is first parked at a free priority by a step of its own.
//! - A delete of what a new revision's old revisions use (the task role a service no longer
//!   asks for) waits for the rollout ([`Part::AfterRollout`]): the old tasks run on it until
//!   the new ones replace them, and ECS rolls a failed deployment back to them. An update of
//!   such a grant (a role's policies, a policy's document) is two steps: the walk widens it to
//!   the old and new grants together ([`Part::Widen`]), the rollout's end narrows it
//!   ([`widen`](super::widen)). After an apply that did not finish (its rollout failed, or it
//!   failed or was interrupted), ECS may run a service's old revision (the circuit breaker
//!   rolled back to it), or still be deploying, and the state does not say what that revision
//!   uses; so too when the refresh finds a service on another revision than recorded
//!   ([`unsettled`]). Then every delete and narrowing of what task definitions use (roles,
//!   policies, log groups) waits for the rollouts, unless a change needs it first, even when
//!   the plan rolls nothing out: the apply then waits for every recorded service.

use std::collections::{BTreeMap, BTreeSet};

use super::widen::widens;
use crate::graph::{Address, Graph, Kind, Replacement};
use crate::plan::priorities::handoffs;
use crate::plan::{Action, Plan};
use crate::state::{ResourceState, State};

/// Which part of its change a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole change.
    Whole,
    /// A delete-first replacement's destroy of the old resource.
    Destroy,
    /// A delete-first replacement's create of the new resource.
    Create,
    /// A new revision's retirement of the oldest revisions beyond the ones kept.
    Retire,
    /// A listener rule's move to a free priority before its update, so that the rule taking
    /// its priority need not wait for that update (which waits for it).
    Park { priority: u32 },
    /// A delete of what the old revisions of a new revision still use (a task role), with the
    /// deletes that wait for it: not run by the walk, but after the rollouts of the services
    /// moving off those revisions, as Argo CD prunes last. Their tasks keep running until then,
    /// and a deployment that fails rolls back to them.
    AfterRollout,
    /// An update of a grant that old revisions use, made to keep what they need beside what
    /// the new ones need; its narrowing to the desired grant is a step of its own, held until
    /// the rollouts ([`Part::AfterRollout`]).
    Widen,
}

/// One step: a change of the plan that does something, or a part of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub address: Address,
    pub action: Action,
    pub part: Part,
    /// Indices of the steps this one waits for.
    pub after: Vec<usize>,
}

impl Step {
    /// The action progress reports: a replacement's destroy part shows as a destroy.
    pub fn shown(&self) -> Action {
        if self.part == Part::Destroy { Action::Delete } else { self.action }
    }
}

/// Whether ECS may run revisions the state does not record, so that what tasks use cannot be
/// told from it: the last apply did not finish ([`State::unfinished`]), or the refresh found a
/// service on another task definition than recorded (a rollback outside ecsops).
pub fn unsettled(plan: &Plan, state: &State) -> bool {
    state.unfinished()
        || plan.drift.iter().any(|d| {
            d.kind == Kind::Service && d.attributes.iter().any(|a| a.name == "task_definition")
        })
}

/// The steps of `plan` in plan order, each with the steps it waits for; `unsettled`: ECS may
/// run revisions the state does not record ([`unsettled`]).
pub fn schedule(
    plan: &Plan,
    graph: &Graph,
    recorded: &BTreeMap<Address, ResourceState>,
    unsettled: bool,
) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    // The step after which the desired resource exists, and the one after which the recorded
    // one is gone; the updates and whole replacements (which may drop references).
    let mut made: BTreeMap<Address, usize> = BTreeMap::new();
    let mut gone: BTreeMap<Address, usize> = BTreeMap::new();
    let mut changed: BTreeMap<Address, usize> = BTreeMap::new();
    let handoffs = handoffs(&plan.changes, |a| recorded.get(a));
    let mut parked: BTreeMap<Address, usize> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let mut push = |part: Part| {
            steps.push(Step {
                address: c.address.clone(),
                action: c.action,
                part,
                after: Vec::new(),
            });
            steps.len() - 1
        };
        match c.action {
            Action::Replace if c.kind.replacement() == Replacement::DeleteFirst => {
                gone.insert(c.address.clone(), push(Part::Destroy));
                made.insert(c.address.clone(), push(Part::Create));
            }
            Action::Delete => {
                gone.insert(c.address.clone(), push(Part::Whole));
            }
            Action::Revise => {
                let i = push(Part::Whole);
                made.insert(c.address.clone(), i);
                changed.insert(c.address.clone(), i);
                push(Part::Retire);
            }
            Action::Update | Action::Replace => {
                if let Some(&priority) = handoffs.parked.get(&c.address) {
                    parked.insert(c.address.clone(), push(Part::Park { priority }));
                }
                let i = push(Part::Whole);
                made.insert(c.address.clone(), i);
                changed.insert(c.address.clone(), i);
            }
            Action::Create | Action::NoOp => {
                made.insert(c.address.clone(), push(Part::Whole));
            }
        }
    }
    let afters: Vec<Vec<usize>> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let removes = step.action == Action::Delete || step.part == Part::Destroy;
            let mut after: Vec<usize> = if matches!(step.part, Part::Park { .. }) {
                // The free priority is free from the start; nothing else changes.
                Vec::new()
            } else if step.part == Part::Retire {
                // The retirement is the seam where the rollout wait gates it: today "moved
                // over" means the users' steps succeeded; once the apply waits for rollouts,
                // it must also mean their deployments completed.
                graph
                    .resources
                    .values()
                    .filter(|r| r.depends_on.contains(&step.address))
                    .filter_map(|r| made.get(&r.address).copied())
                    .chain(made.get(&step.address).copied())
                    .collect()
            } else if removes {
                recorded
                    .iter()
                    .filter(|(_, r)| r.dependencies.contains(&step.address))
                    .filter_map(|(dependent, _)| {
                        gone.get(dependent).copied().or_else(|| {
                            // A dependent updated in place to no longer use the resource goes
                            // first; one that keeps using it can only be updated once the new
                            // resource exists, after this.
                            let keeps = graph
                                .resources
                                .get(dependent)
                                .is_some_and(|d| d.depends_on.contains(&step.address));
                            (!keeps).then(|| changed.get(dependent).copied()).flatten()
                        })
                    })
                    .collect()
            } else {
                graph
                    .resources
                    .get(&step.address)
                    .map(|r| r.depends_on.iter().filter_map(|d| made.get(d).copied()).collect())
                    .unwrap_or_default()
            };
            if step.part == Part::Create
                && let Some(&destroy) = gone.get(&step.address)
            {
                after.push(destroy);
            }
            if !removes && matches!(step.part, Part::Whole | Part::Create) {
                // The priority it takes is given up by the holder's parking, else its delete
                // or destroy, else its own move; and a parked rule moves on from where it was
                // parked.
                let giver = handoffs
                    .givers
                    .get(&step.address)
                    .and_then(|g| parked.get(g).or_else(|| gone.get(g)).or_else(|| changed.get(g)));
                after.extend(giver.copied());
                after.extend(parked.get(&step.address).copied());
            }
            after.retain(|&j| j != i);
            after.sort_unstable();
            after.dedup();
            after
        })
        .collect();
    for (step, after) in steps.iter_mut().zip(afters) {
        step.after = after;
    }
    defer_after_rollout(plan, recorded, unsettled, steps)
}

/// Marks [`Part::AfterRollout`] the deletes of what a revised resource's recorded (old)
/// revision uses (what it depends on, and what those depend on, as recorded), and the deletes
/// waiting for those; splits an update of a grant it uses into the walk's widening and the
/// narrowing held with them. When anything else waits for a held step, nothing is held or
/// split: the walk must not hold back a step that a change needs.
fn defer_after_rollout(
    plan: &Plan,
    recorded: &BTreeMap<Address, ResourceState>,
    unsettled: bool,
    steps: Vec<Step>,
) -> Vec<Step> {
    let mut used = used_by_old(plan, recorded);
    if unsettled {
        used.extend((recorded.iter()).filter(|(_, r)| TASKS_USE.contains(&r.kind)).map(|(a, _)| a));
    }
    if used.is_empty() {
        return steps;
    }
    let kinds: BTreeMap<&Address, Kind> =
        (plan.changes.iter()).map(|c| (&c.address, c.kind)).collect();
    let mut held = steps.clone();
    for i in 0..steps.len() {
        let s = &steps[i];
        let grant = kinds.get(&s.address).is_some_and(|k| widens(*k));
        if !(s.action == Action::Update
            && s.part == Part::Whole
            && grant
            && used.contains(&s.address))
        {
            continue;
        }
        // A replacement's destroy that waits for the update (the role lets go of the old
        // policy) cannot wait for the rollouts: that update is made whole.
        if (steps.iter()).any(|w| w.part == Part::Destroy && w.after.contains(&i)) {
            continue;
        }
        // What drops its reference to the grant waits for the narrowing; what uses the grant,
        // for the widening.
        let narrow = held.len();
        for waiting in held.iter_mut().filter(|w| w.action == Action::Delete) {
            for j in &mut waiting.after {
                if *j == i {
                    *j = narrow;
                }
            }
        }
        held[i].part = Part::Widen;
        held.push(Step {
            address: s.address.clone(),
            action: Action::Update,
            part: Part::AfterRollout,
            after: vec![i],
        });
    }
    let mut deferred: Vec<bool> = (held.iter())
        .map(|s| {
            s.part == Part::AfterRollout
                || (s.action == Action::Delete && used.contains(&s.address))
        })
        .collect();
    loop {
        let waiting: Vec<usize> = (0..held.len())
            .filter(|&i| !deferred[i] && held[i].after.iter().any(|&j| deferred[j]))
            .collect();
        if waiting.is_empty() {
            break;
        }
        if waiting.iter().any(|&i| held[i].action != Action::Delete) {
            return steps;
        }
        for i in waiting {
            deferred[i] = true;
        }
    }
    for (step, deferred) in held.iter_mut().zip(deferred) {
        if deferred {
            step.part = Part::AfterRollout;
        }
    }
    held
}

/// The kinds a task definition uses: its roles, their policies, its log groups.
const TASKS_USE: [Kind; 3] = [Kind::IamRole, Kind::IamPolicy, Kind::LogGroup];

/// What the recorded revisions of the plan's revised resources use: their recorded
/// dependencies, and theirs in turn (a task definition's execution role, and its policy).
fn used_by_old<'a>(
    plan: &Plan,
    recorded: &'a BTreeMap<Address, ResourceState>,
) -> BTreeSet<&'a Address> {
    let mut used = BTreeSet::new();
    let mut next: Vec<&Address> = (plan.changes.iter())
        .filter(|c| c.action == Action::Revise)
        .filter_map(|c| recorded.get_key_value(&c.address).map(|(a, _)| a))
        .collect();
    while let Some(a) = next.pop() {
        for d in recorded.get(a).map(|r| &r.dependencies).into_iter().flatten() {
            if let Some((d, _)) = recorded.get_key_value(d)
                && used.insert(d)
            {
                next.push(d);
            }
        }
    }
    used
}
