//! Plans: what an apply would do to one environment, per resource and per attribute, computed by
//! [`diff`] from the desired graph and the recorded state. A plan is data: renderers present it,
//! `--out` saves it and a later apply refuses it if the state or manifest moved on since.

pub mod ami;
pub mod baseline;
pub mod cidrs;
mod diff;
mod drift;
pub(crate) mod priorities;
pub mod saved;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::Caller;
use crate::graph::{Address, Kind};

#[cfg(test)]
pub(crate) use diff::plan_for;
pub use diff::{PlanInput, diff};
pub use drift::{Drift, drift};

/// Version of the plan JSON format (`ecsops diff --format json`, `--out`). Minor versions add
/// fields; a major version changes or removes them. Documented in `docs/plan-json.md`.
pub const PLAN_FORMAT_VERSION: &str = "1.4";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub ecsops_version: String,
    pub environment: String,
    /// SHA-256 of the merged manifest, so a saved plan can tell when the manifest changed.
    pub manifest_digest: String,
    /// The state the plan was made against; `None` when the environment has no state yet.
    pub prior_state: Option<PriorState>,
    /// Who the plan was made as (the account and caller STS reported), when AWS was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Caller>,
    /// By address; the apply orders its steps by the dependencies, not by this list.
    pub changes: Vec<ResourceChange>,
    pub summary: Summary,
    /// Changes made outside ecsops since the last apply (empty when not refreshed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    /// `diff --rev`: the git revision whose manifests the plan starts from, instead of a state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_revision: Option<String>,
    /// `diff TO --from FROM`: the environment whose manifests the plan promotes to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_from: Option<String>,
    /// What the plan could not check (format 1.4): a recommended AMI when AWS was not asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Instance groups `ecsops roll` is replacing instances of (from their roll tags): apply
    /// leaves their capacity to the roll, which restores it when it finishes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rolls: BTreeMap<Address, crate::roll::Recorded>,
    /// `ecsops destroy`'s plan: nothing is desired, everything recorded goes. It changes how
    /// the plan reads ("nothing to destroy", not "matches the manifest"); not in the plan JSON,
    /// since a destroy neither prints its plan as JSON nor saves it.
    #[serde(skip)]
    pub destroy: bool,
}

impl Plan {
    /// This plan with only the changes of `addresses`: what an apply walks of it later (the
    /// changes it held until the rollouts).
    #[must_use]
    pub fn only<'a>(&self, addresses: impl IntoIterator<Item = &'a Address>) -> Plan {
        let addresses: std::collections::BTreeSet<&Address> = addresses.into_iter().collect();
        Plan {
            changes: (self.changes.iter())
                .filter(|c| addresses.contains(&c.address))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// A plan of `changes` for environment `acc` against state serial `serial`, lineage `L`:
    /// the fixture renderer tests share.
    #[cfg(test)]
    pub(crate) fn for_tests(changes: Vec<ResourceChange>, serial: u64) -> Self {
        Self {
            format_version: PLAN_FORMAT_VERSION.to_owned(),
            ecsops_version: "0".to_owned(),
            environment: "acc".to_owned(),
            manifest_digest: "d".to_owned(),
            prior_state: Some(PriorState { lineage: "L".to_owned(), serial }),
            caller: None,
            summary: Summary::of(&changes),
            changes,
            drift: Vec::new(),
            base_revision: None,
            promoted_from: None,
            notes: Vec::new(),
            rolls: BTreeMap::new(),
            destroy: false,
        }
    }

    /// Whether applying does anything: a change, or a `[[moved]]` rename to record.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp || c.moved_from.is_some())
    }

    /// The recorded resources the refresh found deleted outside ecsops that the plan does not
    /// make again (a destroy's, or ones no longer in the manifest): the state the plan starts
    /// from no longer records them, so an apply of it forgets them, changes or not.
    pub fn forgotten(&self) -> Vec<Address> {
        self.drift
            .iter()
            .filter(|d| d.deleted)
            .filter(|d| {
                !self.changes.iter().any(|c| {
                    c.action != Action::NoOp
                        && (c.address == d.address || c.moved_from.as_ref() == Some(&d.address))
                })
            })
            .map(|d| d.address.clone())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorState {
    pub lineage: String,
    pub serial: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    /// A new revision of a versioned resource (a task definition): registered beside the old
    /// one, which stays for rollback and is retired later, never destroyed by this change.
    Revise,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Revise => "revise",
            Action::Delete => "delete",
        }
    }

    /// Whether the action destroys a resource (delete, or replace which deletes the old one).
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub kind: Kind,
    pub action: Action,
    /// The address this resource had in state before a `[[moved]]` rename.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Address>,
    /// For a replace: the attributes whose change forces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_because: Vec<String>,
    /// For a create every attribute, for a delete every recorded one, otherwise the changed ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
}

/// A field that is present holds a value, `null` included (absent fields are `None` through
/// `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    /// The recorded value; absent on create.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub before: Option<Value>,
    /// The desired value; absent on delete and when unknown until apply. A desired `null` is
    /// written as `null` and reads back as one, not as absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub after: Option<Value>,
    /// The desired value depends on something only known after apply (an id, an ARN).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_unknown: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
    /// What the values are called, for people: an AMI's image name (format 1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Names>,
}

/// The names of an attribute change's values, where AWS knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// [`Note::code`] of a setting that makes no resource (the environment's protection, account,
/// credentials or state) and differs from the base revision of `diff --rev`: a pull request
/// that changes only such settings is still one a reviewer must see.
pub const SETTING_CHANGED: &str = "setting-changed";

/// [`Note::code`] of an environment whose manifest `diff --rev` finds removed since the base
/// revision: its plan destroys everything, but merging the removal destroys nothing (an apply
/// needs the manifest), so the note says how to remove an environment.
pub const ENVIRONMENT_REMOVED: &str = "environment-removed";

/// [`Note::code`] of an environment whose manifests do not validate at the base revision of
/// `diff --rev` (a pull request that fixes them): its plan compares with nothing.
pub const BASE_INVALID: &str = "base-invalid";

/// Something a plan states about itself rather than a change: what it could not check, or
/// (`diff --rev`) a setting that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Stable, for scripts: `ami-not-checked`.
    pub code: String,
    pub address: Address,
    /// For people, lowercase, without a trailing period.
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    /// New revisions (format 1.3); absent in older plans.
    #[serde(default)]
    pub revise: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Summary {
    pub fn of(changes: &[ResourceChange]) -> Self {
        let mut s = Self::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Revise => s.revise += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.no_op += 1,
            }
        }
        s
    }

    /// `Plan: 3 to create, 1 to update, 0 to replace, 0 to delete.`, with `, 1 new revision`
    /// before the period when there are any (plans without them read as they always did).
    pub fn line(&self) -> String {
        let revisions = match self.revise {
            0 => String::new(),
            1 => ", 1 new revision".to_owned(),
            n => format!(", {n} new revisions"),
        };
        format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete{revisions}.",
            self.create, self.update, self.replace, self.delete
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deleted(address: &str) -> Drift {
        Drift {
            address: Address::from(address),
            kind: Kind::LogGroup,
            deleted: true,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn forgotten_are_the_resources_deleted_outside_that_the_plan_does_not_make_again() {
        let create = ResourceChange {
            address: Address::from("log_group[a]"),
            kind: Kind::LogGroup,
            action: Action::Create,
            moved_from: None,
            replace_because: Vec::new(),
            attributes: Vec::new(),
            depends_on: Vec::new(),
        };
        let mut plan = Plan::for_tests(vec![create], 3);
        plan.drift = vec![deleted("log_group[a]"), deleted("log_group[b]")];
        plan.drift.push(Drift { deleted: false, ..deleted("log_group[c]") });
        assert_eq!(plan.forgotten(), [Address::from("log_group[b]")]);
    }
}
