//! EC2 security groups.

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// A security group with its full ingress and egress rule sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct SecurityGroup<S: Stage = Resolved> {
    /// The group name, unique in the VPC.
    pub name: S::V<String>,
    pub description: S::V<String>,
    pub vpc_id: S::V<String>,
    /// Compared with the live rules as a set of atomic rules, not entry by entry: AWS regroups
    /// them as it likes.
    pub ingress: S::V<Vec<SecurityGroupRule>>,
    pub egress: S::V<Vec<SecurityGroupRule>>,
    pub tags: S::V<Tags>,
}

/// One entry of `ingress` or `egress`: a protocol and port range, and the sources (ingress) or
/// destinations (egress) it allows; at least one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupRule {
    /// `tcp`, `udp`, `icmp` or `-1` (every protocol, whose ports mean nothing).
    pub protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_blocks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr_blocks: Option<Vec<String>>,
    /// Another security group whose members the rule allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_ids: Option<Vec<String>>,
}
