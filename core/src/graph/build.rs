//! Expands a validated manifest into the desired graph: the reference ECS layout (VPC, subnets
//! per zone, NAT, routes, security groups, IAM, launch templates, auto scaling groups, cluster,
//! capacity providers, load balancers, log groups, alerts, task definitions, services) with the
//! reference's bugs fixed: launch templates instead of launch configurations, IMDSv2 only, AL2023
//! user data, scoped IAM, names scoped by environment and cluster, an SNS topic policy so
//! EventBridge can publish, and the instance group waiting for the private routes.
//!
//! Naming: cluster-scoped AWS names start with `<environment>-<cluster>`; load balancers and
//! target groups use `<environment>-<name>` because AWS caps them at 32 characters.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;
use serde_json::{Value, json};

use super::user_data::{HOST_LOGS, UserData};
use super::{Address, Expr, Graph, Kind, Resource};
use crate::cidr::subnet_cidrs;
use crate::manifest::{
    InstanceGroup, ListenerProtocol, LoadBalancer, LoadBalancerKind, Manifest, NatMode, Scheme,
    Service, SystemContainer,
};

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
    /// `<environment>-<cluster>`: the ECS cluster name and the prefix of cluster-scoped names.
    prefix: String,
    log_prefix: String,
    graph: Graph,
}

impl Builder<'_> {
    fn add(
        &mut self,
        address: Address,
        kind: Kind,
        attributes: Vec<(&str, Expr)>,
        extra_deps: impl IntoIterator<Item = Address>,
    ) -> Address {
        let attributes: BTreeMap<String, Expr> = attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut depends_on: BTreeSet<Address> = extra_deps.into_iter().collect();
        for e in attributes.values() {
            e.references(&mut depends_on);
        }
        depends_on.remove(&address);
        self.graph.resources.insert(
            address.clone(),
            Resource {
                address: address.clone(),
                kind,
                attributes,
                depends_on,
            },
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
    let log_prefix = manifest
        .logging
        .prefix
        .clone()
        .unwrap_or_else(|| format!("/ecsops/{environment}/{}", manifest.cluster.name));
    let mut b = Builder {
        manifest,
        env: environment,
        region,
        prefix,
        log_prefix,
        graph: Graph::default(),
    };
    let net = network(&mut b, zones, vpc_cidr, &public_cidrs, &private_cidrs);
    let iam = iam(&mut b);
    let cluster = b.add(
        Address::new("ecs_cluster"),
        Kind::EcsCluster,
        vec![
            ("name", Expr::str(b.prefix.clone())),
            (
                "container_insights",
                Expr::str(if manifest.cluster.container_insights {
                    "enabled"
                } else {
                    "disabled"
                }),
            ),
            ("tags", b.tags(None)),
        ],
        [],
    );
    let host_logs = host_log_groups(&mut b);
    let lbs = load_balancers(&mut b, &net);
    let sg_instances = instance_security_group(&mut b, &net, &lbs);
    let groups = instance_groups(
        &mut b,
        &net,
        &iam,
        &cluster,
        &sg_instances,
        &host_logs,
        &lbs,
    );
    alerts(&mut b, &cluster);
    for (name, svc) in &manifest.services {
        service(&mut b, name, svc, &net, &iam, &cluster, &groups, &lbs);
    }
    for (name, sc) in &manifest.system_containers {
        system_container(&mut b, name, sc, &iam, &cluster, &groups);
    }
    tracing::debug!(
        environment,
        resources = b.graph.resources.len(),
        "built the desired graph"
    );
    Ok(b.graph)
}

struct Network {
    vpc: Address,
    igw: Address,
    public: Vec<Address>,
    private: Vec<Address>,
    private_routes: Vec<Address>,
}

fn network(
    b: &mut Builder<'_>,
    zones: &[String],
    vpc_cidr: Ipv4Net,
    public_cidrs: &[Ipv4Net],
    private_cidrs: &[Ipv4Net],
) -> Network {
    let env = b.env.to_owned();
    let vpc = b.add(
        Address::new("vpc"),
        Kind::Vpc,
        vec![
            ("cidr_block", Expr::str(vpc_cidr.to_string())),
            ("enable_dns_support", true.into()),
            ("enable_dns_hostnames", true.into()),
            ("tags", b.tags(Some(&env))),
        ],
        [],
    );
    let igw = b.add(
        Address::new("internet_gateway"),
        Kind::InternetGateway,
        vec![
            ("vpc_id", Builder::r(&vpc, "id")),
            ("tags", b.tags(Some(&env))),
        ],
        [],
    );
    let public_rt = b.add(
        Address::new("route_table.public"),
        Kind::RouteTable,
        vec![
            ("vpc_id", Builder::r(&vpc, "id")),
            ("tags", b.tags(Some(&format!("{env}-public")))),
        ],
        [],
    );
    b.add(
        Address::new("route.public_internet"),
        Kind::Route,
        vec![
            ("route_table_id", Builder::r(&public_rt, "id")),
            ("destination_cidr_block", "0.0.0.0/0".into()),
            ("gateway_id", Builder::r(&igw, "id")),
        ],
        [],
    );
    let mut public = Vec::new();
    let mut private = Vec::new();
    let mut nats = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let (Some(pub_cidr), Some(priv_cidr)) = (public_cidrs.get(i), private_cidrs.get(i)) else {
            continue;
        };
        for (tier, cidr, list) in [
            ("public", pub_cidr, &mut public),
            ("private", priv_cidr, &mut private),
        ] {
            let name = format!("{env}-{tier}-{zone}");
            let subnet = b.add(
                Address::keyed(&format!("subnet.{tier}"), zone),
                Kind::Subnet,
                vec![
                    ("vpc_id", Builder::r(&vpc, "id")),
                    ("cidr_block", Expr::str(cidr.to_string())),
                    ("availability_zone", Expr::str(zone.clone())),
                    ("map_public_ip_on_launch", false.into()),
                    ("tags", b.tags(Some(&name))),
                ],
                [],
            );
            list.push(subnet);
        }
        b.add(
            Address::keyed("route_table_association.public", zone),
            Kind::RouteTableAssociation,
            vec![
                ("subnet_id", Builder::r(&public[i], "id")),
                ("route_table_id", Builder::r(&public_rt, "id")),
            ],
            [],
        );
        let single = b.manifest.network.nat == NatMode::Single;
        if i == 0 || !single {
            let eip = b.add(
                Address::keyed("elastic_ip.nat", zone),
                Kind::ElasticIp,
                vec![
                    ("domain", "vpc".into()),
                    ("tags", b.tags(Some(&format!("{env}-nat-{zone}")))),
                ],
                // An EIP for a NAT needs the gateway attached before traffic flows.
                [igw.clone()],
            );
            let nat = b.add(
                Address::keyed("nat_gateway", zone),
                Kind::NatGateway,
                vec![
                    ("subnet_id", Builder::r(&public[i], "id")),
                    ("allocation_id", Builder::r(&eip, "id")),
                    ("connectivity_type", "public".into()),
                    ("tags", b.tags(Some(&format!("{env}-{zone}")))),
                ],
                [igw.clone()],
            );
            nats.push(nat);
        }
    }
    let mut private_routes = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let Some(subnet) = private.get(i).cloned() else {
            continue;
        };
        let rt = b.add(
            Address::keyed("route_table.private", zone),
            Kind::RouteTable,
            vec![
                ("vpc_id", Builder::r(&vpc, "id")),
                ("tags", b.tags(Some(&format!("{env}-private-{zone}")))),
            ],
            [],
        );
        b.add(
            Address::keyed("route_table_association.private", zone),
            Kind::RouteTableAssociation,
            vec![
                ("subnet_id", Builder::r(&subnet, "id")),
                ("route_table_id", Builder::r(&rt, "id")),
            ],
            [],
        );
        let nat = nats.get(i).or_else(|| nats.first()).cloned();
        if let Some(nat) = nat {
            private_routes.push(b.add(
                Address::keyed("route.private_nat", zone),
                Kind::Route,
                vec![
                    ("route_table_id", Builder::r(&rt, "id")),
                    ("destination_cidr_block", "0.0.0.0/0".into()),
                    ("nat_gateway_id", Builder::r(&nat, "id")),
                ],
                [],
            ));
        }
    }
    Network {
        vpc,
        igw,
        public,
        private,
        private_routes,
    }
}

struct Iam {
    instance_profile: Address,
    task_execution: Option<Address>,
}

fn trust(service: &str) -> Expr {
    Expr::Lit(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    }))
}

/// The ARN a secret reference grants read access to (`ssm:/x` → the parameter ARN pattern).
fn secret_resource(region: &str, reference: &str) -> String {
    match reference.strip_prefix("ssm:") {
        Some(path) => format!("arn:aws:ssm:{region}:*:parameter{path}"),
        None => reference.to_owned(),
    }
}

/// What ECS puts in a container's `valueFrom`: an SSM parameter name (same region) or the ARN.
fn secret_value_from(reference: &str) -> String {
    reference
        .strip_prefix("ssm:")
        .unwrap_or(reference)
        .to_owned()
}

fn iam(b: &mut Builder<'_>) -> Iam {
    let m = b.manifest;
    let name = format!("{}-instance", b.prefix);
    let mut statements = vec![json!({
        "Sid": "ShipHostAndContainerLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": format!("arn:aws:logs:{}:*:log-group:{}/*", b.region, b.log_prefix)
    })];
    let auth_objects: BTreeSet<String> = m
        .instance_groups
        .values()
        .filter_map(|g| g.docker_auth.as_deref())
        .filter_map(|u| u.strip_prefix("s3://"))
        .map(|path| format!("arn:aws:s3:::{path}"))
        .collect();
    if !auth_objects.is_empty() {
        statements.push(json!({
            "Sid": "ReadDockerAuth",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": auth_objects.into_iter().collect::<Vec<_>>()
        }));
    }
    let policy = iam_policy(b, "iam_policy.instance", &name, statements);
    let role = b.add(
        Address::new("iam_role.instance"),
        Kind::IamRole,
        vec![
            ("name", Expr::str(name.clone())),
            ("path", "/ecsops/".into()),
            ("assume_role_policy", trust("ec2.amazonaws.com")),
            (
                "policy_arns",
                Expr::List(vec![
                    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
                        .into(),
                    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore".into(),
                    Builder::r(&policy, "arn"),
                ]),
            ),
            ("tags", b.tags(None)),
        ],
        [],
    );
    let instance_profile = b.add(
        Address::new("instance_profile"),
        Kind::InstanceProfile,
        vec![
            ("name", Expr::str(name)),
            ("path", "/ecsops/".into()),
            ("role", Expr::str(format!("{}-instance", b.prefix))),
            ("tags", b.tags(None)),
        ],
        [role],
    );

    let secrets: BTreeSet<String> = m
        .services
        .values()
        .flat_map(|s| s.secrets.values())
        .chain(
            m.system_containers
                .values()
                .flat_map(|s| s.secrets.values()),
        )
        .map(|r| secret_resource(b.region, r))
        .collect();
    // Every task gets an execution role: it lets the agent write the awslogs streams and pull
    // from private ECR, and read the referenced secrets (and nothing else) when there are any.
    let exec_name = format!("{}-task-execution", b.prefix);
    let mut policy_arns = vec![Expr::str(
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    )];
    if !secrets.is_empty() {
        let (ssm, other): (Vec<String>, Vec<String>) =
            secrets.into_iter().partition(|s| s.contains(":ssm:"));
        let mut statements = Vec::new();
        if !ssm.is_empty() {
            statements.push(json!({
                "Sid": "ReadParameters", "Effect": "Allow",
                "Action": "ssm:GetParameters", "Resource": ssm
            }));
        }
        if !other.is_empty() {
            statements.push(json!({
                "Sid": "ReadSecrets", "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue", "Resource": other
            }));
        }
        let policy = iam_policy(b, "iam_policy.task_execution", &exec_name, statements);
        policy_arns.push(Builder::r(&policy, "arn"));
    }
    let task_execution = (!m.services.is_empty() || !m.system_containers.is_empty()).then(|| {
        b.add(
            Address::new("iam_role.task_execution"),
            Kind::IamRole,
            vec![
                ("name", Expr::str(exec_name)),
                ("path", "/ecsops/".into()),
                ("assume_role_policy", trust("ecs-tasks.amazonaws.com")),
                ("policy_arns", Expr::List(policy_arns)),
                ("tags", b.tags(None)),
            ],
            [],
        )
    });
    Iam {
        instance_profile,
        task_execution,
    }
}

/// A customer-managed policy under the `/ecsops/` path.
fn iam_policy(b: &mut Builder<'_>, address: &str, name: &str, statements: Vec<Value>) -> Address {
    let document = serde_json::Map::from_iter([
        ("Version".to_owned(), Value::from("2012-10-17")),
        ("Statement".to_owned(), Value::Array(statements)),
    ]);
    b.add(
        Address::new(address),
        Kind::IamPolicy,
        vec![
            ("name", Expr::str(name)),
            ("path", "/ecsops/".into()),
            ("document", Expr::Lit(Value::Object(document))),
            ("tags", b.tags(None)),
        ],
        [],
    )
}

fn log_group(b: &mut Builder<'_>, address: Address, name: String) -> Address {
    b.add(
        address,
        Kind::LogGroup,
        vec![
            ("name", Expr::str(name)),
            (
                "retention_in_days",
                b.manifest.logging.retention_days.into(),
            ),
            ("tags", b.tags(None)),
        ],
        [],
    )
}

fn host_log_groups(b: &mut Builder<'_>) -> Vec<Address> {
    if !b.manifest.logging.host_logs {
        return Vec::new();
    }
    HOST_LOGS
        .iter()
        .map(|(key, suffix, _)| {
            let name = format!("{}{suffix}", b.log_prefix);
            log_group(b, Address::keyed("log_group.host", key), name)
        })
        .collect()
}

struct Lb<'m> {
    name: &'m str,
    spec: &'m LoadBalancer,
    address: Address,
    security_group: Address,
    /// Listener port → listener address (application load balancers).
    listeners: BTreeMap<u16, Address>,
}

fn load_balancers<'m>(b: &mut Builder<'m>, net: &Network) -> Vec<Lb<'m>> {
    let m = b.manifest;
    let mut out = Vec::new();
    for (name, spec) in &m.load_balancers {
        let aws_name = format!("{}-{name}", b.env);
        let internal = spec.scheme == Scheme::Internal;
        let ingress: Vec<Value> = spec
            .listeners
            .iter()
            .map(|l| {
                json!({"protocol": "tcp", "from_port": l.port, "to_port": l.port,
                       "cidr_blocks": spec.allowed_cidrs})
            })
            .collect();
        let vpc_cidr = m.network.cidr.clone().unwrap_or_default();
        let sg = b.add(
            Address::keyed("security_group.load_balancer", name),
            Kind::SecurityGroup,
            vec![
                ("name", Expr::str(format!("{aws_name}-lb"))),
                (
                    "description",
                    Expr::str(format!("load balancer {aws_name}")),
                ),
                ("vpc_id", Builder::r(&net.vpc, "id")),
                ("ingress", Expr::Lit(Value::Array(ingress))),
                (
                    "egress",
                    Expr::Lit(json!([{"protocol": "-1", "from_port": 0, "to_port": 0,
                                      "cidr_blocks": [vpc_cidr]}])),
                ),
                ("tags", b.tags(Some(&format!("{aws_name}-lb")))),
            ],
            [],
        );
        let subnets = if internal { &net.private } else { &net.public };
        let subnet_refs = Expr::List(subnets.iter().map(|s| Builder::r(s, "id")).collect());
        let scheme = if internal {
            "internal"
        } else {
            "internet-facing"
        };
        // An internet-facing load balancer needs the internet gateway attached.
        let lb_deps: Vec<Address> = if internal {
            vec![]
        } else {
            vec![net.igw.clone()]
        };
        let mut listeners = BTreeMap::new();
        let address = match spec.kind {
            LoadBalancerKind::Application => {
                let lb = b.add(
                    Address::keyed("load_balancer", name),
                    Kind::LoadBalancer,
                    vec![
                        ("name", Expr::str(aws_name.clone())),
                        ("type", "application".into()),
                        ("scheme", scheme.into()),
                        ("vpc_id", Builder::r(&net.vpc, "id")),
                        ("subnets", subnet_refs),
                        ("security_groups", Expr::List(vec![Builder::r(&sg, "id")])),
                        ("idle_timeout", spec.idle_timeout.into()),
                        ("deletion_protection", spec.deletion_protection.into()),
                        ("drop_invalid_header_fields", true.into()),
                        ("tags", b.tags(Some(&aws_name))),
                    ],
                    lb_deps,
                );
                for l in &spec.listeners {
                    let default_action = match l.redirect_to {
                        Some(port) => json!({"type": "redirect", "protocol": "HTTPS",
                                             "port": port.to_string(), "status_code": "HTTP_301"}),
                        None => json!({"type": "fixed-response", "status_code": "404",
                                       "content_type": "text/plain",
                                       "message_body": "no service matches this request"}),
                    };
                    let https = l.protocol == ListenerProtocol::Https;
                    let mut attrs = vec![
                        ("load_balancer_arn", Builder::r(&lb, "arn")),
                        ("port", l.port.into()),
                        ("protocol", Expr::str(if https { "HTTPS" } else { "HTTP" })),
                        ("default_action", Expr::Lit(default_action)),
                    ];
                    if https {
                        let cert = l
                            .certificate
                            .as_ref()
                            .and_then(|c| m.certificates.get(c))
                            .map(|c| c.arn.clone())
                            .unwrap_or_default();
                        attrs.push(("certificate_arn", Expr::str(cert)));
                        attrs.push((
                            "ssl_policy",
                            Expr::str(
                                l.ssl_policy
                                    .clone()
                                    .unwrap_or_else(|| DEFAULT_TLS_POLICY.to_owned()),
                            ),
                        ));
                    }
                    let listener = b.add(
                        Address::keyed("listener", &format!("{name}:{}", l.port)),
                        Kind::Listener,
                        attrs,
                        [],
                    );
                    listeners.insert(l.port, listener);
                }
                lb
            }
            LoadBalancerKind::Classic => {
                let classic_listeners: Vec<Value> = spec
                    .listeners
                    .iter()
                    .map(|l| {
                        let instance_port = m
                            .services
                            .values()
                            .find(|s| {
                                s.route.as_ref().is_some_and(|r| {
                                    r.load_balancer == *name
                                        && r.listener.is_none_or(|p| p == l.port)
                                })
                            })
                            .and_then(|s| s.container_port)
                            .unwrap_or(l.port);
                        let https = l.protocol == ListenerProtocol::Https;
                        let cert = l
                            .certificate
                            .as_ref()
                            .and_then(|c| m.certificates.get(c))
                            .map(|c| Value::from(c.arn.as_str()));
                        json!({"lb_port": l.port,
                               "lb_protocol": if https { "HTTPS" } else { "HTTP" },
                               "instance_port": instance_port, "instance_protocol": "HTTP",
                               "ssl_certificate_id": cert})
                    })
                    .collect();
                b.add(
                    Address::keyed("classic_load_balancer", name),
                    Kind::ClassicLoadBalancer,
                    vec![
                        ("name", Expr::str(aws_name.clone())),
                        ("scheme", scheme.into()),
                        ("vpc_id", Builder::r(&net.vpc, "id")),
                        ("subnets", subnet_refs),
                        ("security_groups", Expr::List(vec![Builder::r(&sg, "id")])),
                        ("listeners", Expr::Lit(Value::Array(classic_listeners))),
                        ("idle_timeout", spec.idle_timeout.into()),
                        ("cross_zone", true.into()),
                        ("tags", b.tags(Some(&aws_name))),
                    ],
                    lb_deps,
                )
            }
        };
        out.push(Lb {
            name,
            spec,
            address,
            security_group: sg,
            listeners,
        });
    }
    out
}

fn instance_security_group(b: &mut Builder<'_>, net: &Network, lbs: &[Lb<'_>]) -> Address {
    let mut ingress = Vec::new();
    for lb in lbs {
        let (from, to) = match lb.spec.kind {
            LoadBalancerKind::Application => DYNAMIC_PORTS,
            // A classic load balancer reaches fixed host ports: the services' container ports.
            LoadBalancerKind::Classic => {
                let ports = b.manifest.services.values().filter_map(|s| {
                    s.route
                        .as_ref()
                        .filter(|r| r.load_balancer == lb.name)
                        .and(s.container_port)
                });
                let min = ports.clone().min().unwrap_or(80);
                (min, ports.max().unwrap_or(min))
            }
        };
        let mut rule = BTreeMap::new();
        rule.insert("protocol".to_owned(), Expr::str("tcp"));
        rule.insert("from_port".to_owned(), from.into());
        rule.insert("to_port".to_owned(), to.into());
        rule.insert(
            "source_security_group_id".to_owned(),
            Builder::r(&lb.security_group, "id"),
        );
        ingress.push(Expr::Map(rule));
    }
    let name = format!("{}-instances", b.prefix);
    b.add(
        Address::new("security_group.instances"),
        Kind::SecurityGroup,
        vec![
            ("name", Expr::str(name.clone())),
            (
                "description",
                Expr::str(format!("ECS container instances of {}", b.prefix)),
            ),
            ("vpc_id", Builder::r(&net.vpc, "id")),
            ("ingress", Expr::List(ingress)),
            (
                "egress",
                Expr::Lit(json!([{"protocol": "-1", "from_port": 0, "to_port": 0,
                                  "cidr_blocks": ["0.0.0.0/0"]}])),
            ),
            ("tags", b.tags(Some(&name))),
        ],
        [],
    )
}

struct Group {
    capacity_provider: Address,
    capacity_provider_name: String,
}

#[allow(clippy::too_many_arguments)]
fn instance_groups(
    b: &mut Builder<'_>,
    net: &Network,
    iam: &Iam,
    cluster: &Address,
    sg_instances: &Address,
    host_logs: &[Address],
    lbs: &[Lb<'_>],
) -> BTreeMap<String, Group> {
    let m = b.manifest;
    let mut groups = BTreeMap::new();
    let classic: Vec<String> = lbs
        .iter()
        .filter(|l| l.spec.kind == LoadBalancerKind::Classic)
        .map(|l| format!("{}-{}", b.env, l.name))
        .collect();
    let classic_deps: Vec<Address> = lbs
        .iter()
        .filter(|l| l.spec.kind == LoadBalancerKind::Classic)
        .map(|l| l.address.clone())
        .collect();
    for (name, g) in &m.instance_groups {
        let aws_name = format!("{}-{name}", b.prefix);
        let lt = launch_template(b, name, g, &aws_name, iam, sg_instances);
        let desired = g.desired_capacity.unwrap_or(g.min_size);
        let mut tags: BTreeMap<String, Value> = BTreeMap::new();
        if let Expr::Lit(Value::Object(t)) = b.tags(Some(&aws_name)) {
            tags.extend(t);
        }
        tags.insert("Cluster".to_owned(), Value::from(b.prefix.as_str()));
        tags.insert("InstanceGroup".to_owned(), Value::from(name.as_str()));
        if g.managed_scaling {
            tags.insert("AmazonECSManaged".to_owned(), Value::from(""));
        }
        // Instances need the private default route (not just the NAT) to reach ECS when they
        // boot, the cluster to join and the log groups to write to.
        let mut deps: Vec<Address> = net.private_routes.clone();
        deps.push(cluster.clone());
        deps.extend(host_logs.iter().cloned());
        deps.extend(classic_deps.iter().cloned());
        let mut attrs = vec![
            ("name", Expr::str(aws_name.clone())),
            ("min_size", g.min_size.into()),
            ("max_size", g.max_size.into()),
            ("launch_template_id", Builder::r(&lt, "id")),
            ("launch_template_version", Builder::r(&lt, "latest_version")),
            (
                "vpc_zone_identifier",
                Expr::List(net.private.iter().map(|s| Builder::r(s, "id")).collect()),
            ),
            ("health_check_type", "EC2".into()),
            ("health_check_grace_period", 300u32.into()),
            ("protect_from_scale_in", false.into()),
            ("load_balancers", Expr::Lit(json!(classic))),
            ("tags", Expr::Lit(Value::Object(tags.into_iter().collect()))),
        ];
        // With managed scaling ECS owns the desired capacity; ecsops only sets bounds.
        if !g.managed_scaling {
            attrs.push(("desired_capacity", desired.into()));
        }
        let asg = b.add(
            Address::keyed("autoscaling_group", name),
            Kind::AutoscalingGroup,
            attrs,
            deps,
        );
        let cp_name = aws_name.clone();
        let cp = b.add(
            Address::keyed("capacity_provider", name),
            Kind::CapacityProvider,
            vec![
                ("name", Expr::str(cp_name.clone())),
                ("auto_scaling_group_arn", Builder::r(&asg, "arn")),
                (
                    "managed_scaling",
                    Expr::Lit(json!({
                        "status": if g.managed_scaling { "ENABLED" } else { "DISABLED" },
                        "target_capacity": 100
                    })),
                ),
                ("managed_termination_protection", "DISABLED".into()),
                ("managed_draining", "ENABLED".into()),
                ("tags", b.tags(None)),
            ],
            [],
        );
        groups.insert(
            name.clone(),
            Group {
                capacity_provider: cp,
                capacity_provider_name: cp_name,
            },
        );
    }
    if !groups.is_empty() {
        let default = groups
            .get("default")
            .or_else(|| groups.values().next())
            .map(|g| g.capacity_provider_name.clone())
            .unwrap_or_default();
        b.add(
            Address::new("cluster_capacity_providers"),
            Kind::ClusterCapacityProviders,
            vec![
                ("cluster", Expr::str(b.prefix.clone())),
                (
                    "capacity_providers",
                    Expr::Lit(json!(
                        groups
                            .values()
                            .map(|g| g.capacity_provider_name.clone())
                            .collect::<Vec<_>>()
                    )),
                ),
                (
                    "default_strategy",
                    Expr::Lit(json!([{"capacity_provider": default, "weight": 1, "base": 0}])),
                ),
            ],
            groups
                .values()
                .map(|g| g.capacity_provider.clone())
                .chain([cluster.clone()]),
        );
    }
    groups
}

fn launch_template(
    b: &mut Builder<'_>,
    name: &str,
    g: &InstanceGroup,
    aws_name: &str,
    iam: &Iam,
    sg_instances: &Address,
) -> Address {
    let image = match g.ami.as_str() {
        "recommended" => format!("ssm:{AMI_PARAMETER_X86}"),
        "recommended-arm64" => format!("ssm:{AMI_PARAMETER_ARM}"),
        id => id.to_owned(),
    };
    let user_data = UserData {
        cluster: &b.prefix,
        instance_group: name,
        docker_auth: g.docker_auth.as_deref(),
        logging_drivers: g.logging_drivers.as_deref(),
        host_log_prefix: b
            .manifest
            .logging
            .host_logs
            .then_some(b.log_prefix.as_str()),
        custom: g.user_data.as_deref(),
    }
    .render();
    let mut attrs = vec![
        ("name", Expr::str(aws_name)),
        ("image", Expr::str(image)),
        ("instance_type", Expr::str(g.instance_type.clone())),
        (
            "iam_instance_profile_arn",
            Builder::r(&iam.instance_profile, "arn"),
        ),
        (
            "security_group_ids",
            Expr::List(vec![Builder::r(sg_instances, "id")]),
        ),
        ("user_data", Expr::str(user_data)),
        (
            "metadata_options",
            // IMDSv2 only; hop limit 2 so containers in bridge mode can reach it too.
            Expr::Lit(
                json!({"http_endpoint": "enabled", "http_tokens": "required",
                             "http_put_response_hop_limit": 2}),
            ),
        ),
        (
            "root_volume",
            Expr::Lit(
                json!({"device_name": "/dev/xvda", "size": g.root_volume.size,
                             "type": g.root_volume.volume_type,
                             "encrypted": g.root_volume.encrypted,
                             "delete_on_termination": true}),
            ),
        ),
        ("monitoring", true.into()),
        ("tags", b.tags(Some(aws_name))),
    ];
    if let Some(key) = &g.key_pair {
        attrs.push(("key_name", Expr::str(key.clone())));
    }
    b.add(
        Address::keyed("launch_template", name),
        Kind::LaunchTemplate,
        attrs,
        [],
    )
}

fn alerts(b: &mut Builder<'_>, cluster: &Address) {
    let a = &b.manifest.alerts;
    if !a.stopped_tasks {
        return;
    }
    let topic_name = format!("{}-alerts", b.prefix);
    let topic = b.add(
        Address::new("sns_topic.alerts"),
        Kind::SnsTopic,
        vec![("name", Expr::str(topic_name)), ("tags", b.tags(None))],
        [],
    );
    let stopped = format!("{}-task-stopped", b.prefix);
    let failed = format!("{}-deployment-failed", b.prefix);
    let stopped_rule = b.add(
        Address::new("event_rule.stopped_tasks"),
        Kind::EventRule,
        vec![
            ("name", Expr::str(stopped.clone())),
            (
                "description",
                Expr::str(format!(
                    "Tasks of {} that stopped because a container failed",
                    b.prefix
                )),
            ),
            (
                "event_pattern",
                Expr::Map(BTreeMap::from([
                    ("source".to_owned(), Expr::Lit(json!(["aws.ecs"]))),
                    (
                        "detail-type".to_owned(),
                        Expr::Lit(json!(["ECS Task State Change"])),
                    ),
                    (
                        "detail".to_owned(),
                        Expr::Map(BTreeMap::from([
                            (
                                "clusterArn".to_owned(),
                                Expr::List(vec![Builder::r(cluster, "arn")]),
                            ),
                            ("lastStatus".to_owned(), Expr::Lit(json!(["STOPPED"]))),
                            (
                                "stopCode".to_owned(),
                                Expr::Lit(json!(["EssentialContainerExited", "TaskFailedToStart"])),
                            ),
                        ])),
                    ),
                ])),
            ),
            ("state", "ENABLED".into()),
            ("tags", b.tags(None)),
        ],
        [],
    );
    let failed_rule = b.add(
        Address::new("event_rule.deployment_failed"),
        Kind::EventRule,
        vec![
            ("name", Expr::str(failed.clone())),
            (
                "description",
                Expr::str(format!("Deployments of {} that failed or rolled back", b.prefix)),
            ),
            (
                "event_pattern",
                Expr::Lit(json!({
                    "source": ["aws.ecs"],
                    "detail-type": ["ECS Deployment State Change"],
                    "resources": [{"wildcard": format!("arn:aws:ecs:{}:*:service/{}/*", b.region, b.prefix)}],
                    "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]}
                })),
            ),
            ("state", "ENABLED".into()),
            ("tags", b.tags(None)),
        ],
        [],
    );
    // Without this policy EventBridge cannot publish to the topic (the reference's bug).
    let policy = b.add(
        Address::new("sns_topic_policy.alerts"),
        Kind::SnsTopicPolicy,
        vec![
            ("topic_arn", Builder::r(&topic, "arn")),
            (
                "policy",
                Expr::Map(BTreeMap::from([
                    ("Version".to_owned(), Expr::str("2012-10-17")),
                    (
                        "Statement".to_owned(),
                        Expr::List(vec![Expr::Map(BTreeMap::from([
                            ("Sid".to_owned(), Expr::str("EventBridgePublish")),
                            ("Effect".to_owned(), Expr::str("Allow")),
                            (
                                "Principal".to_owned(),
                                Expr::Lit(json!({"Service": "events.amazonaws.com"})),
                            ),
                            ("Action".to_owned(), Expr::str("sns:Publish")),
                            ("Resource".to_owned(), Builder::r(&topic, "arn")),
                            (
                                "Condition".to_owned(),
                                Expr::Map(BTreeMap::from([(
                                    "ArnEquals".to_owned(),
                                    Expr::Map(BTreeMap::from([(
                                        "aws:SourceArn".to_owned(),
                                        Expr::List(vec![
                                            Builder::r(&stopped_rule, "arn"),
                                            Builder::r(&failed_rule, "arn"),
                                        ]),
                                    )])),
                                )])),
                            ),
                        ]))]),
                    ),
                ])),
            ),
        ],
        [],
    );
    // Keep the event's details in the alert (the reference replaced them with a constant).
    let transformer = json!({
        "input_paths": {"cluster": "$.detail.clusterArn", "group": "$.detail.group",
                        "task": "$.detail.taskArn", "reason": "$.detail.stoppedReason",
                        "code": "$.detail.stopCode"},
        "input_template": "\"Task <task> of <group> in <cluster> stopped (<code>): <reason>\""
    });
    for (key, rule, rule_name, input) in [
        ("stopped_tasks", &stopped_rule, stopped, Some(transformer)),
        ("deployment_failed", &failed_rule, failed, None),
    ] {
        let mut attrs = vec![
            ("rule", Expr::str(rule_name)),
            ("target_id", "alerts".into()),
            ("arn", Builder::r(&topic, "arn")),
        ];
        if let Some(t) = input {
            attrs.push(("input_transformer", Expr::Lit(t)));
        }
        b.add(
            Address::new(&format!("event_target.{key}")),
            Kind::EventTarget,
            attrs,
            [rule.clone(), policy.clone()],
        );
    }
    for email in &a.email {
        b.add(
            Address::keyed("sns_subscription.alerts", email),
            Kind::SnsSubscription,
            vec![
                ("topic_arn", Builder::r(&topic, "arn")),
                ("protocol", "email".into()),
                ("endpoint", Expr::str(email.clone())),
            ],
            [],
        );
    }
}

fn env_list(vars: &BTreeMap<String, String>) -> Value {
    Value::Array(
        vars.iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}

fn secret_list(secrets: &BTreeMap<String, String>) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|(k, v)| json!({"name": k, "valueFrom": secret_value_from(v)}))
            .collect(),
    )
}

fn log_configuration(group: &str, region: &str, stream_prefix: &str) -> Value {
    json!({"logDriver": "awslogs", "options": {"awslogs-group": group,
           "awslogs-region": region, "awslogs-stream-prefix": stream_prefix}})
}

/// The listener a service's route attaches to: the named one, else HTTPS, else the first that
/// does not redirect.
fn route_listener<'a>(lb: &'a Lb<'_>, port: Option<u16>) -> Option<&'a Address> {
    if let Some(p) = port {
        return lb.listeners.get(&p);
    }
    let listeners = &lb.spec.listeners;
    listeners
        .iter()
        .find(|l| l.protocol == ListenerProtocol::Https)
        .or_else(|| listeners.iter().find(|l| l.redirect_to.is_none()))
        .and_then(|l| lb.listeners.get(&l.port))
}

#[allow(clippy::too_many_arguments)]
fn service(
    b: &mut Builder<'_>,
    name: &str,
    svc: &Service,
    net: &Network,
    iam: &Iam,
    cluster: &Address,
    groups: &BTreeMap<String, Group>,
    lbs: &[Lb<'_>],
) {
    let log = log_group(
        b,
        Address::keyed("log_group.service", name),
        format!("{}/service/{name}", b.log_prefix),
    );
    let lb = svc
        .route
        .as_ref()
        .and_then(|r| lbs.iter().find(|l| l.name == r.load_balancer));
    let classic = lb.is_some_and(|l| l.spec.kind == LoadBalancerKind::Classic);
    let mut container = json!({
        "name": name,
        "image": svc.image,
        "cpu": svc.cpu,
        "memory": svc.memory,
        "essential": true,
        "environment": env_list(&svc.environment),
        "secrets": secret_list(&svc.secrets),
        "logConfiguration": log_configuration(&format!("{}/service/{name}", b.log_prefix), b.region, name),
    });
    if let Some(port) = svc.container_port {
        // Dynamic host ports let several copies share an instance behind an ALB; a classic
        // load balancer can only reach a fixed port.
        let host = if classic { port } else { 0 };
        container["portMappings"] =
            json!([{"containerPort": port, "hostPort": host, "protocol": "tcp"}]);
    }
    if let Some(cmd) = &svc.command {
        container["command"] = json!(cmd);
    }
    let td = task_definition(b, name, container, iam, None);

    let mut deps = vec![log];
    let mut attrs = vec![
        ("name", Expr::str(name)),
        ("cluster", Builder::r(cluster, "arn")),
        ("task_definition", Builder::r(&td, "arn")),
        ("desired_count", svc.desired_count.into()),
        ("scheduling_strategy", "REPLICA".into()),
        (
            "deployment_configuration",
            Expr::Lit(json!({
                "minimum_healthy_percent": svc.deployment.minimum_healthy_percent,
                "maximum_percent": svc.deployment.maximum_percent,
                "circuit_breaker": {"enable": svc.deployment.circuit_breaker,
                                    "rollback": svc.deployment.rollback}
            })),
        ),
        (
            "placement_strategy",
            Expr::Lit(
                json!([{"type": "spread", "field": "attribute:ecs.availability-zone"},
                             {"type": "binpack", "field": "memory"}]),
            ),
        ),
        ("enable_ecs_managed_tags", true.into()),
        ("propagate_tags", "SERVICE".into()),
        ("tags", b.tags(None)),
    ];
    let group_name = svc.instance_group.as_deref().unwrap_or("default");
    if let Some(g) = groups.get(group_name) {
        attrs.push((
            "capacity_provider_strategy",
            Expr::Lit(
                json!([{"capacity_provider": g.capacity_provider_name, "weight": 1, "base": 0}]),
            ),
        ));
        deps.push(g.capacity_provider.clone());
    }
    if !groups.is_empty() {
        deps.push(Address::new("cluster_capacity_providers"));
    }
    if let (Some(route), Some(lb), Some(port)) = (&svc.route, lb, svc.container_port) {
        let hc = &svc.health_check;
        if classic {
            attrs.push((
                "load_balancers",
                Expr::Lit(
                    json!([{"load_balancer_name": format!("{}-{}", b.env, lb.name),
                                  "container_name": name, "container_port": port}]),
                ),
            ));
        } else {
            let tg = b.add(
                Address::keyed("target_group", name),
                Kind::TargetGroup,
                vec![
                    ("name", Expr::str(format!("{}-{name}", b.env))),
                    ("port", port.into()),
                    ("protocol", "HTTP".into()),
                    ("vpc_id", Builder::r(&net.vpc, "id")),
                    ("target_type", "instance".into()),
                    ("deregistration_delay", route.deregistration_delay.into()),
                    (
                        "health_check",
                        Expr::Lit(json!({"path": hc.path, "matcher": hc.matcher,
                                         "interval": hc.interval, "timeout": hc.timeout,
                                         "healthy_threshold": hc.healthy_threshold,
                                         "unhealthy_threshold": hc.unhealthy_threshold,
                                         "protocol": "HTTP", "port": "traffic-port"})),
                    ),
                    ("tags", b.tags(Some(&format!("{}-{name}", b.env)))),
                ],
                [],
            );
            if let Some(listener) = route_listener(lb, route.listener) {
                let priority = route
                    .priority
                    .unwrap_or_else(|| b.manifest.auto_priority(name));
                let mut conditions = serde_json::Map::new();
                let paths = if route.paths.is_empty() && route.hosts.is_empty() {
                    vec!["/*".to_owned()]
                } else {
                    route.paths.clone()
                };
                if !paths.is_empty() {
                    conditions.insert("path_patterns".to_owned(), json!(paths));
                }
                if !route.hosts.is_empty() {
                    conditions.insert("host_headers".to_owned(), json!(route.hosts));
                }
                let rule = b.add(
                    Address::keyed("listener_rule", name),
                    Kind::ListenerRule,
                    vec![
                        ("listener_arn", Builder::r(listener, "arn")),
                        ("priority", priority.into()),
                        ("conditions", Expr::Lit(Value::Object(conditions))),
                        ("forward_to", Builder::r(&tg, "arn")),
                        ("tags", b.tags(None)),
                    ],
                    [],
                );
                // A target group must be attached to a load balancer before a service uses it.
                deps.push(rule);
            }
            attrs.push((
                "load_balancers",
                Expr::List(vec![Expr::Map(BTreeMap::from([
                    ("target_group_arn".to_owned(), Builder::r(&tg, "arn")),
                    ("container_name".to_owned(), Expr::str(name)),
                    ("container_port".to_owned(), port.into()),
                ]))]),
            ));
        }
        attrs.push(("health_check_grace_period", hc.grace_period.into()));
    }
    b.add(Address::keyed("service", name), Kind::Service, attrs, deps);
}

fn task_definition(
    b: &mut Builder<'_>,
    name: &str,
    container: Value,
    iam: &Iam,
    volumes: Option<Value>,
) -> Address {
    let mut attrs = vec![
        ("family", Expr::str(format!("{}-{name}", b.prefix))),
        ("network_mode", "bridge".into()),
        ("requires_compatibilities", Expr::Lit(json!(["EC2"]))),
        (
            "container_definitions",
            Expr::Lit(Value::Array(vec![container])),
        ),
        ("tags", b.tags(None)),
    ];
    if let Some(exec) = &iam.task_execution {
        attrs.push(("execution_role_arn", Builder::r(exec, "arn")));
    }
    if let Some(v) = volumes {
        attrs.push(("volumes", Expr::Lit(v)));
    }
    b.add(
        Address::keyed("task_definition", name),
        Kind::TaskDefinition,
        attrs,
        [],
    )
}

fn system_container(
    b: &mut Builder<'_>,
    name: &str,
    sc: &SystemContainer,
    iam: &Iam,
    cluster: &Address,
    groups: &BTreeMap<String, Group>,
) {
    let log = log_group(
        b,
        Address::keyed("log_group.system", name),
        format!("{}/system/{name}", b.log_prefix),
    );
    let volumes: Vec<Value> = sc
        .mounts
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"name": format!("mount-{i}"), "host": {"sourcePath": m.source}}))
        .collect();
    let mount_points: Vec<Value> = sc
        .mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({"sourceVolume": format!("mount-{i}"), "containerPath": m.target,
                             "readOnly": m.read_only})
        })
        .collect();
    let ports: Vec<Value> = sc
        .ports
        .iter()
        .map(|p| {
            json!({"containerPort": p.container, "hostPort": p.host.unwrap_or(p.container),
                        "protocol": "tcp"})
        })
        .collect();
    let mut container = json!({
        "name": name,
        "image": sc.image,
        "cpu": sc.cpu,
        "memory": sc.memory,
        "essential": true,
        "privileged": sc.privileged,
        "portMappings": ports,
        "mountPoints": mount_points,
        "environment": env_list(&sc.environment),
        "secrets": secret_list(&sc.secrets),
        "logConfiguration": log_configuration(&format!("{}/system/{name}", b.log_prefix), b.region, name),
    });
    if let Some(cmd) = &sc.command {
        container["command"] = json!(cmd);
    }
    let td = task_definition(b, name, container, iam, Some(Value::Array(volumes)));
    let mut attrs = vec![
        ("name", Expr::str(name)),
        ("cluster", Builder::r(cluster, "arn")),
        ("task_definition", Builder::r(&td, "arn")),
        ("scheduling_strategy", "DAEMON".into()),
        ("launch_type", "EC2".into()),
        (
            "deployment_configuration",
            Expr::Lit(json!({"minimum_healthy_percent": 0, "maximum_percent": 100})),
        ),
        ("enable_ecs_managed_tags", true.into()),
        ("propagate_tags", "SERVICE".into()),
        ("tags", b.tags(None)),
    ];
    if let Some(g) = &sc.instance_group {
        attrs.push((
            "placement_constraints",
            Expr::Lit(json!([{"type": "memberOf",
                              "expression": format!("attribute:ecsops.instance-group == {g}")}])),
        ));
    }
    let mut deps = vec![log];
    if !groups.is_empty() {
        deps.push(Address::new("cluster_capacity_providers"));
    }
    b.add(Address::keyed("service", name), Kind::Service, attrs, deps);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: serde_json::Value) -> Manifest {
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

    fn lit<'g>(g: &'g Graph, address: &str, attr: &str) -> &'g Value {
        match g
            .resources
            .get(&Address::from(address))
            .and_then(|r| r.attributes.get(attr))
        {
            Some(Expr::Lit(v)) => v,
            other => panic!("{address}.{attr} is not a literal: {other:?}"),
        }
    }

    #[test]
    fn builds_the_reference_layout() {
        let g = build(&manifest(json!({})), "acc").expect("graph");
        assert_eq!(lit(&g, "vpc", "cidr_block"), "10.0.0.0/16");
        assert_eq!(
            lit(&g, "subnet.public[eu-west-1a]", "cidr_block"),
            "10.0.0.0/24"
        );
        assert_eq!(
            lit(&g, "subnet.public[eu-west-1b]", "cidr_block"),
            "10.0.1.0/24"
        );
        assert_eq!(
            lit(&g, "subnet.private[eu-west-1a]", "cidr_block"),
            "10.0.50.0/24"
        );
        assert_eq!(
            lit(&g, "subnet.private[eu-west-1b]", "availability_zone"),
            "eu-west-1b"
        );
        assert_eq!(lit(&g, "ecs_cluster", "name"), "acc-default");
        assert_eq!(lit(&g, "autoscaling_group[default]", "desired_capacity"), 2);
        assert_eq!(
            lit(&g, "launch_template[default]", "metadata_options")["http_tokens"],
            "required"
        );
        let user_data = lit(&g, "launch_template[default]", "user_data");
        assert!(
            user_data
                .as_str()
                .is_some_and(|u| u.contains("ECS_CLUSTER=acc-default"))
        );
        assert_eq!(
            lit(&g, "log_group.host[docker]", "name"),
            "/ecsops/acc/default/var/log/docker"
        );
        assert_eq!(
            lit(&g, "service[cadvisor]", "scheduling_strategy"),
            "DAEMON"
        );
        assert_eq!(
            lit(&g, "load_balancer[default]", "scheme"),
            "internet-facing"
        );
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

    #[test]
    fn single_nat_serves_every_zone_and_per_az_has_one_each() {
        let single = build(&manifest(json!({})), "acc").expect("graph");
        let nats = |g: &Graph| {
            g.resources
                .values()
                .filter(|r| r.kind == Kind::NatGateway)
                .count()
        };
        assert_eq!(nats(&single), 1);
        let route_b = &single.resources[&Address::from("route.private_nat[eu-west-1b]")];
        assert!(
            route_b
                .depends_on
                .contains(&Address::from("nat_gateway[eu-west-1a]"))
        );
        let per_az = build(&manifest(json!({"network": {"nat": "per_az"}})), "acc").expect("graph");
        assert_eq!(nats(&per_az), 2);
        let route_b = &per_az.resources[&Address::from("route.private_nat[eu-west-1b]")];
        assert!(
            route_b
                .depends_on
                .contains(&Address::from("nat_gateway[eu-west-1b]"))
        );
    }

    #[test]
    fn instances_wait_for_private_routes_and_the_cluster() {
        let g = build(&manifest(json!({})), "acc").expect("graph");
        let asg = &g.resources[&Address::from("autoscaling_group[default]")];
        for dep in [
            "route.private_nat[eu-west-1a]",
            "route.private_nat[eu-west-1b]",
            "ecs_cluster",
        ] {
            assert!(asg.depends_on.contains(&Address::from(dep)), "{dep}");
        }
        let service = &g.resources[&Address::from("service[web]")];
        assert!(
            service
                .depends_on
                .contains(&Address::from("listener_rule[web]"))
        );
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
        assert_eq!(
            lit(&g, "subnet.private[eu-west-1b]", "cidr_block"),
            "10.0.22.0/23"
        );
        let lb = &g.resources[&Address::from("load_balancer[default]")];
        assert!(
            lb.depends_on
                .contains(&Address::from("subnet.private[eu-west-1a]"))
        );
        assert!(!lb.depends_on.contains(&Address::from("internet_gateway")));
    }

    #[test]
    fn incomplete_manifests_are_errors_not_panics() {
        let mut m = manifest(json!({}));
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
    }
}
