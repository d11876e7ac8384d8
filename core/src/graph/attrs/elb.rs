//! Classic load balancers (the previous generation, built for a load balancer with
//! `type = "classic"`).

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// A classic load balancer; its name is its state id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct ClassicLoadBalancer<S: Stage = Resolved> {
    /// `<environment>-<name>`, unique in the account and region.
    pub name: S::V<String>,
    /// `internet-facing` or `internal`.
    pub scheme: S::V<String>,
    pub vpc_id: S::V<String>,
    /// Compared as a set (AWS lists them in its own order).
    pub subnets: S::V<Vec<String>>,
    /// Compared as a set, like `subnets`.
    pub security_groups: S::V<Vec<String>>,
    /// Compared as a set keyed by the load balancer port.
    pub listeners: S::V<Vec<ClassicListener>>,
    /// Seconds a connection may stay idle. Like `cross_zone`, readable only with one call per
    /// load balancer: a live read leaves it out (refresh copies the recorded value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<S::V<u32>>,
    /// Spreads requests over the instances of every zone rather than per zone first; on when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<S::V<bool>>,
    /// How an instance is checked (a classic load balancer has one check for all its
    /// listeners); absent in states recorded before ecsops set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<S::V<ClassicHealthCheck>>,
    pub tags: S::V<Tags>,
}

/// A classic load balancer's health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassicHealthCheck {
    /// `HTTP:<instance port><path>` of the service routed first (by name) through the load
    /// balancer, or `TCP:<instance port>` of its first listener when none is.
    pub target: String,
    /// Seconds between checks.
    pub interval: u32,
    /// Seconds before a check counts as failed.
    pub timeout: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

/// One listener: a load balancer port and protocol forwarded to an instance port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassicListener {
    pub lb_port: u16,
    /// `HTTP` or `HTTPS` (AWS answers in any case: compared upper-cased).
    pub lb_protocol: String,
    /// The service's fixed host port (a classic load balancer cannot reach dynamic ones).
    pub instance_port: u16,
    pub instance_protocol: String,
    /// The certificate of an HTTPS listener; `null` otherwise.
    pub ssl_certificate_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassicLoadBalancerOutputs {
    pub dns_name: String,
}
