//! Auto Scaling: the groups of container instances.

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// The container instances of one instance group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct AutoscalingGroup<S: Stage = Resolved> {
    /// `<environment>-<cluster>-<group>`, unique in the account and region: the state id.
    pub name: S::V<String>,
    pub min_size: S::V<i32>,
    pub max_size: S::V<i32>,
    /// Absent under ECS managed scaling: ECS owns it, so it is neither sent nor read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<S::V<i32>>,
    pub launch_template_id: S::V<String>,
    /// The template's `latest_version`, so that a new version rolls out; `null` (the template's
    /// default version) when AWS reports none.
    pub launch_template_version: S::V<Option<TemplateVersion>>,
    /// The private subnet ids; their order means nothing to AWS.
    pub vpc_zone_identifier: S::V<Vec<String>>,
    /// `EC2`: ECS replaces unhealthy tasks, the group only dead instances.
    pub health_check_type: S::V<String>,
    /// Seconds after launch before the group checks an instance's health.
    pub health_check_grace_period: S::V<i32>,
    pub protect_from_scale_in: S::V<bool>,
    /// Names of the classic load balancers the instances register with (a classic load
    /// balancer reaches fixed host ports on every instance).
    pub load_balancers: S::V<Vec<String>>,
    /// Propagated to the instances (the `ecsops:` ones are not: an instance claims no address).
    pub tags: S::V<Tags>,
}

/// A launch template version: a number, or a label such as `$Latest` AWS may report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateVersion {
    Number(i64),
    Label(String),
}

impl std::fmt::Display for TemplateVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Label(l) => f.write_str(l),
        }
    }
}
