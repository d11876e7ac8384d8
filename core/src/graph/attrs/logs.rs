//! CloudWatch Logs.

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// A log group (the host logs, each service's and system container's). Its ARN is recorded
/// without the `:*` suffix `DescribeLogGroups` appends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct LogGroup<S: Stage = Resolved> {
    /// The group name, unique in the account and region: the state id.
    pub name: S::V<String>,
    /// Days events are kept; `null` keeps them forever.
    pub retention_in_days: S::V<Option<i32>>,
    pub tags: S::V<Tags>,
}
