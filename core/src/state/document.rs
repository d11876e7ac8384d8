//! The state document: what ecsops last applied to one environment. Versioned JSON; `lineage`
//! is fixed at the first write and `serial` grows with every write, so a backend can refuse a
//! write based on a stale or foreign read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Address, Kind};

/// Version of the state document format this ecsops reads and writes.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Identity of this environment's state history (a UUID), fixed at the first write.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    pub environment: String,
    /// The git revision of the last apply.
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

/// The git revision an apply came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    pub commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// RFC 3339.
    pub applied_at: String,
    /// `user@host`.
    pub applied_by: String,
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
