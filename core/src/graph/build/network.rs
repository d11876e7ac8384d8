//! The network: the VPC, its internet gateway, a public and a private subnet per zone, the NAT
//! gateways and Elastic IPs, route tables, routes and associations.

use ipnet::Ipv4Net;

use super::Builder;
use crate::graph::attrs::{self, Desired};
use crate::graph::{Address, Expr};
use crate::manifest::NatMode;

pub(super) struct Network {
    pub(super) vpc: Address,
    pub(super) igw: Address,
    pub(super) public: Vec<Address>,
    pub(super) private: Vec<Address>,
    pub(super) private_routes: Vec<Address>,
}

pub(super) fn network(
    b: &mut Builder<'_>,
    zones: &[String],
    vpc_cidr: Ipv4Net,
    public_cidrs: &[Ipv4Net],
    private_cidrs: &[Ipv4Net],
) -> Network {
    let env = b.env.to_owned();
    let vpc = attrs::Vpc::<Desired> {
        cidr_block: Expr::str(vpc_cidr.to_string()),
        enable_dns_support: true.into(),
        enable_dns_hostnames: true.into(),
        tags: b.tags(Some(&env)),
    };
    let vpc = b.add(Address::new("vpc"), &vpc, []);
    let igw = attrs::InternetGateway::<Desired> {
        vpc_id: Builder::r(&vpc, "id"),
        tags: b.tags(Some(&env)),
    };
    let igw = b.add(Address::new("internet_gateway"), &igw, []);
    let public_rt = attrs::RouteTable::<Desired> {
        vpc_id: Builder::r(&vpc, "id"),
        tags: b.tags(Some(&format!("{env}-public"))),
    };
    let public_rt = b.add(Address::new("route_table.public"), &public_rt, []);
    let route = attrs::Route::<Desired> {
        route_table_id: Builder::r(&public_rt, "id"),
        destination_cidr_block: "0.0.0.0/0".into(),
        gateway_id: Some(Builder::r(&igw, "id")),
        nat_gateway_id: None,
        other_target: None,
    };
    b.add(Address::new("route.public_internet"), &route, []);
    let mut public = Vec::new();
    let mut private = Vec::new();
    let mut nats = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let (Some(pub_cidr), Some(priv_cidr)) = (public_cidrs.get(i), private_cidrs.get(i)) else {
            continue;
        };
        for (tier, cidr, list) in
            [("public", pub_cidr, &mut public), ("private", priv_cidr, &mut private)]
        {
            let name = format!("{env}-{tier}-{zone}");
            let subnet = attrs::Subnet::<Desired> {
                vpc_id: Builder::r(&vpc, "id"),
                cidr_block: Expr::str(cidr.to_string()),
                availability_zone: Expr::str(zone.clone()),
                map_public_ip_on_launch: false.into(),
                tags: b.tags(Some(&name)),
            };
            let subnet = b.add(Address::keyed(&format!("subnet.{tier}"), zone), &subnet, []);
            list.push(subnet);
        }
        let association = attrs::RouteTableAssociation::<Desired> {
            subnet_id: Builder::r(&public[i], "id"),
            route_table_id: Builder::r(&public_rt, "id"),
        };
        b.add(Address::keyed("route_table_association.public", zone), &association, []);
        let single = b.manifest.network.nat == NatMode::Single;
        if i == 0 || !single {
            let eip = attrs::ElasticIp::<Desired> {
                domain: "vpc".into(),
                tags: b.tags(Some(&format!("{env}-nat-{zone}"))),
            };
            // An EIP for a NAT needs the gateway attached before traffic flows.
            let eip = b.add(Address::keyed("elastic_ip.nat", zone), &eip, [igw.clone()]);
            let nat = attrs::NatGateway::<Desired> {
                subnet_id: Builder::r(&public[i], "id"),
                allocation_id: Builder::r(&eip, "id"),
                connectivity_type: "public".into(),
                tags: b.tags(Some(&format!("{env}-{zone}"))),
            };
            let nat = b.add(Address::keyed("nat_gateway", zone), &nat, [igw.clone()]);
            nats.push(nat);
        }
    }
    let mut private_routes = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let Some(subnet) = private.get(i).cloned() else {
            continue;
        };
        let rt = attrs::RouteTable::<Desired> {
            vpc_id: Builder::r(&vpc, "id"),
            tags: b.tags(Some(&format!("{env}-private-{zone}"))),
        };
        let rt = b.add(Address::keyed("route_table.private", zone), &rt, []);
        let association = attrs::RouteTableAssociation::<Desired> {
            subnet_id: Builder::r(&subnet, "id"),
            route_table_id: Builder::r(&rt, "id"),
        };
        b.add(Address::keyed("route_table_association.private", zone), &association, []);
        let nat = nats.get(i).or_else(|| nats.first()).cloned();
        if let Some(nat) = nat {
            let route = attrs::Route::<Desired> {
                route_table_id: Builder::r(&rt, "id"),
                destination_cidr_block: "0.0.0.0/0".into(),
                gateway_id: None,
                nat_gateway_id: Some(Builder::r(&nat, "id")),
                other_target: None,
            };
            private_routes.push(b.add(Address::keyed("route.private_nat", zone), &route, []));
        }
    }
    Network { vpc, igw, public, private, private_routes }
}
