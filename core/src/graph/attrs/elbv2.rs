//! Elastic Load Balancing v2: application load balancers, their target groups, listeners and
//! listener rules.
//!
//! Attributes AWS returns only through one extra call per resource (the load balancer's
//! `idle_timeout`, `deletion_protection`, `drop_invalid_header_fields`, the target group's
//! `deregistration_delay`) are optional: a live read leaves them out (refresh copies the
//! recorded values, adoption leaves them unset so the update that follows sets them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// An application load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct LoadBalancer<S: Stage = Resolved> {
    /// `<environment>-<name>`, unique in the account and region (AWS caps it at 32 characters).
    pub name: S::V<String>,
    /// `application` (ecsops makes no network or gateway load balancers).
    pub r#type: S::V<String>,
    /// `internet-facing` or `internal`.
    pub scheme: S::V<String>,
    pub vpc_id: S::V<String>,
    /// One subnet per zone; compared as a set (AWS lists them in its own order).
    pub subnets: S::V<Vec<String>>,
    /// Compared as a set, like `subnets`.
    pub security_groups: S::V<Vec<String>>,
    /// Seconds a connection may stay idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<S::V<u32>>,
    /// While on, ecsops refuses to delete the load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<S::V<bool>>,
    /// Drops requests whose header names HTTP does not allow (request smuggling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_invalid_header_fields: Option<S::V<bool>>,
    pub tags: S::V<Tags>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerOutputs {
    pub arn: String,
    pub dns_name: String,
    /// The canonical hosted zone, for alias records pointing at `dns_name`.
    pub zone_id: String,
}

/// The instances of one service behind the load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct TargetGroup<S: Stage = Resolved> {
    /// `<environment>-<service>` (32 characters at most, like a load balancer's).
    pub name: S::V<String>,
    /// The container port; each target registers with its own (dynamic) host port.
    pub port: S::V<u16>,
    pub protocol: S::V<String>,
    pub vpc_id: S::V<String>,
    /// `instance`: ECS registers the container instances with their host ports.
    pub target_type: S::V<String>,
    /// Seconds a deregistering target keeps its open connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistration_delay: Option<S::V<u32>>,
    pub health_check: S::V<HealthCheck>,
    pub tags: S::V<Tags>,
}

/// A target group's health check. Every field is always written (`null` when AWS reports
/// none), so a live read and the desired table have the same keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub path: Option<String>,
    /// The HTTP codes that count as healthy (`200-399`).
    pub matcher: Option<String>,
    /// Seconds between two checks.
    pub interval: Option<u32>,
    /// Seconds without an answer that fail a check.
    pub timeout: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
    pub protocol: Option<String>,
    /// `traffic-port`: the port each target receives traffic on.
    pub port: Option<String>,
}

/// A listener of an application load balancer. It has no `tags` attribute: it carries only the
/// ownership tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Listener<S: Stage = Resolved> {
    pub load_balancer_arn: S::V<String>,
    pub port: S::V<u16>,
    /// `HTTP` or `HTTPS`.
    pub protocol: S::V<String>,
    /// What a request no rule matches gets; `null` when a live listener has none.
    pub default_action: S::V<Option<ListenerAction>>,
    /// HTTPS listeners only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<S::V<String>>,
    /// The TLS policy; HTTPS listeners only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<S::V<String>>,
}

/// A listener action, tagged by its `type` as AWS names it. ecsops writes `redirect` and
/// `fixed-response` default actions; a live read may find any action AWS has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ListenerAction {
    Forward {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_group_arn: Option<String>,
    },
    /// Sends the client elsewhere (plain HTTP to HTTPS).
    Redirect {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
        /// `HTTP_301` (permanent) or `HTTP_302`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_code: Option<String>,
    },
    /// Answers itself (the 404 for requests no service matches).
    FixedResponse {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_body: Option<String>,
    },
    /// An action ecsops never writes (`authenticate-oidc`, ...), shown by its type so a change
    /// made outside ecsops still reads as a difference.
    #[serde(untagged)]
    Other {
        r#type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_group_arn: Option<String>,
    },
}

/// A rule of a listener forwarding the requests it matches to one service's target group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct ListenerRule<S: Stage = Resolved> {
    pub listener_arn: S::V<String>,
    /// 1-50000, lower wins; unique per listener, so it is the rule's natural key.
    pub priority: S::V<u32>,
    pub conditions: S::V<RuleConditions>,
    /// The target group ARN; `null` when a live rule forwards nowhere.
    pub forward_to: S::V<Option<String>>,
    pub tags: S::V<Tags>,
}

/// What a rule matches: every present condition must hold, any value of one matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_patterns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_headers: Option<Vec<String>>,
    /// Conditions ecsops does not write, under their AWS field names (`http-request-method`):
    /// a live rule shows them so they read as a difference; a spec with one is refused.
    #[serde(flatten)]
    pub other: BTreeMap<String, Vec<String>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn actions_keep_the_shape_the_graph_writes() {
        for action in [
            json!({"type": "redirect", "protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}),
            json!({"type": "fixed-response", "status_code": "404", "content_type": "text/plain",
                   "message_body": "no service matches this request"}),
            json!({"type": "forward", "target_group_arn": "arn:tg"}),
            json!({"type": "authenticate-oidc"}),
        ] {
            let typed: ListenerAction = serde_json::from_value(action.clone()).expect("decodes");
            let back = serde_json::to_value(&typed).expect("encodes");
            assert_eq!(back.to_string(), action.to_string());
        }
        let other = serde_json::from_value::<ListenerAction>(json!({"type": "authenticate-oidc"}));
        assert!(matches!(other, Ok(ListenerAction::Other { .. })), "{other:?}");
    }

    #[test]
    fn unknown_conditions_are_kept_apart() {
        let c: RuleConditions = serde_json::from_value(
            json!({"path_patterns": ["/*"], "http-request-method": ["GET"]}),
        )
        .expect("decodes");
        assert_eq!(c.path_patterns, Some(vec!["/*".to_owned()]));
        assert_eq!(c.other["http-request-method"], ["GET"]);
    }
}
