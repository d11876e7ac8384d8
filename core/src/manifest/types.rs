//! The manifest's typed form. These types are the single source of truth for the file format:
//! serde reads them, schemars turns them into `schemas/manifest.schema.json`, and their doc
//! comments become the descriptions editors show. Unknown keys are errors everywhere.
//!
//! Settings that one file of an `extends` chain may leave to another (region, CIDR, a
//! service's image, ...) are optional here and required by validation after the merge, so
//! editors flag neither a base file nor an environment file that overrides part of a table.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An ecsops environment manifest: `environments/<name>.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ecsops manifest")]
pub struct Manifest {
    /// A manifest this one builds on, relative to this file (for example `base.toml`) and inside
    /// the workspace. Tables merge key by key; scalars and arrays in this file replace the base's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub cluster: Cluster,
    /// Auto scaling groups of ECS container instances, by name (`default` when there is one).
    #[serde(default)]
    pub instance_groups: BTreeMap<String, InstanceGroup>,
    /// Load balancers, by name.
    #[serde(default)]
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    /// TLS certificates listeners refer to by name.
    #[serde(default)]
    pub certificates: BTreeMap<String, Certificate>,
    #[serde(default)]
    pub logging: Logging,
    #[serde(default)]
    pub alerts: Alerts,
    /// Replica services, by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Daemon services that run one task on every container instance (metrics, log shippers).
    #[serde(default)]
    pub system_containers: BTreeMap<String, SystemContainer>,
    /// Explicit renames of resource addresses, so a rename moves state instead of replacing.
    #[serde(default)]
    pub moved: Vec<Moved>,
}

impl Manifest {
    /// Priority for a route without one: after every explicit priority, in service-name order,
    /// so adding a service never renumbers the explicit ones.
    pub fn auto_priority(&self, service: &str) -> u32 {
        // Saturating: an explicit priority out of range is reported, never a panic here.
        let base = self
            .services
            .values()
            .filter_map(|s| s.route.as_ref().and_then(|r| r.priority))
            .max()
            .unwrap_or(0)
            .max(999)
            .saturating_add(1);
        let index = self
            .services
            .iter()
            .filter(|(_, s)| s.route.as_ref().is_some_and(|r| r.priority.is_none()))
            .position(|(n, _)| n == service)
            .unwrap_or(0);
        base.saturating_add(u32::try_from(index).unwrap_or(u32::MAX).saturating_mul(10))
    }

    /// What every log group name of `environment` starts with: `[logging] prefix`, else
    /// `/ecsops/<env>/<cluster>`, which no other environment or cluster shares.
    pub fn log_prefix(&self, environment: &str) -> String {
        self.logging
            .prefix
            .clone()
            .unwrap_or_else(|| format!("/ecsops/{environment}/{}", self.cluster.name))
    }
}

/// Which environment this is and where it lives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The environment name; must equal the file name without `.toml`. Defaults to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*$"), length(max = 20))]
    pub name: Option<String>,
    /// AWS region, for example `eu-west-1`. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Availability zones, in order. One public and one private subnet is made in each; a load
    /// balancer needs at least two. Required.
    #[serde(default)]
    pub availability_zones: Vec<String>,
    /// Extra tags put on every resource AWS can tag, next to `Environment` and the `ecsops:*`
    /// tags; listeners carry only the latter.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// A protected environment is applied, destroyed and rolled back only from a git
    /// repository whose HEAD is on `release_branch`, with every file the environment reads
    /// committed, after the operator types the environment's name (or `--auto-approve`).
    #[serde(default)]
    pub protected: bool,
    /// The branch a protected environment is released from. Default `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub release_branch: Option<String>,
    /// The only AWS account this environment may touch (12 digits). Every command that reaches
    /// AWS for it first asks STS who the credentials are and refuses another account before
    /// locking or reading anything. Terraform's `allowed_account_ids`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// An IAM role to assume for this environment (`arn:aws:iam::<account>:role/<name>`), on
    /// top of the base credentials (CI's, or `profile`'s); renewed before it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for (`role_arn` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The assumed role's session name, shown in CloudTrail (`role_arn` only). Default
    /// `ecsops-<environment>-<user>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    /// How long an assumed session lasts before it is renewed, `15m` to `12h` (`role_arn`
    /// only; the role's maximum session duration caps it). Default `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<String>,
    /// A named profile (`~/.aws/config`) to use instead of the default credentials: for
    /// working from a laptop. Not together with `role_arn` (a profile can assume a role itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Environment {
    pub fn release_branch(&self) -> &str {
        self.release_branch.as_deref().unwrap_or("main")
    }
}

/// Where the state document of this environment is kept.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// `local` (default: `.ecsops/state/<env>.json` in the workspace) or `s3`.
    #[serde(default)]
    pub backend: StateBackendKind,
    /// S3 bucket holding the state (s3 backend only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Key prefix inside the bucket; the state object is `<prefix>/<env>/state.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Region of the bucket; defaults to the environment's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How many versions the history keeps, one per apply and per `state push` (default 100):
    /// in `.ecsops/state/history/<env>/` locally, in `<prefix>/<env>/history/` on S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_versions: Option<u32>,
    /// S3 backend: a role to assume for the state bucket (often in a central account);
    /// without it (and `profile`), the state is reached with the environment's credentials.
    /// Also used by `--state-url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The external id the state role's trust policy asks for (`role_arn` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// S3 backend: a named profile for the state bucket. Not together with `role_arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackendKind {
    #[default]
    Local,
    S3,
}

/// The VPC and its subnets.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// VPC CIDR, a /16 such as `10.0.0.0/16`. Required. Subnets follow the convention: public
    /// /24s at 10.N.0.0, 10.N.1.0, ... and private /24s at 10.N.50.0, 10.N.51.0, ..., one of
    /// each per availability zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Explicit public subnet CIDRs, one per availability zone, instead of the convention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_subnets: Option<Vec<String>>,
    /// Explicit private subnet CIDRs, one per availability zone, instead of the convention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_subnets: Option<Vec<String>>,
    /// `per_az` (default; one NAT gateway per zone, survives a zone outage) or `single` (one
    /// NAT gateway for all zones: cheaper, fine for non-production).
    #[serde(default)]
    pub nat: NatMode,
    /// Environments whose VPC CIDR may overlap this one's (for example because they live in
    /// another account and are never peered).
    #[serde(default)]
    pub allow_overlap_with: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NatMode {
    #[default]
    PerAz,
    Single,
}

/// The ECS cluster.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Cluster name; the AWS name is `<environment>-<name>`.
    #[serde(default = "default_name")]
    pub name: String,
    /// CloudWatch Container Insights.
    #[serde(default = "yes")]
    pub container_insights: bool,
    /// Task definition revisions kept registered per service and system container (the
    /// newest, the running one included), so a deployment circuit breaker's rollback and
    /// `ecsops rollback` find them; older ones are deregistered once a service has moved to
    /// a new revision. Default 3.
    #[serde(default = "default_keep_task_revisions")]
    #[schemars(range(min = 1, max = 100))]
    pub keep_task_revisions: u32,
}

/// `[cluster] keep_task_revisions` when the manifest does not say.
pub const DEFAULT_KEEP_TASK_REVISIONS: u32 = 3;

fn default_keep_task_revisions() -> u32 {
    DEFAULT_KEEP_TASK_REVISIONS
}

impl Default for Cluster {
    fn default() -> Self {
        Self {
            name: default_name(),
            container_insights: true,
            keep_task_revisions: default_keep_task_revisions(),
        }
    }
}

/// One auto scaling group of ECS container instances in the private subnets.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceGroup {
    /// EC2 instance type, checked against the types the AWS SDK knows.
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    /// Accept an `instance_type` the AWS SDK in this ecsops does not know yet (a type newer
    /// than it). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unknown_instance_type: bool,
    #[serde(default = "one")]
    pub min_size: u32,
    #[serde(default = "one")]
    pub max_size: u32,
    /// Defaults to `min_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<u32>,
    /// `recommended` (the ECS-optimized Amazon Linux 2023 AMI, asked of SSM by every plan
    /// that reads AWS, so a newly published one is a planned change),
    /// `recommended-arm64`, or an explicit AMI id `ami-...`.
    #[serde(default = "default_ami")]
    pub ami: String,
    /// EC2 key pair for SSH; leave unset and use SSM Session Manager instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub key_pair: Option<String>,
    /// S3 object (`s3://bucket/key`) holding private registry auth (`ECS_ENGINE_AUTH_TYPE`,
    /// `ECS_ENGINE_AUTH_DATA`) appended to /etc/ecs/ecs.config at boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_auth: Option<String>,
    /// Docker log drivers the ECS agent offers; unset keeps the AMI's default list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_drivers: Option<Vec<String>>,
    /// Extra shell run at the end of the instance's user data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default)]
    pub root_volume: RootVolume,
    /// Let containers in `bridge` network mode reach the instance metadata service, and with
    /// it the instance role's credentials (IMDSv2 hop limit 2 instead of 1). Off by default:
    /// tasks get AWS access through their task roles; turn it on only for a daemon that must
    /// ask the metadata service itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub containers_reach_instance_metadata: bool,
    /// Let ECS scale this group through its capacity provider. Off by default: the group keeps
    /// the manifest's `desired_capacity`.
    #[serde(default)]
    pub managed_scaling: bool,
}

/// Root EBS volume of each container instance.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootVolume {
    /// Size in GiB (the ECS-optimized AMI needs at least 30).
    #[serde(default = "default_volume_size")]
    pub size: u32,
    #[serde(default = "default_volume_type", rename = "type")]
    pub volume_type: String,
    #[serde(default = "yes")]
    pub encrypted: bool,
}

impl Default for RootVolume {
    fn default() -> Self {
        Self { size: default_volume_size(), volume_type: default_volume_type(), encrypted: true }
    }
}

/// A load balancer in front of services.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// `application` (default) or `classic` (previous generation, kept as an opt-in).
    #[serde(default, rename = "type")]
    pub kind: LoadBalancerKind,
    /// `internet-facing` (in the public subnets) or `internal` (in the private subnets).
    #[serde(default)]
    pub scheme: Scheme,
    /// Client CIDRs allowed to reach the listeners.
    #[serde(default = "anywhere")]
    pub allowed_cidrs: Vec<String>,
    /// Idle connection timeout in seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: u32,
    #[serde(default)]
    pub deletion_protection: bool,
    /// Listeners; defaults to HTTP on port 80.
    #[serde(default = "default_listeners")]
    pub listeners: Vec<Listener>,
}

impl LoadBalancer {
    /// The port of the listener a route attaches to: the one it names, else HTTPS, else the
    /// first that does not redirect; none when there is no such listener.
    pub fn route_port(&self, named: Option<u16>) -> Option<u16> {
        let listeners = &self.listeners;
        match named {
            Some(port) => listeners.iter().find(|l| l.port == port),
            None => listeners
                .iter()
                .find(|l| l.protocol == ListenerProtocol::Https)
                .or_else(|| listeners.iter().find(|l| l.redirect_to.is_none())),
        }
        .map(|l| l.port)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerKind {
    #[default]
    Application,
    Classic,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    InternetFacing,
    Internal,
}

/// A port the load balancer listens on.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub port: u16,
    #[serde(default)]
    pub protocol: ListenerProtocol,
    /// Name of a `[certificates.<name>]` entry; required for HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Redirect every request to this HTTPS port instead of routing it (HTTP → HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<u16>,
    /// TLS policy for HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListenerProtocol {
    #[default]
    Http,
    Https,
}

/// An ACM certificate.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// `arn:aws:acm:<region>:<account>:certificate/<id>`.
    pub arn: String,
}

/// CloudWatch log groups for host and container logs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// Days to keep log events.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// Ship the instances' own logs (docker, ECS agent, ECS init, audit, messages, dmesg).
    #[serde(default = "yes")]
    pub host_logs: bool,
    /// Log group name prefix; defaults to `/ecsops/<environment>/<cluster>`, unique per
    /// environment and cluster so two clusters in one account never collide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl Default for Logging {
    fn default() -> Self {
        Self { retention_days: default_retention(), host_logs: true, prefix: None }
    }
}

/// Alerts on failing deployments.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Publish stopped tasks (essential container exited, failed to start) and failed
    /// deployments to the alerts SNS topic.
    #[serde(default = "yes")]
    pub stopped_tasks: bool,
    /// E-mail addresses subscribed to the alerts topic (each must confirm once).
    #[serde(default)]
    pub email: Vec<String>,
}

impl Default for Alerts {
    fn default() -> Self {
        Self { stopped_tasks: true, email: Vec::new() }
    }
}

/// A replica service: N copies of one container behind an optional load balancer rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Container image, for example `nginx:1.27-alpine` or an ECR URI. Required; a base file
    /// may leave it to the files that extend it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// CPU units (1024 = one vCPU).
    #[serde(default = "default_cpu")]
    pub cpu: u32,
    /// Hard memory limit in MiB.
    #[serde(default = "default_memory")]
    pub memory: u32,
    #[serde(default = "one")]
    pub desired_count: u32,
    /// Port the container listens on; needed with `route`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Instance group to run on; defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_group: Option<String>,
    /// Overrides the image's command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// How the load balancer sends requests to this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Plain environment variables. Secrets do not belong here: use `secrets`.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Secret environment variables as references, never values: `ssm:/path/to/parameter`,
    /// an SSM parameter ARN, a Secrets Manager secret ARN, or one key of a JSON secret
    /// (`<secret ARN>:<key>::`).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Send the container's output to another Docker log driver than its CloudWatch log
    /// group, for example `{ driver = "fluentd", options = { fluentd-address = "localhost:24224" } }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<ContainerLogging>,
    /// The ARN of a Secrets Manager secret holding `username` and `password` for the image's
    /// private registry (Docker Hub, ...); the task execution role may read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_credentials: Option<String>,
    /// Customer-managed KMS keys that encrypt `secrets` or `registry_credentials`, by key ARN
    /// (`arn:aws:kms:<region>:<account>:key/<id>`, not an alias): the task execution role may
    /// decrypt with them, through SSM and Secrets Manager only. Secrets under the AWS-managed
    /// keys (`aws/ssm`, `aws/secretsmanager`) need none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets_kms_keys: Vec<String>,
    /// Managed policies for the container's own AWS identity (its task role), by ARN: AWS's
    /// (`arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess`) or your account's
    /// (`arn:aws:iam::123456789012:policy/web-uploads`). ecsops creates the role
    /// (`<env>-<cluster>-<name>-task`) and attaches them, at most 10 (9 with
    /// `execute_command`). Not with `task_role_arn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_policies: Vec<String>,
    /// The container's own AWS identity: a role managed outside ecsops, as
    /// `arn:aws:iam::123456789012:role/web`, whose trust policy lets `ecs-tasks.amazonaws.com`
    /// assume it. ecsops never changes it: with `execute_command` it must allow
    /// `ssmmessages:CreateControlChannel`, `CreateDataChannel`, `OpenControlChannel` and
    /// `OpenDataChannel`. Not with `task_policies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Allow `aws ecs execute-command` (ECS Exec) into the running containers: a shell for
    /// debugging, through SSM Session Manager. Turns on the service's `enableExecuteCommand`,
    /// runs an init process in the container, and lets the task role (ecsops' own, created if
    /// needed) open the Session Manager channels. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub execute_command: bool,
    #[serde(default)]
    pub deployment: Deployment,
}

impl Service {
    /// The instance group its tasks run on: `default` when it names none.
    pub fn group(&self) -> &str {
        self.instance_group.as_deref().unwrap_or("default")
    }
}

/// A container's log driver other than `awslogs` (which ecsops configures itself, to the
/// container's group under `/ecsops/<env>/<cluster>/`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerLogging {
    /// The instances must offer it: the ECS-optimized AMI offers `json-file`, `syslog`,
    /// `awslogs`, `fluentd` and `none`; an instance group's `logging_drivers` replaces that list.
    pub driver: LogDriver,
    /// The driver's `--log-opt` options, for example `fluentd-address` or `tag`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Options whose values ECS reads from SSM Parameter Store or Secrets Manager when the
    /// container starts, for a driver's credentials: `splunk-token = "ssm:/prod/splunk-token"`.
    /// The same references as `secrets`; the task execution role may read them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_options: BTreeMap<String, String>,
}

/// Docker log drivers ECS passes through on EC2 instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    Fluentd,
    Gelf,
    Syslog,
    Splunk,
    Journald,
    JsonFile,
}

impl LogDriver {
    /// The name ECS and Docker use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fluentd => "fluentd",
            Self::Gelf => "gelf",
            Self::Syslog => "syslog",
            Self::Splunk => "splunk",
            Self::Journald => "journald",
            Self::JsonFile => "json-file",
        }
    }
}

/// Load balancer routing for a service.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Name of a `[load_balancers.<name>]` entry.
    #[serde(default = "default_name")]
    pub load_balancer: String,
    /// Listener port; defaults to the HTTPS listener if there is one, else the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<u16>,
    /// Path patterns, for example `/api/*`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Host names, for example `api.example.com`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Rule priority (1-50000, lower wins); assigned from the service order when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Accept that an earlier rule on the listener matches every request this one matches, so
    /// this one never receives traffic (a rule kept for later). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_shadowed: bool,
    /// Seconds the load balancer waits for in-flight requests before deregistering a task.
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay: u32,
}

/// Load balancer health check of a service.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(default = "default_health_path")]
    pub path: String,
    /// HTTP codes counted as healthy.
    #[serde(default = "default_matcher")]
    pub matcher: String,
    /// Seconds between checks.
    #[serde(default = "default_interval")]
    pub interval: u32,
    /// Seconds before a check counts as failed.
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    #[serde(default = "default_threshold")]
    pub healthy_threshold: u32,
    #[serde(default = "default_threshold")]
    pub unhealthy_threshold: u32,
    /// Seconds after a task starts during which failed checks are ignored.
    #[serde(default = "default_grace")]
    pub grace_period: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            matcher: default_matcher(),
            interval: default_interval(),
            timeout: default_timeout(),
            healthy_threshold: default_threshold(),
            unhealthy_threshold: default_threshold(),
            grace_period: default_grace(),
        }
    }
}

/// Rolling deployment settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Lower bound of running tasks during a deployment, in percent of the desired count.
    #[serde(default = "default_min_healthy")]
    pub minimum_healthy_percent: u32,
    /// Upper bound of running tasks during a deployment, in percent of the desired count.
    #[serde(default = "default_max_percent")]
    pub maximum_percent: u32,
    /// Stop a deployment whose tasks keep failing.
    #[serde(default = "yes")]
    pub circuit_breaker: bool,
    /// Roll back to the last good deployment when the circuit breaker trips.
    #[serde(default = "yes")]
    pub rollback: bool,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            minimum_healthy_percent: default_min_healthy(),
            maximum_percent: default_max_percent(),
            circuit_breaker: true,
            rollback: true,
        }
    }
}

/// A daemon container on every instance (of one group, or of all groups).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemContainer {
    /// Container image. Required; a base file may leave it to the files that extend it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default = "default_system_cpu")]
    pub cpu: u32,
    #[serde(default = "default_memory")]
    pub memory: u32,
    /// Restrict to one instance group; every group when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_group: Option<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Fixed host ports, as `{ container = 8080, host = 9200 }`.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Host paths mounted into the container.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Same forms as a service's secrets.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Same as a service's `logging`: a log driver other than the container's log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<ContainerLogging>,
    /// Same as a service's `registry_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_credentials: Option<String>,
    /// Same as a service's `secrets_kms_keys`: the KMS keys, by key ARN, that encrypt
    /// `secrets` or `registry_credentials`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets_kms_keys: Vec<String>,
    /// Same as a service's `task_policies`: managed policies for the container's task role,
    /// which ecsops creates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_policies: Vec<String>,
    /// Same as a service's `task_role_arn`: a task role managed outside ecsops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Same as a service's `execute_command`: allow `aws ecs execute-command` into the daemon's
    /// containers. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub execute_command: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    pub container: u16,
    /// Host port; defaults to the container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

/// A renamed resource address.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    pub from: String,
    pub to: String,
}

fn default_name() -> String {
    "default".to_owned()
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_instance_type() -> String {
    "t3.medium".to_owned()
}
fn default_ami() -> String {
    "recommended".to_owned()
}
fn default_volume_size() -> u32 {
    30
}
fn default_volume_type() -> String {
    "gp3".to_owned()
}
fn anywhere() -> Vec<String> {
    vec!["0.0.0.0/0".to_owned()]
}
fn default_idle_timeout() -> u32 {
    60
}
fn default_listeners() -> Vec<Listener> {
    vec![Listener {
        port: 80,
        protocol: ListenerProtocol::Http,
        certificate: None,
        redirect_to: None,
        ssl_policy: None,
    }]
}
fn default_retention() -> u32 {
    30
}
fn default_cpu() -> u32 {
    256
}
fn default_system_cpu() -> u32 {
    128
}
fn default_memory() -> u32 {
    512
}
fn default_deregistration_delay() -> u32 {
    30
}
fn default_health_path() -> String {
    "/".to_owned()
}
fn default_matcher() -> String {
    "200-399".to_owned()
}
fn default_interval() -> u32 {
    15
}
fn default_timeout() -> u32 {
    5
}
fn default_threshold() -> u32 {
    3
}
fn default_grace() -> u32 {
    60
}
fn default_min_healthy() -> u32 {
    100
}
fn default_max_percent() -> u32 {
    200
}
