//! Security groups on EC2, with their ingress and egress rule sets.
//!
//! A rule set is compared as a set of atomic rules (protocol, port range, one source: an IPv4
//! or IPv6 CIDR, another security group, or a prefix list), because AWS regroups permissions as
//! it likes: updates authorize what is missing and revoke what is extra (authorize first, so a
//! change never opens a window with no rule). Live rule sets come back in the recorded shape
//! when they are equal as sets, so a regrouping by AWS is never drift; otherwise in a canonical
//! shape (one entry per port range for CIDRs, one per source group) that shows what changed.

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, UserIdGroupPair,
};

use super::ec2::{
    Tagged, describe_by_filters, environment_filter, find_adoptable, id_outputs, remove_held,
    retag, settle, strays, tag_map, tag_spec, visible,
};
use super::live::{decodable_by_id, missing};
use super::{Cx, Done, Manage, New, Prior, Recorded, eventually, set_changes, tolerate};
use crate::graph::attrs::{self, Resolved, SecurityGroupRule};
use crate::graph::{Address, Kind};
use crate::provider::aws::once::send_once;
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};

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
    if protocol == "-1" { (0, 0) } else { (from.unwrap_or(0), to.unwrap_or(0)) }
}

/// The atomic rules of one permission as written (in the manifest or by AWS): its protocol and
/// port range, normalized, with each of its sources.
fn atomic(
    protocol: &str,
    from: Option<i64>,
    to: Option<i64>,
    sources: impl IntoIterator<Item = Source>,
) -> impl Iterator<Item = Rule> {
    let protocol = normalize_protocol(protocol);
    let (from, to) = ports(&protocol, from, to);
    sources.into_iter().map(move |source| Rule { protocol: protocol.clone(), from, to, source })
}

/// The atomic rules of a desired (or recorded) `ingress` / `egress` attribute.
fn parse_rules(
    address: &Address,
    attribute: &str,
    entries: &[SecurityGroupRule],
) -> Done<BTreeSet<Rule>> {
    let mut rules = BTreeSet::new();
    for entry in entries {
        let list = |l: &Option<Vec<String>>| l.iter().flatten().cloned().collect::<Vec<_>>();
        let mut sources: Vec<Source> = Vec::new();
        sources.extend(list(&entry.cidr_blocks).into_iter().map(Source::Cidr));
        sources.extend(list(&entry.ipv6_cidr_blocks).into_iter().map(Source::Ipv6));
        sources.extend(list(&entry.prefix_list_ids).into_iter().map(Source::PrefixList));
        sources.extend(entry.source_security_group_id.clone().map(Source::Group));
        if sources.is_empty() {
            return Err(ProviderError::InvalidAttribute {
                address: address.clone(),
                attribute: attribute.to_owned(),
                reason: "has a rule with no source (cidr_blocks or source_security_group_id)"
                    .to_owned(),
            });
        }
        rules.extend(atomic(&entry.protocol, Some(entry.from_port), Some(entry.to_port), sources));
    }
    Ok(rules)
}

/// The rules AWS reports.
fn rules_of(permissions: &[IpPermission]) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    for p in permissions {
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
        rules.extend(atomic(
            p.ip_protocol().unwrap_or("-1"),
            p.from_port().map(i64::from),
            p.to_port().map(i64::from),
            sources,
        ));
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
fn canonical(rules: &BTreeSet<Rule>) -> Vec<SecurityGroupRule> {
    let mut groups: Vec<SecurityGroupRule> = Vec::new();
    let mut ranges: BTreeMap<(String, i64, i64), SecurityGroupRule> = BTreeMap::new();
    for r in rules {
        let head = SecurityGroupRule {
            protocol: r.protocol.clone(),
            from_port: r.from,
            to_port: r.to,
            cidr_blocks: None,
            ipv6_cidr_blocks: None,
            source_security_group_id: None,
            prefix_list_ids: None,
        };
        if let Source::Group(g) = &r.source {
            groups.push(SecurityGroupRule { source_security_group_id: Some(g.clone()), ..head });
            continue;
        }
        let entry = ranges.entry((r.protocol.clone(), r.from, r.to)).or_insert(head);
        let (list, value) = match &r.source {
            Source::Cidr(v) => (&mut entry.cidr_blocks, v),
            Source::Ipv6(v) => (&mut entry.ipv6_cidr_blocks, v),
            Source::PrefixList(v) => (&mut entry.prefix_list_ids, v),
            Source::Group(_) => continue,
        };
        list.get_or_insert_with(Vec::new).push(value.clone());
    }
    let mut all: Vec<SecurityGroupRule> = ranges.into_values().collect();
    all.extend(groups);
    all
}

/// The live rule set as an attribute: `recorded` itself when it holds the same rules (so AWS's
/// regrouping is no drift), else the canonical shape.
fn live_rules(
    address: &Address,
    attribute: &str,
    live: &BTreeSet<Rule>,
    recorded: Option<&[SecurityGroupRule]>,
) -> Vec<SecurityGroupRule> {
    match recorded.map(|r| (r, parse_rules(address, attribute, r))) {
        Some((r, Ok(rules))) if &rules == live => r.to_vec(),
        _ => canonical(live),
    }
}

fn group_live(g: &SecurityGroup, recorded: Option<&attrs::SecurityGroup>) -> Option<Tagged> {
    let id = g.group_id()?;
    let address = Address::new("security_group");
    let ingress = live_rules(
        &address,
        "ingress",
        &rules_of(g.ip_permissions()),
        recorded.map(|r| r.ingress.as_slice()),
    );
    let egress = live_rules(
        &address,
        "egress",
        &rules_of(g.ip_permissions_egress()),
        recorded.map(|r| r.egress.as_slice()),
    );
    let tags = tag_map(g.tags());
    let group = attrs::SecurityGroup::<Resolved> {
        name: g.group_name().unwrap_or_default().to_owned(),
        description: g.description().unwrap_or_default().to_owned(),
        vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
        ingress,
        egress,
        tags: visible(&tags),
    };
    Some(Tagged::of(id, tags, &group, &id_outputs(id)))
}

describe_by_filters!(describe_security_groups -> SecurityGroup);

/// The rule every new VPC security group starts with.
fn default_egress() -> BTreeSet<Rule> {
    BTreeSet::from([Rule {
        protocol: "-1".to_owned(),
        from: 0,
        to: 0,
        source: Source::Cidr("0.0.0.0/0".to_owned()),
    }])
}

impl Manage for attrs::SecurityGroup {
    /// The group carrying the spec's ownership tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, _want: &Self) -> Done<Option<Live>> {
        find_adoptable(cx, &spec.address, describe_security_groups, |g| group_live(g, None)).await
    }

    /// Creates the group with its tags and rules (replacing the default egress rule).
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = eventually(cx, || async {
            send_once!(
                a,
                cx.ec2
                    .create_security_group()
                    .group_name(&want.name)
                    .description(&want.description)
                    .vpc_id(&want.vpc_id)
                    .tag_specifications(tag_spec(cx, a, ResourceType::SecurityGroup, &want.tags))
            )
        })
        .await?;
        let id = out.group_id().ok_or_else(|| missing(a, "CreateSecurityGroup", "GroupId"))?;
        sync_rules(cx, a, id, &want, &BTreeSet::new(), &default_egress()).await?;
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    /// Brings the rules (as sets) and the tags from `prior` to the spec.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::SecurityGroup = prior.decode()?;
        let ingress = parse_rules(a, Direction::Ingress.attribute(), &was.ingress)?;
        let egress = parse_rules(a, Direction::Egress.attribute(), &was.egress)?;
        sync_rules(cx, a, prior.id, &want, &ingress, &egress).await?;
        retag(cx, spec, prior, &was.tags, &want.tags).await
    }

    /// Deletes the group; a network interface that AWS has not released yet (a deleted load
    /// balancer's) blocks it for a while, so `DependencyViolation` is retried.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_held(cx, prior, "InvalidGroup.NotFound", || {
            cx.ec2.delete_security_group().group_id(prior.id).send()
        })
        .await
    }
}

/// Authorizes the desired rules that `ingress`/`egress` (the current ones) lack, then revokes
/// the extra ones.
async fn sync_rules(
    cx: Cx<'_>,
    a: &Address,
    id: &str,
    want: &attrs::SecurityGroup,
    ingress: &BTreeSet<Rule>,
    egress: &BTreeSet<Rule>,
) -> Done<()> {
    for (direction, current, wanted) in
        [(Direction::Ingress, ingress, &want.ingress), (Direction::Egress, egress, &want.egress)]
    {
        let desired = parse_rules(a, direction.attribute(), wanted)?;
        let (add, remove) = set_changes(current, &desired);
        if !add.is_empty() {
            change(cx, a, id, direction, Change::Authorize, &add).await?;
        }
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
    /// The attribute holding the rules, as errors name it.
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
    rules: &[Rule],
) -> Done<()> {
    let benign = match change {
        Change::Authorize => "InvalidPermission.Duplicate",
        Change::Revoke => "InvalidPermission.NotFound",
    };
    let all: Vec<IpPermission> = rules.iter().map(permission).collect();
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
) -> Done<()> {
    let p = Some(permissions);
    match (direction, change) {
        (Direction::Ingress, Change::Authorize) => send_once!(
            a,
            cx.ec2.authorize_security_group_ingress().group_id(id).set_ip_permissions(p)
        )
        .map(drop),
        (Direction::Ingress, Change::Revoke) => {
            send!(a, cx.ec2.revoke_security_group_ingress().group_id(id).set_ip_permissions(p))
                .map(drop)
        }
        (Direction::Egress, Change::Authorize) => send_once!(
            a,
            cx.ec2.authorize_security_group_egress().group_id(id).set_ip_permissions(p)
        )
        .map(drop),
        (Direction::Egress, Change::Revoke) => {
            send!(a, cx.ec2.revoke_security_group_egress().group_id(id).set_ip_permissions(p))
                .map(drop)
        }
    }
}

/// One `DescribeSecurityGroups` for the environment; rule sets aligned to the recorded shape.
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    if !resources.values().any(|r| r.kind == Kind::SecurityGroup) {
        return Ok(());
    }
    let groups = describe_security_groups(
        cx,
        &Address::new(Kind::SecurityGroup.as_str()),
        vec![environment_filter(cx.own)],
    )
    .await?;
    // Recorded rule sets that do not decode (state written by hand) align nothing.
    let recorded_by_id: BTreeMap<&str, attrs::SecurityGroup> = decodable_by_id(resources);
    let found: Vec<Tagged> = groups
        .iter()
        .filter_map(|g| group_live(g, g.group_id().and_then(|id| recorded_by_id.get(id))))
        .collect();
    let strays = strays(
        cx,
        resources,
        Kind::SecurityGroup,
        &found,
        describe_security_groups,
        Some("group-id"),
        SecurityGroup::group_id,
    )
    .await?;
    out.untagged.extend(strays);
    settle(cx.own, resources, &[Kind::SecurityGroup], found, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn live_of(g: &SecurityGroup) -> Option<crate::provider::Live> {
        group_live(g, None).map(|t| t.live)
    }

    fn entries(v: Value) -> Vec<SecurityGroupRule> {
        serde_json::from_value(v).expect("rules decode")
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
        let rules = parse_rules(&a(), "ingress", &entries(v)).expect("test value");
        assert_eq!(rules.len(), 4);
        assert!(rules.contains(&Rule {
            protocol: "tcp".to_owned(),
            from: 32768,
            to: 65535,
            source: Source::Group("sg-1".to_owned())
        }));
        assert!(
            serde_json::from_value::<Vec<SecurityGroupRule>>(
                json!([{"protocol": "tcp", "self": true}])
            )
            .is_err()
        );
        let no_source = entries(json!([{"protocol": "tcp", "from_port": 80, "to_port": 80}]));
        assert!(parse_rules(&a(), "ingress", &no_source).is_err());
    }

    #[test]
    fn live_rules_keep_the_recorded_shape_when_equal_as_sets() {
        let recorded = entries(json!([
            {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["10.0.0.0/8"]},
            {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}
        ]));
        // AWS groups both ranges into one permission.
        let aws = [IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .build()];
        let live = rules_of(&aws);
        assert_eq!(live_rules(&a(), "ingress", &live, Some(&recorded)), recorded);
        // One range gone: the canonical shape shows what is left.
        let live = rules_of(&[IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()]);
        assert_eq!(
            live_rules(&a(), "ingress", &live, Some(&recorded)),
            entries(
                json!([{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}])
            )
        );
    }

    #[test]
    fn canonical_rules_round_trip() {
        let v = json!([
            {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]},
            {"protocol": "tcp", "from_port": 32768, "to_port": 65535, "source_security_group_id": "sg-1"},
            {"protocol": "tcp", "from_port": 32768, "to_port": 65535, "source_security_group_id": "sg-2"}
        ]);
        let rules = parse_rules(&a(), "ingress", &entries(v.clone())).expect("test value");
        assert_eq!(canonical(&rules), entries(v));
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
            .tags(aws_sdk_ec2::types::Tag::builder().key("ecsops:address").value("x").build())
            .tags(aws_sdk_ec2::types::Tag::builder().key("Name").value("n").build())
            .build();
        let live = live_of(&g).expect("test value");
        assert_eq!(live.id, "sg-9");
        assert_eq!(live.attributes["egress"], json!([]));
        assert_eq!(live.attributes["tags"], json!({"Name": "n"}));
        assert_eq!(
            live.attributes["ingress"],
            json!([{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}])
        );
    }
}
