//! Load balancers: application load balancers with their security groups, target groups,
//! listeners and rules, and the optional classic load balancer.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::Builder;
use super::DEFAULT_TLS_POLICY;
use super::network::Network;
use crate::graph::attrs::{
    self, ClassicHealthCheck, ClassicListener, Desired, HealthCheck, ListenerAction, RuleConditions,
};
use crate::graph::{Address, Expr};
use crate::manifest::{self, ListenerProtocol, LoadBalancer, LoadBalancerKind, Route, Scheme};

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
        let sg_name = format!("{aws_name}-lb");
        let sg = b.add(
            Address::keyed("security_group.load_balancer", name),
            &attrs::SecurityGroup::<Desired> {
                name: Expr::str(sg_name.clone()),
                description: Expr::str(format!("load balancer {aws_name}")),
                vpc_id: Builder::r(&net.vpc, "id"),
                ingress: Expr::Lit(Value::Array(ingress)),
                egress: Expr::Lit(json!([{"protocol": "-1", "from_port": 0, "to_port": 0,
                                          "cidr_blocks": [vpc_cidr]}])),
                tags: b.tags(Some(&sg_name)),
            },
            [],
        );
        let subnets = if internal { &net.private } else { &net.public };
        let subnet_refs = Expr::List(subnets.iter().map(|s| Builder::r(s, "id")).collect());
        let scheme = if internal { "internal" } else { "internet-facing" };
        // An internet-facing load balancer needs the internet gateway attached.
        let lb_deps: Vec<Address> = if internal { vec![] } else { vec![net.igw.clone()] };
        let mut listeners = BTreeMap::new();
        let address = match spec.kind {
            LoadBalancerKind::Application => {
                let lb = b.add(
                    Address::keyed("load_balancer", name),
                    &attrs::LoadBalancer::<Desired> {
                        name: aws_name.clone().into(),
                        r#type: "application".into(),
                        scheme: scheme.into(),
                        vpc_id: Builder::r(&net.vpc, "id"),
                        subnets: subnet_refs,
                        security_groups: Expr::List(vec![Builder::r(&sg, "id")]),
                        idle_timeout: Some(spec.idle_timeout.into()),
                        deletion_protection: Some(spec.deletion_protection.into()),
                        drop_invalid_header_fields: Some(true.into()),
                        tags: b.tags(Some(&aws_name)),
                    },
                    lb_deps,
                );
                for l in &spec.listeners {
                    let default_action = match l.redirect_to {
                        Some(port) => ListenerAction::Redirect {
                            protocol: Some("HTTPS".to_owned()),
                            port: Some(port.to_string()),
                            status_code: Some("HTTP_301".to_owned()),
                        },
                        None => ListenerAction::FixedResponse {
                            status_code: Some("404".to_owned()),
                            content_type: Some("text/plain".to_owned()),
                            message_body: Some("no service matches this request".to_owned()),
                        },
                    };
                    let https = l.protocol == ListenerProtocol::Https;
                    let certificate_arn = https.then(|| {
                        let cert = l
                            .certificate
                            .as_ref()
                            .and_then(|c| m.certificates.get(c))
                            .map(|c| c.arn.clone())
                            .unwrap_or_default();
                        Expr::str(cert)
                    });
                    let ssl_policy = https.then(|| {
                        Expr::str(
                            l.ssl_policy.clone().unwrap_or_else(|| DEFAULT_TLS_POLICY.to_owned()),
                        )
                    });
                    let listener = b.add(
                        Address::keyed("listener", &format!("{name}:{}", l.port)),
                        &attrs::Listener::<Desired> {
                            load_balancer_arn: Builder::r(&lb, "arn"),
                            port: l.port.into(),
                            protocol: Expr::str(if https { "HTTPS" } else { "HTTP" }),
                            default_action: lit(&default_action),
                            certificate_arn,
                            ssl_policy,
                        },
                        [],
                    );
                    listeners.insert(l.port, listener);
                }
                lb
            }
            LoadBalancerKind::Classic => {
                let classic_listeners: Vec<ClassicListener> = spec
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
                            .map(|c| c.arn.clone());
                        ClassicListener {
                            lb_port: l.port,
                            lb_protocol: (if https { "HTTPS" } else { "HTTP" }).to_owned(),
                            instance_port,
                            instance_protocol: "HTTP".to_owned(),
                            ssl_certificate_id: cert,
                        }
                    })
                    .collect();
                let health_check = classic_health_check(m, name, &classic_listeners);
                b.add(
                    Address::keyed("classic_load_balancer", name),
                    &attrs::ClassicLoadBalancer::<Desired> {
                        name: aws_name.clone().into(),
                        scheme: scheme.into(),
                        vpc_id: Builder::r(&net.vpc, "id"),
                        subnets: subnet_refs,
                        security_groups: Expr::List(vec![Builder::r(&sg, "id")]),
                        listeners: lit(&classic_listeners),
                        idle_timeout: Some(spec.idle_timeout.into()),
                        cross_zone: Some(true.into()),
                        health_check: health_check.as_ref().map(lit),
                        tags: b.tags(Some(&aws_name)),
                    },
                    lb_deps,
                )
            }
        };
        out.push(Lb { name, spec, address, security_group: sg, listeners });
    }
    out
}

/// The check of classic load balancer `name`: the health check of the first service routed
/// through it (the one check covers every listener), or a TCP check of the first listener's
/// instance port when no service is.
fn classic_health_check(
    m: &manifest::Manifest,
    name: &str,
    listeners: &[ClassicListener],
) -> Option<ClassicHealthCheck> {
    let routed = m.services.values().find_map(|s| {
        let port = s
            .container_port
            .filter(|_| s.route.as_ref().is_some_and(|r| r.load_balancer == name))?;
        Some((format!("HTTP:{port}{}", s.health_check.path), &s.health_check))
    });
    let unrouted = manifest::HealthCheck::default();
    let (target, hc) = match routed {
        Some(checked) => checked,
        None => (format!("TCP:{}", listeners.first()?.instance_port), &unrouted),
    };
    Some(ClassicHealthCheck {
        target,
        interval: hc.interval,
        timeout: hc.timeout,
        healthy_threshold: hc.healthy_threshold,
        unhealthy_threshold: hc.unhealthy_threshold,
    })
}

/// The target group of a service routed through an application load balancer.
pub(super) fn target_group(
    b: &mut Builder<'_>,
    service: &str,
    port: u16,
    net: &Network,
    route: &Route,
    hc: &manifest::HealthCheck,
) -> Address {
    let name = format!("{}-{service}", b.env);
    let health_check = HealthCheck {
        path: Some(hc.path.clone()),
        matcher: Some(hc.matcher.clone()),
        interval: Some(hc.interval),
        timeout: Some(hc.timeout),
        healthy_threshold: Some(hc.healthy_threshold),
        unhealthy_threshold: Some(hc.unhealthy_threshold),
        protocol: Some("HTTP".to_owned()),
        port: Some("traffic-port".to_owned()),
    };
    let tg = attrs::TargetGroup::<Desired> {
        name: Expr::str(name.clone()),
        port: port.into(),
        protocol: "HTTP".into(),
        vpc_id: Builder::r(&net.vpc, "id"),
        target_type: "instance".into(),
        deregistration_delay: Some(route.deregistration_delay.into()),
        health_check: lit(&health_check),
        tags: b.tags(Some(&name)),
    };
    b.add(Address::keyed("target_group", service), &tg, [])
}

/// The rule of `listener` forwarding a service's paths and hosts to its target group; a route
/// with neither takes every path.
pub(super) fn listener_rule(
    b: &mut Builder<'_>,
    service: &str,
    listener: &Address,
    target_group: &Address,
    route: &Route,
) -> Address {
    let priority = route.priority.unwrap_or_else(|| b.manifest.auto_priority(service));
    let paths = if route.paths.is_empty() && route.hosts.is_empty() {
        vec!["/*".to_owned()]
    } else {
        route.paths.clone()
    };
    let conditions = RuleConditions {
        path_patterns: (!paths.is_empty()).then_some(paths),
        host_headers: (!route.hosts.is_empty()).then(|| route.hosts.clone()),
        other: BTreeMap::new(),
    };
    let rule = attrs::ListenerRule::<Desired> {
        listener_arn: Builder::r(listener, "arn"),
        priority: priority.into(),
        conditions: lit(&conditions),
        forward_to: Builder::r(target_group, "arn"),
        tags: b.tags(None),
    };
    b.add(Address::keyed("listener_rule", service), &rule, [])
}

/// A literal of a typed value (a nested table or list of the attributes).
fn lit<T: Serialize>(value: &T) -> Expr {
    Expr::Lit(serde_json::to_value(value).expect("attribute values serialise to JSON"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::graph::attrs::{self, Attributes};
    use crate::graph::{Graph, Kind};
    use crate::manifest::Manifest;

    /// A graph with a classic load balancer (the examples have none): HTTP, and HTTPS with a
    /// certificate.
    fn classic() -> Graph {
        let manifest: Manifest = serde_json::from_value(json!({
            "environment": {"region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]},
            "network": {"cidr": "10.0.0.0/16", "nat": "single"},
            "instance_groups": {"default": {"min_size": 1, "max_size": 3, "desired_capacity": 2}},
            "certificates": {"main": {"arn": "arn:aws:acm:eu-west-1:1:certificate/c"}},
            "load_balancers": {"default": {"type": "classic", "listeners": [
                {"port": 80, "protocol": "HTTP"},
                {"port": 443, "protocol": "HTTPS", "certificate": "main"}]}},
            "services": {"web": {"image": "nginx", "container_port": 8080,
                                  "route": {"load_balancer": "default"}}},
        }))
        .expect("manifest");
        crate::graph::build(&manifest, "acc").expect("builds")
    }

    /// The one check of a classic load balancer is its service's, on the fixed host port; with
    /// no service routed through it, a TCP check of its first listener's instance port.
    #[test]
    fn a_classic_load_balancer_checks_its_service() {
        let g = classic();
        let lb = &g.resources[&crate::graph::Address::from("classic_load_balancer[default]")];
        let crate::graph::Expr::Lit(check) = &lb.attributes["health_check"] else {
            panic!("a literal: {:?}", lb.attributes["health_check"]);
        };
        assert_eq!(
            check,
            &json!({"target": "HTTP:8080/", "interval": 15, "timeout": 5,
                    "healthy_threshold": 3, "unhealthy_threshold": 3})
        );
        let mut m: Manifest = serde_json::from_value(json!({
            "environment": {"region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]},
            "network": {"cidr": "10.0.0.0/16"},
        }))
        .expect("manifest");
        m.services.clear();
        let listener = attrs::ClassicListener {
            lb_port: 80,
            lb_protocol: "HTTP".to_owned(),
            instance_port: 8081,
            instance_protocol: "HTTP".to_owned(),
            ssl_certificate_id: None,
        };
        let check = super::classic_health_check(&m, "default", &[listener]).expect("a check");
        assert_eq!(check.target, "TCP:8081");
    }

    /// The reference's ALB rule was named `https_from_anywhere` but opened port 80, behind an
    /// HTTP-only listener once named `https` (issues #17, #20): here the group opens exactly
    /// the listeners' ports, and HTTPS is a listener with its certificate.
    #[test]
    fn the_load_balancer_opens_exactly_its_listeners_ports() {
        let manifest: Manifest = serde_json::from_value(json!({
            "environment": {"region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]},
            "network": {"cidr": "10.0.0.0/16"},
            "certificates": {"main": {"arn": "arn:aws:acm:eu-west-1:1:certificate/c"}},
            "load_balancers": {"default": {"allowed_cidrs": ["192.0.2.0/24"], "listeners": [
                {"port": 80, "protocol": "HTTP", "redirect_to": 443},
                {"port": 443, "protocol": "HTTPS", "certificate": "main"}]}},
            "services": {"web": {"image": "nginx", "container_port": 80,
                                  "route": {"paths": ["/*"]}}},
        }))
        .expect("manifest");
        let g = crate::graph::build(&manifest, "acc").expect("builds");
        let attr = |address: &str, name: &str| match g
            .resources
            .get(&crate::graph::Address::from(address))
            .and_then(|r| r.attributes.get(name))
        {
            Some(crate::graph::Expr::Lit(v)) => v.clone(),
            other => panic!("{address}.{name}: {other:?}"),
        };
        assert_eq!(
            attr("security_group.load_balancer[default]", "ingress"),
            json!([
                {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["192.0.2.0/24"]},
                {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["192.0.2.0/24"]}
            ])
        );
        assert_eq!(attr("listener[default:80]", "protocol"), "HTTP");
        assert_eq!(attr("listener[default:80]", "default_action")["type"], "redirect");
        assert_eq!(attr("listener[default:443]", "protocol"), "HTTPS");
        assert_eq!(
            attr("listener[default:443]", "certificate_arn"),
            "arn:aws:acm:eu-west-1:1:certificate/c"
        );
    }

    /// The resolved attributes of every resource of `A`'s kind (references as placeholders)
    /// decode as `A` and write back the same map.
    fn round_trips<A: Attributes>(g: &Graph) -> usize {
        let mut checked = 0;
        for r in g.resources.values().filter(|r| r.kind == A::KIND) {
            let map: serde_json::Map<_, _> = r
                .attributes
                .iter()
                .map(|(k, e)| {
                    let v = e.resolve(&|_| Some(json!("ref"))).expect("resolves");
                    (k.clone(), v)
                })
                .collect();
            let typed: A = serde_json::from_value(map.clone().into()).expect("decodes");
            assert_eq!(serde_json::to_value(&typed).ok(), Some(map.into()));
            checked += 1;
        }
        checked
    }

    #[test]
    fn a_classic_load_balancer_decodes_and_writes_back_unchanged() {
        let g = classic();
        assert_eq!(round_trips::<attrs::ClassicLoadBalancer>(&g), 1);
        let lb = &g.resources[&crate::graph::Address::keyed("classic_load_balancer", "default")];
        assert_eq!(lb.kind, Kind::ClassicLoadBalancer);
        let Some(crate::graph::Expr::Lit(listeners)) = lb.attributes.get("listeners") else {
            panic!("listeners are a literal");
        };
        assert_eq!(
            listeners[1],
            json!({"lb_port": 443, "lb_protocol": "HTTPS", "instance_port": 8080,
                   "instance_protocol": "HTTP",
                   "ssl_certificate_id": "arn:aws:acm:eu-west-1:1:certificate/c"})
        );
    }
}
