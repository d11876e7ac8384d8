//! The network: the VPC, its internet gateway, a public and a private subnet per zone, the NAT
//! gateways and Elastic IPs, route tables, routes and associations.

use super::Builder;
use crate::graph::Address;
use crate::graph::Expr;
use crate::graph::Kind;
use crate::manifest::NatMode;
use ipnet::Ipv4Net;

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
    let vpc = b.add_untyped(
        Address::new("vpc"),
        Kind::Vpc,
        vec![
            ("cidr_block", Expr::str(vpc_cidr.to_string())),
            ("enable_dns_support", true.into()),
            ("enable_dns_hostnames", true.into()),
            ("tags", b.tags(Some(&env))),
        ],
        [],
    );
    let igw = b.add_untyped(
        Address::new("internet_gateway"),
        Kind::InternetGateway,
        vec![
            ("vpc_id", Builder::r(&vpc, "id")),
            ("tags", b.tags(Some(&env))),
        ],
        [],
    );
    let public_rt = b.add_untyped(
        Address::new("route_table.public"),
        Kind::RouteTable,
        vec![
            ("vpc_id", Builder::r(&vpc, "id")),
            ("tags", b.tags(Some(&format!("{env}-public")))),
        ],
        [],
    );
    b.add_untyped(
        Address::new("route.public_internet"),
        Kind::Route,
        vec![
            ("route_table_id", Builder::r(&public_rt, "id")),
            ("destination_cidr_block", "0.0.0.0/0".into()),
            ("gateway_id", Builder::r(&igw, "id")),
        ],
        [],
    );
    let mut public = Vec::new();
    let mut private = Vec::new();
    let mut nats = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let (Some(pub_cidr), Some(priv_cidr)) = (public_cidrs.get(i), private_cidrs.get(i)) else {
            continue;
        };
        for (tier, cidr, list) in [
            ("public", pub_cidr, &mut public),
            ("private", priv_cidr, &mut private),
        ] {
            let name = format!("{env}-{tier}-{zone}");
            let subnet = b.add_untyped(
                Address::keyed(&format!("subnet.{tier}"), zone),
                Kind::Subnet,
                vec![
                    ("vpc_id", Builder::r(&vpc, "id")),
                    ("cidr_block", Expr::str(cidr.to_string())),
                    ("availability_zone", Expr::str(zone.clone())),
                    ("map_public_ip_on_launch", false.into()),
                    ("tags", b.tags(Some(&name))),
                ],
                [],
            );
            list.push(subnet);
        }
        b.add_untyped(
            Address::keyed("route_table_association.public", zone),
            Kind::RouteTableAssociation,
            vec![
                ("subnet_id", Builder::r(&public[i], "id")),
                ("route_table_id", Builder::r(&public_rt, "id")),
            ],
            [],
        );
        let single = b.manifest.network.nat == NatMode::Single;
        if i == 0 || !single {
            let eip = b.add_untyped(
                Address::keyed("elastic_ip.nat", zone),
                Kind::ElasticIp,
                vec![
                    ("domain", "vpc".into()),
                    ("tags", b.tags(Some(&format!("{env}-nat-{zone}")))),
                ],
                // An EIP for a NAT needs the gateway attached before traffic flows.
                [igw.clone()],
            );
            let nat = b.add_untyped(
                Address::keyed("nat_gateway", zone),
                Kind::NatGateway,
                vec![
                    ("subnet_id", Builder::r(&public[i], "id")),
                    ("allocation_id", Builder::r(&eip, "id")),
                    ("connectivity_type", "public".into()),
                    ("tags", b.tags(Some(&format!("{env}-{zone}")))),
                ],
                [igw.clone()],
            );
            nats.push(nat);
        }
    }
    let mut private_routes = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let Some(subnet) = private.get(i).cloned() else {
            continue;
        };
        let rt = b.add_untyped(
            Address::keyed("route_table.private", zone),
            Kind::RouteTable,
            vec![
                ("vpc_id", Builder::r(&vpc, "id")),
                ("tags", b.tags(Some(&format!("{env}-private-{zone}")))),
            ],
            [],
        );
        b.add_untyped(
            Address::keyed("route_table_association.private", zone),
            Kind::RouteTableAssociation,
            vec![
                ("subnet_id", Builder::r(&subnet, "id")),
                ("route_table_id", Builder::r(&rt, "id")),
            ],
            [],
        );
        let nat = nats.get(i).or_else(|| nats.first()).cloned();
        if let Some(nat) = nat {
            private_routes.push(b.add_untyped(
                Address::keyed("route.private_nat", zone),
                Kind::Route,
                vec![
                    ("route_table_id", Builder::r(&rt, "id")),
                    ("destination_cidr_block", "0.0.0.0/0".into()),
                    ("nat_gateway_id", Builder::r(&nat, "id")),
                ],
                [],
            ));
        }
    }
    Network {
        vpc,
        igw,
        public,
        private,
        private_routes,
    }
}
