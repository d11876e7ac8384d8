//! The network family on EC2: VPC (with its DNS flags), internet gateway and its attachment,
//! subnets, route tables, routes, route table associations, Elastic IPs and NAT gateways.
//!
//! Tagged kinds are created with their tags in the same request (tag specifications), found for
//! adoption by their `ecsops:address` tag, and refreshed by one describe per kind filtered by
//! `ecsops:environment`. Routes and associations cannot carry tags: they are identified by their
//! route table and destination (subnet), read from the same `DescribeRouteTables` answer that
//! refreshes the tables, and adopted when create finds them already in place.
//! NAT gateways and route tables get client tokens; create waits for a NAT gateway to be
//! `available`, and delete waits for it to be `deleted` so its Elastic IP can be released.
//!
//! This module holds the refresh and the describes every kind shares; each kind's `Manage`
//! is in the file of its pair: `vpc` (VPC, internet gateway), `routes` (subnets, route tables,
//! routes, associations), `nat` (Elastic IPs, NAT gateways).

mod nat;
mod routes;
mod vpc;

use crate::provider::aws::send;
use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    Address as ElasticIp, Filter, InternetGateway, NatGateway, RouteTable, Subnet, Vpc,
};

use super::ec2::{
    Tagged, adoptable, describe_by_filters, environment_filter, find_adoptable, id_outputs, settle,
    strays, update_tags,
};
use super::live::{all, report};
use super::{AwsResultExt, Cx, Done, RECORDED, Recorded};
use crate::graph::attrs::{self, Attributes};
use crate::graph::{Address, Kind};
use crate::provider::{Live, Refresh, decode};
use crate::state::ResourceState;

/// The recorded attributes of `r` as `A`; `None` when they do not decode (state written by
/// hand): such a resource cannot be found, so it reads as missing.
fn recorded_as<A: Attributes>(address: &Address, r: &ResourceState) -> Option<A> {
    decode(address, Some(RECORDED), &r.attributes).ok()
}

/// Reads every recorded network resource: one describe per kind present (routes and
/// associations come with the route tables), plus two `DescribeVpcAttribute` per VPC (the only
/// API that returns its DNS flags).
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let kinds: BTreeSet<Kind> = resources
        .values()
        .map(|r| r.kind)
        .filter(|k| super::family_kinds(Kind::Vpc).contains(k))
        .collect();
    // Errors of a batched read name the kind: no single address is at fault.
    let at = |kind: Kind| Address::new(kind.as_str());
    let env = || vec![environment_filter(cx.own)];
    let want = |kind: Kind| kinds.contains(&kind);
    let want_tables =
        want(Kind::RouteTable) || want(Kind::Route) || want(Kind::RouteTableAssociation);
    let [vpc, gateway, subnet, table, address, nat] = [
        Kind::Vpc,
        Kind::InternetGateway,
        Kind::Subnet,
        Kind::RouteTable,
        Kind::ElasticIp,
        Kind::NatGateway,
    ]
    .map(at);
    // The describes are independent: one round trip for all of them.
    let (vpcs, gateways, subnets, tables, addresses, nat_gateways) = tokio::try_join!(
        when(want(Kind::Vpc), describe_vpcs(cx, &vpc, env())),
        when(want(Kind::InternetGateway), describe_internet_gateways(cx, &gateway, env())),
        when(want(Kind::Subnet), describe_subnets(cx, &subnet, env())),
        when(want_tables, describe_route_tables(cx, &table, env())),
        when(want(Kind::ElasticIp), describe_addresses(cx, &address, env())),
        when(want(Kind::NatGateway), describe_nat_gateways(cx, &nat, env())),
    )?;
    // The DNS flags are read below, for the VPCs that turn out to be ours.
    let tagged: Vec<Tagged> = vpcs
        .iter()
        .filter_map(|v| vpc::vpc_live(v, vpc::Dns::NEW))
        .chain(gateways.iter().filter_map(vpc::internet_gateway_live))
        .chain(subnets.iter().filter_map(routes::subnet_live))
        .chain(tables.iter().filter_map(routes::route_table_live))
        .chain(addresses.iter().filter_map(nat::elastic_ip_live))
        .chain(nat_gateways.iter().filter_map(nat::nat_gateway_live))
        .collect();
    // A recorded resource the describes did not return may have lost its environment tag:
    // read by id, the kinds at once (each item type its own, hence the macro).
    let seen = tagged.as_slice();
    macro_rules! unseen {
        ($kind:ident, $describe:ident, $filter:literal, $id:path) => {
            strays(cx, resources, Kind::$kind, seen, $describe, Some($filter), $id)
        };
    }
    let (in_vpcs, in_gateways, in_subnets, in_tables, in_addresses, in_nats) = tokio::try_join!(
        unseen!(Vpc, describe_vpcs, "vpc-id", Vpc::vpc_id),
        unseen!(
            InternetGateway,
            describe_internet_gateways,
            "internet-gateway-id",
            InternetGateway::internet_gateway_id
        ),
        unseen!(Subnet, describe_subnets, "subnet-id", Subnet::subnet_id),
        unseen!(RouteTable, describe_route_tables, "route-table-id", RouteTable::route_table_id),
        unseen!(ElasticIp, describe_addresses, "allocation-id", ElasticIp::allocation_id),
        unseen!(NatGateway, describe_nat_gateways, "nat-gateway-id", NatGateway::nat_gateway_id),
    )?;
    out.untagged
        .extend([in_vpcs, in_gateways, in_subnets, in_tables, in_addresses, in_nats].concat());

    let tagged_kinds: Vec<Kind> = super::family_kinds(Kind::Vpc)
        .into_iter()
        .filter(|k| !matches!(k, Kind::Route | Kind::RouteTableAssociation))
        .collect();
    settle(cx.own, resources, &tagged_kinds, tagged, out);
    let mut associations: Vec<_> = tables.iter().flat_map(routes::associations).collect();
    // A subnet whose association is on no table of the environment may have been moved to one
    // outside it (the VPC's main table, one made by hand): read where those subnets are, so
    // the plan shows that table and puts them back instead of an association AWS refuses
    // while they have one. One request, only then.
    let lost: Vec<String> = resources
        .iter()
        .filter(|(_, r)| r.kind == Kind::RouteTableAssociation)
        .filter_map(|(address, r)| {
            let subnet = recorded_as::<attrs::RouteTableAssociation>(address, r)?.subnet_id;
            let on_ours = associations
                .iter()
                .any(|(id, f)| Some(id.as_str()) == r.id.as_deref() || f.subnet_id == subnet);
            (!on_ours).then_some(subnet)
        })
        .collect();
    if !lost.is_empty() {
        let by_subnet = Filter::builder().name("association.subnet-id").set_values(Some(lost));
        let outside = describe_route_tables(cx, &table, vec![by_subnet.build()]).await?;
        associations.extend(outside.iter().flat_map(routes::associations));
    }
    for (address, r) in resources
        .iter()
        .filter(|(_, r)| matches!(r.kind, Kind::Route | Kind::RouteTableAssociation))
    {
        let live = if r.kind == Kind::Route {
            recorded_as::<attrs::Route>(address, r).and_then(|route| {
                tables
                    .iter()
                    .filter(|t| t.route_table_id() == Some(route.route_table_id.as_str()))
                    .find_map(|t| routes::route_live(t, &route.destination_cidr_block))
            })
        } else {
            let subnet =
                recorded_as::<attrs::RouteTableAssociation>(address, r).map(|w| w.subnet_id);
            associations
                .iter()
                .find(|(id, _)| Some(id.as_str()) == r.id.as_deref())
                // Moved to another table outside ecsops (`ReplaceRouteTableAssociation` gives
                // it a new id): the subnet's association as it is, so the plan shows the table
                // and puts the subnet back on its own.
                .or_else(|| {
                    associations.iter().find(|(_, f)| Some(&f.subnet_id) == subnet.as_ref())
                })
                .map(|(id, association)| Live::new(id.clone(), association, &id_outputs(id)))
        };
        report(out, address, live);
    }
    for live in out.live.values_mut().chain(out.untracked.values_mut()) {
        if live.kind != Kind::Vpc {
            continue;
        }
        if let Some(v) = vpcs.iter().find(|v| v.vpc_id() == Some(live.id.as_str())) {
            let dns = vpc::read_dns(cx, &vpc, &live.id).await?;
            if let Some(t) = vpc::vpc_live(v, dns) {
                *live = t.live;
            }
        }
    }
    Ok(())
}

/// The items `read` returns when `wanted`, none (and no request) otherwise.
async fn when<T>(wanted: bool, read: impl Future<Output = Done<Vec<T>>>) -> Done<Vec<T>> {
    if wanted { read.await } else { Ok(Vec::new()) }
}

describe_by_filters!(describe_vpcs -> Vpc);
describe_by_filters!(describe_internet_gateways -> InternetGateway);
describe_by_filters!(describe_subnets -> Subnet);
describe_by_filters!(describe_route_tables -> RouteTable);

/// Not paginated by AWS: one call returns every address.
async fn describe_addresses(cx: Cx<'_>, a: &Address, filters: Vec<Filter>) -> Done<Vec<ElasticIp>> {
    let out = send!(a, cx.ec2.describe_addresses().set_filters(Some(filters)))?;
    Ok(out.addresses().to_vec())
}

/// Only gateways that exist or are coming up: deleted ones stay visible for an hour.
async fn describe_nat_gateways(
    cx: Cx<'_>,
    a: &Address,
    mut filters: Vec<Filter>,
) -> Done<Vec<NatGateway>> {
    filters.push(Filter::builder().name("state").values("pending").values("available").build());
    all!(cx.ec2.describe_nat_gateways().set_filter(Some(filters)), a)
}
