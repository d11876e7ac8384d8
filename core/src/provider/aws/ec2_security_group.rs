//! Security groups on EC2, with their ingress and egress rule sets.
//!
//! A rule set is compared as a set of atomic rules (protocol, port range, one source: an IPv4
//! or IPv6 CIDR, another security group, or a prefix list), because AWS regroups permissions as
//! it likes: updates authorize what is missing and revoke what is extra (authorize first, so a
//! change never opens a window with no rule). Live rule sets come back in the recorded shape
//! when they are equal as sets, so a regrouping by AWS is never drift; otherwise in a canonical
//! shape (one entry per port range for CIDRs, one per source group) that shows what changed.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup,
    UserIdGroupPair,
};
use serde_json::{Map, Value, json};

use super::ec2::{
    Tagged, address_filters, create_tags, environment_filter, pick_adoptable, settle,
    sync_spec_tags as sync_tags, tag_map, tag_specification,
};
use super::once::send_once;
use super::ownership::adopt;
use super::{AwsResultExt, Cx, Prior, eventually, retry_while, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

/// Where traffic of a rule comes from (ingress) or goes to (egress).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Cidr(String),
    Ipv6(String),
    Group(String),
    PrefixList(String),
}

/// One atomic permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from: i64,
    to: i64,
    source: Source,
}

/// AWS answers `tcp` for `6` and `-1` for every protocol; ports mean nothing for `-1`.
fn normalize_protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "all" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

fn ports(protocol: &str, from: Option<i64>, to: Option<i64>) -> (i64, i64) {
    if protocol == "-1" {
        (0, 0)
    } else {
        (from.unwrap_or(0), to.unwrap_or(0))
    }
}

/// The rules of a desired (or recorded) `ingress` / `egress` attribute.
fn parse_rules(
    address: &Address,
    attribute: &str,
    value: Option<&Value>,
) -> Result<BTreeSet<Rule>, ProviderError> {
    let invalid = |reason: String| ProviderError::InvalidAttribute {
        address: address.clone(),
        attribute: attribute.to_owned(),
        reason,
    };
    let items = match value {
        None | Some(Value::Null) => return Ok(BTreeSet::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("is not a list of rules".to_owned())),
    };
    let mut rules = BTreeSet::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(invalid("has a rule that is not a table".to_owned()));
        };
        if let Some(k) = m.keys().find(|k| {
            !matches!(
                k.as_str(),
                "protocol"
                    | "from_port"
                    | "to_port"
                    | "cidr_blocks"
                    | "ipv6_cidr_blocks"
                    | "source_security_group_id"
                    | "prefix_list_ids"
            )
        }) {
            return Err(invalid(format!("has a rule with the unknown key `{k}`")));
        }
        let protocol = match m.get("protocol") {
            Some(Value::String(s)) => normalize_protocol(s),
            Some(Value::Number(n)) => normalize_protocol(&n.to_string()),
            _ => return Err(invalid("has a rule without a `protocol`".to_owned())),
        };
        let (from, to) = ports(
            &protocol,
            m.get("from_port").and_then(Value::as_i64),
            m.get("to_port").and_then(Value::as_i64),
        );
        let list = |key: &str| -> Result<Vec<String>, ProviderError> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(v)) => v
                    .iter()
                    .map(|s| {
                        s.as_str().map(str::to_owned).ok_or_else(|| {
                            invalid(format!("has a `{key}` entry that is not a string"))
                        })
                    })
                    .collect(),
                Some(_) => Err(invalid(format!("has a `{key}` that is not a list"))),
            }
        };
        let mut sources: Vec<Source> = Vec::new();
        sources.extend(list("cidr_blocks")?.into_iter().map(Source::Cidr));
        sources.extend(list("ipv6_cidr_blocks")?.into_iter().map(Source::Ipv6));
        sources.extend(list("prefix_list_ids")?.into_iter().map(Source::PrefixList));
        match m.get("source_security_group_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(g)) => sources.push(Source::Group(g.clone())),
            Some(_) => {
                return Err(invalid(
                    "has a `source_security_group_id` that is not a string".to_owned(),
                ));
            }
        }
        if sources.is_empty() {
            return Err(invalid(
                "has a rule with no source (cidr_blocks or source_security_group_id)".to_owned(),
            ));
        }
        for source in sources {
            rules.insert(Rule {
                protocol: protocol.clone(),
                from,
                to,
                source,
            });
        }
    }
    Ok(rules)
}

/// The rules AWS reports.
fn rules_of(permissions: &[IpPermission]) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    for p in permissions {
        let protocol = normalize_protocol(p.ip_protocol().unwrap_or("-1"));
        let (from, to) = ports(
            &protocol,
            p.from_port().map(i64::from),
            p.to_port().map(i64::from),
        );
        let sources = p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(|c| Source::Cidr(c.to_owned())))
            .chain(
                p.ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6().map(|c| Source::Ipv6(c.to_owned()))),
            )
            .chain(
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id().map(|g| Source::Group(g.to_owned()))),
            )
            .chain(
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|l| l.prefix_list_id().map(|l| Source::PrefixList(l.to_owned()))),
            );
        for source in sources {
            rules.insert(Rule {
                protocol: protocol.clone(),
                from,
                to,
                source,
            });
        }
    }
    rules
}

/// One permission per rule: precise to authorize and to revoke.
fn permission(rule: &Rule) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(&rule.protocol);
    if rule.protocol != "-1" {
        p = p
            .from_port(i32::try_from(rule.from).unwrap_or(-1))
            .to_port(i32::try_from(rule.to).unwrap_or(-1));
    }
    match &rule.source {
        Source::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c).build()),
        Source::Ipv6(c) => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
        Source::Group(g) => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build()),
        Source::PrefixList(l) => {
            p.prefix_list_ids(PrefixListId::builder().prefix_list_id(l).build())
        }
    }
    .build()
}

/// The canonical shape: per port range one entry with its CIDRs (and IPv6 CIDRs, prefix
/// lists), and one entry per source group.
fn canonical(rules: &BTreeSet<Rule>) -> Value {
    let mut out: Vec<Value> = Vec::new();
    let mut ranges: BTreeMap<(String, i64, i64), Map<String, Value>> = BTreeMap::new();
    for r in rules {
        let head = json!({"protocol": r.protocol, "from_port": r.from, "to_port": r.to});
        let key = match &r.source {
            Source::Group(g) => {
                let mut entry = head;
                entry["source_security_group_id"] = Value::from(g.as_str());
                out.push(entry);
                continue;
            }
            Source::Cidr(_) => "cidr_blocks",
            Source::Ipv6(_) => "ipv6_cidr_blocks",
            Source::PrefixList(_) => "prefix_list_ids",
        };
        let (Source::Cidr(v) | Source::Ipv6(v) | Source::PrefixList(v)) = &r.source else {
            continue;
        };
        let entry = ranges
            .entry((r.protocol.clone(), r.from, r.to))
            .or_insert_with(|| head.as_object().cloned().unwrap_or_default());
        if let Value::Array(list) = entry.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            list.push(Value::from(v.as_str()));
        }
    }
    let mut all: Vec<Value> = ranges.into_values().map(Value::Object).collect();
    all.extend(out);
    Value::Array(all)
}

/// The live rule set as an attribute: `recorded` itself when it holds the same rules (so AWS's
/// regrouping is no drift), else the canonical shape.
fn live_rules(
    address: &Address,
    attribute: &str,
    live: &BTreeSet<Rule>,
    recorded: Option<&Value>,
) -> Value {
    match (recorded, parse_rules(address, attribute, recorded)) {
        (Some(v), Ok(rules)) if &rules == live => v.clone(),
        _ => canonical(live),
    }
}

fn group_live(g: &SecurityGroup, recorded: Option<&BTreeMap<String, Value>>) -> Option<Tagged> {
    let id = g.group_id()?;
    let address = Address::new("security_group");
    let rec = |name: &str| recorded.and_then(|r| r.get(name));
    let ingress = live_rules(
        &address,
        "ingress",
        &rules_of(g.ip_permissions()),
        rec("ingress"),
    );
    let egress = live_rules(
        &address,
        "egress",
        &rules_of(g.ip_permissions_egress()),
        rec("egress"),
    );
    let opt = |v: Option<&str>| v.map_or(Value::Null, Value::from);
    Some(Tagged::new(
        Kind::SecurityGroup,
        id,
        tag_map(g.tags()),
        BTreeMap::from([
            ("name".to_owned(), opt(g.group_name())),
            ("description".to_owned(), opt(g.description())),
            ("vpc_id".to_owned(), opt(g.vpc_id())),
            ("ingress".to_owned(), ingress),
            ("egress".to_owned(), egress),
        ]),
    ))
}

async fn describe(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<SecurityGroup>, ProviderError> {
    cx.aws
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeSecurityGroups")
}

/// The rule every new VPC security group starts with.
fn default_egress() -> BTreeSet<Rule> {
    BTreeSet::from([Rule {
        protocol: "-1".to_owned(),
        from: 0,
        to: 0,
        source: Source::Cidr("0.0.0.0/0".to_owned()),
    }])
}

pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let found = describe(cx, a, address_filters(cx.own, a)).await?;
    let candidates = found
        .iter()
        .filter_map(|g| group_live(g, None))
        .map(|t| (t.live.id.clone(), t.tags, t.live))
        .collect();
    if let Some((_id, live)) = pick_adoptable(cx.own, a, candidates)? {
        return adopt(spec, &live, |prior| update(cx, spec, prior)).await;
    }
    let out = eventually(cx, || async {
        send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .create_security_group()
                .group_name(spec.str("name")?)
                .description(spec.str("description")?)
                .vpc_id(spec.str("vpc_id")?)
                .tag_specifications(tag_specification(
                    ResourceType::SecurityGroup,
                    &create_tags(cx.own, spec)?,
                ))
        )
        .await
        .at(a, "CreateSecurityGroup")
    })
    .await?;
    let id = out.group_id().ok_or_else(|| ProviderError::MissingField {
        address: a.clone(),
        operation: "CreateSecurityGroup",
        field: "GroupId",
    })?;
    sync_rules(cx, spec, id, &BTreeSet::new(), &default_egress()).await?;
    Ok(applied(spec, id))
}

fn applied(spec: &ResourceSpec, id: &str) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs: BTreeMap::from([("id".to_owned(), Value::from(id))]),
        adopted: false,
    }
}

pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let ingress = parse_rules(a, "ingress", prior.attributes.get("ingress"))?;
    let egress = parse_rules(a, "egress", prior.attributes.get("egress"))?;
    sync_rules(cx, spec, prior.id, &ingress, &egress).await?;
    sync_tags(cx, spec, prior.id, prior.attributes.get("tags")).await?;
    Ok(applied(spec, prior.id))
}

/// Authorizes the desired rules that `ingress`/`egress` (the current ones) lack, then revokes
/// the extra ones.
async fn sync_rules(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    id: &str,
    ingress: &BTreeSet<Rule>,
    egress: &BTreeSet<Rule>,
) -> Result<(), ProviderError> {
    let a = &spec.address;
    for (direction, current) in [(Direction::Ingress, ingress), (Direction::Egress, egress)] {
        let desired = parse_rules(
            a,
            direction.attribute(),
            spec.attributes.get(direction.attribute()),
        )?;
        let add: Vec<&Rule> = desired.difference(current).collect();
        if !add.is_empty() {
            change(cx, a, id, direction, Change::Authorize, &add).await?;
        }
        let remove: Vec<&Rule> = current.difference(&desired).collect();
        if !remove.is_empty() {
            change(cx, a, id, direction, Change::Revoke, &remove).await?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Authorize,
    Revoke,
}

/// One call for all `rules`; when the recorded rules were stale (AWS says one already exists,
/// or is already gone) falls back to one call per rule and skips those.
async fn change(
    cx: Cx<'_>,
    a: &Address,
    id: &str,
    direction: Direction,
    change: Change,
    rules: &[&Rule],
) -> Result<(), ProviderError> {
    let benign = match change {
        Change::Authorize => "InvalidPermission.Duplicate",
        Change::Revoke => "InvalidPermission.NotFound",
    };
    let all: Vec<IpPermission> = rules.iter().map(|r| permission(r)).collect();
    let first = eventually(cx, || send(cx, a, id, direction, change, all.clone())).await;
    match first {
        Err(e) if e.aws_code() == Some(benign) && rules.len() > 1 => {
            for rule in rules {
                tolerate(
                    send(cx, a, id, direction, change, vec![permission(rule)]).await,
                    &[benign],
                )?;
            }
            Ok(())
        }
        r => tolerate(r, &[benign]),
    }
}

async fn send(
    cx: Cx<'_>,
    a: &Address,
    id: &str,
    direction: Direction,
    change: Change,
    permissions: Vec<IpPermission>,
) -> Result<(), ProviderError> {
    let p = Some(permissions);
    match (direction, change) {
        (Direction::Ingress, Change::Authorize) => send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(p)
        )
        .await
        .at(a, "AuthorizeSecurityGroupIngress")
        .map(drop),
        (Direction::Ingress, Change::Revoke) => cx
            .aws
            .ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(p)
            .send()
            .await
            .at(a, "RevokeSecurityGroupIngress")
            .map(drop),
        (Direction::Egress, Change::Authorize) => send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(p)
        )
        .await
        .at(a, "AuthorizeSecurityGroupEgress")
        .map(drop),
        (Direction::Egress, Change::Revoke) => cx
            .aws
            .ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(p)
            .send()
            .await
            .at(a, "RevokeSecurityGroupEgress")
            .map(drop),
    }
}

/// Deletes the group; a network interface that AWS has not released yet (a deleted load
/// balancer's) blocks it for a while, so `DependencyViolation` is retried.
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    _kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = retry_while(
        cx.waits,
        cx.waits.dependency,
        &["DependencyViolation"],
        || async {
            cx.aws
                .ec2
                .delete_security_group()
                .group_id(prior.id)
                .send()
                .await
                .at(address, "DeleteSecurityGroup")
                .map(drop)
        },
    )
    .await;
    tolerate(r, &["InvalidGroup.NotFound"])
}

/// One `DescribeSecurityGroups` for the environment; rule sets aligned to the recorded shape.
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    if !resources.values().any(|r| r.kind == Kind::SecurityGroup) {
        return Ok(());
    }
    let groups = describe(
        cx,
        &Address::new(Kind::SecurityGroup.as_str()),
        vec![environment_filter(cx.own)],
    )
    .await?;
    let recorded_by_id: BTreeMap<&str, &BTreeMap<String, Value>> = resources
        .values()
        .filter(|r| r.kind == Kind::SecurityGroup)
        .filter_map(|r| Some((r.id.as_deref()?, &r.attributes)))
        .collect();
    let found: Vec<Tagged> = groups
        .iter()
        .filter_map(|g| {
            group_live(
                g,
                g.group_id().and_then(|id| recorded_by_id.get(id).copied()),
            )
        })
        .collect();
    settle(cx.own, resources, &[Kind::SecurityGroup], found, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_of(
        g: &SecurityGroup,
        recorded: Option<&BTreeMap<String, Value>>,
    ) -> Option<crate::provider::Live> {
        group_live(g, recorded).map(|t| t.live)
    }

    fn a() -> Address {
        Address::new("security_group.instances")
    }

    #[test]
    fn rules_are_atomic_and_normalized() {
        let v = json!([
            {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0", "10.0.0.0/8"]},
            {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]},
            {"protocol": "6", "from_port": 32768, "to_port": 65535, "source_security_group_id": "sg-1"}
        ]);
        let rules = parse_rules(&a(), "ingress", Some(&v)).expect("test value");
        assert_eq!(rules.len(), 4);
        assert!(rules.contains(&Rule {
            protocol: "tcp".to_owned(),
            from: 32768,
            to: 65535,
            source: Source::Group("sg-1".to_owned())
        }));
        assert!(
            parse_rules(
                &a(),
                "ingress",
                Some(&json!([{"protocol": "tcp", "self": true}]))
            )
            .is_err()
        );
        assert!(parse_rules(&a(), "ingress", Some(&json!([{"protocol": "tcp"}]))).is_err());
    }

    #[test]
    fn live_rules_keep_the_recorded_shape_when_equal_as_sets() {
        let recorded = json!([
            {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["10.0.0.0/8"]},
            {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}
        ]);
        // AWS groups both ranges into one permission.
        let aws = [IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .build()];
        let live = rules_of(&aws);
        assert_eq!(
            live_rules(&a(), "ingress", &live, Some(&recorded)),
            recorded
        );
        // One range gone: the canonical shape shows what is left.
        let live = rules_of(&[IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()]);
        assert_eq!(
            live_rules(&a(), "ingress", &live, Some(&recorded)),
            json!([{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}])
        );
    }

    #[test]
    fn canonical_rules_round_trip() {
        let v = json!([
            {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]},
            {"protocol": "tcp", "from_port": 32768, "to_port": 65535, "source_security_group_id": "sg-1"},
            {"protocol": "tcp", "from_port": 32768, "to_port": 65535, "source_security_group_id": "sg-2"}
        ]);
        let rules = parse_rules(&a(), "ingress", Some(&v)).expect("test value");
        assert_eq!(canonical(&rules), v);
        let perms: Vec<IpPermission> = rules.iter().map(permission).collect();
        assert_eq!(rules_of(&perms), rules);
        // AWS omits the ports of "all traffic".
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        assert_eq!(rules_of(&[all]), default_egress());
    }

    #[test]
    fn a_described_group_reads_like_the_desired_one() {
        let g = SecurityGroup::builder()
            .group_id("sg-9")
            .group_name("acceptance-default-lb")
            .description("load balancer acceptance-default")
            .vpc_id("vpc-1")
            .ip_permissions(permission(&Rule {
                protocol: "tcp".to_owned(),
                from: 80,
                to: 80,
                source: Source::Cidr("0.0.0.0/0".to_owned()),
            }))
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("ecsops:address")
                    .value("x")
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("Name")
                    .value("n")
                    .build(),
            )
            .build();
        let live = live_of(&g, None).expect("test value");
        assert_eq!(live.id, "sg-9");
        assert_eq!(live.attributes["egress"], json!([]));
        assert_eq!(live.attributes["tags"], json!({"Name": "n"}));
        assert_eq!(
            live.attributes["ingress"],
            json!([{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}])
        );
    }
}
