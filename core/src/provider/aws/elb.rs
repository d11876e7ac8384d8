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

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancing::types::{
    ConnectionSettings, CrossZoneLoadBalancing, Listener, LoadBalancerAttributes,
    LoadBalancerDescription, Tag, TagKeyOnly,
};
use serde_json::{Value, json};

use super::ec2::{Tagged, create_tags, settle, visible_tags};
use super::elbv2::PER_CALL;
use super::live::{as_set, missing};
use super::once::send_once;
use super::ownership::{adopt, claim};
use super::{AwsResultExt, Cx, Prior, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{
    Applied, Live, ProviderError, Refresh, ResourceSpec, is_bookkeeping_tag, tags_of,
};
use crate::state::ResourceState;

const NOT_FOUND: &str = "LoadBalancerNotFound";

/// Creates the load balancer with its listeners and tags, then sets its attributes; or adopts
/// the one under its name when its tags say it is this address's.
pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    if let Some(live) = find(cx, a, name).await? {
        return adopt(spec, &live, |prior| update(cx, spec, prior)).await;
    }
    let listeners = parse_listeners(spec, spec.attributes.get("listeners"))?
        .iter()
        .map(|l| l.to_sdk(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = create_tags(cx.own, spec)?
        .iter()
        .map(|(k, v)| tag(spec, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let out = send_once!(
        aws_sdk_elasticloadbalancing,
        cx.aws
            .elb
            .create_load_balancer()
            .load_balancer_name(name)
            .set_listeners(Some(listeners))
            .set_subnets(Some(spec.strings("subnets")?))
            .set_security_groups(Some(spec.strings("security_groups")?))
            // Internet-facing is the default; AWS accepts only `internal` here.
            .set_scheme((spec.opt_str("scheme") == Some("internal")).then(|| "internal".to_owned()))
            .set_tags(Some(tags))
    )
    .await
    .at(a, "CreateLoadBalancer")?;
    let dns = out
        .dns_name()
        .ok_or_else(|| missing(a, "CreateLoadBalancer", "DNSName"))?;
    set_attributes(cx, spec, name).await?;
    Ok(applied(spec, name, dns_output(dns)))
}

/// Brings the load balancer to the spec in place, calling AWS only for what differs.
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = prior.id;
    let elb = &cx.aws.elb;
    let before = |k: &str| prior.attributes.get(k);
    let after = |k: &str| spec.attributes.get(k);

    let had = parse_listeners(spec, before("listeners")).unwrap_or_default();
    let want = parse_listeners(spec, after("listeners"))?;
    let removed: BTreeSet<i32> = had
        .difference(&want)
        .filter_map(|l| i32::try_from(l.lb_port).ok())
        .collect();
    // One port per request: moto 5.2.5 keeps every listener when one request names several
    // ports, and a load balancer has only a handful of listeners.
    for port in removed {
        let r = elb
            .delete_load_balancer_listeners()
            .load_balancer_name(name)
            .load_balancer_ports(port)
            .send()
            .await
            .at(a, "DeleteLoadBalancerListeners")
            .map(drop);
        tolerate(r, &["ListenerNotFound"])?;
    }
    let added = want
        .difference(&had)
        .map(|l| l.to_sdk(spec))
        .collect::<Result<Vec<_>, _>>()?;
    if !added.is_empty() {
        elb.create_load_balancer_listeners()
            .load_balancer_name(name)
            .set_listeners(Some(added))
            .send()
            .await
            .at(a, "CreateLoadBalancerListeners")?;
    }

    if !same_set(before("subnets"), after("subnets")) {
        let had: BTreeSet<String> = string_set(before("subnets"));
        let want: BTreeSet<String> = spec.strings("subnets")?.into_iter().collect();
        let attach: Vec<String> = want.difference(&had).cloned().collect();
        if !attach.is_empty() {
            elb.attach_load_balancer_to_subnets()
                .load_balancer_name(name)
                .set_subnets(Some(attach))
                .send()
                .await
                .at(a, "AttachLoadBalancerToSubnets")?;
        }
        let detach: Vec<String> = had.difference(&want).cloned().collect();
        if !detach.is_empty() {
            elb.detach_load_balancer_from_subnets()
                .load_balancer_name(name)
                .set_subnets(Some(detach))
                .send()
                .await
                .at(a, "DetachLoadBalancerFromSubnets")?;
        }
    }
    if !same_set(before("security_groups"), after("security_groups")) {
        elb.apply_security_groups_to_load_balancer()
            .load_balancer_name(name)
            .set_security_groups(Some(spec.strings("security_groups")?))
            .send()
            .await
            .at(a, "ApplySecurityGroupsToLoadBalancer")?;
    }
    if before("idle_timeout") != after("idle_timeout")
        || before("cross_zone") != after("cross_zone")
    {
        set_attributes(cx, spec, name).await?;
    }
    sync_tags(cx, spec, name, before("tags")).await?;
    Ok(applied(spec, name, prior.outputs.clone()))
}

/// Deletes the load balancer; AWS answers success when it is already gone.
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    _kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = cx
        .aws
        .elb
        .delete_load_balancer()
        .load_balancer_name(prior.id)
        .send()
        .await
        .at(address, "DeleteLoadBalancer")
        .map(drop);
    tolerate(r, &[NOT_FOUND])
}

/// One `DescribeLoadBalancers` for the recorded names (20 per call) and one `DescribeTags` per
/// 20 found.
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let kinds = [Kind::ClassicLoadBalancer];
    let by_name: BTreeMap<&str, &BTreeMap<String, Value>> = resources
        .values()
        .filter(|r| r.kind == Kind::ClassicLoadBalancer)
        .filter_map(|r| Some((r.id.as_deref()?, &r.attributes)))
        .collect();
    if by_name.is_empty() {
        settle(cx.own, resources, &kinds, Vec::new(), out);
        return Ok(());
    }
    let at = Address::new(Kind::ClassicLoadBalancer.as_str());
    let names: Vec<String> = by_name.keys().map(|n| (*n).to_owned()).collect();
    let mut described = Vec::new();
    for chunk in names.chunks(PER_CALL) {
        match describe(cx, &at, Some(chunk.to_vec())).await {
            Ok(found) => described.extend(found),
            Err(e) if e.aws_code() == Some(NOT_FOUND) => {
                described = describe(cx, &at, None).await?;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    described.retain(|d| {
        d.load_balancer_name()
            .is_some_and(|n| by_name.contains_key(n))
    });
    let found_names: Vec<String> = described
        .iter()
        .filter_map(|d| d.load_balancer_name().map(str::to_owned))
        .collect();
    let mut tags = BTreeMap::new();
    for chunk in found_names.chunks(PER_CALL) {
        tags.extend(describe_tags(cx, &at, chunk.to_vec()).await?);
    }
    let found: Vec<Tagged> = described
        .iter()
        .filter_map(|d| {
            let name = d.load_balancer_name()?;
            live_of(
                d,
                tags.get(name).cloned().unwrap_or_default(),
                by_name.get(name).copied(),
            )
        })
        .collect();
    settle(cx.own, resources, &kinds, found, out);
    Ok(())
}

/// The load balancer under `name` when its tags make it ours; its attributes are left out of
/// the live shape so the update that follows sets them.
async fn find(cx: Cx<'_>, a: &Address, name: &str) -> Result<Option<Live>, ProviderError> {
    let Some(d) = find_description(cx, a, name).await? else {
        return Ok(None);
    };
    let tags = describe_tags(cx, a, vec![name.to_owned()])
        .await?
        .remove(name)
        .unwrap_or_default();
    let Some(t) = live_of(&d, tags, None) else {
        return Ok(None);
    };
    claim(cx.own, a, &t.live.id, &t.tags)?;
    Ok(Some(t.live))
}

async fn find_description(
    cx: Cx<'_>,
    a: &Address,
    name: &str,
) -> Result<Option<LoadBalancerDescription>, ProviderError> {
    match describe(cx, a, Some(vec![name.to_owned()])).await {
        Ok(mut found) => Ok(found.pop()),
        Err(e) if e.aws_code() == Some(NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn describe(
    cx: Cx<'_>,
    a: &Address,
    names: Option<Vec<String>>,
) -> Result<Vec<LoadBalancerDescription>, ProviderError> {
    cx.aws
        .elb
        .describe_load_balancers()
        .set_load_balancer_names(names)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeLoadBalancers")
}

async fn describe_tags(
    cx: Cx<'_>,
    a: &Address,
    names: Vec<String>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
    let out = cx
        .aws
        .elb
        .describe_tags()
        .set_load_balancer_names(Some(names))
        .send()
        .await
        .at(a, "DescribeTags")?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter_map(|d| {
            let tags = d
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect();
            Some((d.load_balancer_name()?.to_owned(), tags))
        })
        .collect())
}

async fn set_attributes(cx: Cx<'_>, spec: &ResourceSpec, name: &str) -> Result<(), ProviderError> {
    let idle = ConnectionSettings::builder()
        .idle_timeout(spec.int("idle_timeout")?)
        .build()
        .map_err(|e| spec.invalid("idle_timeout", &e.to_string()))?;
    cx.aws
        .elb
        .modify_load_balancer_attributes()
        .load_balancer_name(name)
        .load_balancer_attributes(
            LoadBalancerAttributes::builder()
                .connection_settings(idle)
                .cross_zone_load_balancing(
                    CrossZoneLoadBalancing::builder()
                        .enabled(spec.bool_or("cross_zone", true)?)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .at(&spec.address, "ModifyLoadBalancerAttributes")
        .map(drop)
}

/// Brings the visible tags from `before` to the spec's, keeping (and healing) the ownership
/// tags. Calls AWS only when something differs.
async fn sync_tags(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    name: &str,
    before: Option<&Value>,
) -> Result<(), ProviderError> {
    let a = &spec.address;
    let before = tags_of(a, before)?;
    let after = spec.tags()?;
    if before == after {
        return Ok(());
    }
    let removed: Vec<TagKeyOnly> = before
        .keys()
        .filter(|k| !after.contains_key(*k) && !is_bookkeeping_tag(k))
        .map(|k| TagKeyOnly::builder().key(k).build())
        .collect();
    if !removed.is_empty() {
        cx.aws
            .elb
            .remove_tags()
            .load_balancer_names(name)
            .set_tags(Some(removed))
            .send()
            .await
            .at(a, "RemoveTags")?;
    }
    let tags = create_tags(cx.own, spec)?
        .iter()
        .map(|(k, v)| tag(spec, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    cx.aws
        .elb
        .add_tags()
        .load_balancer_names(name)
        .set_tags(Some(tags))
        .send()
        .await
        .at(a, "AddTags")
        .map(drop)
}

fn tag(spec: &ResourceSpec, key: &str, value: &str) -> Result<Tag, ProviderError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| spec.invalid("tags", &e.to_string()))
}

fn dns_output(dns: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([("dns_name".to_owned(), Value::from(dns))])
}

/// One listener, as the `listeners` attribute lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ClassicListener {
    lb_port: i64,
    lb_protocol: String,
    instance_port: i64,
    instance_protocol: String,
    ssl_certificate_id: Option<String>,
}

impl ClassicListener {
    fn of_sdk(l: &Listener) -> Self {
        Self {
            lb_port: i64::from(l.load_balancer_port()),
            lb_protocol: l.protocol().to_ascii_uppercase(),
            instance_port: i64::from(l.instance_port()),
            instance_protocol: l
                .instance_protocol()
                .unwrap_or(l.protocol())
                .to_ascii_uppercase(),
            ssl_certificate_id: l.ssl_certificate_id().map(str::to_owned),
        }
    }

    fn to_sdk(&self, spec: &ResourceSpec) -> Result<Listener, ProviderError> {
        let port = |p: i64| {
            i32::try_from(p).map_err(|_| spec.invalid("listeners", "has a port out of range"))
        };
        Listener::builder()
            .protocol(&self.lb_protocol)
            .load_balancer_port(port(self.lb_port)?)
            .instance_protocol(&self.instance_protocol)
            .instance_port(port(self.instance_port)?)
            .set_ssl_certificate_id(self.ssl_certificate_id.clone())
            .build()
            .map_err(|e| spec.invalid("listeners", &e.to_string()))
    }

    fn value(&self) -> Value {
        json!({"lb_port": self.lb_port, "lb_protocol": self.lb_protocol,
               "instance_port": self.instance_port, "instance_protocol": self.instance_protocol,
               "ssl_certificate_id": self.ssl_certificate_id})
    }
}

/// The listeners of a `listeners` value (desired or recorded).
fn parse_listeners(
    spec: &ResourceSpec,
    value: Option<&Value>,
) -> Result<BTreeSet<ClassicListener>, ProviderError> {
    listeners_of(value).map_err(|reason| spec.invalid("listeners", &reason))
}

fn listeners_of(value: Option<&Value>) -> Result<BTreeSet<ClassicListener>, String> {
    let Some(Value::Array(items)) = value else {
        return Err("is missing or not a list of listeners".to_owned());
    };
    items
        .iter()
        .map(|item| {
            let n = |k: &str| {
                item.get(k)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| format!("has a listener without a numeric `{k}`"))
            };
            let s = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_ascii_uppercase)
                    .ok_or_else(|| format!("has a listener without a `{k}`"))
            };
            Ok(ClassicListener {
                lb_port: n("lb_port")?,
                lb_protocol: s("lb_protocol")?,
                instance_port: n("instance_port")?,
                instance_protocol: s("instance_protocol")?,
                ssl_certificate_id: item
                    .get("ssl_certificate_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

fn string_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The live load balancer in the desired shape: listeners in the recorded order when equal as
/// a set, the attributes only `DescribeLoadBalancerAttributes` returns as recorded.
fn live_of(
    d: &LoadBalancerDescription,
    tags: BTreeMap<String, String>,
    recorded: Option<&BTreeMap<String, Value>>,
) -> Option<Tagged> {
    let name = d.load_balancer_name()?;
    let rec = |k: &str| recorded.and_then(|r| r.get(k));
    let live: BTreeSet<ClassicListener> = d
        .listener_descriptions()
        .iter()
        .filter_map(|l| l.listener().map(ClassicListener::of_sdk))
        .collect();
    let recorded_listeners = rec("listeners")
        .filter(|v| listeners_of(Some(v)).is_ok_and(|set| set == live))
        .cloned();
    let listeners = recorded_listeners
        .unwrap_or_else(|| Value::Array(live.iter().map(ClassicListener::value).collect()));
    let mut attributes = BTreeMap::from([
        ("name".to_owned(), Value::from(name)),
        ("scheme".to_owned(), opt(d.scheme())),
        ("vpc_id".to_owned(), opt(d.vpc_id())),
        (
            "subnets".to_owned(),
            as_set(d.subnets().to_vec(), rec("subnets")),
        ),
        (
            "security_groups".to_owned(),
            as_set(d.security_groups().to_vec(), rec("security_groups")),
        ),
        ("listeners".to_owned(), listeners),
        ("tags".to_owned(), visible_tags(&tags)),
    ]);
    for k in ["idle_timeout", "cross_zone"] {
        if let Some(v) = rec(k) {
            attributes.insert(k.to_owned(), v.clone());
        }
    }
    Some(Tagged {
        tags,
        live: Live {
            kind: Kind::ClassicLoadBalancer,
            id: name.to_owned(),
            attributes,
            outputs: d.dns_name().map(dns_output).unwrap_or_default(),
        },
    })
}

pub(super) fn applied(spec: &ResourceSpec, id: &str, outputs: BTreeMap<String, Value>) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs,
        adopted: false,
    }
}

pub(super) fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// Whether two list values hold the same items, in any order (AWS reorders subnets and
/// security groups).
pub(super) fn same_set(a: Option<&Value>, b: Option<&Value>) -> bool {
    let set = |v: Option<&Value>| -> Option<BTreeSet<String>> {
        v?.as_array()?
            .iter()
            .map(|s| serde_json::to_string(s).ok())
            .collect()
    };
    match (set(a), set(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancing::types::ListenerDescription;

    fn spec(listeners: Value) -> ResourceSpec {
        ResourceSpec {
            address: Address::keyed("classic_load_balancer", "default"),
            kind: Kind::ClassicLoadBalancer,
            attributes: BTreeMap::from([("listeners".to_owned(), listeners)]),
        }
    }

    fn listener(lb_port: i32, protocol: &str, instance_port: i32) -> Listener {
        Listener::builder()
            .protocol(protocol)
            .load_balancer_port(lb_port)
            .instance_protocol("HTTP")
            .instance_port(instance_port)
            .build()
            .expect("listener")
    }

    #[test]
    fn live_listeners_keep_the_recorded_order_when_equal_as_sets() {
        let recorded = json!([
            {"lb_port": 443, "lb_protocol": "HTTPS", "instance_port": 80, "instance_protocol": "HTTP", "ssl_certificate_id": null},
            {"lb_port": 80, "lb_protocol": "HTTP", "instance_port": 80, "instance_protocol": "HTTP", "ssl_certificate_id": null}
        ]);
        let d = LoadBalancerDescription::builder()
            .load_balancer_name("acceptance-default")
            .dns_name("dns")
            .scheme("internet-facing")
            .subnets("subnet-a")
            .listener_descriptions(
                ListenerDescription::builder()
                    .listener(listener(80, "HTTP", 80))
                    .build(),
            )
            .listener_descriptions(
                ListenerDescription::builder()
                    .listener(listener(443, "HTTPS", 80))
                    .build(),
            )
            .build();
        let attrs = BTreeMap::from([("listeners".to_owned(), recorded.clone())]);
        let live = live_of(&d, BTreeMap::new(), Some(&attrs))
            .expect("live")
            .live;
        assert_eq!(live.attributes["listeners"], recorded);
        assert_eq!(live.outputs["dns_name"], json!("dns"));
        // A port changed outside ecsops: the canonical shape shows it.
        let changed = json!([{"lb_port": 80, "lb_protocol": "HTTP", "instance_port": 8080,
                              "instance_protocol": "HTTP", "ssl_certificate_id": null}]);
        let attrs = BTreeMap::from([("listeners".to_owned(), changed)]);
        let live = live_of(&d, BTreeMap::new(), Some(&attrs))
            .expect("live")
            .live;
        assert_eq!(live.attributes["listeners"][0]["lb_port"], json!(80));
        assert_eq!(live.attributes["listeners"][1]["lb_port"], json!(443));
    }

    #[test]
    fn listeners_parse_and_reject_incomplete_ones() {
        let s = spec(
            json!([{"lb_port": 80, "lb_protocol": "http", "instance_port": 80,
                             "instance_protocol": "HTTP", "ssl_certificate_id": null}]),
        );
        let parsed = parse_listeners(&s, s.attributes.get("listeners")).expect("parses");
        let l = parsed.iter().next().expect("one");
        assert_eq!(l.lb_protocol, "HTTP");
        assert_eq!(
            ClassicListener::of_sdk(&l.to_sdk(&s).expect("sdk")),
            l.clone()
        );
        let bad = spec(json!([{"lb_port": 80}]));
        assert!(parse_listeners(&bad, bad.attributes.get("listeners")).is_err());
    }
}
