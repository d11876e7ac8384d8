//! Elastic IPs and the NAT gateways that send from them.

use crate::provider::aws::send;
use std::sync::Mutex;

use aws_sdk_ec2::types::{
    Address as ElasticIp, ConnectivityType, DomainType, NatGateway, ResourceType,
};

use super::super::ec2::{Tagged, sync_ec2_tags, tag_map, tag_spec, visible};
use super::super::live::{found_or_none, missing};
use super::super::once::send_once;
use super::super::wait::poll_until;
use super::super::{Cx, Done, Manage, New, Prior, eventually, remove_request};
use super::{describe_addresses, describe_nat_gateways, find_adoptable, id_outputs, update_tags};
use crate::graph::Address;
use crate::graph::attrs::{self, Resolved};
use crate::provider::{Applied, Live, ProviderError, ResourceSpec};

impl Manage for attrs::ElasticIp {
    /// The address carrying the spec's ownership tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, _want: &Self) -> Done<Option<Live>> {
        find_adoptable(cx, &spec.address, describe_addresses, elastic_ip_live).await
    }

    /// Allocates the address with its tags.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send_once!(
            a,
            cx.ec2
                .allocate_address()
                .domain(DomainType::from(want.domain.as_str()))
                .tag_specifications(tag_spec(cx, a, ResourceType::ElasticIp, &want.tags))
        )?;
        let id =
            out.allocation_id().ok_or_else(|| missing(a, "AllocateAddress", "AllocationId"))?;
        let outputs = attrs::ElasticIpOutputs {
            id: id.to_owned(),
            public_ip: out.public_ip().map(str::to_owned),
        };
        Ok(Applied::new(spec, id, &outputs))
    }

    /// Brings the tags to the spec (an address is otherwise immutable).
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let outputs = prior.outputs::<attrs::ElasticIp>()?;
        let was: attrs::ElasticIp = prior.decode()?;
        sync_ec2_tags(cx, &spec.address, prior.id, &was.tags, &want.tags).await?;
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Releases the address, retried while it is still associated (for a moment after its
    /// NAT gateway reports `deleted`).
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(
            cx,
            prior.address,
            &["InvalidIPAddress.InUse"],
            &["InvalidAllocationID.NotFound"],
            || cx.ec2.release_address().allocation_id(prior.id).send(),
        )
        .await
    }
}

pub(super) fn elastic_ip_live(e: &ElasticIp) -> Option<Tagged> {
    let id = e.allocation_id()?;
    let tags = tag_map(e.tags());
    let address = attrs::ElasticIp::<Resolved> {
        domain: e.domain().map_or("", DomainType::as_str).to_owned(),
        tags: visible(&tags),
    };
    let outputs =
        attrs::ElasticIpOutputs { id: id.to_owned(), public_ip: e.public_ip().map(str::to_owned) };
    Some(Tagged::of(id, tags, &address, &outputs))
}

impl Manage for attrs::NatGateway {
    /// The gateway carrying the spec's ownership tags, once it is `available` (a crash may have
    /// left it `pending`).
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, _want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let found = find_adoptable(cx, a, describe_nat_gateways, nat_gateway_live).await?;
        if let Some(live) = &found {
            wait_nat_gateway(cx, a, &live.id, "available").await?;
        }
        Ok(found)
    }

    /// Creates the gateway with its tags (with a client token) and waits until it is
    /// `available`.
    async fn create(cx: Cx<'_>, New { a, spec, token }: New<'_>, want: Self) -> Done {
        let out = eventually(cx, || async {
            send_once!(
                a,
                cx.ec2
                    .create_nat_gateway()
                    .subnet_id(&want.subnet_id)
                    .set_allocation_id(want.allocation_id.clone())
                    .connectivity_type(ConnectivityType::from(want.connectivity_type.as_str()))
                    .client_token(token)
                    .tag_specifications(tag_spec(cx, a, ResourceType::Natgateway, &want.tags))
            )
        })
        .await?;
        let id = out
            .nat_gateway()
            .and_then(NatGateway::nat_gateway_id)
            .ok_or_else(|| missing(a, "CreateNatGateway", "NatGatewayId"))?;
        wait_nat_gateway(cx, a, id, "available").await?;
        Ok(Applied::new(spec, id, &id_outputs(id)))
    }

    /// Brings the tags to the spec (everything else forces a new gateway).
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        update_tags(cx, spec, want, prior, |n: &Self| &n.tags).await
    }

    /// Deletes the gateway and waits until it is `deleted`, then frees its Elastic IP so that
    /// the address can be released or taken by a replacement.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let (a, id) = (prior.address, prior.id);
        let was: attrs::NatGateway = prior.decode()?;
        remove_request(cx, a, &[], &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"], || {
            cx.ec2.delete_nat_gateway().nat_gateway_id(id).send()
        })
        .await?;
        wait_nat_gateway(cx, a, id, "deleted").await?;
        match &was.allocation_id {
            Some(allocation) => free_address(cx, a, allocation).await,
            None => Ok(()),
        }
    }
}

pub(super) fn nat_gateway_live(n: &NatGateway) -> Option<Tagged> {
    let id = n.nat_gateway_id()?;
    let allocation = n.nat_gateway_addresses().iter().find_map(|a| a.allocation_id());
    let tags = tag_map(n.tags());
    let gateway = attrs::NatGateway::<Resolved> {
        subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
        allocation_id: allocation.map(str::to_owned),
        connectivity_type: n.connectivity_type().map_or("", ConnectivityType::as_str).to_owned(),
        tags: visible(&tags),
    };
    Some(Tagged::of(id, tags, &gateway, &id_outputs(id)))
}

/// A deleted NAT gateway's Elastic IP must be free before a replacement gateway can take it.
/// AWS frees it with the gateway (at times a moment later); an address still associated after
/// the gateway is gone (moto keeps the association for good) is disassociated here.
async fn free_address(cx: Cx<'_>, address: &Address, allocation: &str) -> Done<()> {
    let found = send!(address, cx.ec2.describe_addresses().allocation_ids(allocation));
    let Some(found) = found_or_none(found, "InvalidAllocationID.NotFound")? else {
        return Ok(());
    };
    for association in found.addresses().iter().filter_map(|a| a.association_id()) {
        remove_request(cx, address, &[], &["InvalidAssociationID.NotFound"], || {
            cx.ec2.disassociate_address().association_id(association).send()
        })
        .await?;
    }
    Ok(())
}

/// The state of NAT gateway `id` (not found counts as `deleted`) and, when it failed, why.
async fn nat_state(cx: Cx<'_>, address: &Address, id: &str) -> Done<(String, String)> {
    let out = send!(address, cx.ec2.describe_nat_gateways().nat_gateway_ids(id));
    let out = found_or_none(out, "NatGatewayNotFound")?;
    Ok(match out.as_ref().and_then(|o| o.nat_gateways().first()) {
        Some(n) => (
            n.state().map_or("unknown", |s| s.as_str()).to_owned(),
            format!(
                "{}: {}",
                n.failure_code().unwrap_or("unknown"),
                n.failure_message().unwrap_or_default()
            ),
        ),
        None => ("deleted".to_owned(), String::new()),
    })
}

/// Polls until the NAT gateway is in `want` (`available` or `deleted`), failing at once on
/// `failed` (or on gone while waiting for `available`) and after the NAT gateway wait.
async fn wait_nat_gateway(cx: Cx<'_>, address: &Address, id: &str, want: &str) -> Done<()> {
    // The last state seen, for the timeout's message.
    let last = Mutex::new(String::from("unknown"));
    let waited = poll_until(
        cx,
        address,
        &format!("NAT gateway `{id}` to be `{want}`"),
        cx.waits.nat_gateway,
        || async {
            let (state, failure) = nat_state(cx, address, id).await?;
            if state == want {
                return Ok(Some(()));
            }
            if state == "failed"
                || (want == "available" && matches!(state.as_str(), "deleting" | "deleted"))
            {
                return Err(ProviderError::Failed {
                    address: address.clone(),
                    what: format!("NAT gateway `{id}` is `{state}` instead of `{want}`: {failure}"),
                });
            }
            if let Ok(mut last) = last.lock() {
                *last = state;
            }
            Ok(None)
        },
    )
    .await;
    match waited {
        Err(ProviderError::Timeout { address, what, seconds }) => {
            let state = last.lock().map(|s| s.clone()).unwrap_or_default();
            Err(ProviderError::Timeout {
                address,
                what: format!("{what} (it is `{state}`)"),
                seconds,
            })
        }
        r => r,
    }
}
