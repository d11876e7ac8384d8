//! Reference rules: every name one section uses resolves to an entry of another (service →
//! instance group, service → load balancer and listener, listener → certificate, redirect →
//! HTTPS listener), and the load balancer's listeners and routing rules are unambiguous.

use std::collections::BTreeMap;

use super::{Cx, ptr, suggest};
use crate::account::Arn;
use crate::manifest::{ListenerProtocol, LoadBalancerKind};

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, svc) in &m.services {
        group_ref(cx, "services", name, svc.instance_group.as_deref());
        let Some(route) = &svc.route else { continue };
        let route_ptr = ptr(&["services", name, "route"]);
        if svc.container_port.is_none() {
            cx.at_key(
                "route-without-port",
                &route_ptr,
                format!("service `{name}` has a `route` but no `container_port`"),
            )
            .label("the load balancer needs a port to send requests to")
            .help("add `container_port = 80` (the port the container listens on)")
            .emit();
        }
        let Some(lb) = m.load_balancers.get(&route.load_balancer) else {
            let p = if cx.loaded.sites.value(&format!("{route_ptr}/load_balancer")).is_some() {
                format!("{route_ptr}/load_balancer")
            } else {
                route_ptr.clone()
            };
            cx.at_value(
                "unknown-load-balancer",
                &p,
                format!(
                    "service `{name}` routes through load balancer `{}`, which is not defined",
                    route.load_balancer
                ),
            )
            .label("no such load balancer")
            .help(suggest(&route.load_balancer, "load balancer", m.load_balancers.keys()))
            .emit();
            continue;
        };
        if let Some(port) = route.listener
            && !lb.listeners.iter().any(|l| l.port == port)
        {
            let ports: Vec<String> = lb.listeners.iter().map(|l| l.port.to_string()).collect();
            cx.at_value(
                "unknown-listener",
                &format!("{route_ptr}/listener"),
                format!("load balancer `{}` has no listener on port {port}", route.load_balancer),
            )
            .label("no such listener")
            .help(format!("its listeners: {}", ports.join(", ")))
            .emit();
        }
        if lb.kind == LoadBalancerKind::Classic
            && (!route.paths.is_empty() || !route.hosts.is_empty())
        {
            cx.at_value(
                "classic-rules",
                &route_ptr,
                format!(
                    "classic load balancer `{}` cannot route by path or host",
                    route.load_balancer
                ),
            )
            .label("paths/hosts need an application load balancer")
            .help(
                "remove `paths` and `hosts`, or set `type = \"application\"` on the load balancer",
            )
            .emit();
        }
        if let Some(p) = route.priority
            && !(1..=50_000).contains(&p)
        {
            cx.at_value(
                "invalid-priority",
                &format!("{route_ptr}/priority"),
                format!("priority {p} is outside 1..=50000"),
            )
            .label("out of range")
            .emit();
        }
        if lb.kind != LoadBalancerKind::Application {
            continue;
        }
        if route.listener.is_none() && lb.route_port(None).is_none() {
            cx.at_value(
                "no-listener",
                &route_ptr,
                format!(
                    "load balancer `{}` has no listener that routes requests: every one redirects, or it has none",
                    route.load_balancer
                ),
            )
            .label("nowhere to attach the rule")
            .help("add a listener without `redirect_to` to the load balancer's `listeners`")
            .emit();
        }
        if route.priority.is_none()
            && let auto = m.auto_priority(name)
            && auto > 50_000
        {
            cx.at_value(
                "invalid-priority",
                &route_ptr,
                format!(
                    "the automatic priority of `{name}` would be {auto}, above 50000 (it follows the highest explicit priority)"
                ),
            )
            .label("no priority left")
            .help("give this route a `priority` between 1 and 50000, or lower the highest explicit one")
            .emit();
        }
    }
    for (name, sc) in &m.system_containers {
        group_ref(cx, "system_containers", name, sc.instance_group.as_deref());
    }
    listeners(cx);
    rules(cx);
}

fn group_ref(cx: &mut Cx<'_>, section: &str, name: &str, group: Option<&str>) {
    let m = cx.m;
    let wanted = group.unwrap_or("default");
    if m.instance_groups.contains_key(wanted) {
        return;
    }
    // A system container without a group runs on every group; only a named one must exist.
    if section == "system_containers" && group.is_none() {
        return;
    }
    let p = if group.is_some() {
        ptr(&[section, name, "instance_group"])
    } else {
        ptr(&[section, name])
    };
    let d = if group.is_some() {
        cx.at_value(
            "unknown-instance-group",
            &p,
            format!("instance group `{wanted}` is not defined"),
        )
    } else {
        cx.at_key(
            "unknown-instance-group",
            &p,
            format!("`{name}` runs on instance group `default`, which is not defined"),
        )
    };
    d.label("no such instance group")
        .help(suggest(wanted, "instance group", m.instance_groups.keys()))
        .emit();
}

/// Only an application load balancer's HTTPS listener takes a TLS policy, and only one of the
/// predefined `ELBSecurityPolicy-*` ones: anywhere else the plan drops it, and another name is
/// refused by Elastic Load Balancing halfway through an apply.
fn ssl_policy(
    cx: &mut Cx<'_>,
    pointer: &str,
    policy: &str,
    protocol: ListenerProtocol,
    kind: LoadBalancerKind,
) {
    if protocol != ListenerProtocol::Https || kind == LoadBalancerKind::Classic {
        cx.at_value(
            "invalid-ssl-policy",
            pointer,
            "only an HTTPS listener of an application load balancer uses `ssl_policy`".into(),
        )
        .label("ignored here")
        .help("remove `ssl_policy`, or make the listener `protocol = \"HTTPS\"`")
        .emit();
    } else if !policy.starts_with("ELBSecurityPolicy-") {
        cx.at_value(
            "invalid-ssl-policy",
            pointer,
            format!("`{policy}` is not an Elastic Load Balancing security policy"),
        )
        .label("not an `ELBSecurityPolicy-*` name")
        .help("name a predefined policy, such as `ELBSecurityPolicy-TLS13-1-2-2021-06` (the default when left out)")
        .emit();
    }
}

fn listeners(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (lb_name, lb) in &m.load_balancers {
        for (i, l) in lb.listeners.iter().enumerate() {
            let lp = ptr(&["load_balancers", lb_name, "listeners", &i.to_string()]);
            if l.port == 0 {
                cx.at_value(
                    "invalid-port",
                    &format!("{lp}/port"),
                    "port 0 is not a valid port".into(),
                )
                .label("use 1..=65535")
                .emit();
            }
            if lb.listeners[..i].iter().any(|o| o.port == l.port) {
                cx.at_value(
                    "duplicate-listener",
                    &format!("{lp}/port"),
                    format!("load balancer `{lb_name}` listens on port {} twice", l.port),
                )
                .label("duplicate port")
                .help("each listener needs its own port")
                .emit();
            }
            match (&l.protocol, &l.certificate) {
                (ListenerProtocol::Https, None) => cx
                    .at_value(
                        "missing-certificate",
                        &lp,
                        format!("HTTPS listener on port {} has no `certificate`", l.port),
                    )
                    .label("HTTPS needs a certificate")
                    .help("add `certificate = \"<name>\"` naming a `[certificates.<name>]` entry")
                    .emit(),
                (ListenerProtocol::Http, Some(_)) => cx
                    .at_value(
                        "certificate-on-http",
                        &format!("{lp}/certificate"),
                        format!("HTTP listener on port {} cannot use a certificate", l.port),
                    )
                    .label("only HTTPS listeners use certificates")
                    .help("set `protocol = \"HTTPS\"` or remove `certificate`")
                    .emit(),
                (_, Some(cert)) if !m.certificates.contains_key(cert) => cx
                    .at_value(
                        "unknown-certificate",
                        &format!("{lp}/certificate"),
                        format!("certificate `{cert}` is not defined"),
                    )
                    .label("no such certificate")
                    .help(suggest(cert, "certificate", m.certificates.keys()))
                    .emit(),
                _ => {}
            }
            if let Some(policy) = &l.ssl_policy {
                ssl_policy(cx, &format!("{lp}/ssl_policy"), policy, l.protocol, lb.kind);
            }
            if l.redirect_to.is_some() && lb.kind == LoadBalancerKind::Classic {
                // A classic load balancer cannot redirect: the plan would forward the port to
                // the instances instead, serving over plain HTTP what was meant to move to HTTPS.
                cx.at_value(
                    "invalid-redirect",
                    &format!("{lp}/redirect_to"),
                    format!("classic load balancer `{lb_name}` cannot redirect"),
                )
                .label("only application load balancers redirect")
                .help("remove `redirect_to` (and the listener, to serve HTTPS only), or make the load balancer `type = \"application\"`")
                .emit();
            } else if let Some(to) = l.redirect_to {
                let ok = lb
                    .listeners
                    .iter()
                    .any(|o| o.port == to && o.protocol == ListenerProtocol::Https);
                if !ok {
                    cx.at_value(
                        "invalid-redirect",
                        &format!("{lp}/redirect_to"),
                        format!(
                            "`redirect_to = {to}` does not name an HTTPS listener of `{lb_name}`"
                        ),
                    )
                    .label("no HTTPS listener on this port")
                    .help("add an HTTPS listener on that port, or remove `redirect_to`")
                    .emit();
                }
            }
        }
    }
    for (name, cert) in &m.certificates {
        let p = ptr(&["certificates", name, "arn"]);
        let arn = Arn::parse(&cert.arn)
            .filter(|a| a.service == "acm" && a.resource.starts_with("certificate/"));
        let Some(arn) = arn else {
            cx.at_value(
                "invalid-certificate",
                &p,
                format!("certificate `{name}` is not an ACM certificate ARN"),
            )
            .label("expected arn:aws:acm:<region>:<account>:certificate/<id>")
            .emit();
            continue;
        };
        let subject = format!("certificate `{name}`");
        let what = (subject.as_str(), arn.region, "the load balancer");
        if let Some(message) = cx.other_region(what) {
            cx.at_value("certificate-region", &p, message)
                .label("wrong region")
                .help("a load balancer can only use ACM certificates of its own region")
                .emit();
        }
    }
}

/// Whether every value pattern `narrow` matches is matched by pattern `wide` (ALB conditions:
/// `*` any characters, `?` one). Exact for equal patterns and for a leading or trailing `*`
/// (`/*` covers `/api/*`, `*.example.com` covers `api.example.com`); other shapes are not
/// claimed, so no false alarm.
fn covers(wide: &str, narrow: &str) -> bool {
    if wide == narrow || wide == "*" || (wide == "/*" && narrow.starts_with('/')) {
        return true;
    }
    let literal = |s: &str| !s.contains(['*', '?']);
    if let Some(prefix) = wide.strip_suffix('*').filter(|p| literal(p)) {
        return narrow.starts_with(prefix);
    }
    if let Some(suffix) = wide.strip_prefix('*').filter(|p| literal(p)) {
        return narrow.ends_with(suffix);
    }
    false
}

/// Whether a rule on `wide`'s conditions matches every request `narrow`'s matches (an empty
/// list matches everything).
fn shadows(wide: &[String], narrow: &[String]) -> bool {
    let universal = |list: &[String]| list.iter().any(|p| p == "*" || p == "/*");
    if wide.is_empty() || universal(wide) {
        return true;
    }
    !narrow.is_empty() && narrow.iter().all(|n| wide.iter().any(|w| covers(w, n)))
}

fn same(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// A rule that an earlier-priority rule on the same listener matches entirely never receives
/// a request (`/worker/*` at 1000 behind `/*` at 100): refused unless `allow_shadowed`.
fn shadowed(cx: &mut Cx<'_>) {
    let m = cx.m;
    let routes: Vec<(&String, &crate::manifest::Route, u32)> = m
        .services
        .iter()
        .filter_map(|(n, s)| {
            let r = s.route.as_ref()?;
            Some((n, r, r.priority.unwrap_or_else(|| m.auto_priority(n))))
        })
        .collect();
    for (name, r, priority) in &routes {
        if r.allow_shadowed {
            continue;
        }
        let earlier = routes.iter().find(|(other, o, p)| {
            other != name
                && p < priority
                && o.load_balancer == r.load_balancer
                && route_port(m, o) == route_port(m, r)
                && shadows(&o.paths, &r.paths)
                && shadows(&o.hosts, &r.hosts)
                // The very same condition is a duplicate, reported as one.
                && !(same(&o.paths, &r.paths) && same(&o.hosts, &r.hosts))
        });
        if let Some((other, _, p)) = earlier {
            cx.at_value(
                "shadowed-rule",
                &ptr(&["services", name, "route"]),
                format!(
                    "the route of `{name}` (priority {priority}) can never match: `{other}` (priority {p}) matches every request it matches"
                ),
            )
            .label("never reached")
            .help(format!(
                "give `{name}` a lower priority number than {p} (rules are matched lowest first), or narrow `{other}`'s paths or hosts; `allow_shadowed = true` keeps it as it is"
            ))
            .emit();
        }
    }
}

/// The port of the listener `route`'s rule goes on, as the graph attaches it: a route that
/// names none and one that names the default share a listener.
fn route_port(m: &crate::manifest::Manifest, route: &crate::manifest::Route) -> Option<u16> {
    m.load_balancers
        .get(&route.load_balancer)
        .and_then(|lb| lb.route_port(route.listener))
        .or(route.listener)
}

/// Load balancer, listener, sorted paths, sorted hosts: what a listener rule matches on.
type RuleCondition = (String, Option<u16>, Vec<String>, Vec<String>);

/// No two services may claim the same requests, and explicit priorities must be unique per
/// listener (AWS rejects both, but only halfway through an apply).
fn rules(cx: &mut Cx<'_>) {
    shadowed(cx);
    let m = cx.m;
    let mut seen: BTreeMap<RuleCondition, String> = BTreeMap::new();
    let mut priorities: BTreeMap<(String, Option<u16>, u32), String> = BTreeMap::new();
    for (name, svc) in &m.services {
        let Some(r) = &svc.route else { continue };
        let mut paths = r.paths.clone();
        paths.sort();
        let mut hosts = r.hosts.clone();
        hosts.sort();
        let port = route_port(m, r);
        let key = (r.load_balancer.clone(), port, paths, hosts);
        let route_ptr = ptr(&["services", name, "route"]);
        if let Some(other) = seen.get(&key) {
            // Reported where it was added: in the more specific file of the `extends` chain.
            let other_ptr = ptr(&["services", other, "route"]);
            let at = if cx.file_rank(&other_ptr) > cx.file_rank(&route_ptr) {
                other_ptr
            } else {
                route_ptr.clone()
            };
            cx.at_value(
                "duplicate-rule",
                &at,
                format!("services `{other}` and `{name}` route the same paths and hosts"),
            )
            .label("same condition as another service")
            .help("give one of them different `paths` or `hosts`")
            .emit();
        } else {
            seen.insert(key, name.clone());
        }
        if let Some(p) = r.priority {
            let pkey = (r.load_balancer.clone(), port, p);
            if let Some(other) = priorities.get(&pkey) {
                let other_ptr = ptr(&["services", other, "route", "priority"]);
                let own_ptr = format!("{route_ptr}/priority");
                let at = if cx.file_rank(&other_ptr) > cx.file_rank(&own_ptr) {
                    other_ptr
                } else {
                    own_ptr
                };
                cx.at_value(
                    "duplicate-priority",
                    &at,
                    format!("services `{other}` and `{name}` both use priority {p}"),
                )
                .label("duplicate priority")
                .help("rule priorities must be unique on a listener")
                .emit();
            } else {
                priorities.insert(pkey, name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{covers, shadows};

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn what_covers_what() {
        assert!(covers("/*", "/worker/*"));
        assert!(covers("/api/*", "/api/v1/*"));
        assert!(covers("*.example.com", "api.example.com"));
        assert!(!covers("/api/*", "/worker/*"));
        assert!(!covers("/a?c", "/abc"), "not claimed: no false alarm");
        assert!(shadows(&list(&[]), &list(&["/x"])));
        assert!(shadows(&list(&["/*"]), &list(&[])));
        assert!(!shadows(&list(&["/api/*"]), &list(&[])));
        assert!(shadows(&list(&["/api/*", "/x"]), &list(&["/x", "/api/y"])));
        assert!(!shadows(&list(&["/api/*"]), &list(&["/x", "/api/y"])));
    }
}
