//! The VPC with its DNS flags, and the internet gateway with its attachment.

use crate::provider::aws::send;
use aws_sdk_ec2::operation::modify_vpc_attribute::builders::ModifyVpcAttributeFluentBuilder as ModifyVpc;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, InternetGateway, ResourceType, Vpc, VpcAttributeName,
};

use super::super::ec2::{Tagged, address_filters, remove_held, retag, tag_map, tag_spec, visible};
use super::super::live::missing;
use super::super::once::send_once;
use super::super::{Cx, Done, Manage, New, Prior, eventually, remove, remove_request, tolerate};
use super::{adoptable, describe_internet_gateways, describe_vpcs, find_adoptable, id_outputs};
use crate::graph::Address;
use crate::graph::attrs::{self, Resolved};
use crate::provider::{Applied, Live, ResourceSpec};

/// A VPC's DNS flags, which only `DescribeVpcAttribute` returns (one call per flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dns {
    support: bool,
    hostnames: bool,
}

impl Dns {
    /// What a new VPC has: it resolves names but gives instances no DNS hostnames.
    pub(super) const NEW: Dns = Dns { support: true, hostnames: false };

    fn of(v: &attrs::Vpc) -> Self {
        Self { support: v.enable_dns_support, hostnames: v.enable_dns_hostnames }
    }
}

impl Manage for attrs::Vpc {
    /// The VPC carrying the spec's ownership tags, with its DNS flags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, _want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let mut found = Vec::new();
        for v in describe_vpcs(cx, a, address_filters(cx.own, a)).await? {
            let Some(id) = v.vpc_id() else { continue };
            let dns = read_dns(cx, a, id).await?;
            found.extend(vpc_live(&v, dns));
        }
        adoptable(cx, a, found)
    }

    /// Creates the VPC with its tags and sets the DNS flags.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send_once!(
            a,
            cx.ec2.create_vpc().cidr_block(&want.cidr_block).tag_specifications(tag_spec(
                cx,
                a,
                ResourceType::Vpc,
                &want.tags
            ))
        )?;
        let id = out.vpc().and_then(Vpc::vpc_id).ok_or_else(|| missing(a, "CreateVpc", "VpcId"))?;
        set_dns(cx, a, id, Dns::of(&want), Dns::NEW).await?;
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    /// Sets the DNS flags and tags that differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::Vpc = prior.decode()?;
        set_dns(cx, a, prior.id, Dns::of(&want), Dns::of(&was)).await?;
        retag(cx, spec, prior, &was.tags, &want.tags).await
    }

    /// Deletes the VPC once what it holds is gone (retried while AWS reports dependents).
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_held(cx, prior, "InvalidVpcID.NotFound", || {
            cx.ec2.delete_vpc().vpc_id(prior.id).send()
        })
        .await
    }
}

/// Sets the DNS flags of `want` that differ from `current`. AWS takes one attribute per call
/// and refuses hostnames without support, hence the order.
async fn set_dns(cx: Cx<'_>, a: &Address, id: &str, want: Dns, current: Dns) -> Done<()> {
    let support = (current.support != want.support).then_some(want.support);
    let hostnames = (current.hostnames != want.hostnames).then_some(want.hostnames);
    let set_support = set_flag(cx, a, id, support, ModifyVpc::enable_dns_support);
    let set_hostnames = set_flag(cx, a, id, hostnames, ModifyVpc::enable_dns_hostnames);
    if want.support {
        set_support.await?;
        set_hostnames.await
    } else {
        set_hostnames.await?;
        set_support.await
    }
}

/// Sets one DNS flag of VPC `id` to `value` with `flag` (nothing when `None`).
async fn set_flag(
    cx: Cx<'_>,
    a: &Address,
    id: &str,
    value: Option<bool>,
    flag: impl Fn(ModifyVpc, AttributeBooleanValue) -> ModifyVpc,
) -> Done<()> {
    let Some(value) = value else { return Ok(()) };
    let value = AttributeBooleanValue::builder().value(value).build();
    eventually(cx, || async {
        send!(a, flag(cx.ec2.modify_vpc_attribute().vpc_id(id), value.clone()))
    })
    .await?;
    Ok(())
}

/// The DNS flags of VPC `id` (AWS's defaults for a flag it does not answer).
pub(super) async fn read_dns(cx: Cx<'_>, a: &Address, id: &str) -> Done<Dns> {
    let read = async |attribute: VpcAttributeName| {
        send!(a, cx.ec2.describe_vpc_attribute().vpc_id(id).attribute(attribute))
    };
    let support = read(VpcAttributeName::EnableDnsSupport)
        .await?
        .enable_dns_support()
        .and_then(AttributeBooleanValue::value);
    let hostnames = read(VpcAttributeName::EnableDnsHostnames)
        .await?
        .enable_dns_hostnames()
        .and_then(AttributeBooleanValue::value);
    Ok(Dns {
        support: support.unwrap_or(Dns::NEW.support),
        hostnames: hostnames.unwrap_or(Dns::NEW.hostnames),
    })
}

/// A described VPC with its DNS flags `dns` (read separately).
pub(super) fn vpc_live(v: &Vpc, dns: Dns) -> Option<Tagged> {
    let id = v.vpc_id()?;
    let tags = tag_map(v.tags());
    let vpc = attrs::Vpc::<Resolved> {
        cidr_block: v.cidr_block().unwrap_or_default().to_owned(),
        enable_dns_support: dns.support,
        enable_dns_hostnames: dns.hostnames,
        tags: visible(&tags),
    };
    Some(Tagged::of(id, tags, &vpc, &id_outputs(id)))
}

impl Manage for attrs::InternetGateway {
    /// The gateway carrying the spec's ownership tags, attached to the spec's VPC when a crash
    /// left it detached.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let vpc = spec.required("vpc_id", want.vpc_id.as_ref())?;
        let found =
            find_adoptable(cx, a, describe_internet_gateways, internet_gateway_live).await?;
        let Some(live) = found else {
            return Ok(None);
        };
        let mut was: attrs::InternetGateway = Prior::of_live(a, &live).decode()?;
        if was.vpc_id.is_some() {
            return Ok(Some(live));
        }
        attach(cx, a, &live.id, vpc).await?;
        was.vpc_id = Some(vpc.to_owned());
        Ok(Some(Live::new(live.id.clone(), &was, &id_outputs(&live.id))))
    }

    /// Creates the gateway with its tags and attaches it.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let vpc = spec.required("vpc_id", want.vpc_id.as_ref())?;
        let out = send_once!(
            a,
            cx.ec2.create_internet_gateway().tag_specifications(tag_spec(
                cx,
                a,
                ResourceType::InternetGateway,
                &want.tags
            ))
        )?;
        let id = out
            .internet_gateway()
            .and_then(InternetGateway::internet_gateway_id)
            .ok_or_else(|| missing(a, "CreateInternetGateway", "InternetGatewayId"))?;
        attach(cx, a, id, vpc).await?;
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    /// Attaches the gateway to the spec's VPC when it is not (detached or moved outside
    /// ecsops) rather than replacing it, which would also replace every route through it.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::InternetGateway = prior.decode()?;
        let vpc = spec.required("vpc_id", want.vpc_id.as_ref())?;
        if was.vpc_id.as_deref() != Some(vpc) {
            if let Some(old) = &was.vpc_id {
                tolerate(detach(cx, a, prior.id, old).await, &["Gateway.NotAttached"])?;
            }
            attach(cx, a, prior.id, vpc).await?;
        }
        retag(cx, spec, prior, &was.tags, &want.tags).await
    }

    /// Detaches the gateway, then deletes it.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let (a, id) = (prior.address, prior.id);
        let was: attrs::InternetGateway = prior.decode()?;
        if let Some(vpc) = &was.vpc_id {
            // "has some mapped public address(es)" until the VPC's Elastic IPs are released.
            remove(
                cx,
                &["DependencyViolation"],
                &[
                    "Gateway.NotAttached",
                    "InvalidInternetGatewayID.NotFound",
                    "InvalidVpcID.NotFound",
                ],
                || detach(cx, a, id, vpc),
            )
            .await?;
        }
        remove_request(cx, a, &[], &["InvalidInternetGatewayID.NotFound"], || {
            cx.ec2.delete_internet_gateway().internet_gateway_id(id).send()
        })
        .await
    }
}

async fn attach(cx: Cx<'_>, a: &Address, id: &str, vpc: &str) -> Done<()> {
    eventually(cx, || async {
        send!(a, cx.ec2.attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc))
    })
    .await?;
    Ok(())
}

async fn detach(cx: Cx<'_>, a: &Address, id: &str, vpc: &str) -> Done<()> {
    send!(a, cx.ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc)).map(drop)
}

/// A described gateway; its `vpc_id` is `null` when it is not attached.
pub(super) fn internet_gateway_live(g: &InternetGateway) -> Option<Tagged> {
    let id = g.internet_gateway_id()?;
    let vpc = g
        .attachments()
        .iter()
        .find(|at| {
            at.state().is_some_and(|s| matches!(s.as_str(), "attached" | "available" | "attaching"))
        })
        .and_then(|at| at.vpc_id());
    let tags = tag_map(g.tags());
    let gateway =
        attrs::InternetGateway::<Resolved> { vpc_id: vpc.map(str::to_owned), tags: visible(&tags) };
    Some(Tagged::of(id, tags, &gateway, &id_outputs(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{AttachmentStatus, InternetGatewayAttachment};
    use serde_json::{Value, json};

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
            internet_gateway_live(&attached).expect("test value").live.attributes["vpc_id"],
            json!("vpc-1")
        );
        let detached = InternetGateway::builder().internet_gateway_id("igw-1").build();
        assert_eq!(
            internet_gateway_live(&detached).expect("test value").live.attributes["vpc_id"],
            Value::Null
        );
    }
}
