//! Which steps of a plan must wait for which: the apply engine's dependency graph.
//!
//! - A create, update or replace waits for the creates, updates and replaces of what the
//!   desired resource depends on.
//! - A delete waits for the deletes of what depended on the resource when it was recorded,
//!   and for the updates and replaces of those dependents (they drop the reference first: a
//!   capacity provider is deleted only after the cluster's provider list no longer names it).

use std::collections::BTreeMap;

use crate::graph::{Address, Graph};
use crate::plan::{Action, Plan};
use crate::state::ResourceState;

/// One step: a change of the plan that does something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub address: Address,
    pub action: Action,
    /// Indices of the steps this one waits for.
    pub after: Vec<usize>,
}

/// The steps of `plan` in plan order, each with the steps it waits for.
pub fn schedule(
    plan: &Plan,
    graph: &Graph,
    recorded: &BTreeMap<Address, ResourceState>,
) -> Vec<Step> {
    let changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let index: BTreeMap<&Address, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    changes
        .iter()
        .map(|c| {
            let mut after: Vec<usize> = if c.action == Action::Delete {
                recorded
                    .iter()
                    .filter(|(_, r)| r.dependencies.contains(&c.address))
                    .filter_map(|(a, _)| index.get(a).copied())
                    .collect()
            } else {
                graph
                    .resources
                    .get(&c.address)
                    .map(|r| {
                        r.depends_on
                            .iter()
                            .filter_map(|d| index.get(d).copied())
                            .filter(|&i| changes[i].action != Action::Delete)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            after.sort_unstable();
            after.dedup();
            Step {
                address: c.address.clone(),
                action: c.action,
                after,
            }
        })
        .collect()
}
