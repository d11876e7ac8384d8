//! Subnets, route tables, their routes and their subnet associations.

use crate::provider::aws::send;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, RouteTable, Subnet};

use super::super::ec2::{Tagged, find_adoptable, remove_held, retag, tag_map, tag_spec, visible};
use super::super::live::missing;
use super::super::once::send_once;
use super::super::{Cx, Done, Manage, New, Prior, eventually, remove_request};
use super::{describe_route_tables, describe_subnets, id_outputs, update_tags};
use crate::graph::attrs::{self, NoOutputs, Resolved, RouteTarget};
use crate::provider::{Applied, Live, ProviderError, ResourceSpec};

impl Manage for attrs::Subnet {
    /// The subnet carrying the spec's ownership tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, _want: &Self) -> Done<Option<Live>> {
        find_adoptable(cx, &spec.address, describe_subnets, subnet_live).await
    }

    /// Creates the subnet with its tags (and public IPs on launch when asked).
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = eventually(cx, || async {
            send_once!(
                a,
                cx.ec2
                    .create_subnet()
                    .vpc_id(&want.vpc_id)
                    .cidr_block(&want.cidr_block)
                    .availability_zone(&want.availability_zone)
                    .tag_specifications(tag_spec(cx, a, ResourceType::Subnet, &want.tags))
            )
        })
        .await?;
        let id = out
            .subnet()
            .and_then(Subnet::subnet_id)
            .ok_or_else(|| missing(a, "CreateSubnet", "SubnetId"))?;
        if want.map_public_ip_on_launch {
            set_public_ip_on_launch(cx, spec, id, true).await?;
        }
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let was: attrs::Subnet = prior.decode()?;
        if was.map_public_ip_on_launch != want.map_public_ip_on_launch {
            set_public_ip_on_launch(cx, spec, prior.id, want.map_public_ip_on_launch).await?;
        }
        retag(cx, spec, prior, &was.tags, &want.tags).await
    }

    /// Deletes the subnet, retried while AWS still holds interfaces in it (a deleted NAT
    /// gateway's).
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_held(cx, prior, "InvalidSubnetID.NotFound", || {
            cx.ec2.delete_subnet().subnet_id(prior.id).send()
        })
        .await
    }
}

async fn set_public_ip_on_launch(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    id: &str,
    enabled: bool,
) -> Done<()> {
    eventually(cx, || async {
        send!(
            &spec.address,
            cx.ec2
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(enabled).build())
        )
    })
    .await?;
    Ok(())
}

pub(super) fn subnet_live(s: &Subnet) -> Option<Tagged> {
    let id = s.subnet_id()?;
    let tags = tag_map(s.tags());
    let subnet = attrs::Subnet::<Resolved> {
        vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
        cidr_block: s.cidr_block().unwrap_or_default().to_owned(),
        availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
        map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
        tags: visible(&tags),
    };
    Some(Tagged::of(id, tags, &subnet, &id_outputs(id)))
}

impl Manage for attrs::RouteTable {
    /// The table carrying the spec's ownership tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, _want: &Self) -> Done<Option<Live>> {
        find_adoptable(cx, &spec.address, describe_route_tables, route_table_live).await
    }

    /// Creates the table with its tags (with a client token).
    async fn create(cx: Cx<'_>, New { a, spec, token }: New<'_>, want: Self) -> Done {
        let out = eventually(cx, || async {
            send_once!(
                a,
                cx.ec2
                    .create_route_table()
                    .vpc_id(&want.vpc_id)
                    .client_token(token)
                    .tag_specifications(tag_spec(cx, a, ResourceType::RouteTable, &want.tags))
            )
        })
        .await?;
        let id = out
            .route_table()
            .and_then(RouteTable::route_table_id)
            .ok_or_else(|| missing(a, "CreateRouteTable", "RouteTableId"))?;
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    /// Brings the tags to the spec (nothing else of a table changes in place).
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        update_tags(cx, spec, want, prior, |t: &Self| &t.tags).await
    }

    /// Deletes the table, retried while subnets are still associated with it.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_held(cx, prior, "InvalidRouteTableID.NotFound", || {
            cx.ec2.delete_route_table().route_table_id(prior.id).send()
        })
        .await
    }
}

pub(super) fn route_table_live(t: &RouteTable) -> Option<Tagged> {
    let id = t.route_table_id()?;
    let tags = tag_map(t.tags());
    let table = attrs::RouteTable::<Resolved> {
        vpc_id: t.vpc_id().unwrap_or_default().to_owned(),
        tags: visible(&tags),
    };
    Some(Tagged::of(id, tags, &table, &id_outputs(id)))
}

/// The one target of the route, or the attribute error saying it needs exactly one.
fn target<'r>(spec: &ResourceSpec, route: &'r attrs::Route) -> Done<RouteTarget<'r>> {
    route.target().ok_or_else(|| {
        spec.invalid("gateway_id", "and `nat_gateway_id`: exactly one of them must be set")
    })
}

/// A route has no id of its own: its table and destination are one.
fn route_id(table: &str, destination: &str) -> String {
    format!("{table}_{destination}")
}

impl Manage for attrs::Route {
    /// The route to that destination already in the table.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let (table, destination) = (&want.route_table_id, &want.destination_cidr_block);
        let tables = send!(&spec.address, cx.ec2.describe_route_tables().route_table_ids(table))?;
        let mut tables = tables.route_tables().iter();
        Ok(tables.find_map(|t| route_live(t, destination)))
    }

    /// Adds the route to its table.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let (table, destination) = (&want.route_table_id, &want.destination_cidr_block);
        let target = target(spec, &want)?;
        eventually(cx, || async {
            let req =
                cx.ec2.create_route().route_table_id(table).destination_cidr_block(destination);
            let req = match target {
                RouteTarget::NatGateway(n) => req.nat_gateway_id(n),
                RouteTarget::Gateway(g) => req.gateway_id(g),
            };
            send_once!(a, req)
        })
        .await?;
        Ok(Applied::new(spec, route_id(table, destination), &NoOutputs {}))
    }

    /// Points the route at the spec's target when it points elsewhere.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let was: attrs::Route = prior.decode()?;
        let target = target(spec, &want)?;
        let (had, req) = match target {
            RouteTarget::Gateway(g) => {
                (was.gateway_id.as_deref(), cx.ec2.replace_route().gateway_id(g))
            }
            RouteTarget::NatGateway(n) => {
                (was.nat_gateway_id.as_deref(), cx.ec2.replace_route().nat_gateway_id(n))
            }
        };
        let now = match target {
            RouteTarget::Gateway(t) | RouteTarget::NatGateway(t) => t,
        };
        if had != Some(now) {
            send!(
                &spec.address,
                req.route_table_id(&want.route_table_id)
                    .destination_cidr_block(&want.destination_cidr_block)
            )?;
        }
        Ok(Applied::new(spec, prior.id, &NoOutputs {}))
    }

    /// Deletes the route from its table; a table already gone took it along.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let a = prior.address;
        let was: attrs::Route = prior.decode().map_err(|_| ProviderError::Failed {
            address: a.clone(),
            what:
                "the state records no `route_table_id` and `destination_cidr_block` for this route"
                    .to_owned(),
        })?;
        remove_request(
            cx,
            a,
            &[],
            &["InvalidRoute.NotFound", "InvalidRouteTableID.NotFound"],
            || {
                cx.ec2
                    .delete_route()
                    .route_table_id(&was.route_table_id)
                    .destination_cidr_block(&was.destination_cidr_block)
                    .send()
            },
        )
        .await
    }
}

/// The route to `destination` in table `t`, in the shape of the desired route.
pub(super) fn route_live(t: &RouteTable, destination: &str) -> Option<Live> {
    let table = t.route_table_id()?;
    let route = t.routes().iter().find(|r| r.destination_cidr_block() == Some(destination))?;
    let mut live = attrs::Route::<Resolved> {
        route_table_id: table.to_owned(),
        destination_cidr_block: destination.to_owned(),
        gateway_id: None,
        nat_gateway_id: None,
        other_target: None,
    };
    if let Some(nat) = route.nat_gateway_id() {
        live.nat_gateway_id = Some(nat.to_owned());
    } else if let Some(gateway) = route.gateway_id() {
        live.gateway_id = Some(gateway.to_owned());
    } else {
        // Another kind of target (instance, interface, peering) shows as drift of the target.
        let other = route
            .network_interface_id()
            .or(route.instance_id())
            .or(route.vpc_peering_connection_id())
            .or(route.transit_gateway_id());
        live.other_target = Some(other.map(str::to_owned));
    }
    Some(Live::new(route_id(table, destination), &live, &NoOutputs {}))
}

impl Manage for attrs::RouteTableAssociation {
    /// That association, when it exists.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let subnet =
            Filter::builder().name("association.subnet-id").values(&want.subnet_id).build();
        let tables = describe_route_tables(cx, &spec.address, vec![subnet]).await?;
        let mut found = tables.iter().flat_map(associations);
        Ok(found
            .find(|(_, found)| found == want)
            .map(|(id, _)| Live::new(id.clone(), want, &id_outputs(&id))))
    }

    /// Associates the subnet with the table.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = eventually(cx, || async {
            send_once!(
                a,
                cx.ec2
                    .associate_route_table()
                    .subnet_id(&want.subnet_id)
                    .route_table_id(&want.route_table_id)
            )
        })
        .await?;
        let id = out
            .association_id()
            .ok_or_else(|| missing(a, "AssociateRouteTable", "AssociationId"))?;
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    /// Nothing to change: an association is replaced, never updated.
    async fn update(_cx: Cx<'_>, spec: &ResourceSpec, _want: Self, prior: Prior<'_>) -> Done {
        Ok(Applied::new(spec, prior.id, &id_outputs(prior.id)))
    }

    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(cx, prior.address, &[], &["InvalidAssociationID.NotFound"], || {
            cx.ec2.disassociate_route_table().association_id(prior.id).send()
        })
        .await
    }
}

/// The explicit subnet associations of table `t` (not the VPC's main-table marker), by id.
pub(super) fn associations(t: &RouteTable) -> Vec<(String, attrs::RouteTableAssociation)> {
    t.associations()
        .iter()
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| {
            let association = attrs::RouteTableAssociation::<Resolved> {
                subnet_id: a.subnet_id().unwrap_or_default().to_owned(),
                route_table_id: a
                    .route_table_id()
                    .or(t.route_table_id())
                    .unwrap_or_default()
                    .to_owned(),
            };
            Some((a.route_table_association_id()?.to_owned(), association))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Address;
    use crate::graph::Kind;
    use crate::provider::aws::ec2::owner;
    use aws_sdk_ec2::types::{Route, RouteTableAssociation, Tag};
    use serde_json::{Value, json};

    fn tag(k: &str, v: &str) -> Tag {
        Tag::builder().key(k).value(v).build()
    }

    #[test]
    fn live_subnet_has_the_desired_shape_without_bookkeeping_tags() {
        let s = Subnet::builder()
            .subnet_id("subnet-1")
            .vpc_id("vpc-1")
            .cidr_block("10.0.50.0/24")
            .availability_zone("eu-west-1a")
            .map_public_ip_on_launch(false)
            .tags(tag("Name", "acceptance-private-eu-west-1a"))
            .tags(tag("ecsops:address", "subnet.private[eu-west-1a]"))
            .build();
        let t = subnet_live(&s).expect("test value");
        assert_eq!(
            serde_json::to_value(&t.live.attributes).expect("test value"),
            json!({"vpc_id": "vpc-1", "cidr_block": "10.0.50.0/24",
                   "availability_zone": "eu-west-1a", "map_public_ip_on_launch": false,
                   "tags": {"Name": "acceptance-private-eu-west-1a"}})
        );
        assert_eq!(
            owner(&t.tags).map(|(a, _)| a),
            Some(Address::from("subnet.private[eu-west-1a]"))
        );
    }

    #[test]
    fn routes_and_associations_come_from_their_table() {
        let t = RouteTable::builder()
            .route_table_id("rtb-1")
            .routes(
                Route::builder().destination_cidr_block("10.0.0.0/16").gateway_id("local").build(),
            )
            .routes(
                Route::builder()
                    .destination_cidr_block("0.0.0.0/0")
                    .nat_gateway_id("nat-1")
                    .build(),
            )
            .routes(Route::builder().destination_cidr_block("192.168.0.0/16").build())
            .associations(
                RouteTableAssociation::builder()
                    .main(true)
                    .route_table_association_id("rtbassoc-main")
                    .build(),
            )
            .associations(
                RouteTableAssociation::builder()
                    .route_table_association_id("rtbassoc-1")
                    .subnet_id("subnet-1")
                    .route_table_id("rtb-1")
                    .build(),
            )
            .build();
        let r = route_live(&t, "0.0.0.0/0").expect("test value");
        assert_eq!(r.id, "rtb-1_0.0.0.0/0");
        assert_eq!(
            serde_json::to_value(&r.attributes).expect("test value"),
            json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1"})
        );
        // A target ecsops does not know reads as `null`, and so as drift.
        let r = route_live(&t, "192.168.0.0/16").expect("test value");
        assert_eq!(r.attributes["other_target"], Value::Null);
        let back: attrs::Route =
            Prior::of_live(&Address::new("route.x"), &r).decode().expect("a live route decodes");
        assert_eq!(back.other_target, Some(None));
        assert!(route_live(&t, "172.16.0.0/12").is_none());
        let a = associations(&t);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, "rtbassoc-1");
        assert_eq!(a[0].1.subnet_id, "subnet-1");
    }

    #[test]
    fn route_targets_need_exactly_one() {
        let spec = |v: Value| ResourceSpec {
            address: Address::new("route.x"),
            kind: Kind::Route,
            attributes: serde_json::from_value(v).expect("test value"),
        };
        let route = |v: Value| -> attrs::Route {
            let mut base =
                json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0"});
            if let (Some(m), Value::Object(extra)) = (base.as_object_mut(), v) {
                m.extend(extra);
            }
            spec(base).decode().expect("test value")
        };
        let s = spec(json!({}));
        assert_eq!(
            target(&s, &route(json!({"gateway_id": "igw-1"}))).expect("test value"),
            RouteTarget::Gateway("igw-1")
        );
        assert_eq!(
            target(&s, &route(json!({"nat_gateway_id": "nat-1"}))).expect("test value"),
            RouteTarget::NatGateway("nat-1")
        );
        assert!(target(&s, &route(json!({}))).is_err());
        assert!(target(&s, &route(json!({"gateway_id": "a", "nat_gateway_id": "b"}))).is_err());
    }
}
