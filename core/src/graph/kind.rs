//! The table of resource kinds: every fact the graph, the planner and the provider need about a
//! kind, in one row. Adding a kind is one row here, one attributes definition in
//! [`attrs`](super::attrs), one graph builder and one provider implementation.

use serde::{Deserialize, Serialize};

use super::attrs::{self, Attributes, Stage, field_names};

/// The table. Each row: the kind (also the name of its attributes struct in
/// [`attrs`](super::attrs)), its name in plans and state, the provider family (one AWS service
/// module) that manages it, how an apply replaces it, the attributes whose change AWS cannot
/// apply in place (`every`: immutable, any change is a new resource), the struct of the outputs
/// AWS assigns on create, and the outputs an in-place update changes.
///
/// Calls `$then!` with the rows, so that the provider builds its dispatch from the same table.
macro_rules! kind_table {
    ($then:ident) => {
        $then! {
            Vpc: "vpc", Ec2Network, DeleteFirst,
                forces ["cidr_block"], outputs Ec2IdOutputs, update_changes [];
            // Re-attached in place (detach, attach) rather than replaced with its routes.
            InternetGateway: "internet_gateway", Ec2Network, DeleteFirst,
                forces [], outputs Ec2IdOutputs, update_changes [];
            Subnet: "subnet", Ec2Network, DeleteFirst,
                forces ["vpc_id", "cidr_block", "availability_zone"], outputs Ec2IdOutputs, update_changes [];
            RouteTable: "route_table", Ec2Network, DeleteFirst,
                forces ["vpc_id"], outputs Ec2IdOutputs, update_changes [];
            RouteTableAssociation: "route_table_association", Ec2Network, DeleteFirst,
                forces every, outputs Ec2IdOutputs, update_changes [];
            Route: "route", Ec2Network, DeleteFirst,
                forces ["route_table_id", "destination_cidr_block"], outputs NoOutputs, update_changes [];
            // Its tags change in place: a new address would change the NAT gateway's too.
            ElasticIp: "elastic_ip", Ec2Network, DeleteFirst,
                forces ["domain"], outputs ElasticIpOutputs, update_changes [];
            NatGateway: "nat_gateway", Ec2Network, DeleteFirst,
                forces ["subnet_id", "allocation_id", "connectivity_type"], outputs Ec2IdOutputs, update_changes [];
            SecurityGroup: "security_group", Ec2SecurityGroup, DeleteFirst,
                forces ["name", "description", "vpc_id"], outputs Ec2IdOutputs, update_changes [];
            IamRole: "iam_role", Iam, DeleteFirst,
                forces ["name", "path"], outputs ArnOutputs, update_changes [];
            IamPolicy: "iam_policy", Iam, DeleteFirst,
                forces ["name", "path"], outputs ArnOutputs, update_changes [];
            InstanceProfile: "instance_profile", Iam, DeleteFirst,
                forces ["name", "path"], outputs ArnOutputs, update_changes [];
            // An update makes a new version: references to it are unknown until applied.
            LaunchTemplate: "launch_template", Ec2LaunchTemplate, DeleteFirst,
                forces ["name"], outputs LaunchTemplateOutputs, update_changes ["latest_version"];
            AutoscalingGroup: "autoscaling_group", Autoscaling, DeleteFirst,
                forces ["name"], outputs ArnOutputs, update_changes [];
            EcsCluster: "ecs_cluster", Ecs, DeleteFirst,
                forces ["name"], outputs ArnOutputs, update_changes [];
            CapacityProvider: "capacity_provider", Ecs, DeleteFirst,
                forces ["name", "auto_scaling_group_arn"], outputs ArnOutputs, update_changes [];
            // Create overwrites the cluster's list: nothing to delete first.
            ClusterCapacityProviders: "cluster_capacity_providers", Ecs, Overwrite,
                forces every, outputs NoOutputs, update_changes [];
            // A load balancer lives in one VPC: a new VPC needs a new load balancer.
            LoadBalancer: "load_balancer", Elbv2, DeleteFirst,
                forces ["name", "scheme", "type", "vpc_id"], outputs LoadBalancerOutputs, update_changes [];
            ClassicLoadBalancer: "classic_load_balancer", Elb, DeleteFirst,
                forces ["name", "scheme", "vpc_id"], outputs ClassicLoadBalancerOutputs, update_changes [];
            TargetGroup: "target_group", Elbv2, DeleteFirst,
                forces ["name", "port", "protocol", "vpc_id", "target_type"], outputs ArnOutputs, update_changes [];
            Listener: "listener", Elbv2, DeleteFirst,
                forces ["load_balancer_arn"], outputs ArnOutputs, update_changes [];
            // A rule cannot point at a target group that is not made yet, and keeps its old one
            // from being deleted: it goes and comes back with it.
            ListenerRule: "listener_rule", Elbv2, DeleteFirst,
                forces ["listener_arn", "forward_to"], outputs ArnOutputs, update_changes [];
            LogGroup: "log_group", Logs, DeleteFirst,
                forces ["name"], outputs ArnOutputs, update_changes [];
            EventRule: "event_rule", Events, DeleteFirst,
                forces ["name"], outputs ArnOutputs, update_changes [];
            EventTarget: "event_target", Events, DeleteFirst,
                forces ["rule", "target_id"], outputs NoOutputs, update_changes [];
            SnsTopic: "sns_topic", Sns, DeleteFirst,
                forces ["name"], outputs ArnOutputs, update_changes [];
            // Create overwrites the topic's policy: nothing to delete first.
            SnsTopicPolicy: "sns_topic_policy", Sns, Overwrite,
                forces every, outputs SnsTopicPolicyOutputs, update_changes [];
            SnsSubscription: "sns_subscription", Sns, DeleteFirst,
                forces ["topic_arn", "protocol", "endpoint"], outputs ArnOutputs, update_changes [];
            // Any other change registers a new revision of the family; the old ones stay
            // registered for rollback and are retired once the service has moved over.
            TaskDefinition: "task_definition", Ecs, NewRevision,
                forces ["family"], outputs TaskDefinitionOutputs, update_changes [];
            Service: "service", Ecs, DeleteFirst,
                forces ["name", "cluster", "scheduling_strategy"], outputs ArnOutputs, update_changes [];
        }
    };
}

/// Turns the table's rows into [`Kind`] and its facts.
macro_rules! define_kinds {
    ($(
        $kind:ident: $name:literal, $family:ident, $replacement:ident,
            forces $forces:tt, outputs $outputs:ident, update_changes [$($changed:literal),*];
    )*) => {
        /// A resource kind; serialised as its name in plans and state.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $(#[serde(rename = $name)] $kind,)*
        }

        impl Kind {
            /// Every kind, in table order.
            pub const ALL: &[Kind] = &[$(Kind::$kind),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name,)*
                }
            }

            /// The provider family (one AWS service module) that manages the kind.
            pub fn family(self) -> Family {
                match self {
                    $(Kind::$kind => Family::$family,)*
                }
            }

            pub fn replacement(self) -> Replacement {
                match self {
                    $(Kind::$kind => Replacement::$replacement,)*
                }
            }

            /// Attributes whose change AWS cannot apply in place.
            fn forces(self) -> Forces {
                match self {
                    $(Kind::$kind => define_kinds!(@forces $forces),)*
                }
            }

            /// Values AWS assigns on create, shown as `(known after apply)` in a create.
            pub fn outputs(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$kind => field_names::<attrs::$outputs>(),)*
                }
            }

            /// The attribute names of the kind.
            #[cfg(test)]
            fn attributes(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$kind => field_names::<attrs::$kind>(),)*
                }
            }

            /// Outputs that an in-place update changes, so references to them are unknown
            /// until the update is applied.
            pub fn outputs_changed_by_update(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$kind => &[$($changed),*],)*
                }
            }
        }

        define_kinds!(@attributes $($kind: $outputs),*);
    };
    (@forces every) => { Forces::Every };
    (@attributes $($kind:ident: $outputs:ident),*) => {
        $(
            impl<S: Stage> Attributes for attrs::$kind<S> {
                const KIND: Kind = Kind::$kind;
                type Outputs = attrs::$outputs;
            }
        )*
    };
    (@forces [$($attribute:literal),*]) => { Forces::Only(&[$($attribute),*]) };
}

kind_table!(define_kinds);
pub(crate) use kind_table;

/// Which attribute changes force a replacement.
enum Forces {
    /// Immutable: any change is a new resource (an association, an address, a revision).
    Every,
    Only(&'static [&'static str]),
}

impl Kind {
    /// Whether changing `attribute` forces the resource to be replaced.
    pub fn forces_replacement(self, attribute: &str) -> bool {
        match self.forces() {
            Forces::Every => true,
            Forces::Only(names) => names.contains(&attribute),
        }
    }
}

/// The provider family (one module of `provider::aws`, one AWS service API) of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Ec2Network,
    Ec2SecurityGroup,
    Ec2LaunchTemplate,
    Iam,
    Logs,
    Sns,
    Events,
    Autoscaling,
    Ecs,
    Elbv2,
    Elb,
}

impl Family {
    /// The kinds of this family, in table order.
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.iter().copied().filter(move |k| k.family() == self)
    }
}

/// How an apply replaces a resource of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// Delete the old one, then create the new one (names are unique, so both cannot exist).
    DeleteFirst,
    /// Immutable and versioned (a task definition): a change of a non-forcing attribute is
    /// planned as a new revision, not an update or a replacement, and the apply retires the
    /// oldest revisions beyond the ones kept for rollback once what uses them has moved over.
    /// A forcing change (another family) creates the new one, then deletes the old one.
    NewRevision,
    /// Create overwrites the old value in place (a cluster's capacity provider list, a topic
    /// policy): there is nothing to delete.
    Overwrite,
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
            assert_eq!(serde_json::from_value::<Kind>(json).ok(), Some(*k));
        }
    }

    #[test]
    fn forcing_attributes_and_changed_outputs_are_the_kinds_own() {
        for kind in Kind::ALL {
            assert!(!kind.attributes().is_empty(), "{kind} has attributes");
            if let Forces::Only(names) = kind.forces() {
                for name in names {
                    assert!(kind.attributes().contains(name), "{kind} has no `{name}`");
                }
            }
            for output in kind.outputs_changed_by_update() {
                assert!(kind.outputs().contains(output), "{kind} has no output `{output}`");
            }
        }
    }

    #[test]
    fn replacement_rules() {
        assert!(Kind::Vpc.forces_replacement("cidr_block"));
        assert!(!Kind::Vpc.forces_replacement("tags"));
        assert!(Kind::TaskDefinition.forces_replacement("family"));
        assert!(!Kind::TaskDefinition.forces_replacement("container_definitions"));
        assert!(!Kind::AutoscalingGroup.forces_replacement("max_size"));
        assert!(Kind::ElasticIp.forces_replacement("domain"));
        assert!(!Kind::ElasticIp.forces_replacement("tags"));
    }
}
