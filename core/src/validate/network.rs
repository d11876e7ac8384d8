//! Network rules: the region and zones, the VPC CIDR and the subnets derived from it or given
//! explicitly (valid, inside the VPC, one per zone, not overlapping), and VPC overlap with the
//! workspace's other environments.

use ipnet::Ipv4Net;

use super::{Cx, Neighbour, ptr};
use crate::cidr::subnet_cidrs;
use crate::diagnostic::did_you_mean;

/// Regions AWS offers, for near-miss suggestions. A well-formed region not listed here only
/// warns: AWS opens new regions, and one opened after this release must still work.
const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-isoe-west-1",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isof-east-1",
    "us-isof-south-1",
];

fn region_shaped(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let n = parts.len();
    // The first part is two letters but for the sovereign partition's `eusc-`.
    n >= 3
        && (parts[0].len() == 2 || parts[0] == "eusc")
        && parts[..n - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[n - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[n - 1].is_empty()
}

pub(super) fn check(cx: &mut Cx<'_>, neighbours: &[Neighbour]) {
    let m = cx.m;
    let region = m.environment.region.clone();
    match region.as_deref() {
        None => cx
            .at_key("missing-region", "/environment", "`environment.region` is not set".into())
            .label("this table needs `region`")
            .help("add `region = \"eu-west-1\"` (or your region) to `[environment]`")
            .emit(),
        Some(r) if !region_shaped(r) => {
            let help = did_you_mean(r, REGIONS.iter().copied()).map_or_else(
                || "use an AWS region name such as `eu-west-1`".to_owned(),
                |s| format!("did you mean `{s}`?"),
            );
            cx.at_value(
                "invalid-region",
                "/environment/region",
                format!("`{r}` is not an AWS region"),
            )
            .label("not a region")
            .help(help)
            .emit();
        }
        Some(r) if !REGIONS.contains(&r) => {
            let help = did_you_mean(r, REGIONS.iter().copied()).map_or_else(
                || "check the spelling; a region AWS opened after this release is fine".to_owned(),
                |s| format!("did you mean `{s}`? A region AWS opened after this release is fine"),
            );
            cx.at_value(
                "unknown-region",
                "/environment/region",
                format!("`{r}` is not a region ecsops knows"),
            )
            .label("unknown region")
            .help(help)
            .warning()
            .emit();
        }
        Some(_) => {}
    }
    let zones = &m.environment.availability_zones;
    if zones.is_empty() {
        cx.at_key(
            "missing-zones",
            "/environment",
            "`environment.availability_zones` is empty".into(),
        )
        .label("no availability zones")
        .help("list at least two zones, for example `availability_zones = [\"eu-west-1a\", \"eu-west-1b\"]`")
        .emit();
    }
    for (i, zone) in zones.iter().enumerate() {
        let p = ptr(&["environment", "availability_zones", &i.to_string()]);
        if zones[..i].contains(zone) {
            cx.at_value(
                "duplicate-zone",
                &p,
                format!("availability zone `{zone}` is listed twice"),
            )
            .label("duplicate")
            .help("each zone gets its own subnets; list it once")
            .emit();
        }
        if let Some(r) = region.as_deref() {
            let suffix_ok = zone
                .strip_prefix(r)
                .is_some_and(|s| s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase()));
            if !suffix_ok {
                cx.at_value(
                    "zone-not-in-region",
                    &p,
                    format!("availability zone `{zone}` is not in region `{r}`"),
                )
                .label("wrong zone")
                .help(format!("zones of `{r}` are `{r}a`, `{r}b`, ..."))
                .emit();
            }
        }
    }
    if !m.load_balancers.is_empty() && zones.len() < 2 {
        cx.at_value(
            "too-few-zones",
            "/environment/availability_zones",
            format!("a load balancer needs at least two availability zones, found {}", zones.len()),
        )
        .label("add a zone")
        .help("AWS rejects an Application Load Balancer with subnets in fewer than two zones")
        .emit();
    }
    cidrs(cx, neighbours);
    client_ranges(cx);
}

/// A load balancer's `allowed_cidrs` become IPv4 security group rules, which AWS refuses for
/// anything but an IPv4 network address: caught here, not halfway through an apply.
fn client_ranges(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, lb) in &m.load_balancers {
        for (i, c) in lb.allowed_cidrs.iter().enumerate() {
            let p = ptr(&["load_balancers", name, "allowed_cidrs", &i.to_string()]);
            let help = "write a client range such as `203.0.113.0/24`, or `0.0.0.0/0` for anyone";
            ipv4_network(cx, &p, c, help);
        }
    }
}

/// `text` as an IPv4 network, or `None` once the diagnostic at `pointer` says why it is not
/// one: not a CIDR (with `help`), or an address with host bits set.
fn ipv4_network(cx: &mut Cx<'_>, pointer: &str, text: &str, help: &str) -> Option<Ipv4Net> {
    let Ok(net) = text.parse::<Ipv4Net>() else {
        cx.at_value("invalid-cidr", pointer, format!("`{text}` is not an IPv4 CIDR"))
            .label("not a CIDR")
            .help(help)
            .emit();
        return None;
    };
    if net.network() != net.addr() {
        cx.at_value("cidr-host-bits", pointer, format!("`{text}` has host bits set"))
            .label("not a network address")
            .help(format!("did you mean `{}`?", net.trunc()))
            .emit();
        return None;
    }
    Some(net)
}

fn cidrs(cx: &mut Cx<'_>, neighbours: &[Neighbour]) {
    let m = cx.m;
    let Some(text) = m.network.cidr.clone() else {
        cx.at_key("missing-cidr", "/network", "`network.cidr` is not set".into())
            .label("this table needs `cidr`")
            .help("add a /16 such as `cidr = \"10.0.0.0/16\"` to `[network]`")
            .emit();
        return;
    };
    let Some(vpc) = ipv4_network(cx, "/network/cidr", &text, "write it as `10.N.0.0/16`") else {
        return;
    };
    let explicit = m.network.public_subnets.is_some() && m.network.private_subnets.is_some();
    if !(16..=28).contains(&vpc.prefix_len()) {
        cx.at_value(
            "cidr-size",
            "/network/cidr",
            format!("a VPC must be between /16 and /28, `{text}` is /{}", vpc.prefix_len()),
        )
        .label("wrong size")
        .help("use a /16 such as `10.0.0.0/16`")
        .emit();
        return;
    }
    if vpc.prefix_len() != 16 && !explicit {
        cx.at_value(
            "cidr-size",
            "/network/cidr",
            format!(
                "the subnet convention (10.N.0.0/24 public, 10.N.50.0/24 private) needs a /16, `{text}` is /{}",
                vpc.prefix_len()
            ),
        )
        .label("not a /16")
        .help("use a /16, or list `public_subnets` and `private_subnets` explicitly")
        .emit();
        return;
    }
    subnets(cx, vpc);
    for n in neighbours {
        let allowed = m.network.allow_overlap_with.contains(&n.environment)
            || n.allow_overlap_with.iter().any(|e| e == cx.environment());
        if !allowed && (vpc.contains(&n.cidr.network()) || n.cidr.contains(&vpc.network())) {
            cx.at_value(
                "cidr-overlap",
                "/network/cidr",
                format!(
                    "VPC `{vpc}` overlaps environment `{}` (`{}`)",
                    n.environment, n.cidr
                ),
            )
            .label("overlapping VPC")
            .help(format!(
                "give each environment its own /16, or add `allow_overlap_with = [\"{}\"]` if they are never connected",
                n.environment
            ))
            .emit();
        }
    }
    for (i, name) in m.network.allow_overlap_with.iter().enumerate() {
        if !neighbours.iter().any(|n| &n.environment == name) {
            cx.at_value(
                "unknown-environment",
                &ptr(&["network", "allow_overlap_with", &i.to_string()]),
                format!("`{name}` is not another environment of this workspace"),
            )
            .label("unknown environment")
            .warning()
            .emit();
        }
    }
}

fn subnets(cx: &mut Cx<'_>, vpc: Ipv4Net) {
    let m = cx.m;
    let zones = m.environment.availability_zones.len();
    for (tier, list) in [
        ("public_subnets", &m.network.public_subnets),
        ("private_subnets", &m.network.private_subnets),
    ] {
        let Some(list) = list else { continue };
        if list.len() != zones {
            cx.at_value(
                "subnet-count",
                &ptr(&["network", tier]),
                format!("`{tier}` has {} entries for {zones} availability zones", list.len()),
            )
            .label("one per zone")
            .help("list exactly one subnet per availability zone, in zone order")
            .emit();
        }
        for (i, c) in list.iter().enumerate() {
            let p = ptr(&["network", tier, &i.to_string()]);
            let Some(net) = ipv4_network(cx, &p, c, "write it as `10.N.X.0/24`") else {
                continue;
            };
            if !(16..=28).contains(&net.prefix_len()) {
                cx.at_value(
                    "cidr-size",
                    &p,
                    format!(
                        "subnet `{c}` is a /{}; an AWS subnet is a /16 to a /28",
                        net.prefix_len()
                    ),
                )
                .label("not a subnet size AWS takes")
                .help("use a /24, as the computed subnets are")
                .emit();
            } else if !vpc.contains(&net) {
                cx.at_value(
                    "subnet-outside-vpc",
                    &p,
                    format!("subnet `{c}` is not inside the VPC `{vpc}`"),
                )
                .label("outside the VPC")
                .help("pick a subnet inside `network.cidr`")
                .emit();
            }
        }
    }
    let Some((public, private)) = subnet_cidrs(
        vpc,
        zones,
        m.network.public_subnets.as_deref(),
        m.network.private_subnets.as_deref(),
    ) else {
        return;
    };
    let all: Vec<(String, Ipv4Net)> = public
        .iter()
        .enumerate()
        .map(|(i, n)| (ptr(&["network", "public_subnets", &i.to_string()]), *n))
        .chain(
            private
                .iter()
                .enumerate()
                .map(|(i, n)| (ptr(&["network", "private_subnets", &i.to_string()]), *n)),
        )
        .collect();
    for (i, (p, a)) in all.iter().enumerate() {
        if let Some((_, b)) =
            all[..i].iter().find(|(_, b)| a.contains(&b.network()) || b.contains(&a.network()))
        {
            cx.at_value("subnet-overlap", p, format!("subnet `{a}` overlaps subnet `{b}`"))
                .label("overlapping subnet")
                .help("give every subnet its own range")
                .emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        for ok in ["eu-west-1", "us-gov-west-1", "ap-southeast-5"] {
            assert!(region_shaped(ok), "{ok}");
        }
        for bad in ["eu-west", "euwest1", "EU-west-1", "e-west-1", ""] {
            assert!(!region_shaped(bad), "{bad}");
        }
    }
}
