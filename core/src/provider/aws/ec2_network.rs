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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    Address as ElasticIp, AttributeBooleanValue, ConnectivityType, DomainType, Filter,
    InternetGateway, NatGateway, ResourceType, RouteTable, Subnet, Vpc, VpcAttributeName,
};
use serde_json::Value;

use super::ec2::{
    Tagged, address_filters, create_tags, environment_filter, pick_adoptable, settle, sync_tags,
    tag_map, tag_specification,
};
use super::live::{attrs, missing};
use super::once::send_once;
use super::ownership::adopt;
use super::{AwsResultExt, Cx, Prior, eventually, retry_while, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

fn id_output(id: &str) -> BTreeMap<String, Value> {
    attrs([("id", Value::from(id))])
}

fn applied(spec: &ResourceSpec, id: &str, outputs: BTreeMap<String, Value>) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs,
        adopted: false,
    }
}

fn bool_value(enabled: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(enabled).build()
}

// ---------------------------------------------------------------------------------------------
// Entry points (dispatched from `aws::AwsProvider`)

/// Creates the resource, or adopts the one that carries its tags (or, for routes and
/// associations, already sits in its route table) and brings it to the spec.
pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    token_seed: u64,
) -> Result<Applied, ProviderError> {
    if let Some(mut live) = find(cx, spec).await? {
        tracing::info!(address = %spec.address, id = %live.id, "adopting an existing resource");
        adopt_fixups(cx, spec, &mut live).await?;
        return Box::pin(adopt(spec, &live, |prior| update(cx, spec, prior))).await;
    }
    let token = spec.client_token(&cx.own.lineage, token_seed);
    match spec.kind {
        Kind::Vpc => Box::pin(create_vpc(cx, spec)).await,
        Kind::InternetGateway => Box::pin(create_internet_gateway(cx, spec)).await,
        Kind::Subnet => Box::pin(create_subnet(cx, spec)).await,
        Kind::RouteTable => Box::pin(create_route_table(cx, spec, &token)).await,
        Kind::Route => Box::pin(create_route(cx, spec)).await,
        Kind::RouteTableAssociation => Box::pin(create_association(cx, spec)).await,
        Kind::ElasticIp => Box::pin(create_elastic_ip(cx, spec)).await,
        Kind::NatGateway => Box::pin(create_nat_gateway(cx, spec, &token)).await,
        other => Err(super::not_implemented(&spec.address, other, "create")),
    }
}

/// Brings an existing resource to the spec in place (the caller checked that nothing forces a
/// replacement).
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    match spec.kind {
        Kind::Vpc => {
            set_vpc_dns(
                cx,
                spec,
                prior.id,
                prior
                    .attributes
                    .get("enable_dns_support")
                    .and_then(Value::as_bool),
                prior
                    .attributes
                    .get("enable_dns_hostnames")
                    .and_then(Value::as_bool),
            )
            .await?;
        }
        Kind::Subnet => {
            let want = spec.bool_or("map_public_ip_on_launch", false)?;
            let had = prior
                .attributes
                .get("map_public_ip_on_launch")
                .and_then(Value::as_bool);
            if had != Some(want) {
                eventually(cx, || async {
                    cx.aws
                        .ec2
                        .modify_subnet_attribute()
                        .subnet_id(prior.id)
                        .map_public_ip_on_launch(bool_value(want))
                        .send()
                        .await
                        .at(a, "ModifySubnetAttribute")
                })
                .await?;
            }
        }
        Kind::Route => {
            let (key, target) = route_target(spec)?;
            if prior.attributes.get(key).and_then(Value::as_str) != Some(target) {
                let mut req = cx
                    .aws
                    .ec2
                    .replace_route()
                    .route_table_id(spec.str("route_table_id")?)
                    .destination_cidr_block(spec.str("destination_cidr_block")?);
                req = match key {
                    "nat_gateway_id" => req.nat_gateway_id(target),
                    _ => req.gateway_id(target),
                };
                req.send().await.at(a, "ReplaceRoute")?;
            }
            return Ok(applied(spec, prior.id, BTreeMap::new()));
        }
        Kind::RouteTableAssociation => {
            return Ok(applied(spec, prior.id, id_output(prior.id)));
        }
        Kind::InternetGateway => {
            let want = spec.str("vpc_id")?;
            let had = prior.attributes.get("vpc_id").and_then(Value::as_str);
            if had != Some(want) {
                // Detached (or moved) outside ecsops: attach it again rather than replacing it,
                // which would also replace every route through it.
                if let Some(vpc) = had {
                    let r = cx
                        .aws
                        .ec2
                        .detach_internet_gateway()
                        .internet_gateway_id(prior.id)
                        .vpc_id(vpc)
                        .send()
                        .await
                        .at(a, "DetachInternetGateway")
                        .map(drop);
                    tolerate(r, &["Gateway.NotAttached"])?;
                }
                attach_internet_gateway(cx, spec, prior.id).await?;
            }
        }
        Kind::RouteTable | Kind::ElasticIp | Kind::NatGateway => {}
        other => return Err(super::not_implemented(a, other, "update")),
    }
    sync_tags(cx, spec, prior.id, prior.attributes.get("tags")).await?;
    let mut outputs = id_output(prior.id);
    if spec.kind == Kind::ElasticIp
        && let Some(ip) = prior.outputs.get("public_ip")
    {
        outputs.insert("public_ip".to_owned(), ip.clone());
    }
    Ok(applied(spec, prior.id, outputs))
}

/// Deletes the resource; already gone is success. Detaches an internet gateway first, and
/// waits for a NAT gateway to be `deleted` (its Elastic IP and subnet are released only then).
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let id = prior.id;
    let attr = |name: &str| prior.attributes.get(name).and_then(Value::as_str);
    let limit = cx.waits.dependency;
    match kind {
        Kind::Vpc => {
            let r = retry_while(cx.waits, limit, &["DependencyViolation"], || async {
                cx.aws
                    .ec2
                    .delete_vpc()
                    .vpc_id(id)
                    .send()
                    .await
                    .at(address, "DeleteVpc")
                    .map(drop)
            })
            .await;
            tolerate(r, &["InvalidVpcID.NotFound"])
        }
        Kind::InternetGateway => {
            if let Some(vpc) = attr("vpc_id") {
                // "has some mapped public address(es)" until the VPC's Elastic IPs are released.
                let r = retry_while(cx.waits, limit, &["DependencyViolation"], || async {
                    cx.aws
                        .ec2
                        .detach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc)
                        .send()
                        .await
                        .at(address, "DetachInternetGateway")
                        .map(drop)
                })
                .await;
                tolerate(
                    r,
                    &[
                        "Gateway.NotAttached",
                        "InvalidInternetGatewayID.NotFound",
                        "InvalidVpcID.NotFound",
                    ],
                )?;
            }
            let r = cx
                .aws
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .at(address, "DeleteInternetGateway")
                .map(drop);
            tolerate(r, &["InvalidInternetGatewayID.NotFound"])
        }
        Kind::Subnet => {
            let r = retry_while(cx.waits, limit, &["DependencyViolation"], || async {
                cx.aws
                    .ec2
                    .delete_subnet()
                    .subnet_id(id)
                    .send()
                    .await
                    .at(address, "DeleteSubnet")
                    .map(drop)
            })
            .await;
            tolerate(r, &["InvalidSubnetID.NotFound"])
        }
        Kind::RouteTable => {
            let r = retry_while(cx.waits, limit, &["DependencyViolation"], || async {
                cx.aws
                    .ec2
                    .delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .at(address, "DeleteRouteTable")
                    .map(drop)
            })
            .await;
            tolerate(r, &["InvalidRouteTableID.NotFound"])
        }
        Kind::Route => {
            let (Some(table), Some(destination)) =
                (attr("route_table_id"), attr("destination_cidr_block"))
            else {
                return Err(ProviderError::Failed {
                    address: address.clone(),
                    what: "the state records no `route_table_id` and `destination_cidr_block` for this route"
                        .to_owned(),
                });
            };
            let r = cx
                .aws
                .ec2
                .delete_route()
                .route_table_id(table)
                .destination_cidr_block(destination)
                .send()
                .await
                .at(address, "DeleteRoute")
                .map(drop);
            tolerate(
                r,
                &["InvalidRoute.NotFound", "InvalidRouteTableID.NotFound"],
            )
        }
        Kind::RouteTableAssociation => {
            let r = cx
                .aws
                .ec2
                .disassociate_route_table()
                .association_id(id)
                .send()
                .await
                .at(address, "DisassociateRouteTable")
                .map(drop);
            tolerate(r, &["InvalidAssociationID.NotFound"])
        }
        Kind::ElasticIp => {
            // Still "in use" for a moment after its NAT gateway reports `deleted`.
            let r = retry_while(cx.waits, limit, &["InvalidIPAddress.InUse"], || async {
                cx.aws
                    .ec2
                    .release_address()
                    .allocation_id(id)
                    .send()
                    .await
                    .at(address, "ReleaseAddress")
                    .map(drop)
            })
            .await;
            tolerate(r, &["InvalidAllocationID.NotFound"])
        }
        Kind::NatGateway => {
            let r = cx
                .aws
                .ec2
                .delete_nat_gateway()
                .nat_gateway_id(id)
                .send()
                .await
                .at(address, "DeleteNatGateway")
                .map(drop);
            tolerate(r, &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"])?;
            wait_nat_gateway(cx, address, id, "deleted").await?;
            match attr("allocation_id") {
                Some(allocation) => free_address(cx, address, allocation).await,
                None => Ok(()),
            }
        }
        other => Err(super::not_implemented(address, other, "delete")),
    }
}

// ---------------------------------------------------------------------------------------------
// Create, per kind

async fn create_vpc(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = send_once!(
        aws_sdk_ec2,
        cx.aws
            .ec2
            .create_vpc()
            .cidr_block(spec.str("cidr_block")?)
            .tag_specifications(tag_specification(
                ResourceType::Vpc,
                &create_tags(cx.own, spec)?,
            ))
    )
    .await
    .at(a, "CreateVpc")?;
    let id = out
        .vpc()
        .and_then(Vpc::vpc_id)
        .ok_or_else(|| missing(a, "CreateVpc", "VpcId"))?;
    // A new VPC resolves DNS but gives instances no DNS hostnames.
    set_vpc_dns(cx, spec, id, Some(true), Some(false)).await?;
    Ok(applied(spec, id, id_output(id)))
}

/// Sets the DNS flags that differ from `support` / `hostnames` (unknown: set). AWS takes one
/// attribute per call and refuses hostnames without support, hence the order.
async fn set_vpc_dns(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    id: &str,
    support: Option<bool>,
    hostnames: Option<bool>,
) -> Result<(), ProviderError> {
    let want_support = spec.bool_or("enable_dns_support", true)?;
    let want_hostnames = spec.bool_or("enable_dns_hostnames", false)?;
    let set_support = async {
        if support != Some(want_support) {
            eventually(cx, || async {
                cx.aws
                    .ec2
                    .modify_vpc_attribute()
                    .vpc_id(id)
                    .enable_dns_support(bool_value(want_support))
                    .send()
                    .await
                    .at(&spec.address, "ModifyVpcAttribute")
            })
            .await?;
        }
        Ok::<(), ProviderError>(())
    };
    let set_hostnames = async {
        if hostnames != Some(want_hostnames) {
            eventually(cx, || async {
                cx.aws
                    .ec2
                    .modify_vpc_attribute()
                    .vpc_id(id)
                    .enable_dns_hostnames(bool_value(want_hostnames))
                    .send()
                    .await
                    .at(&spec.address, "ModifyVpcAttribute")
            })
            .await?;
        }
        Ok::<(), ProviderError>(())
    };
    if want_support {
        set_support.await?;
        set_hostnames.await
    } else {
        set_hostnames.await?;
        set_support.await
    }
}

async fn create_internet_gateway(
    cx: Cx<'_>,
    spec: &ResourceSpec,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = send_once!(
        aws_sdk_ec2,
        cx.aws
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_specification(
                ResourceType::InternetGateway,
                &create_tags(cx.own, spec)?,
            ))
    )
    .await
    .at(a, "CreateInternetGateway")?;
    let id = out
        .internet_gateway()
        .and_then(InternetGateway::internet_gateway_id)
        .ok_or_else(|| missing(a, "CreateInternetGateway", "InternetGatewayId"))?;
    attach_internet_gateway(cx, spec, id).await?;
    Ok(applied(spec, id, id_output(id)))
}

async fn attach_internet_gateway(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    id: &str,
) -> Result<(), ProviderError> {
    eventually(cx, || async {
        cx.aws
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(spec.str("vpc_id")?)
            .send()
            .await
            .at(&spec.address, "AttachInternetGateway")
    })
    .await?;
    Ok(())
}

async fn create_subnet(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = eventually(cx, || async {
        send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .create_subnet()
                .vpc_id(spec.str("vpc_id")?)
                .cidr_block(spec.str("cidr_block")?)
                .availability_zone(spec.str("availability_zone")?)
                .tag_specifications(tag_specification(
                    ResourceType::Subnet,
                    &create_tags(cx.own, spec)?,
                ))
        )
        .await
        .at(a, "CreateSubnet")
    })
    .await?;
    let id = out
        .subnet()
        .and_then(Subnet::subnet_id)
        .ok_or_else(|| missing(a, "CreateSubnet", "SubnetId"))?;
    if spec.bool_or("map_public_ip_on_launch", false)? {
        eventually(cx, || async {
            cx.aws
                .ec2
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(bool_value(true))
                .send()
                .await
                .at(a, "ModifySubnetAttribute")
        })
        .await?;
    }
    Ok(applied(spec, id, id_output(id)))
}

async fn create_route_table(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    token: &str,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = eventually(cx, || async {
        send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .create_route_table()
                .vpc_id(spec.str("vpc_id")?)
                .client_token(token)
                .tag_specifications(tag_specification(
                    ResourceType::RouteTable,
                    &create_tags(cx.own, spec)?,
                ))
        )
        .await
        .at(a, "CreateRouteTable")
    })
    .await?;
    let id = out
        .route_table()
        .and_then(RouteTable::route_table_id)
        .ok_or_else(|| missing(a, "CreateRouteTable", "RouteTableId"))?;
    Ok(applied(spec, id, id_output(id)))
}

/// The route's target attribute: `gateway_id` or `nat_gateway_id`, exactly one.
fn route_target(spec: &ResourceSpec) -> Result<(&'static str, &str), ProviderError> {
    match (spec.opt_str("gateway_id"), spec.opt_str("nat_gateway_id")) {
        (Some(g), None) => Ok(("gateway_id", g)),
        (None, Some(n)) => Ok(("nat_gateway_id", n)),
        _ => Err(spec.invalid(
            "gateway_id",
            "and `nat_gateway_id`: exactly one of them must be set",
        )),
    }
}

fn route_id(table: &str, destination: &str) -> String {
    format!("{table}_{destination}")
}

async fn create_route(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let table = spec.str("route_table_id")?;
    let destination = spec.str("destination_cidr_block")?;
    let (key, target) = route_target(spec)?;
    eventually(cx, || async {
        let req = cx
            .aws
            .ec2
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(destination);
        let req = match key {
            "nat_gateway_id" => req.nat_gateway_id(target),
            _ => req.gateway_id(target),
        };
        send_once!(aws_sdk_ec2, req)
            .await
            .at(&spec.address, "CreateRoute")
    })
    .await?;
    Ok(applied(
        spec,
        &route_id(table, destination),
        BTreeMap::new(),
    ))
}

async fn create_association(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = eventually(cx, || async {
        send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .associate_route_table()
                .subnet_id(spec.str("subnet_id")?)
                .route_table_id(spec.str("route_table_id")?)
        )
        .await
        .at(a, "AssociateRouteTable")
    })
    .await?;
    let id = out
        .association_id()
        .ok_or_else(|| missing(a, "AssociateRouteTable", "AssociationId"))?;
    Ok(applied(spec, id, id_output(id)))
}

async fn create_elastic_ip(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let domain = spec.opt_str("domain").unwrap_or("vpc");
    let out = send_once!(
        aws_sdk_ec2,
        cx.aws
            .ec2
            .allocate_address()
            .domain(DomainType::from(domain))
            .tag_specifications(tag_specification(
                ResourceType::ElasticIp,
                &create_tags(cx.own, spec)?,
            ))
    )
    .await
    .at(a, "AllocateAddress")?;
    let id = out
        .allocation_id()
        .ok_or_else(|| missing(a, "AllocateAddress", "AllocationId"))?;
    let mut outputs = id_output(id);
    if let Some(ip) = out.public_ip() {
        outputs.insert("public_ip".to_owned(), Value::from(ip));
    }
    Ok(applied(spec, id, outputs))
}

async fn create_nat_gateway(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    token: &str,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = eventually(cx, || async {
        send_once!(
            aws_sdk_ec2,
            cx.aws
                .ec2
                .create_nat_gateway()
                .subnet_id(spec.str("subnet_id")?)
                .set_allocation_id(spec.opt_str("allocation_id").map(str::to_owned))
                .connectivity_type(ConnectivityType::from(
                    spec.opt_str("connectivity_type").unwrap_or("public"),
                ))
                .client_token(token)
                .tag_specifications(tag_specification(
                    ResourceType::Natgateway,
                    &create_tags(cx.own, spec)?,
                ))
        )
        .await
        .at(a, "CreateNatGateway")
    })
    .await?;
    let id = out
        .nat_gateway()
        .and_then(NatGateway::nat_gateway_id)
        .ok_or_else(|| missing(a, "CreateNatGateway", "NatGatewayId"))?;
    wait_nat_gateway(cx, a, id, "available").await?;
    Ok(applied(spec, id, id_output(id)))
}

/// Polls until the NAT gateway is in `want` (`available` or `deleted`; not found counts as
/// deleted), failing at once on `failed` and after the NAT gateway wait.
/// A deleted NAT gateway's Elastic IP must be free before a replacement gateway can take it.
/// AWS frees it with the gateway (at times a moment later); an address still associated after
/// the gateway is gone (moto keeps the association for good) is disassociated here.
async fn free_address(
    cx: Cx<'_>,
    address: &Address,
    allocation: &str,
) -> Result<(), ProviderError> {
    let found = cx
        .aws
        .ec2
        .describe_addresses()
        .allocation_ids(allocation)
        .send()
        .await
        .at(address, "DescribeAddresses");
    let found = match found {
        Ok(out) => out,
        Err(e) if e.aws_code() == Some("InvalidAllocationID.NotFound") => return Ok(()),
        Err(e) => return Err(e),
    };
    for association in found.addresses().iter().filter_map(|a| a.association_id()) {
        let r = cx
            .aws
            .ec2
            .disassociate_address()
            .association_id(association)
            .send()
            .await
            .at(address, "DisassociateAddress")
            .map(drop);
        tolerate(r, &["InvalidAssociationID.NotFound"])?;
    }
    Ok(())
}

async fn wait_nat_gateway(
    cx: Cx<'_>,
    address: &Address,
    id: &str,
    want: &str,
) -> Result<(), ProviderError> {
    let start = Instant::now();
    loop {
        let out = cx
            .aws
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await;
        let (state, failure) = match out {
            Ok(o) => match o.nat_gateways().first() {
                Some(n) => (
                    n.state().map_or("unknown", |s| s.as_str()).to_owned(),
                    format!(
                        "{}: {}",
                        n.failure_code().unwrap_or("unknown"),
                        n.failure_message().unwrap_or_default()
                    ),
                ),
                None => ("deleted".to_owned(), String::new()),
            },
            Err(e) if e.code() == Some("NatGatewayNotFound") => {
                ("deleted".to_owned(), String::new())
            }
            Err(e) => return Err(super::aws_error(address, "DescribeNatGateways", &e)),
        };
        if state == want {
            return Ok(());
        }
        if state == "failed"
            || (want == "available" && matches!(state.as_str(), "deleting" | "deleted"))
        {
            return Err(ProviderError::Failed {
                address: address.clone(),
                what: format!("NAT gateway `{id}` is `{state}` instead of `{want}`: {failure}"),
            });
        }
        if start.elapsed() + cx.waits.poll > cx.waits.nat_gateway {
            return Err(ProviderError::Timeout {
                address: address.clone(),
                what: format!("NAT gateway `{id}` to be `{want}` (it is `{state}`)"),
                seconds: cx.waits.nat_gateway.as_secs(),
            });
        }
        tokio::time::sleep(cx.waits.poll).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Adoption

/// The existing resource that this spec would create: by tags, or for routes and associations
/// by their place in the route table.
async fn find(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Option<Live>, ProviderError> {
    let a = &spec.address;
    let filters = address_filters(cx.own, a);
    let found: Vec<Tagged> = match spec.kind {
        Kind::Vpc => {
            let vpcs = describe_vpcs(cx, a, filters).await?;
            let mut found: Vec<Tagged> = vpcs.iter().filter_map(vpc_live).collect();
            for t in &mut found {
                read_vpc_dns(cx, a, &mut t.live).await?;
            }
            found
        }
        Kind::InternetGateway => describe_internet_gateways(cx, a, filters)
            .await?
            .iter()
            .filter_map(internet_gateway_live)
            .collect(),
        Kind::Subnet => describe_subnets(cx, a, filters)
            .await?
            .iter()
            .filter_map(subnet_live)
            .collect(),
        Kind::RouteTable => describe_route_tables(cx, a, filters)
            .await?
            .iter()
            .filter_map(route_table_live)
            .collect(),
        Kind::ElasticIp => describe_addresses(cx, a, filters)
            .await?
            .iter()
            .filter_map(elastic_ip_live)
            .collect(),
        Kind::NatGateway => describe_nat_gateways(cx, a, filters)
            .await?
            .iter()
            .filter_map(nat_gateway_live)
            .collect(),
        Kind::Route => {
            let table = spec.str("route_table_id")?;
            let destination = spec.str("destination_cidr_block")?;
            let tables = cx
                .aws
                .ec2
                .describe_route_tables()
                .route_table_ids(table)
                .send()
                .await
                .at(a, "DescribeRouteTables")?;
            return Ok(tables
                .route_tables()
                .iter()
                .find_map(|t| route_live(t, destination)));
        }
        Kind::RouteTableAssociation => {
            let subnet = spec.str("subnet_id")?;
            let table = spec.str("route_table_id")?;
            let tables = describe_route_tables(
                cx,
                a,
                vec![
                    Filter::builder()
                        .name("association.subnet-id")
                        .values(subnet)
                        .build(),
                ],
            )
            .await?;
            return Ok(tables.iter().flat_map(association_lives).find(|l| {
                l.attributes.get("subnet_id").and_then(Value::as_str) == Some(subnet)
                    && l.attributes.get("route_table_id").and_then(Value::as_str) == Some(table)
            }));
        }
        other => return Err(super::not_implemented(a, other, "adopt")),
    };
    let candidates = found
        .into_iter()
        .map(|t| (t.live.id.clone(), t.tags, t.live))
        .collect();
    Ok(pick_adoptable(cx.own, a, candidates)?.map(|(_, live)| live))
}

/// What a crash may have left half done that update alone would not finish.
async fn adopt_fixups(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    live: &mut Live,
) -> Result<(), ProviderError> {
    match spec.kind {
        Kind::InternetGateway if live.attributes.get("vpc_id").is_none_or(Value::is_null) => {
            attach_internet_gateway(cx, spec, &live.id).await?;
            live.attributes
                .insert("vpc_id".to_owned(), Value::from(spec.str("vpc_id")?));
        }
        Kind::NatGateway => wait_nat_gateway(cx, &spec.address, &live.id, "available").await?,
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Refresh

/// Reads every recorded network resource: one describe per kind present (routes and
/// associations come with the route tables), plus two `DescribeVpcAttribute` per VPC (the only
/// API that returns its DNS flags).
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
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
        when(
            want(Kind::InternetGateway),
            describe_internet_gateways(cx, &gateway, env())
        ),
        when(want(Kind::Subnet), describe_subnets(cx, &subnet, env())),
        when(want_tables, describe_route_tables(cx, &table, env())),
        when(
            want(Kind::ElasticIp),
            describe_addresses(cx, &address, env())
        ),
        when(
            want(Kind::NatGateway),
            describe_nat_gateways(cx, &nat, env())
        ),
    )?;
    let tagged: Vec<Tagged> = vpcs
        .iter()
        .filter_map(vpc_live)
        .chain(gateways.iter().filter_map(internet_gateway_live))
        .chain(subnets.iter().filter_map(subnet_live))
        .chain(tables.iter().filter_map(route_table_live))
        .chain(addresses.iter().filter_map(elastic_ip_live))
        .chain(nat_gateways.iter().filter_map(nat_gateway_live))
        .collect();

    let tagged_kinds: Vec<Kind> = super::family_kinds(Kind::Vpc)
        .into_iter()
        .filter(|k| !matches!(k, Kind::Route | Kind::RouteTableAssociation))
        .collect();
    settle(cx.own, resources, &tagged_kinds, tagged, out);
    for (address, r) in resources
        .iter()
        .filter(|(_, r)| matches!(r.kind, Kind::Route | Kind::RouteTableAssociation))
    {
        let attr = |name: &str| r.attributes.get(name).and_then(Value::as_str);
        let live = if r.kind == Kind::Route {
            match (attr("route_table_id"), attr("destination_cidr_block")) {
                (Some(table), Some(destination)) => tables
                    .iter()
                    .filter(|t| t.route_table_id() == Some(table))
                    .find_map(|t| route_live(t, destination)),
                _ => None,
            }
        } else {
            tables
                .iter()
                .flat_map(association_lives)
                .find(|l| Some(l.id.as_str()) == r.id.as_deref())
        };
        match live {
            Some(live) => {
                out.live.insert(address.clone(), live);
            }
            None => {
                out.missing.insert(address.clone());
            }
        }
    }
    for live in out.live.values_mut().chain(out.untracked.values_mut()) {
        if live.kind == Kind::Vpc && !live.attributes.contains_key("enable_dns_support") {
            read_vpc_dns(cx, &vpc, live).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Describe calls and live shapes

/// The items `read` returns when `wanted`, none (and no request) otherwise.
async fn when<T>(
    wanted: bool,
    read: impl Future<Output = Result<Vec<T>, ProviderError>>,
) -> Result<Vec<T>, ProviderError> {
    if wanted { read.await } else { Ok(Vec::new()) }
}

async fn describe_vpcs(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<Vpc>, ProviderError> {
    cx.aws
        .ec2
        .describe_vpcs()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeVpcs")
}

async fn describe_internet_gateways(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<InternetGateway>, ProviderError> {
    cx.aws
        .ec2
        .describe_internet_gateways()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeInternetGateways")
}

async fn describe_subnets(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<Subnet>, ProviderError> {
    cx.aws
        .ec2
        .describe_subnets()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeSubnets")
}

async fn describe_route_tables(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<RouteTable>, ProviderError> {
    cx.aws
        .ec2
        .describe_route_tables()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeRouteTables")
}

/// Not paginated by AWS: one call returns every address.
async fn describe_addresses(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<ElasticIp>, ProviderError> {
    let out = cx
        .aws
        .ec2
        .describe_addresses()
        .set_filters(Some(filters))
        .send()
        .await
        .at(a, "DescribeAddresses")?;
    Ok(out.addresses().to_vec())
}

/// Only gateways that exist or are coming up: deleted ones stay visible for an hour.
async fn describe_nat_gateways(
    cx: Cx<'_>,
    a: &Address,
    mut filters: Vec<Filter>,
) -> Result<Vec<NatGateway>, ProviderError> {
    filters.push(
        Filter::builder()
            .name("state")
            .values("pending")
            .values("available")
            .build(),
    );
    cx.aws
        .ec2
        .describe_nat_gateways()
        .set_filter(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeNatGateways")
}

async fn read_vpc_dns(cx: Cx<'_>, a: &Address, live: &mut Live) -> Result<(), ProviderError> {
    let support = cx
        .aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(&live.id)
        .attribute(VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .at(a, "DescribeVpcAttribute")?
        .enable_dns_support()
        .and_then(AttributeBooleanValue::value);
    let hostnames = cx
        .aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(&live.id)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .at(a, "DescribeVpcAttribute")?
        .enable_dns_hostnames()
        .and_then(AttributeBooleanValue::value);
    live.attributes.insert(
        "enable_dns_support".to_owned(),
        Value::from(support.unwrap_or(true)),
    );
    live.attributes.insert(
        "enable_dns_hostnames".to_owned(),
        Value::from(hostnames.unwrap_or(false)),
    );
    Ok(())
}

fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// Without the DNS flags, which need their own calls ([`read_vpc_dns`]).
fn vpc_live(v: &Vpc) -> Option<Tagged> {
    Some(Tagged::new(
        Kind::Vpc,
        v.vpc_id()?,
        tag_map(v.tags()),
        attrs([("cidr_block", opt(v.cidr_block()))]),
    ))
}

fn internet_gateway_live(g: &InternetGateway) -> Option<Tagged> {
    let vpc = g
        .attachments()
        .iter()
        .find(|at| {
            at.state()
                .is_some_and(|s| matches!(s.as_str(), "attached" | "available" | "attaching"))
        })
        .and_then(|at| at.vpc_id());
    Some(Tagged::new(
        Kind::InternetGateway,
        g.internet_gateway_id()?,
        tag_map(g.tags()),
        attrs([("vpc_id", opt(vpc))]),
    ))
}

fn subnet_live(s: &Subnet) -> Option<Tagged> {
    Some(Tagged::new(
        Kind::Subnet,
        s.subnet_id()?,
        tag_map(s.tags()),
        attrs([
            ("vpc_id", opt(s.vpc_id())),
            ("cidr_block", opt(s.cidr_block())),
            ("availability_zone", opt(s.availability_zone())),
            (
                "map_public_ip_on_launch",
                Value::from(s.map_public_ip_on_launch().unwrap_or(false)),
            ),
        ]),
    ))
}

fn route_table_live(t: &RouteTable) -> Option<Tagged> {
    Some(Tagged::new(
        Kind::RouteTable,
        t.route_table_id()?,
        tag_map(t.tags()),
        attrs([("vpc_id", opt(t.vpc_id()))]),
    ))
}

/// The route to `destination` in table `t`, in the shape of the desired route.
fn route_live(t: &RouteTable, destination: &str) -> Option<Live> {
    let table = t.route_table_id()?;
    let route = t
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(destination))?;
    let mut attributes = attrs([
        ("route_table_id", Value::from(table)),
        ("destination_cidr_block", Value::from(destination)),
    ]);
    if let Some(nat) = route.nat_gateway_id() {
        attributes.insert("nat_gateway_id".to_owned(), Value::from(nat));
    } else if let Some(gateway) = route.gateway_id() {
        attributes.insert("gateway_id".to_owned(), Value::from(gateway));
    } else {
        // Another kind of target (instance, interface, peering) shows as drift of the target.
        let other = route
            .network_interface_id()
            .or(route.instance_id())
            .or(route.vpc_peering_connection_id())
            .or(route.transit_gateway_id());
        attributes.insert("other_target".to_owned(), opt(other));
    }
    Some(Live {
        kind: Kind::Route,
        id: route_id(table, destination),
        attributes,
        outputs: BTreeMap::new(),
    })
}

/// The explicit subnet associations of table `t` (not the VPC's main-table marker).
fn association_lives(t: &RouteTable) -> Vec<Live> {
    t.associations()
        .iter()
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| {
            let id = a.route_table_association_id()?;
            Some(Live {
                kind: Kind::RouteTableAssociation,
                id: id.to_owned(),
                attributes: attrs([
                    ("subnet_id", opt(a.subnet_id())),
                    (
                        "route_table_id",
                        opt(a.route_table_id().or(t.route_table_id())),
                    ),
                ]),
                outputs: id_output(id),
            })
        })
        .collect()
}

fn elastic_ip_live(e: &ElasticIp) -> Option<Tagged> {
    let mut t = Tagged::new(
        Kind::ElasticIp,
        e.allocation_id()?,
        tag_map(e.tags()),
        attrs([("domain", opt(e.domain().map(DomainType::as_str)))]),
    );
    t.live
        .outputs
        .insert("public_ip".to_owned(), opt(e.public_ip()));
    Some(t)
}

fn nat_gateway_live(n: &NatGateway) -> Option<Tagged> {
    let allocation = n
        .nat_gateway_addresses()
        .iter()
        .find_map(|a| a.allocation_id());
    Some(Tagged::new(
        Kind::NatGateway,
        n.nat_gateway_id()?,
        tag_map(n.tags()),
        attrs([
            ("subnet_id", opt(n.subnet_id())),
            ("allocation_id", opt(allocation)),
            (
                "connectivity_type",
                opt(n.connectivity_type().map(ConnectivityType::as_str)),
            ),
        ]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aws::ec2::owner;
    use aws_sdk_ec2::types::{
        AttachmentStatus, InternetGatewayAttachment, Route, RouteTableAssociation, Tag,
    };
    use serde_json::json;

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
                Route::builder()
                    .destination_cidr_block("10.0.0.0/16")
                    .gateway_id("local")
                    .build(),
            )
            .routes(
                Route::builder()
                    .destination_cidr_block("0.0.0.0/0")
                    .nat_gateway_id("nat-1")
                    .build(),
            )
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
        assert!(route_live(&t, "192.168.0.0/16").is_none());
        let a = association_lives(&t);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, "rtbassoc-1");
        assert_eq!(a[0].attributes["subnet_id"], json!("subnet-1"));
    }

    #[test]
    fn a_detached_internet_gateway_has_no_vpc() {
        let attached = InternetGateway::builder()
            .internet_gateway_id("igw-1")
            .attachments(
                InternetGatewayAttachment::builder()
                    .vpc_id("vpc-1")
                    .state(AttachmentStatus::from("available"))
                    .build(),
            )
            .build();
        assert_eq!(
            internet_gateway_live(&attached)
                .expect("test value")
                .live
                .attributes["vpc_id"],
            json!("vpc-1")
        );
        let detached = InternetGateway::builder()
            .internet_gateway_id("igw-1")
            .build();
        assert_eq!(
            internet_gateway_live(&detached)
                .expect("test value")
                .live
                .attributes["vpc_id"],
            Value::Null
        );
    }

    #[test]
    fn route_targets_need_exactly_one() {
        let spec = |v: Value| ResourceSpec {
            address: Address::new("route.x"),
            kind: Kind::Route,
            attributes: serde_json::from_value(v).expect("test value"),
        };
        assert_eq!(
            route_target(&spec(json!({"gateway_id": "igw-1"}))).expect("test value"),
            ("gateway_id", "igw-1")
        );
        assert_eq!(
            route_target(&spec(json!({"nat_gateway_id": "nat-1"}))).expect("test value"),
            ("nat_gateway_id", "nat-1")
        );
        assert!(route_target(&spec(json!({}))).is_err());
        assert!(route_target(&spec(json!({"gateway_id": "a", "nat_gateway_id": "b"}))).is_err());
    }
}
