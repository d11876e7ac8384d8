//! ECS: the cluster, its capacity providers and their list, task definitions and services.
//!
//! Nested values keep the JSON shapes the graph writes: container definitions in ECS's own
//! camelCase (the form of a task definition document), everything else in snake case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// The ECS cluster of the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct EcsCluster<S: Stage = Resolved> {
    /// `<environment>-<cluster>`, unique in the account and region: the state id.
    pub name: S::V<String>,
    /// The `containerInsights` setting, `enabled` or `disabled`. Always desired; absent only
    /// when read from a cluster that reports no setting and was never recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_insights: Option<S::V<String>>,
    pub tags: S::V<Tags>,
}

/// A capacity provider: one instance group's auto scaling group as ECS capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct CapacityProvider<S: Stage = Resolved> {
    /// The provider name (the group's name): the state id.
    pub name: S::V<String>,
    pub auto_scaling_group_arn: S::V<String>,
    /// Whether ECS sets the group's desired capacity; `null` when AWS reports none.
    pub managed_scaling: S::V<Option<ManagedScaling>>,
    /// `ENABLED` or `DISABLED`; absent when neither AWS nor the state says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_termination_protection: Option<S::V<String>>,
    /// Whether ECS drains an instance before the group terminates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_draining: Option<S::V<String>>,
    pub tags: S::V<Tags>,
}

/// ECS managed scaling of a capacity provider's group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedScaling {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    /// The instance utilisation, in percent, ECS scales the group to.
    pub target_capacity: i32,
}

/// The cluster's whole capacity provider list and default strategy (one put overwrites both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct ClusterCapacityProviders<S: Stage = Resolved> {
    /// The cluster's name: the state id.
    pub cluster: S::V<String>,
    /// Provider names; their order means nothing to ECS.
    pub capacity_providers: S::V<Vec<String>>,
    /// Where tasks of a service without its own strategy go.
    pub default_strategy: S::V<Vec<StrategyItem>>,
}

/// One entry of a capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyItem {
    pub capacity_provider: String,
    /// The share of tasks beyond `base` placed with this provider.
    pub weight: i32,
    /// Tasks placed with this provider before any weight applies.
    pub base: i32,
}

/// One task definition revision. Revisions are immutable: any change registers a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct TaskDefinition<S: Stage = Resolved> {
    /// `<environment>-<cluster>-<name>`: revisions of one family share it.
    pub family: S::V<String>,
    pub network_mode: S::V<String>,
    /// Launch types the revision must fit (`EC2`).
    pub requires_compatibilities: S::V<Vec<String>>,
    pub container_definitions: S::V<Vec<ContainerDefinition>>,
    /// The role ECS pulls images and reads secrets with; absent when the task needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<S::V<String>>,
    /// The role the containers call AWS with (and ECS Exec opens its channels with); absent
    /// when the manifest asks for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<S::V<String>>,
    /// Host directories the containers mount (system containers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<S::V<Vec<Volume>>>,
    pub tags: S::V<Tags>,
}

/// One container of a task definition, in ECS's JSON field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    /// CPU units reserved on the instance (1024 = one vCPU).
    pub cpu: i32,
    /// The hard memory limit, MiB.
    pub memory: i32,
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Overrides the image's command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub environment: Vec<EnvironmentVariable>,
    pub secrets: Vec<ContainerSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_points: Option<Vec<MountPoint>>,
    /// The Secrets Manager secret ECS pulls the image from a private registry with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_credentials: Option<RepositoryCredentials>,
    /// Kernel-level settings; ecsops sets only the init process ECS Exec wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParameters>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinuxParameters {
    /// Run an init process as PID 1: it reaps the processes an ECS Exec session leaves
    /// behind, which AWS recommends for exec.
    pub init_process_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepositoryCredentials {
    /// The secret's ARN.
    pub credentials_parameter: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: String,
}

/// An environment variable ECS fills from SSM or Secrets Manager when the task starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerSecret {
    pub name: String,
    /// The parameter name or the secret's ARN.
    pub value_from: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfiguration {
    /// `awslogs`.
    pub log_driver: String,
    /// The driver's options (`awslogs-group`, `awslogs-region`, `awslogs-stream-prefix`).
    pub options: BTreeMap<String, String>,
    /// Options ECS fills from SSM or Secrets Manager when the container starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_options: Option<Vec<ContainerSecret>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortMapping {
    pub container_port: i32,
    /// `0`: a dynamic host port (several copies per instance behind a target group).
    pub host_port: i32,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountPoint {
    /// The name of one of the task definition's `volumes`.
    pub source_volume: String,
    pub container_path: String,
    pub read_only: bool,
}

/// A bind mount of a host directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    pub host: HostVolume,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostVolume {
    pub source_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinitionOutputs {
    /// The revision's ARN: the state id.
    pub arn: String,
    pub revision: i32,
}

/// A service: replicas of a task behind a load balancer, or a daemon on every instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Service<S: Stage = Resolved> {
    /// Unique within its cluster only: the state id is the ARN.
    pub name: S::V<String>,
    /// The cluster's ARN.
    pub cluster: S::V<String>,
    /// The ARN of the revision the service runs.
    pub task_definition: S::V<String>,
    /// Replica services only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<S::V<i32>>,
    /// `REPLICA` or `DAEMON`.
    pub scheduling_strategy: S::V<String>,
    /// Daemons only (a capacity provider strategy excludes a launch type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<S::V<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<S::V<Vec<StrategyItem>>>,
    /// Always desired; absent only when read from a service whose answer lacks it and that
    /// was never recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_configuration: Option<S::V<DeploymentConfiguration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_strategy: Option<S::V<Vec<PlacementStrategy>>>,
    /// Daemons of one instance group only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_constraints: Option<S::V<Vec<PlacementConstraint>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancers: Option<S::V<Vec<ServiceLoadBalancer>>>,
    /// Seconds ECS ignores failing load balancer health checks of a new task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<S::V<i32>>,
    /// Whether ECS tags the tasks with the cluster and service names.
    pub enable_ecs_managed_tags: S::V<bool>,
    /// Where tasks get their tags from (`SERVICE`); absent as for `deployment_configuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<S::V<String>>,
    /// Whether ECS Exec may open sessions into the tasks: `true` when asked, absent otherwise
    /// (and read back only as `true`, or when recorded), so that a service without it keeps
    /// its plan and state as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<S::V<bool>>,
    pub tags: S::V<Tags>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfiguration {
    /// Running tasks kept during a deployment, percent of the desired count.
    pub minimum_healthy_percent: i32,
    pub maximum_percent: i32,
    /// Replica services only: stop (and roll back) a deployment whose tasks keep failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementStrategy {
    /// `spread`, `binpack` or `random`.
    #[serde(rename = "type")]
    pub kind: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementConstraint {
    /// `memberOf`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A cluster query language expression.
    pub expression: String,
}

/// Where a service registers its containers: a target group, or a classic load balancer by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadBalancer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    pub container_name: String,
    pub container_port: i32,
}
