//! The EC2 network: VPC, internet gateway, subnets, route tables with their routes and subnet
//! associations, Elastic IPs and NAT gateways.

use serde::{Deserialize, Deserializer, Serialize};

use super::{Resolved, Stage, Tags};

/// What AWS assigns every network resource that has an id of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2IdOutputs {
    /// The EC2 id (`vpc-…`, `subnet-…`, `rtbassoc-…`): the state id, and what others reference.
    pub id: String,
}

/// The VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Vpc<S: Stage = Resolved> {
    /// The VPC's IPv4 range; AWS cannot change it in place.
    pub cidr_block: S::V<String>,
    /// Whether the Amazon DNS server resolves names in the VPC.
    pub enable_dns_support: S::V<bool>,
    /// Whether instances get public DNS hostnames (needs `enable_dns_support`).
    pub enable_dns_hostnames: S::V<bool>,
    pub tags: S::V<Tags>,
}

/// The internet gateway and its attachment to the VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct InternetGateway<S: Stage = Resolved> {
    /// The VPC it is attached to; `null` when live and detached (attached again in place).
    pub vpc_id: S::V<Option<String>>,
    pub tags: S::V<Tags>,
}

/// A subnet in one availability zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Subnet<S: Stage = Resolved> {
    pub vpc_id: S::V<String>,
    pub cidr_block: S::V<String>,
    pub availability_zone: S::V<String>,
    /// Whether instances launched in it get a public IPv4 address.
    pub map_public_ip_on_launch: S::V<bool>,
    pub tags: S::V<Tags>,
}

/// A route table (its routes and associations are kinds of their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct RouteTable<S: Stage = Resolved> {
    pub vpc_id: S::V<String>,
    pub tags: S::V<Tags>,
}

/// A subnet's association with a route table; immutable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct RouteTableAssociation<S: Stage = Resolved> {
    pub subnet_id: S::V<String>,
    pub route_table_id: S::V<String>,
}

/// One route of a route table, identified by its table and destination (routes carry no tags
/// and no id). Exactly one of `gateway_id` and `nat_gateway_id` is its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Route<S: Stage = Resolved> {
    pub route_table_id: S::V<String>,
    pub destination_cidr_block: S::V<String>,
    /// An internet gateway (or `local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<S::V<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<S::V<String>>,
    /// Only ever live: a target of another kind (instance, interface, peering, transit
    /// gateway; `null` for one ecsops does not know), so that it shows as drift of the target.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub other_target: Option<S::V<Option<String>>>,
}

/// What a route sends traffic to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget<'a> {
    Gateway(&'a str),
    NatGateway(&'a str),
}

impl Route {
    /// The one target the route names, `None` when it names none or both.
    pub fn target(&self) -> Option<RouteTarget<'_>> {
        match (&self.gateway_id, &self.nat_gateway_id) {
            (Some(g), None) => Some(RouteTarget::Gateway(g)),
            (None, Some(n)) => Some(RouteTarget::NatGateway(n)),
            _ => None,
        }
    }
}

/// An Elastic IP (one per NAT gateway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct ElasticIp<S: Stage = Resolved> {
    /// `vpc` (the only domain a NAT gateway can use).
    pub domain: S::V<String>,
    pub tags: S::V<Tags>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticIpOutputs {
    /// The allocation id: the state id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
}

/// A NAT gateway in a public subnet, giving private subnets a way out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct NatGateway<S: Stage = Resolved> {
    pub subnet_id: S::V<String>,
    /// The Elastic IP it sends from; released (after the gateway) on delete.
    pub allocation_id: S::V<Option<String>>,
    /// `public` or `private`.
    pub connectivity_type: S::V<String>,
    pub tags: S::V<Tags>,
}

/// A field that is `Some` whenever it is present, also when it is `null`: keeps a live
/// `other_target: null` as read.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
