//! Expands a validated manifest into the desired graph: the reference ECS layout (VPC, subnets
//! per zone, NAT, routes, security groups, IAM, launch templates, auto scaling groups, cluster,
//! capacity providers, load balancers, log groups, alerts, task definitions, services) with the
//! reference's bugs fixed: launch templates instead of launch configurations, IMDSv2 only, AL2023
//! user data, scoped IAM, names scoped by environment and cluster, an SNS topic policy so
//! EventBridge can publish, and the instance group waiting for the private routes.
//!
//! Naming: cluster-scoped AWS names start with `<environment>-<cluster>`; load balancers and
//! target groups use `<environment>-<name>` because AWS caps them at 32 characters.

mod alerts;
mod iam;
mod instance_groups;
mod launch_template;
mod load_balancing;
mod logs;
mod network;
mod security_group;
mod services;

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;
use serde_json::Value;

use super::attrs::{Attributes, desired_map};
use super::{Address, Expr, Graph, Kind, Resource};
use crate::cidr::subnet_cidrs;
use crate::manifest::Manifest;
use crate::partition::Partition;
use alerts::alerts;
use iam::iam;
use instance_groups::instance_groups;
use load_balancing::load_balancers;
use logs::host_log_groups;
use network::network;
use security_group::instance_security_group;
use services::{service, system_container};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the manifest is incomplete: {0}; run `ecsops validate` for details")]
    Incomplete(String),
}

/// The SSM parameters of the ECS-optimized Amazon Linux 2023 AMIs.
const AMI_PARAMETER_X86: &str =
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
const AMI_PARAMETER_ARM: &str =
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id";
/// Docker's dynamic host-port range for bridge-mode tasks (covers both the kernel's
/// `ip_local_port_range` and Docker's fallback 49153–65535).
const DYNAMIC_PORTS: (u16, u16) = (32768, 65535);
const DEFAULT_TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

struct Builder<'m> {
    manifest: &'m Manifest,
    env: &'m str,
    region: &'m str,
    /// The region's: every ARN the graph writes carries its name.
    partition: Partition,
    /// `<environment>-<cluster>`: the ECS cluster name and the prefix of cluster-scoped names.
    prefix: String,
    log_prefix: String,
    graph: Graph,
}

impl Builder<'_> {
    /// Adds a resource of the attributes' kind.
    fn add<A: Attributes>(
        &mut self,
        address: Address,
        attributes: &A,
        extra_deps: impl IntoIterator<Item = Address>,
    ) -> Address {
        self.insert(address, A::KIND, desired_map(attributes), extra_deps)
    }

    fn insert(
        &mut self,
        address: Address,
        kind: Kind,
        attributes: BTreeMap<String, Expr>,
        extra_deps: impl IntoIterator<Item = Address>,
    ) -> Address {
        let mut depends_on: BTreeSet<Address> = extra_deps.into_iter().collect();
        for e in attributes.values() {
            e.references(&mut depends_on);
        }
        depends_on.remove(&address);
        self.graph.resources.insert(
            address.clone(),
            Resource { address: address.clone(), kind, attributes, depends_on },
        );
        address
    }

    /// `Environment`, the user's tags and, when given, `Name`.
    fn tags(&self, name: Option<&str>) -> Expr {
        let mut tags: BTreeMap<String, Value> = self
            .manifest
            .environment
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        tags.insert("Environment".to_owned(), Value::from(self.env));
        if let Some(n) = name {
            tags.insert("Name".to_owned(), Value::from(n));
        }
        Expr::Lit(Value::Object(tags.into_iter().collect()))
    }

    fn r(address: &Address, output: &str) -> Expr {
        Expr::reference(address, output)
    }
}

/// Builds the desired graph of `environment` from its (validated) manifest.
pub fn build(manifest: &Manifest, environment: &str) -> Result<Graph, BuildError> {
    let incomplete = |what: &str| BuildError::Incomplete(what.to_owned());
    let region = manifest
        .environment
        .region
        .as_deref()
        .ok_or_else(|| incomplete("`environment.region` is not set"))?;
    let zones = &manifest.environment.availability_zones;
    if zones.is_empty() {
        return Err(incomplete("`environment.availability_zones` is empty"));
    }
    if let Some(c) = manifest.containers().find(|c| c.image.is_none()) {
        let (section, name) = (c.section, c.name);
        return Err(incomplete(&format!("`{section}.{name}.image` is not set")));
    }
    let vpc_cidr: Ipv4Net = manifest
        .network
        .cidr
        .as_deref()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| incomplete("`network.cidr` is not a valid CIDR"))?;
    let (public_cidrs, private_cidrs) = subnet_cidrs(
        vpc_cidr,
        zones.len(),
        manifest.network.public_subnets.as_deref(),
        manifest.network.private_subnets.as_deref(),
    )
    .filter(|(p, q)| p.len() == zones.len() && q.len() == zones.len())
    .ok_or_else(|| incomplete("the subnets do not fit the VPC and zones"))?;

    let prefix = format!("{environment}-{}", manifest.cluster.name);
    let log_prefix = manifest.log_prefix(environment);
    let mut b = Builder {
        manifest,
        env: environment,
        region,
        partition: Partition::of(region),
        prefix,
        log_prefix,
        graph: Graph::default(),
    };
    let net = network(&mut b, zones, vpc_cidr, &public_cidrs, &private_cidrs);
    let iam = iam(&mut b);
    let cluster = services::ecs_cluster(&mut b);
    let host_logs = host_log_groups(&mut b);
    let lbs = load_balancers(&mut b, &net);
    let sg_instances = instance_security_group(&mut b, &net, &lbs);
    let groups = instance_groups(&mut b, &net, &iam, &cluster, &sg_instances, &host_logs, &lbs);
    alerts(&mut b, &cluster);
    for (name, svc) in &manifest.services {
        service(&mut b, name, svc, &net, &iam, &cluster, &groups, &lbs);
    }
    for (name, sc) in &manifest.system_containers {
        system_container(&mut b, name, sc, &iam, &cluster, &groups);
    }
    tracing::debug!(environment, resources = b.graph.resources.len(), "built the desired graph");
    Ok(b.graph)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::iam::{secret_resource, secret_value_from};
    use super::*;

    pub(super) fn manifest(extra: serde_json::Value) -> Manifest {
        let mut base = json!({
            "environment": {"region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]},
            "network": {"cidr": "10.0.0.0/16", "nat": "single"},
            "instance_groups": {"default": {"min_size": 1, "max_size": 3, "desired_capacity": 2}},
            "load_balancers": {"default": {}},
            "services": {"web": {"image": "nginx", "container_port": 80,
                                  "route": {"paths": ["/*"]},
                                  "secrets": {"PASSWORD": "ssm:/acc/password"}}},
            "system_containers": {"cadvisor": {"image": "cadvisor", "instance_group": "default"}}
        });
        merge(&mut base, extra);
        serde_json::from_value(base).expect("manifest")
    }

    fn merge(a: &mut Value, b: Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    pub(super) fn lit<'g>(g: &'g Graph, address: &str, attr: &str) -> &'g Value {
        match g.resources.get(&Address::from(address)).and_then(|r| r.attributes.get(attr)) {
            Some(Expr::Lit(v)) => v,
            other => panic!("{address}.{attr} is not a literal: {other:?}"),
        }
    }

    #[test]
    fn builds_the_reference_layout() {
        let g = build(&manifest(json!({})), "acc").expect("graph");
        assert_eq!(lit(&g, "vpc", "cidr_block"), "10.0.0.0/16");
        assert_eq!(lit(&g, "subnet.public[eu-west-1a]", "cidr_block"), "10.0.0.0/24");
        assert_eq!(lit(&g, "subnet.public[eu-west-1b]", "cidr_block"), "10.0.1.0/24");
        assert_eq!(lit(&g, "subnet.private[eu-west-1a]", "cidr_block"), "10.0.50.0/24");
        assert_eq!(lit(&g, "subnet.private[eu-west-1b]", "availability_zone"), "eu-west-1b");
        assert_eq!(lit(&g, "ecs_cluster", "name"), "acc-default");
        assert_eq!(lit(&g, "autoscaling_group[default]", "desired_capacity"), 2);
        let metadata = lit(&g, "launch_template[default]", "metadata_options");
        assert_eq!(metadata["http_tokens"], "required");
        assert_eq!(
            metadata["http_put_response_hop_limit"], 1,
            "bridge-mode containers kept from the instance role"
        );
        let user_data = lit(&g, "launch_template[default]", "user_data");
        assert!(user_data.as_str().is_some_and(|u| u.contains("ECS_CLUSTER=acc-default")));
        assert_eq!(lit(&g, "log_group.host[docker]", "name"), "/ecsops/acc/default/var/log/docker");
        assert_eq!(lit(&g, "service[cadvisor]", "scheduling_strategy"), "DAEMON");
        assert_eq!(lit(&g, "load_balancer[default]", "scheme"), "internet-facing");
        assert_eq!(lit(&g, "target_group[web]", "name"), "acc-web");
        for a in [
            "internet_gateway",
            "route_table.public",
            "route.public_internet",
            "nat_gateway[eu-west-1a]",
            "route.private_nat[eu-west-1b]",
            "security_group.instances",
            "iam_role.instance",
            "instance_profile",
            "capacity_provider[default]",
            "listener[default:80]",
            "listener_rule[web]",
            "event_rule.stopped_tasks",
            "sns_topic.alerts",
            "sns_topic_policy.alerts",
            "task_definition[web]",
            "service[web]",
            "iam_policy.task_execution",
        ] {
            assert!(g.resources.contains_key(&Address::from(a)), "missing {a}");
        }
    }

    /// AWS refuses these prefixes for capacity providers only: the group keeps its name.
    #[test]
    fn a_capacity_provider_never_begins_with_a_prefix_aws_refuses() {
        for (env, cp) in [
            ("ecs-demo", "cp-ecs-demo-default-default"),
            ("AWSome", "cp-AWSome-default-default"),
            ("fargate2", "cp-fargate2-default-default"),
            ("acc", "acc-default-default"),
        ] {
            let g = build(&manifest(json!({})), env).expect("graph");
            assert_eq!(lit(&g, "capacity_provider[default]", "name"), cp);
            assert_eq!(
                lit(&g, "autoscaling_group[default]", "name").as_str(),
                Some(format!("{env}-default-default").as_str())
            );
        }
    }

    #[test]
    fn containers_reach_instance_metadata_only_when_asked() {
        let m = manifest(json!({"instance_groups": {"default": {
            "containers_reach_instance_metadata": true}}}));
        let g = build(&m, "acc").expect("graph");
        assert_eq!(
            lit(&g, "launch_template[default]", "metadata_options")["http_put_response_hop_limit"],
            2
        );
    }

    #[test]
    fn single_nat_serves_every_zone_and_per_az_has_one_each() {
        let single = build(&manifest(json!({})), "acc").expect("graph");
        let nats = |g: &Graph| g.resources.values().filter(|r| r.kind == Kind::NatGateway).count();
        assert_eq!(nats(&single), 1);
        let route_b = &single.resources[&Address::from("route.private_nat[eu-west-1b]")];
        assert!(route_b.depends_on.contains(&Address::from("nat_gateway[eu-west-1a]")));
        let per_az = build(&manifest(json!({"network": {"nat": "per_az"}})), "acc").expect("graph");
        assert_eq!(nats(&per_az), 2);
        let route_b = &per_az.resources[&Address::from("route.private_nat[eu-west-1b]")];
        assert!(route_b.depends_on.contains(&Address::from("nat_gateway[eu-west-1b]")));
    }

    #[test]
    fn instances_wait_for_private_routes_and_the_cluster() {
        let g = build(&manifest(json!({})), "acc").expect("graph");
        let asg = &g.resources[&Address::from("autoscaling_group[default]")];
        for dep in ["route.private_nat[eu-west-1a]", "route.private_nat[eu-west-1b]", "ecs_cluster"]
        {
            assert!(asg.depends_on.contains(&Address::from(dep)), "{dep}");
        }
        let service = &g.resources[&Address::from("service[web]")];
        assert!(service.depends_on.contains(&Address::from("listener_rule[web]")));
        assert!(g.topological_order().len() == g.resources.len());
    }

    #[test]
    fn explicit_subnets_and_internal_load_balancers() {
        let g = build(
            &manifest(json!({
                "network": {"public_subnets": ["10.0.10.0/24", "10.0.11.0/24"],
                            "private_subnets": ["10.0.20.0/23", "10.0.22.0/23"]},
                "load_balancers": {"default": {"scheme": "internal"}}
            })),
            "acc",
        )
        .expect("graph");
        assert_eq!(lit(&g, "subnet.private[eu-west-1b]", "cidr_block"), "10.0.22.0/23");
        let lb = &g.resources[&Address::from("load_balancer[default]")];
        assert!(lb.depends_on.contains(&Address::from("subnet.private[eu-west-1a]")));
        assert!(!lb.depends_on.contains(&Address::from("internet_gateway")));
    }

    /// The reference declared `ecs_config` and `ecs_logging` but never passed them on, and its
    /// instance role could not read the S3 object its docs said to copy; its IAM names held
    /// only the environment, so two clusters of one environment collided.
    #[test]
    fn group_settings_reach_the_instances_with_the_rights_they_need() {
        let g = build(
            &manifest(json!({"instance_groups": {"default": {
                "docker_auth": "s3://acc-config/ecs.config",
                "logging_drivers": ["json-file", "awslogs", "fluentd"]
            }}})),
            "acc",
        )
        .expect("graph");
        let user_data =
            lit(&g, "launch_template[default]", "user_data").as_str().expect("user data");
        assert!(
            user_data.contains("aws s3 cp 's3://acc-config/ecs.config' - | sed"),
            "{user_data}"
        );
        assert!(
            user_data
                .contains(r#"ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","awslogs","fluentd"]"#),
            "{user_data}"
        );
        let statements = &lit(&g, "iam_policy.instance", "document")["Statement"];
        let read = statements
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Action"] == "s3:GetObject"))
            .expect("an s3:GetObject statement");
        assert_eq!(read["Resource"], json!(["arn:aws:s3:::acc-config/ecs.config"]));
        assert_eq!(lit(&g, "iam_role.instance", "name"), "acc-default-instance");
        assert_eq!(lit(&g, "instance_profile", "name"), "acc-default-instance");
        assert_eq!(lit(&g, "iam_role.task_execution", "name"), "acc-default-task-execution");

        // Without them, the AMI's own ecs.config defaults stand and no S3 right is granted.
        let plain = build(&manifest(json!({})), "acc").expect("graph");
        let user_data =
            lit(&plain, "launch_template[default]", "user_data").as_str().expect("user data");
        assert!(!user_data.contains("ECS_AVAILABLE_LOGGING_DRIVERS"), "{user_data}");
        assert!(!user_data.contains("aws s3 cp"), "{user_data}");
        let statements = lit(&plain, "iam_policy.instance", "document")["Statement"].to_string();
        assert!(!statements.contains("s3:"), "{statements}");
    }

    /// A log driver's credentials are references like secrets: ECS reads them when the
    /// container starts, so the task definition holds the reference and the execution role may
    /// read exactly that parameter.
    #[test]
    fn log_secret_options_are_references_the_execution_role_may_read() {
        let g = build(
            &manifest(json!({
                "services": {"web": {"logging": {"driver": "splunk",
                    "options": {"splunk-url": "https://splunk:8088"},
                    "secret_options": {"splunk-token": "ssm:/acc/splunk-token"}}}}
            })),
            "acc",
        )
        .expect("graph");
        assert_eq!(
            lit(&g, "task_definition[web]", "container_definitions")[0]["logConfiguration"],
            json!({"logDriver": "splunk", "options": {"splunk-url": "https://splunk:8088"},
                   "secretOptions": [{"name": "splunk-token", "valueFrom": "/acc/splunk-token"}]})
        );
        let statements = &lit(&g, "iam_policy.task_execution", "document")["Statement"];
        assert_eq!(
            statements[0]["Resource"],
            json!([
                "arn:aws:ssm:eu-west-1:*:parameter/acc/password",
                "arn:aws:ssm:eu-west-1:*:parameter/acc/splunk-token"
            ])
        );
    }

    /// Issues #5 and #11 asked to ship container logs through fluentd; `logging_drivers` alone
    /// offered a driver no container could choose.
    #[test]
    fn containers_log_to_the_driver_they_name_else_to_their_log_group() {
        let g = build(
            &manifest(json!({
                "services": {"web": {"logging": {"driver": "fluentd",
                                                 "options": {"fluentd-address": "localhost:24224"}}}},
                "system_containers": {"cadvisor": {"logging": {"driver": "syslog"}}}
            })),
            "acc",
        )
        .expect("graph");
        let log = |td: &str| lit(&g, td, "container_definitions")[0]["logConfiguration"].clone();
        assert_eq!(
            log("task_definition[web]"),
            json!({"logDriver": "fluentd", "options": {"fluentd-address": "localhost:24224"}})
        );
        assert_eq!(log("task_definition[cadvisor]"), json!({"logDriver": "syslog", "options": {}}));
        assert!(
            g.resources.contains_key(&Address::from("log_group.service[web]")),
            "the group and what it holds stay"
        );
        let plain = build(&manifest(json!({})), "acc").expect("graph");
        assert_eq!(
            lit(&plain, "task_definition[web]", "container_definitions")[0]["logConfiguration"]["options"]
                ["awslogs-group"],
            "/ecsops/acc/default/service/web"
        );
    }

    /// The reference's only private-registry path was Docker Hub auth in an S3 ecs.config;
    /// ECS takes per-container credentials from Secrets Manager, read by the execution role.
    #[test]
    fn registry_credentials_reach_the_container_and_the_execution_role() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf";
        let g = build(
            &manifest(json!({
                "services": {"web": {"registry_credentials": arn}},
                "system_containers": {"cadvisor": {"registry_credentials": arn}}
            })),
            "acc",
        )
        .expect("graph");
        for td in ["task_definition[web]", "task_definition[cadvisor]"] {
            assert_eq!(
                lit(&g, td, "container_definitions")[0]["repositoryCredentials"],
                json!({"credentialsParameter": arn}),
                "{td}"
            );
        }
        let statements = lit(&g, "iam_policy.task_execution", "document")["Statement"].clone();
        let read = statements
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Sid"] == "ReadSecrets"))
            .expect("a ReadSecrets statement");
        assert_eq!(read["Action"], "secretsmanager:GetSecretValue");
        assert_eq!(read["Resource"], json!([arn]));
        let plain = build(&manifest(json!({})), "acc").expect("graph");
        let container = &lit(&plain, "task_definition[web]", "container_definitions")[0];
        assert!(container.get("repositoryCredentials").is_none(), "{container}");
    }

    #[test]
    fn a_command_reaches_the_container_only_when_the_manifest_sets_one() {
        let cmd = json!(["nginx", "-g", "daemon off;"]);
        let g = build(
            &manifest(json!({
                "services": {"web": {"command": cmd}},
                "system_containers": {"cadvisor": {"command": cmd}}
            })),
            "acc",
        )
        .expect("graph");
        for td in ["task_definition[web]", "task_definition[cadvisor]"] {
            assert_eq!(lit(&g, td, "container_definitions")[0]["command"], cmd, "{td}");
        }
        let plain = build(&manifest(json!({})), "acc").expect("graph");
        let container = &lit(&plain, "task_definition[web]", "container_definitions")[0];
        assert!(container.get("command").is_none(), "{container}");
    }

    pub(super) fn attr<'g>(g: &'g Graph, address: &str, attr: &str) -> Option<&'g Expr> {
        g.resources.get(&Address::from(address)).and_then(|r| r.attributes.get(attr))
    }

    /// The reference's optional task role, which ecsops lacked: a container could not call AWS
    /// as itself, nor be reached by ECS Exec. Services and system containers share the keys.
    #[test]
    fn a_task_role_is_made_only_for_a_container_that_asks_for_one() {
        let s3 = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
        let own = "arn:aws:iam::123456789012:policy/uploads";
        let g = build(
            &manifest(json!({
                "services": {"web": {"task_policies": [s3, own]}},
                "system_containers": {"cadvisor": {"task_policies": [s3]}}
            })),
            "acc",
        )
        .expect("graph");
        for (name, policies) in [("web", vec![s3, own]), ("cadvisor", vec![s3])] {
            let role = format!("iam_role.task[{name}]");
            assert_eq!(lit(&g, &role, "name"), &format!("acc-default-{name}-task"));
            assert_eq!(lit(&g, &role, "path"), "/ecsops/");
            assert_eq!(
                lit(&g, &role, "assume_role_policy")["Statement"][0]["Principal"],
                json!({"Service": "ecs-tasks.amazonaws.com"})
            );
            assert_eq!(
                attr(&g, &role, "policy_arns"),
                Some(&Expr::List(policies.into_iter().map(Expr::str).collect())),
                "{role}"
            );
            let td = format!("task_definition[{name}]");
            assert_eq!(
                attr(&g, &td, "task_role_arn"),
                Some(&Expr::reference(&Address::from(role.as_str()), "arn")),
                "{td}"
            );
            assert!(
                g.resources[&Address::from(td.as_str())]
                    .depends_on
                    .contains(&Address::from(role.as_str())),
                "{td} waits for its role"
            );
            // Without `execute_command`, no exec policy, no exec settings.
            assert!(!g.resources.contains_key(&Address::keyed("iam_policy.execute_command", name)));
            assert!(lit(&g, &td, "container_definitions")[0].get("linuxParameters").is_none());
            assert!(attr(&g, &format!("service[{name}]"), "enable_execute_command").is_none());
        }

        let plain = build(&manifest(json!({})), "acc").expect("graph");
        for name in ["web", "cadvisor"] {
            assert!(!plain.resources.contains_key(&Address::keyed("iam_role.task", name)));
            assert!(attr(&plain, &format!("task_definition[{name}]"), "task_role_arn").is_none());
        }

        // A role of the user's own is named as written, and nothing is made for it.
        let theirs = "arn:aws:iam::123456789012:role/web";
        let g = build(&manifest(json!({"services": {"web": {"task_role_arn": theirs}}})), "acc")
            .expect("graph");
        assert_eq!(lit(&g, "task_definition[web]", "task_role_arn"), theirs);
        assert!(!g.resources.contains_key(&Address::from("iam_role.task[web]")));
    }

    /// ECS Exec needs the service's flag, an init process in the container and the four
    /// `ssmmessages` actions on the task role: all three, or `execute-command` fails.
    #[test]
    fn execute_command_turns_on_exec_and_grants_its_channels_to_the_task_role() {
        let s3 = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
        let g = build(
            &manifest(json!({
                "services": {"web": {"execute_command": true, "task_policies": [s3]}},
                "system_containers": {"cadvisor": {"execute_command": true}}
            })),
            "acc",
        )
        .expect("graph");
        for name in ["web", "cadvisor"] {
            let exec = Address::keyed("iam_policy.execute_command", name);
            assert_eq!(lit(&g, exec.as_str(), "name"), &format!("acc-default-{name}-exec"));
            let statement = &lit(&g, exec.as_str(), "document")["Statement"];
            assert_eq!(
                statement,
                &json!([{"Sid": "OpenExecSessions", "Effect": "Allow",
                         "Action": iam::EXEC_ACTIONS, "Resource": "*"}])
            );
            // Made even without policies of the user's: the channels need a task role.
            let role = Address::keyed("iam_role.task", name);
            let Some(Expr::List(arns)) = attr(&g, role.as_str(), "policy_arns") else {
                panic!("{role} has a list of policies");
            };
            let exec_arn = Expr::reference(&exec, "arn");
            assert_eq!(arns.iter().filter(|a| **a == exec_arn).count(), 1, "{role}: {arns:?}");
            assert_eq!(arns.len(), if name == "web" { 2 } else { 1 }, "{arns:?}");
            assert_eq!(
                lit(&g, &format!("task_definition[{name}]"), "container_definitions")[0]["linuxParameters"],
                json!({"initProcessEnabled": true})
            );
            assert_eq!(lit(&g, &format!("service[{name}]"), "enable_execute_command"), true);
        }

        // A role of the user's own gets exec on the service and container, never a policy.
        let theirs = "arn:aws:iam::123456789012:role/web";
        let g = build(
            &manifest(
                json!({"services": {"web": {"execute_command": true, "task_role_arn": theirs}}}),
            ),
            "acc",
        )
        .expect("graph");
        assert_eq!(lit(&g, "task_definition[web]", "task_role_arn"), theirs);
        assert_eq!(lit(&g, "service[web]", "enable_execute_command"), true);
        assert!(
            !g.resources
                .keys()
                .any(|a| a.as_str().contains("[web]") && a.as_str().starts_with("iam_"))
        );
    }

    #[test]
    fn incomplete_manifests_are_errors_not_panics() {
        let mut m = manifest(json!({}));
        if let Some(web) = m.services.get_mut("web") {
            web.image = None;
        }
        assert!(
            matches!(build(&m, "acc"), Err(BuildError::Incomplete(what)) if what.contains("services.web.image"))
        );
        m.network.cidr = Some("nonsense".to_owned());
        assert!(build(&m, "acc").is_err());
        m.environment.region = None;
        assert!(build(&m, "acc").is_err());
    }

    #[test]
    fn secret_references_map_to_arns_and_value_from() {
        assert_eq!(
            secret_resource("eu-west-1", "ssm:/app/db"),
            "arn:aws:ssm:eu-west-1:*:parameter/app/db"
        );
        assert_eq!(secret_value_from("ssm:/app/db"), "/app/db");
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:x";
        assert_eq!(secret_value_from(arn), arn);
        assert_eq!(secret_resource("eu-west-1", arn), arn);
        // ECS reads one key of a JSON secret; the execution role may read the whole secret.
        let key = format!("{arn}:password::");
        assert_eq!(secret_value_from(&key), key);
        assert_eq!(secret_resource("eu-west-1", &key), arn);
        let pinned = format!("{arn}:password:AWSPREVIOUS:");
        assert_eq!(secret_resource("eu-west-1", &pinned), arn);
    }
}
