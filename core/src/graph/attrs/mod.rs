//! The attributes of every resource kind, declared once and read on both sides of an apply.
//!
//! Each kind has one struct, generic over a [`Stage`]: `Vpc<Desired>` is what the graph builds
//! (every field an [`Expr`]: a literal or a reference to another resource's output, unknown
//! until apply), `Vpc` (= `Vpc<Resolved>`) is what the provider works with (every field its
//! real type, references replaced by the values they name). The planner never sees these
//! structs: it diffs the serialised attribute map, so a field's serde name is the attribute's
//! name in plans and state. Outputs (what AWS assigns) have one plain struct per kind.
//!
//! The `kind_table` (`graph::kind`) ties each kind to its attributes and outputs types; a field
//! read by name anywhere else is a bug this module exists to prevent.

mod autoscaling;
mod ecs;
mod elb;
mod elbv2;
mod events;
mod iam;
mod launch_template;
mod logs;
mod network;
mod security_group;
mod sns;

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Serialize};

use super::{Expr, Kind};

pub use autoscaling::{AutoscalingGroup, TemplateVersion};
pub use ecs::{
    CapacityProvider, CircuitBreaker, ClusterCapacityProviders, ContainerDefinition,
    ContainerSecret, DeploymentConfiguration, EcsCluster, EnvironmentVariable, HostVolume,
    LinuxParameters, LogConfiguration, ManagedScaling, MountPoint, PlacementConstraint,
    PlacementStrategy, PortMapping, Service, ServiceLoadBalancer, StrategyItem, TaskDefinition,
    TaskDefinitionOutputs, Volume,
};
pub use elb::{
    ClassicHealthCheck, ClassicListener, ClassicLoadBalancer, ClassicLoadBalancerOutputs,
};
pub use elbv2::{
    HealthCheck, Listener, ListenerAction, ListenerRule, LoadBalancer, LoadBalancerOutputs,
    RuleConditions, TargetGroup,
};
pub use events::{EventRule, EventTarget, InputTransformer};
pub use iam::{
    Document, Effect, IamPolicy, IamRole, InstanceProfile, OneOrMany, PolicyDocument, Principal,
    Statement,
};
pub use launch_template::{LaunchTemplate, LaunchTemplateOutputs, MetadataOptions, RootVolume};
pub use logs::LogGroup;
pub use network::{
    Ec2IdOutputs, ElasticIp, ElasticIpOutputs, InternetGateway, NatGateway, Route, RouteTable,
    RouteTableAssociation, RouteTarget, Subnet, Vpc,
};
pub use security_group::{SecurityGroup, SecurityGroupRule};
pub use sns::{SnsSubscription, SnsTopic, SnsTopicPolicy, SnsTopicPolicyOutputs};

/// What a field of an attributes struct can hold.
pub trait Field: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync {}
impl<T: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync> Field for T {}

/// Which side of the apply an attributes struct describes: how a field of type `T` is held.
pub trait Stage: Clone + Debug + PartialEq + Send + Sync + 'static {
    type V<T: Field>: Field;
}

/// The graph's side: every field an expression that may reference other resources' outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {}

impl Stage for Desired {
    type V<T: Field> = Expr;
}

/// The provider's side: every field its value, references resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {}

impl Stage for Resolved {
    type V<T: Field> = T;
}

/// A `tags` attribute: tag keys to values.
pub type Tags = BTreeMap<String, String>;

/// What AWS assigns a resource known by its ARN (the state id of most; see each kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArnOutputs {
    pub arn: String,
}

impl ArnOutputs {
    pub fn of(arn: &str) -> Self {
        Self { arn: arn.to_owned() }
    }
}

/// A kind with no outputs (its id is all there is).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOutputs {}

/// One kind's attributes; implemented by the kind table for every stage.
pub trait Attributes: Serialize + DeserializeOwned {
    const KIND: Kind;
    type Outputs: Serialize + DeserializeOwned;
}

/// The serde names of a struct's fields, in declaration order.
///
/// Serde's derive hands them to the deserializer, so this asks for them and refuses to read
/// anything: the names come from the same declaration that reads and writes the values.
pub fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    #[derive(Debug)]
    struct Names(&'static [&'static str]);
    impl de::Error for Names {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Names(&[])
        }
    }
    impl std::fmt::Display for Names {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names")
        }
    }
    impl std::error::Error for Names {}

    struct Ask;
    impl<'de> de::Deserializer<'de> for Ask {
        type Error = Names;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Names> {
            Err(Names(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Names> {
            Err(Names(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    match T::deserialize(Ask) {
        Err(Names(fields)) => fields,
        Ok(_) => &[],
    }
}

/// The attribute map of desired attributes, as the graph and the planner hold it.
pub(crate) fn desired_map<A: Attributes>(attributes: &A) -> BTreeMap<String, Expr> {
    // Both conversions go through `Expr`'s own serde form, which reads back whatever it writes.
    serde_json::to_value(attributes)
        .and_then(serde_json::from_value)
        .expect("desired attributes are a struct of expressions")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use serde_json::Value;

    use super::*;
    use crate::graph::{Graph, kind_table};
    use crate::provider::{ProviderError, ResourceSpec};
    use crate::state::ResourceState;
    use crate::workspace::Workspace;

    /// Decodes `spec` as its kind's struct and says whether it writes back the same map.
    fn round_trip<A: Attributes>(spec: &ResourceSpec) -> Result<bool, ProviderError> {
        let typed: A = spec.decode()?;
        let back = serde_json::to_value(&typed).ok();
        Ok(back == Some(Value::Object(spec.attributes.clone().into_iter().collect())))
    }

    /// Every kind of the table, decoded as its own struct.
    macro_rules! check_kinds {
        ($(
            $kind:ident: $name:literal, $family:ident, $replacement:ident,
                forces $forces:tt, outputs $outputs:ident, update_changes $changed:tt;
        )*) => {
            fn check(spec: &ResourceSpec) -> Result<bool, ProviderError> {
                match spec.kind {
                    $(Kind::$kind => round_trip::<$kind>(spec),)*
                }
            }
        };
    }
    kind_table!(check_kinds);

    /// A stand-in for what AWS would assign, of the output's type.
    fn placeholder(output: &str) -> Value {
        match output {
            "latest_version" | "revision" => Value::from(7),
            other => Value::from(format!("assigned-{other}")),
        }
    }

    fn example(environment: &str) -> Graph {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        crate::ops::diff::desired(&Workspace::at(root), environment)
            .map_or_else(|e| panic!("the {environment} example builds: {e}"), |d| d.graph)
    }

    #[test]
    fn every_resource_of_the_examples_decodes_and_writes_back_unchanged() {
        for environment in ["acceptance", "production"] {
            let graph = example(environment);
            let recorded: BTreeMap<_, _> = graph
                .resources
                .values()
                .map(|r| {
                    let outputs = r
                        .kind
                        .outputs()
                        .iter()
                        .map(|o| ((*o).to_owned(), placeholder(o)))
                        .collect();
                    let state = ResourceState {
                        kind: r.kind,
                        id: Some(format!("id-{}", r.address)),
                        attributes: BTreeMap::new(),
                        outputs,
                        dependencies: r.depends_on.clone(),
                    };
                    (r.address.clone(), state)
                })
                .collect();
            for r in graph.resources.values() {
                let spec = ResourceSpec::resolve(r, &recorded).expect("every reference resolves");
                match check(&spec) {
                    Ok(true) => {}
                    Ok(false) => panic!("`{}` does not write back as it read", r.address),
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(!graph.resources.is_empty(), "{environment}: no resources");
        }
    }

    #[test]
    fn field_names_are_the_serde_names() {
        assert_eq!(field_names::<LogGroup>(), ["name", "retention_in_days", "tags"]);
        assert_eq!(field_names::<ArnOutputs>(), ["arn"]);
        assert!(field_names::<String>().is_empty());
    }
}
