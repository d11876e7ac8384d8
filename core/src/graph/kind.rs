//! Resource kinds and what the planner must know about each: which attribute changes AWS can
//! apply in place and which force a replacement, and which outputs exist only after create.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    InternetGateway,
    Subnet,
    RouteTable,
    RouteTableAssociation,
    Route,
    ElasticIp,
    NatGateway,
    SecurityGroup,
    IamRole,
    IamPolicy,
    InstanceProfile,
    LaunchTemplate,
    AutoscalingGroup,
    EcsCluster,
    CapacityProvider,
    ClusterCapacityProviders,
    LoadBalancer,
    ClassicLoadBalancer,
    TargetGroup,
    Listener,
    ListenerRule,
    LogGroup,
    EventRule,
    EventTarget,
    SnsTopic,
    SnsTopicPolicy,
    SnsSubscription,
    TaskDefinition,
    Service,
}

/// Sentinel for "every attribute forces replacement" (immutable resources).
const ALL: &[&str] = &["*"];

impl Kind {
    pub const ALL: [Kind; 30] = [
        Kind::Vpc,
        Kind::InternetGateway,
        Kind::Subnet,
        Kind::RouteTable,
        Kind::RouteTableAssociation,
        Kind::Route,
        Kind::ElasticIp,
        Kind::NatGateway,
        Kind::SecurityGroup,
        Kind::IamRole,
        Kind::IamPolicy,
        Kind::InstanceProfile,
        Kind::LaunchTemplate,
        Kind::AutoscalingGroup,
        Kind::EcsCluster,
        Kind::CapacityProvider,
        Kind::ClusterCapacityProviders,
        Kind::LoadBalancer,
        Kind::ClassicLoadBalancer,
        Kind::TargetGroup,
        Kind::Listener,
        Kind::ListenerRule,
        Kind::LogGroup,
        Kind::EventRule,
        Kind::EventTarget,
        Kind::SnsTopic,
        Kind::SnsTopicPolicy,
        Kind::SnsSubscription,
        Kind::TaskDefinition,
        Kind::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::InternetGateway => "internet_gateway",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route_table",
            Kind::RouteTableAssociation => "route_table_association",
            Kind::Route => "route",
            Kind::ElasticIp => "elastic_ip",
            Kind::NatGateway => "nat_gateway",
            Kind::SecurityGroup => "security_group",
            Kind::IamRole => "iam_role",
            Kind::IamPolicy => "iam_policy",
            Kind::InstanceProfile => "instance_profile",
            Kind::LaunchTemplate => "launch_template",
            Kind::AutoscalingGroup => "autoscaling_group",
            Kind::EcsCluster => "ecs_cluster",
            Kind::CapacityProvider => "capacity_provider",
            Kind::ClusterCapacityProviders => "cluster_capacity_providers",
            Kind::LoadBalancer => "load_balancer",
            Kind::ClassicLoadBalancer => "classic_load_balancer",
            Kind::TargetGroup => "target_group",
            Kind::Listener => "listener",
            Kind::ListenerRule => "listener_rule",
            Kind::LogGroup => "log_group",
            Kind::EventRule => "event_rule",
            Kind::EventTarget => "event_target",
            Kind::SnsTopic => "sns_topic",
            Kind::SnsTopicPolicy => "sns_topic_policy",
            Kind::SnsSubscription => "sns_subscription",
            Kind::TaskDefinition => "task_definition",
            Kind::Service => "service",
        }
    }

    /// Attributes whose change AWS cannot apply in place.
    fn replaced_by(self) -> &'static [&'static str] {
        match self {
            Kind::Vpc => &["cidr_block"],
            Kind::Subnet => &["vpc_id", "cidr_block", "availability_zone"],
            Kind::RouteTable => &["vpc_id"],
            // Re-attached in place (detach, attach) rather than replaced with its routes.
            Kind::InternetGateway => &[],
            Kind::Route => &["route_table_id", "destination_cidr_block"],
            Kind::NatGateway => &["subnet_id", "allocation_id", "connectivity_type"],
            Kind::SecurityGroup => &["name", "description", "vpc_id"],
            Kind::IamRole | Kind::IamPolicy | Kind::InstanceProfile => &["name", "path"],
            Kind::LaunchTemplate => &["name"],
            Kind::AutoscalingGroup | Kind::EcsCluster => &["name"],
            Kind::CapacityProvider => &["name", "auto_scaling_group_arn"],
            // A load balancer lives in one VPC: a new VPC needs a new load balancer.
            Kind::LoadBalancer => &["name", "scheme", "type", "vpc_id"],
            Kind::ClassicLoadBalancer => &["name", "scheme", "vpc_id"],
            Kind::TargetGroup => &["name", "port", "protocol", "vpc_id", "target_type"],
            Kind::Listener => &["load_balancer_arn"],
            // A rule cannot point at a target group that is not made yet, and keeps its old one
            // from being deleted: it goes and comes back with it.
            Kind::ListenerRule => &["listener_arn", "forward_to"],
            Kind::LogGroup => &["name"],
            Kind::EventRule => &["name"],
            Kind::EventTarget => &["rule", "target_id"],
            Kind::SnsTopic => &["name"],
            Kind::SnsSubscription => &["topic_arn", "protocol", "endpoint"],
            Kind::Service => &["name", "cluster", "scheduling_strategy"],
            // Immutable: a new association, address, revision or attachment each time.
            Kind::RouteTableAssociation
            | Kind::ElasticIp
            | Kind::TaskDefinition
            | Kind::ClusterCapacityProviders
            | Kind::SnsTopicPolicy => ALL,
        }
    }

    /// Whether changing `attribute` forces the resource to be replaced.
    pub fn forces_replacement(self, attribute: &str) -> bool {
        let r = self.replaced_by();
        r == ALL || r.contains(&attribute)
    }

    /// Values AWS assigns on create, shown as `(known after apply)` in a create.
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Kind::Vpc
            | Kind::InternetGateway
            | Kind::Subnet
            | Kind::RouteTable
            | Kind::RouteTableAssociation
            | Kind::NatGateway
            | Kind::SecurityGroup
            | Kind::SnsTopicPolicy => &["id"],
            Kind::Route => &[],
            Kind::ElasticIp => &["id", "public_ip"],
            Kind::IamRole | Kind::IamPolicy | Kind::InstanceProfile => &["arn"],
            Kind::LaunchTemplate => &["id", "latest_version", "image_id"],
            Kind::AutoscalingGroup
            | Kind::EcsCluster
            | Kind::CapacityProvider
            | Kind::TargetGroup
            | Kind::Listener
            | Kind::ListenerRule
            | Kind::LogGroup
            | Kind::EventRule
            | Kind::SnsTopic
            | Kind::SnsSubscription
            | Kind::Service => &["arn"],
            Kind::LoadBalancer => &["arn", "dns_name", "zone_id"],
            Kind::ClassicLoadBalancer => &["dns_name"],
            Kind::EventTarget | Kind::ClusterCapacityProviders => &[],
            Kind::TaskDefinition => &["arn", "revision"],
        }
    }
}

/// How an apply replaces a resource of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// Delete the old one, then create the new one (names are unique, so both cannot exist).
    DeleteFirst,
    /// Create the new one, then delete the old one (a task definition revision: the service
    /// moves to the new revision before the old one is deregistered).
    CreateFirst,
    /// Create overwrites the old value in place (a cluster's capacity provider list, a topic
    /// policy): there is nothing to delete.
    Overwrite,
}

impl Kind {
    pub fn replacement(self) -> Replacement {
        match self {
            Kind::TaskDefinition => Replacement::CreateFirst,
            Kind::ClusterCapacityProviders | Kind::SnsTopicPolicy => Replacement::Overwrite,
            _ => Replacement::DeleteFirst,
        }
    }

    /// Outputs that an in-place update changes (a launch template update makes a new version),
    /// so references to them are unknown until the update is applied.
    pub fn outputs_changed_by_update(self) -> &'static [&'static str] {
        match self {
            Kind::LaunchTemplate => &["latest_version"],
            _ => &[],
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for k in Kind::ALL {
            let json = serde_json::to_value(k).expect("serializes");
            assert_eq!(json, serde_json::Value::from(k.as_str()));
        }
    }

    #[test]
    fn replacement_rules() {
        assert!(Kind::Vpc.forces_replacement("cidr_block"));
        assert!(!Kind::Vpc.forces_replacement("tags"));
        assert!(Kind::TaskDefinition.forces_replacement("anything"));
        assert!(!Kind::AutoscalingGroup.forces_replacement("max_size"));
    }
}
