//! Classic load balancers (the previous generation, an opt-in with `type = "classic"`).
//!
//! A classic load balancer is addressed by its name, which is also its state id; create looks
//! the name up first and adopts only what carries this address's and lineage's tags (the API
//! has no idempotency token). Listeners are compared as a set keyed by the load balancer port:
//! an update deletes the ports whose definition changed or went away, then creates the new
//! definitions (a port cannot be redefined in place). Subnets are attached before others are
//! detached, so the load balancer never has none.
//!
//! Refresh sends one `DescribeLoadBalancers` for the recorded names and one `DescribeTags` per
//! 20 names found; a name that is gone fails the filtered call as a whole, which then runs
//! again unfiltered and is narrowed to the recorded names. `idle_timeout` and `cross_zone` are
//! readable only with one `DescribeLoadBalancerAttributes` per load balancer: refresh keeps
//! their recorded values.

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancing::types::{
    ConnectionSettings, CrossZoneLoadBalancing, HealthCheck, Listener, LoadBalancerAttributes,
    LoadBalancerDescription, Tag, TagKeyOnly,
};

use super::ec2::{Tagged, settle, visible};
use super::elbv2::{PER_CALL, batched, same_set};
use super::live::{all, as_set, found_or_none, missing, recorded_by_id};
use super::ownership::{SdkTags, claimed, create_tags, sdk_tags, sync_tags, tag_diff, tag_map_of};
use super::{AwsResultExt, Cx, Done, Manage, New, Prior, Recorded, remove_request, set_changes};
use crate::graph::attrs::{self, ClassicHealthCheck, ClassicListener, Resolved, Tags};
use crate::graph::{Address, Kind};
use crate::provider::aws::once::send_once;
use crate::provider::{Applied, Live, Refresh, ResourceSpec};

const NOT_FOUND: &str = "LoadBalancerNotFound";

impl Manage for attrs::ClassicLoadBalancer {
    /// The load balancer under the spec's name, when its tags say it is this address's; its
    /// attributes are left out of the live shape, so the update that follows sets them.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let name = want.name.as_str();
        let described =
            found_or_none(describe(cx, a, Some(vec![name.to_owned()])).await, NOT_FOUND)?;
        let Some(d) = described.and_then(|mut found| found.pop()) else {
            return Ok(None);
        };
        let tags =
            describe_tags(cx, a, vec![name.to_owned()]).await?.remove(name).unwrap_or_default();
        claimed(cx, a, live(&d, tags, None))
    }

    /// Creates the load balancer with its listeners and tags, then sets its attributes.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let name = want.name.as_str();
        let listeners = listener_set(&want.listeners)
            .iter()
            .map(|l| to_sdk(spec, l))
            .collect::<Result<Vec<_>, _>>()?;
        let out = send_once!(
            a,
            cx.elb
                .create_load_balancer()
                .load_balancer_name(name)
                .set_listeners(Some(listeners))
                .set_subnets(Some(want.subnets.clone()))
                .set_security_groups(Some(want.security_groups.clone()))
                // Internet-facing is the default; AWS accepts only `internal` here.
                .set_scheme((want.scheme == "internal").then(|| "internal".to_owned()))
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let dns = out.dns_name().ok_or_else(|| missing(a, "CreateLoadBalancer", "DNSName"))?;
        set_attributes(cx, spec, &want, name).await?;
        set_health_check(cx, spec, &want, name).await?;
        Ok(Applied::new(
            spec,
            name,
            &attrs::ClassicLoadBalancerOutputs { dns_name: dns.to_owned() },
        ))
    }

    /// Brings the listeners, subnets, security groups, attributes and tags to the spec in
    /// place, calling AWS only for what differs.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::ClassicLoadBalancer = prior.decode()?;
        let outputs = prior.outputs::<attrs::ClassicLoadBalancer>()?;
        let name = prior.id;
        let elb = &cx.elb;

        let (added, removed) =
            set_changes(&listener_set(&was.listeners), &listener_set(&want.listeners));
        let removed: BTreeSet<i32> = removed.iter().map(|l| i32::from(l.lb_port)).collect();
        // One port per request: moto 5.2.5 keeps every listener when one request names several
        // ports, and a load balancer has only a handful of listeners.
        for port in removed {
            let gone = ["ListenerNotFound"];
            remove_request(cx, a, &[], &gone, || {
                elb.delete_load_balancer_listeners()
                    .load_balancer_name(name)
                    .load_balancer_ports(port)
                    .send()
            })
            .await?;
        }
        let added = added.iter().map(|l| to_sdk(spec, l)).collect::<Result<Vec<_>, _>>()?;
        if !added.is_empty() {
            send!(
                a,
                elb.create_load_balancer_listeners()
                    .load_balancer_name(name)
                    .set_listeners(Some(added))
            )?;
        }

        if !same_set(&was.subnets, &want.subnets) {
            let (attach, detach) = set_changes(&was.subnets, &want.subnets);
            if !attach.is_empty() {
                send!(
                    a,
                    elb.attach_load_balancer_to_subnets()
                        .load_balancer_name(name)
                        .set_subnets(Some(attach))
                )?;
            }
            if !detach.is_empty() {
                send!(
                    a,
                    elb.detach_load_balancer_from_subnets()
                        .load_balancer_name(name)
                        .set_subnets(Some(detach))
                )?;
            }
        }
        if !same_set(&was.security_groups, &want.security_groups) {
            send!(
                a,
                elb.apply_security_groups_to_load_balancer()
                    .load_balancer_name(name)
                    .set_security_groups(Some(want.security_groups.clone()))
            )?;
        }
        if want.idle_timeout != was.idle_timeout || want.cross_zone != was.cross_zone {
            set_attributes(cx, spec, &want, name).await?;
        }
        if want.health_check != was.health_check {
            set_health_check(cx, spec, &want, name).await?;
        }
        sync_tags(
            tag_diff(cx.own, a, &was.tags, &want.tags),
            async |keys| {
                send!(
                    a,
                    elb.remove_tags().load_balancer_names(name).set_tags(Some(
                        keys.iter().map(|k| TagKeyOnly::builder().key(k).build()).collect(),
                    ))
                )
                .map(drop)
            },
            async |tags| {
                send!(
                    a,
                    elb.add_tags().load_balancer_names(name).set_tags(Some(SdkTags::of(a, &tags)?))
                )
                .map(drop)
            },
        )
        .await?;
        Ok(Applied::new(spec, name, &outputs))
    }

    /// Deletes the load balancer; AWS answers success when it is already gone.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(cx, prior.address, &[], &[NOT_FOUND], || {
            cx.elb.delete_load_balancer().load_balancer_name(prior.id).send()
        })
        .await
    }
}

/// One `DescribeLoadBalancers` for the recorded names (20 per call) and one `DescribeTags` per
/// 20 found.
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let kinds = [Kind::ClassicLoadBalancer];
    let by_name: BTreeMap<&str, attrs::ClassicLoadBalancer> = recorded_by_id(resources)?;
    if by_name.is_empty() {
        settle(cx.own, resources, &kinds, Vec::new(), out);
        return Ok(());
    }
    let at = Address::new(Kind::ClassicLoadBalancer.as_str());
    let names: Vec<String> = by_name.keys().map(|n| (*n).to_owned()).collect();
    let mut described = batched(
        &names,
        &[NOT_FOUND],
        |chunk| describe(cx, &at, Some(chunk)),
        || describe(cx, &at, None),
    )
    .await?;
    described.retain(|d| d.load_balancer_name().is_some_and(|n| by_name.contains_key(n)));
    let found_names: Vec<String> =
        described.iter().filter_map(|d| d.load_balancer_name().map(str::to_owned)).collect();
    let mut tags = BTreeMap::new();
    for chunk in found_names.chunks(PER_CALL) {
        tags.extend(describe_tags(cx, &at, chunk.to_vec()).await?);
    }
    let found: Vec<Tagged> = described
        .iter()
        .filter_map(|d| {
            let name = d.load_balancer_name()?;
            live(d, tags.get(name).cloned().unwrap_or_default(), by_name.get(name))
        })
        .collect();
    settle(cx.own, resources, &kinds, found, out);
    Ok(())
}

async fn describe(
    cx: Cx<'_>,
    a: &Address,
    names: Option<Vec<String>>,
) -> Done<Vec<LoadBalancerDescription>> {
    all!(cx.elb.describe_load_balancers().set_load_balancer_names(names), a)
}

async fn describe_tags(
    cx: Cx<'_>,
    a: &Address,
    names: Vec<String>,
) -> Done<BTreeMap<String, Tags>> {
    let out = send!(a, cx.elb.describe_tags().set_load_balancer_names(Some(names)))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter_map(|d| {
            let tags = tag_map_of(d.tags(), |t| (Some(t.key()), t.value()));
            Some((d.load_balancer_name()?.to_owned(), tags))
        })
        .collect())
}

/// Sets the idle timeout and cross-zone balancing (one call, both values).
async fn set_attributes(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: &attrs::ClassicLoadBalancer,
    name: &str,
) -> Done<()> {
    let seconds = want.idle_timeout.ok_or_else(|| spec.invalid("idle_timeout", "is missing"))?;
    let seconds = i32::try_from(seconds)
        .map_err(|_| spec.invalid("idle_timeout", "is not a whole number that fits 32 bits"))?;
    let idle = ConnectionSettings::builder()
        .idle_timeout(seconds)
        .build()
        .map_err(|e| spec.invalid("idle_timeout", &e.to_string()))?;
    send!(
        &spec.address,
        cx.elb.modify_load_balancer_attributes().load_balancer_name(name).load_balancer_attributes(
            LoadBalancerAttributes::builder()
                .connection_settings(idle)
                .cross_zone_load_balancing(
                    CrossZoneLoadBalancing::builder()
                        .enabled(want.cross_zone.unwrap_or(true))
                        .build(),
                )
                .build(),
        )
    )
    .map(drop)
}

/// Sets the health check, when the spec has one.
async fn set_health_check(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: &attrs::ClassicLoadBalancer,
    name: &str,
) -> Done<()> {
    let Some(hc) = &want.health_check else {
        return Ok(());
    };
    let n = |v: u32| {
        i32::try_from(v)
            .map_err(|_| spec.invalid("health_check", "holds a number that does not fit 32 bits"))
    };
    let check = HealthCheck::builder()
        .target(&hc.target)
        .interval(n(hc.interval)?)
        .timeout(n(hc.timeout)?)
        .healthy_threshold(n(hc.healthy_threshold)?)
        .unhealthy_threshold(n(hc.unhealthy_threshold)?)
        .build()
        .map_err(|e| spec.invalid("health_check", &e.to_string()))?;
    send!(
        &spec.address,
        cx.elb.configure_health_check().load_balancer_name(name).health_check(check)
    )
    .map(drop)
}

impl SdkTags for Vec<Tag> {
    fn of(a: &Address, tags: &Tags) -> Done<Self> {
        sdk_tags(a, tags, |k, v| Tag::builder().key(k).value(v).build())
    }
}

/// Listeners as compared: a set, protocols upper-cased (AWS answers in any case).
fn listener_set(listeners: &[ClassicListener]) -> BTreeSet<ClassicListener> {
    listeners
        .iter()
        .map(|l| ClassicListener {
            lb_protocol: l.lb_protocol.to_ascii_uppercase(),
            instance_protocol: l.instance_protocol.to_ascii_uppercase(),
            ..l.clone()
        })
        .collect()
}

fn of_sdk(l: &Listener) -> ClassicListener {
    let port = |p: i32| u16::try_from(p).unwrap_or_default();
    ClassicListener {
        lb_port: port(l.load_balancer_port()),
        lb_protocol: l.protocol().to_ascii_uppercase(),
        instance_port: port(l.instance_port()),
        instance_protocol: l.instance_protocol().unwrap_or(l.protocol()).to_ascii_uppercase(),
        ssl_certificate_id: l.ssl_certificate_id().map(str::to_owned),
    }
}

fn to_sdk(spec: &ResourceSpec, l: &ClassicListener) -> Done<Listener> {
    Listener::builder()
        .protocol(&l.lb_protocol)
        .load_balancer_port(i32::from(l.lb_port))
        .instance_protocol(&l.instance_protocol)
        .instance_port(i32::from(l.instance_port))
        .set_ssl_certificate_id(l.ssl_certificate_id.clone())
        .build()
        .map_err(|e| spec.invalid("listeners", &e.to_string()))
}

/// The live load balancer in the desired shape: listeners in the recorded order when equal as
/// a set, the attributes only `DescribeLoadBalancerAttributes` returns as recorded.
fn live(
    d: &LoadBalancerDescription,
    tags: Tags,
    recorded: Option<&attrs::ClassicLoadBalancer>,
) -> Option<Tagged> {
    let name = d.load_balancer_name()?;
    let live: BTreeSet<ClassicListener> =
        d.listener_descriptions().iter().filter_map(|l| l.listener().map(of_sdk)).collect();
    let listeners = recorded
        .map(|r| &r.listeners)
        .filter(|r| listener_set(r) == live)
        .cloned()
        .unwrap_or_else(|| live.into_iter().collect());
    let attributes = attrs::ClassicLoadBalancer::<Resolved> {
        name: name.to_owned(),
        scheme: d.scheme().unwrap_or_default().to_owned(),
        vpc_id: d.vpc_id().unwrap_or_default().to_owned(),
        subnets: as_set(d.subnets().to_vec(), recorded.map(|r| r.subnets.as_slice())),
        security_groups: as_set(
            d.security_groups().to_vec(),
            recorded.map(|r| r.security_groups.as_slice()),
        ),
        listeners,
        idle_timeout: recorded.and_then(|r| r.idle_timeout),
        cross_zone: recorded.and_then(|r| r.cross_zone),
        // A state recorded before ecsops set the check has none: AWS's default is no drift.
        health_check: d
            .health_check()
            .filter(|_| recorded.is_none_or(|r| r.health_check.is_some()))
            .map(|h| {
                let n = |v: i32| u32::try_from(v).unwrap_or_default();
                ClassicHealthCheck {
                    target: h.target().to_owned(),
                    interval: n(h.interval()),
                    timeout: n(h.timeout()),
                    healthy_threshold: n(h.healthy_threshold()),
                    unhealthy_threshold: n(h.unhealthy_threshold()),
                }
            }),
        tags: visible(&tags),
    };
    let outputs =
        attrs::ClassicLoadBalancerOutputs { dns_name: d.dns_name().unwrap_or_default().to_owned() };
    Some(Tagged::of(name, tags, &attributes, &outputs))
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancing::types::ListenerDescription;
    use serde_json::json;

    use super::*;

    fn listener(lb_port: i32, protocol: &str, instance_port: i32) -> Listener {
        Listener::builder()
            .protocol(protocol)
            .load_balancer_port(lb_port)
            .instance_protocol("HTTP")
            .instance_port(instance_port)
            .build()
            .expect("listener")
    }

    fn recorded(listeners: &serde_json::Value) -> attrs::ClassicLoadBalancer {
        serde_json::from_value(json!({
            "name": "acceptance-default", "scheme": "internet-facing", "vpc_id": "vpc-1",
            "subnets": ["subnet-a"], "security_groups": [], "listeners": listeners, "tags": {},
        }))
        .expect("recorded attributes")
    }

    /// A state recorded before ecsops set the health check holds none: AWS's default check is
    /// not drift there, while a recorded check is compared with the live one.
    #[test]
    fn the_live_health_check_shows_where_one_is_recorded() {
        let d = LoadBalancerDescription::builder()
            .load_balancer_name("acceptance-default")
            .health_check(
                HealthCheck::builder()
                    .target("TCP:80")
                    .interval(30)
                    .timeout(5)
                    .healthy_threshold(10)
                    .unhealthy_threshold(2)
                    .build()
                    .expect("check"),
            )
            .build();
        let older = recorded(&json!([]));
        let live_of = |r: &attrs::ClassicLoadBalancer| {
            live(&d, Tags::new(), Some(r)).expect("live").live.attributes
        };
        assert!(!live_of(&older).contains_key("health_check"));
        let mut checked = older.clone();
        checked.health_check = Some(ClassicHealthCheck {
            target: "HTTP:80/".to_owned(),
            interval: 30,
            timeout: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
        });
        assert_eq!(live_of(&checked)["health_check"]["target"], "TCP:80");
        assert_eq!(
            live(&d, Tags::new(), None).expect("live").live.attributes["health_check"]["target"],
            "TCP:80",
            "adopted: the update that follows sets the check"
        );
    }

    #[test]
    fn live_listeners_keep_the_recorded_order_when_equal_as_sets() {
        let listeners = json!([
            {"lb_port": 443, "lb_protocol": "HTTPS", "instance_port": 80, "instance_protocol": "HTTP", "ssl_certificate_id": null},
            {"lb_port": 80, "lb_protocol": "HTTP", "instance_port": 80, "instance_protocol": "HTTP", "ssl_certificate_id": null}
        ]);
        let d = LoadBalancerDescription::builder()
            .load_balancer_name("acceptance-default")
            .dns_name("dns")
            .scheme("internet-facing")
            .subnets("subnet-a")
            .listener_descriptions(
                ListenerDescription::builder().listener(listener(80, "HTTP", 80)).build(),
            )
            .listener_descriptions(
                ListenerDescription::builder().listener(listener(443, "HTTPS", 80)).build(),
            )
            .build();
        let live = live(&d, Tags::new(), Some(&recorded(&listeners))).expect("live").live;
        assert_eq!(live.attributes["listeners"], listeners);
        assert_eq!(live.outputs["dns_name"], json!("dns"));
        // A port changed outside ecsops: the canonical shape shows it.
        let changed = json!([{"lb_port": 80, "lb_protocol": "HTTP", "instance_port": 8080,
                              "instance_protocol": "HTTP", "ssl_certificate_id": null}]);
        let live = super::live(&d, Tags::new(), Some(&recorded(&changed))).expect("live").live;
        assert_eq!(live.attributes["listeners"][0]["lb_port"], json!(80));
        assert_eq!(live.attributes["listeners"][1]["lb_port"], json!(443));
    }

    #[test]
    fn listeners_compare_upper_cased_and_round_trip_through_the_sdk() {
        let spec = ResourceSpec {
            address: Address::keyed("classic_load_balancer", "default"),
            kind: Kind::ClassicLoadBalancer,
            attributes: BTreeMap::new(),
        };
        let lower: Vec<ClassicListener> = serde_json::from_value(
            json!([{"lb_port": 80, "lb_protocol": "http", "instance_port": 80,
                    "instance_protocol": "HTTP", "ssl_certificate_id": null}]),
        )
        .expect("listeners");
        let set = listener_set(&lower);
        let l = set.iter().next().expect("one");
        assert_eq!(l.lb_protocol, "HTTP");
        assert_eq!(of_sdk(&to_sdk(&spec, l).expect("sdk")), l.clone());
        let incomplete = serde_json::from_value::<attrs::ClassicListener>(json!({"lb_port": 80}));
        assert!(incomplete.is_err());
    }
}
