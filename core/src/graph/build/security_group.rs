//! The container instances' security group: what the load balancers may reach.

use std::collections::BTreeMap;

use serde_json::json;

use super::load_balancing::Lb;
use super::network::Network;
use super::{Builder, DYNAMIC_PORTS};
use crate::graph::attrs::{self, Desired};
use crate::graph::{Address, Expr};
use crate::manifest::LoadBalancerKind;

pub(super) fn instance_security_group(
    b: &mut Builder<'_>,
    net: &Network,
    lbs: &[Lb<'_>],
) -> Address {
    let mut ingress = Vec::new();
    for lb in lbs {
        let (from, to) = match lb.spec.kind {
            LoadBalancerKind::Application => DYNAMIC_PORTS,
            // A classic load balancer reaches fixed host ports: the services' container ports.
            LoadBalancerKind::Classic => {
                let ports = b.manifest.services.values().filter_map(|s| {
                    s.route.as_ref().filter(|r| r.load_balancer == lb.name).and(s.container_port)
                });
                let min = ports.clone().min().unwrap_or(80);
                (min, ports.max().unwrap_or(min))
            }
        };
        let mut rule = BTreeMap::new();
        rule.insert("protocol".to_owned(), Expr::str("tcp"));
        rule.insert("from_port".to_owned(), from.into());
        rule.insert("to_port".to_owned(), to.into());
        rule.insert("source_security_group_id".to_owned(), Builder::r(&lb.security_group, "id"));
        ingress.push(Expr::Map(rule));
    }
    let name = format!("{}-instances", b.prefix);
    let group = attrs::SecurityGroup::<Desired> {
        name: Expr::str(name.clone()),
        description: Expr::str(format!("ECS container instances of {}", b.prefix)),
        vpc_id: Builder::r(&net.vpc, "id"),
        ingress: Expr::List(ingress),
        egress: Expr::Lit(json!([{"protocol": "-1", "from_port": 0, "to_port": 0,
                                   "cidr_blocks": ["0.0.0.0/0"]}])),
        tags: b.tags(Some(&name)),
    };
    b.add(Address::new("security_group.instances"), &group, [])
}
