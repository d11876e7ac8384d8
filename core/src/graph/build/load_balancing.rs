//! Load balancers: application load balancers with their security groups, target groups,
//! listeners and rules, and the optional classic load balancer.

use super::Builder;
use super::DEFAULT_TLS_POLICY;
use super::network::Network;
use crate::graph::Address;
use crate::graph::Expr;
use crate::graph::Kind;
use crate::manifest::ListenerProtocol;
use crate::manifest::LoadBalancer;
use crate::manifest::LoadBalancerKind;
use crate::manifest::Scheme;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeMap;

pub(super) struct Lb<'m> {
    pub(super) name: &'m str,
    pub(super) spec: &'m LoadBalancer,
    pub(super) address: Address,
    pub(super) security_group: Address,
    /// Listener port → listener address (application load balancers).
    pub(super) listeners: BTreeMap<u16, Address>,
}

pub(super) fn load_balancers<'m>(b: &mut Builder<'m>, net: &Network) -> Vec<Lb<'m>> {
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
        let sg = b.add_untyped(
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
                let lb = b.add_untyped(
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
                    let listener = b.add_untyped(
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
                b.add_untyped(
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
