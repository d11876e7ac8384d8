//! Instance groups: per group an auto scaling group of container instances, its capacity
//! provider, and the cluster's capacity provider list.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Builder;
use super::iam::Iam;
use super::launch_template::launch_template;
use super::load_balancing::Lb;
use super::network::Network;
use crate::graph::attrs::{self, Desired};
use crate::graph::{Address, Expr};
use crate::manifest::LoadBalancerKind;

pub(super) struct Group {
    pub(super) capacity_provider: Address,
    pub(super) capacity_provider_name: String,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn instance_groups(
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
        let group = attrs::AutoscalingGroup::<Desired> {
            name: Expr::str(aws_name.clone()),
            min_size: g.min_size.into(),
            max_size: g.max_size.into(),
            // With managed scaling ECS owns the desired capacity; ecsops only sets bounds.
            desired_capacity: (!g.managed_scaling).then(|| desired.into()),
            launch_template_id: Builder::r(&lt, "id"),
            launch_template_version: Builder::r(&lt, "latest_version"),
            vpc_zone_identifier: Expr::List(
                net.private.iter().map(|s| Builder::r(s, "id")).collect(),
            ),
            health_check_type: "EC2".into(),
            health_check_grace_period: 300u32.into(),
            protect_from_scale_in: false.into(),
            load_balancers: Expr::Lit(json!(classic)),
            tags: Expr::Lit(Value::Object(tags.into_iter().collect())),
        };
        let asg = b.add(Address::keyed("autoscaling_group", name), &group, deps);
        let cp_name = capacity_provider_name(&aws_name);
        let provider = attrs::CapacityProvider::<Desired> {
            name: Expr::str(cp_name.clone()),
            auto_scaling_group_arn: Builder::r(&asg, "arn"),
            managed_scaling: Expr::Lit(json!({
                "status": if g.managed_scaling { "ENABLED" } else { "DISABLED" },
                "target_capacity": 100
            })),
            managed_termination_protection: Some("DISABLED".into()),
            managed_draining: Some("ENABLED".into()),
            tags: b.tags(None),
        };
        let cp = b.add(Address::keyed("capacity_provider", name), &provider, []);
        groups
            .insert(name.clone(), Group { capacity_provider: cp, capacity_provider_name: cp_name });
    }
    if !groups.is_empty() {
        let default = groups
            .get("default")
            .or_else(|| groups.values().next())
            .map(|g| g.capacity_provider_name.clone())
            .unwrap_or_default();
        let list = attrs::ClusterCapacityProviders::<Desired> {
            cluster: Expr::str(b.prefix.clone()),
            capacity_providers: Expr::Lit(json!(
                groups.values().map(|g| g.capacity_provider_name.clone()).collect::<Vec<_>>()
            )),
            default_strategy: Expr::Lit(
                json!([{"capacity_provider": default, "weight": 1, "base": 0}]),
            ),
        };
        b.add(
            Address::new("cluster_capacity_providers"),
            &list,
            groups.values().map(|g| g.capacity_provider.clone()).chain([cluster.clone()]),
        );
    }
    groups
}

/// AWS refuses capacity provider names that begin with `aws`, `ecs` or `fargate` (an
/// environment named `ecs-demo`); those take a `cp-` in front, every other name stays the
/// group's.
fn capacity_provider_name(group: &str) -> String {
    let lower = group.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"].iter().any(|p| lower.starts_with(p)) {
        format!("cp-{group}")
    } else {
        group.to_owned()
    }
}
