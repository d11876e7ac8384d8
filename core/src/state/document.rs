//! The state document: what ecsops last applied to one environment. Versioned JSON; `lineage`
//! is fixed at the first write and `serial` grows with every write, so a backend can refuse a
//! write based on a stale or foreign read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Address, Kind};

/// Version of the state document format this ecsops writes. It reads every version up to this
/// one (version 1 had no `dirty`, `operation`, `result` or `rolled_back_to` in its revision;
/// version 2 recorded a revision only in git, always with its `commit`), and refuses a newer
/// one rather than drop what it does not know.
pub const STATE_VERSION: u32 = 3;

/// The highest serial a state may have. Every write moves the serial forward by one (or past
/// the environment's tags), so a document or tag claiming more is not one ecsops wrote; refusing
/// it keeps that arithmetic from overflowing, and JSON readers working in doubles (jq,
/// JavaScript) read every serial up to it exactly.
pub const MAX_SERIAL: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Identity of this environment's state history (a UUID), fixed at the first write.
    pub lineage: String,
    /// Moves forward on every write: by one, or (an apply in a git repository) past the
    /// environment's `ecsops/<env>/<serial>` tags, so that an apply's tag never collides.
    pub serial: u64,
    pub environment: String,
    /// The last apply: the git revision it came from, and how it ended. An apply records it
    /// as interrupted in its first step's save, so a state whose apply never reached its end
    /// says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
    #[serde(default)]
    pub resources: BTreeMap<Address, ResourceState>,
    /// Values worth showing after apply (load balancer DNS names, cluster ARN, ...).
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
}

impl State {
    /// A state with no resources, for an environment never applied.
    pub fn new(environment: &str, lineage: String) -> Self {
        Self {
            version: STATE_VERSION,
            lineage,
            serial: 0,
            environment: environment.to_owned(),
            revision: None,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }
}

impl State {
    /// Whether the last apply did not finish (its rollout failed, or it failed or was
    /// interrupted): ECS may run, or roll services back to, revisions the state no longer
    /// records.
    pub fn unfinished(&self) -> bool {
        (self.revision.as_ref()).is_some_and(|r| r.result != ApplyResult::Applied)
    }

    /// The AWS account the recorded resources live in, read from their ARNs.
    pub fn account(&self) -> Option<String> {
        self.resources.values().flat_map(|r| r.outputs.values()).filter_map(Value::as_str).find_map(
            |v| {
                let account = v.strip_prefix("arn:")?.split(':').nth(3)?;
                (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| account.to_owned())
            },
        )
    }
}

/// The git revision the last apply came from, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    /// None for an apply outside a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `ecsops/<env>/<serial>`; none when the apply was not tagged (uncommitted files, a
    /// failure or an interrupt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The environment's files differed from `commit`.
    #[serde(default)]
    pub dirty: bool,
    #[serde(default)]
    pub operation: Operation,
    #[serde(default)]
    pub result: ApplyResult,
    /// A rollback's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<RolledBackTo>,
    /// RFC 3339.
    pub applied_at: String,
    /// `user@host`.
    pub applied_by: String,
}

impl Revision {
    /// The commit the apply came from and the tag made of it; none outside git.
    pub fn in_git(&self) -> Option<(&str, Option<&str>)> {
        Some((self.commit.as_deref()?, self.tag.as_deref()))
    }
}

/// What a rollback went back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolledBackTo {
    pub commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The command that changed the environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    #[default]
    Apply,
    Destroy,
    Rollback,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "apply",
            Self::Destroy => "destroy",
            Self::Rollback => "rollback",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Apply, Self::Destroy, Self::Rollback].into_iter().find(|o| o.as_str() == text)
    }
}

/// How an apply ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyResult {
    #[default]
    Applied,
    /// Every step was made, but a service's rollout did not complete (ECS may have rolled it
    /// back): the revision is in AWS's configuration, not necessarily running.
    #[serde(rename = "rollout_failed")]
    RolloutFailed,
    Failed,
    Interrupted,
}

/// One applied resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    pub kind: Kind,
    /// The cloud identifier (id, ARN or name, whichever the API addresses it by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Managed attributes as applied (references resolved).
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
    /// Values AWS assigned (`id`, `arn`, `dns_name`, ...).
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    #[serde(default)]
    pub dependencies: BTreeSet<Address>,
}
