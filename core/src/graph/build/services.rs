//! ECS: the cluster, services with their task definitions and log groups, and the daemon
//! system containers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Builder;
use super::iam::{Iam, secret_value_from, task_role};
use super::instance_groups::Group;
use super::load_balancing::{Lb, listener_rule, target_group};
use super::logs::log_group;
use super::network::Network;
use crate::graph::attrs::{self, Desired};
use crate::graph::{Address, Expr};
use crate::manifest::{Container, ContainerLogging, LoadBalancerKind, Service, SystemContainer};

pub(super) fn env_list(vars: &BTreeMap<String, String>) -> Value {
    Value::Array(vars.iter().map(|(k, v)| json!({"name": k, "value": v})).collect())
}

pub(super) fn secret_list(secrets: &BTreeMap<String, String>) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|(k, v)| json!({"name": k, "valueFrom": secret_value_from(v)}))
            .collect(),
    )
}

/// The container's log driver: the manifest's `logging`, else `awslogs` to `group`.
pub(super) fn log_configuration(
    logging: Option<&ContainerLogging>,
    group: &str,
    region: &str,
    stream_prefix: &str,
) -> Value {
    match logging {
        Some(l) if !l.secret_options.is_empty() => json!({"logDriver": l.driver.as_str(),
            "options": l.options, "secretOptions": secret_list(&l.secret_options)}),
        Some(l) => json!({"logDriver": l.driver.as_str(), "options": l.options}),
        None => json!({"logDriver": "awslogs", "options": {"awslogs-group": group,
                       "awslogs-region": region, "awslogs-stream-prefix": stream_prefix}}),
    }
}

/// The definition of container `c`, logging to `log_path` unless it names a driver of its own;
/// `extra` (an object) holds the keys only its table has, placed after `essential`.
fn container_definition(b: &Builder<'_>, c: Container<'_>, log_path: &str, extra: Value) -> Value {
    let name = c.name;
    let mut container = json!({
        "name": name,
        "image": c.image,
        "cpu": c.cpu,
        "memory": c.memory,
        "essential": true,
    });
    if let (Value::Object(fields), Value::Object(extra)) = (&mut container, extra) {
        fields.extend(extra);
    }
    container["environment"] = env_list(c.environment);
    container["secrets"] = secret_list(c.secrets);
    container["logConfiguration"] = log_configuration(c.logging, log_path, b.region, name);
    container
}

/// The container keys the manifest may leave out, set only when it does (so that a container
/// without them keeps its revision).
fn set_optional(container: &mut Value, c: Container<'_>) {
    if let Some(cmd) = c.command {
        container["command"] = json!(cmd);
    }
    if let Some(arn) = c.registry_credentials {
        container["repositoryCredentials"] = json!({"credentialsParameter": arn});
    }
    if c.execute_command {
        container["linuxParameters"] = json!({"initProcessEnabled": true});
    }
}

/// A service's `enableExecuteCommand`: set only when asked, absent otherwise.
fn execute_command(c: Container<'_>) -> Option<Expr> {
    c.execute_command.then(|| true.into())
}

/// The listener a service's route attaches to: the named one, else HTTPS, else the first that
/// does not redirect.
pub(super) fn route_listener<'a>(lb: &'a Lb<'_>, port: Option<u16>) -> Option<&'a Address> {
    lb.listeners.get(&lb.spec.route_port(port)?)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn service(
    b: &mut Builder<'_>,
    name: &str,
    svc: &Service,
    net: &Network,
    iam: &Iam,
    cluster: &Address,
    groups: &BTreeMap<String, Group>,
    lbs: &[Lb<'_>],
) {
    // Made with another `logging` driver too: switching drivers must not delete the logs the
    // group already holds.
    let log_path = format!("{}/service/{name}", b.log_prefix);
    let log = log_group(b, Address::keyed("log_group.service", name), log_path.clone());
    let lb = svc.route.as_ref().and_then(|r| lbs.iter().find(|l| l.name == r.load_balancer));
    let classic = lb.is_some_and(|l| l.spec.kind == LoadBalancerKind::Classic);
    let c = svc.container(name);
    let mut container = container_definition(b, c, &log_path, json!({}));
    if let Some(port) = svc.container_port {
        // Dynamic host ports let several copies share an instance behind an ALB; a classic
        // load balancer can only reach a fixed port.
        let host = if classic { port } else { 0 };
        container["portMappings"] =
            json!([{"containerPort": port, "hostPort": host, "protocol": "tcp"}]);
    }
    set_optional(&mut container, c);
    let td = task_definition(b, c, container, iam, None);

    let mut deps = vec![log];
    let mut service = attrs::Service::<Desired> {
        name: Expr::str(name),
        cluster: Builder::r(cluster, "arn"),
        task_definition: Builder::r(&td, "arn"),
        desired_count: Some(svc.desired_count.into()),
        scheduling_strategy: "REPLICA".into(),
        launch_type: None,
        capacity_provider_strategy: None,
        deployment_configuration: Some(Expr::Lit(json!({
            "minimum_healthy_percent": svc.deployment.minimum_healthy_percent,
            "maximum_percent": svc.deployment.maximum_percent,
            "circuit_breaker": {"enable": svc.deployment.circuit_breaker,
                                "rollback": svc.deployment.rollback}
        }))),
        placement_strategy: Some(Expr::Lit(
            json!([{"type": "spread", "field": "attribute:ecs.availability-zone"},
                   {"type": "binpack", "field": "memory"}]),
        )),
        placement_constraints: None,
        load_balancers: None,
        health_check_grace_period: None,
        enable_ecs_managed_tags: true.into(),
        propagate_tags: Some("SERVICE".into()),
        enable_execute_command: execute_command(c),
        tags: b.tags(None),
    };
    if let Some(g) = groups.get(svc.group()) {
        service.capacity_provider_strategy = Some(Expr::Lit(
            json!([{"capacity_provider": g.capacity_provider_name, "weight": 1, "base": 0}]),
        ));
        deps.push(g.capacity_provider.clone());
    }
    if !groups.is_empty() {
        deps.push(Address::new("cluster_capacity_providers"));
    }
    if let (Some(route), Some(lb), Some(port)) = (&svc.route, lb, svc.container_port) {
        let hc = &svc.health_check;
        if classic {
            service.load_balancers =
                Some(Expr::Lit(json!([{"load_balancer_name": format!("{}-{}", b.env, lb.name),
                        "container_name": name, "container_port": port}])));
        } else {
            let tg = target_group(b, name, port, net, route, hc);
            if let Some(listener) = route_listener(lb, route.listener) {
                let rule = listener_rule(b, name, listener, &tg, route);
                // A target group must be attached to a load balancer before a service uses it.
                deps.push(rule);
            }
            service.load_balancers = Some(Expr::List(vec![Expr::Map(BTreeMap::from([
                ("target_group_arn".to_owned(), Builder::r(&tg, "arn")),
                ("container_name".to_owned(), Expr::str(name)),
                ("container_port".to_owned(), port.into()),
            ]))]));
        }
        service.health_check_grace_period = Some(hc.grace_period.into());
    }
    b.add(Address::keyed("service", name), &service, deps);
}

pub(super) fn task_definition(
    b: &mut Builder<'_>,
    c: Container<'_>,
    container: Value,
    iam: &Iam,
    volumes: Option<Value>,
) -> Address {
    let name = c.name;
    let task_role_arn = task_role(b, c);
    let definition = attrs::TaskDefinition::<Desired> {
        family: Expr::str(format!("{}-{name}", b.prefix)),
        network_mode: "bridge".into(),
        requires_compatibilities: Expr::Lit(json!(["EC2"])),
        container_definitions: Expr::Lit(Value::Array(vec![container])),
        execution_role_arn: iam.task_execution.as_ref().map(|exec| Builder::r(exec, "arn")),
        task_role_arn,
        volumes: volumes.map(Expr::Lit),
        tags: b.tags(None),
    };
    b.add(Address::keyed("task_definition", name), &definition, [])
}

pub(super) fn system_container(
    b: &mut Builder<'_>,
    name: &str,
    sc: &SystemContainer,
    iam: &Iam,
    cluster: &Address,
    groups: &BTreeMap<String, Group>,
) {
    let log_path = format!("{}/system/{name}", b.log_prefix);
    let log = log_group(b, Address::keyed("log_group.system", name), log_path.clone());
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
    let c = sc.container(name);
    let own =
        json!({"privileged": sc.privileged, "portMappings": ports, "mountPoints": mount_points});
    let mut container = container_definition(b, c, &log_path, own);
    set_optional(&mut container, c);
    let td = task_definition(b, c, container, iam, Some(Value::Array(volumes)));
    let placement_constraints = sc.instance_group.as_ref().map(|g| {
        Expr::Lit(json!([{"type": "memberOf",
                          "expression": format!("attribute:ecsops.instance-group == {g}")}]))
    });
    let service = attrs::Service::<Desired> {
        name: Expr::str(name),
        cluster: Builder::r(cluster, "arn"),
        task_definition: Builder::r(&td, "arn"),
        desired_count: None,
        scheduling_strategy: "DAEMON".into(),
        launch_type: Some("EC2".into()),
        capacity_provider_strategy: None,
        deployment_configuration: Some(Expr::Lit(
            json!({"minimum_healthy_percent": 0, "maximum_percent": 100}),
        )),
        placement_strategy: None,
        placement_constraints,
        load_balancers: None,
        health_check_grace_period: None,
        enable_ecs_managed_tags: true.into(),
        propagate_tags: Some("SERVICE".into()),
        enable_execute_command: execute_command(c),
        tags: b.tags(None),
    };
    let mut deps = vec![log];
    if !groups.is_empty() {
        deps.push(Address::new("cluster_capacity_providers"));
    }
    b.add(Address::keyed("service", name), &service, deps);
}

/// The environment's ECS cluster.
pub(super) fn ecs_cluster(b: &mut Builder<'_>) -> Address {
    let cluster = attrs::EcsCluster::<Desired> {
        name: Expr::str(b.prefix.clone()),
        container_insights: Some(Expr::str(if b.manifest.cluster.container_insights {
            "enabled"
        } else {
            "disabled"
        })),
        tags: b.tags(None),
    };
    b.add(Address::new("ecs_cluster"), &cluster, [])
}
