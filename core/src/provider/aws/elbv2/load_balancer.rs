//! Application load balancers: found by name, created with their attributes set and waited for
//! until active; deleted (unless protected) and waited for until AWS no longer lists them.

use crate::provider::aws::send;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};

use super::super::ec2::{Tagged, visible};
use super::super::live::{all, as_set, found_or_none, missing};
use super::super::once::send_once;
use super::super::ownership::create_tags;
use super::super::wait::poll_until;
use super::super::{AwsResultExt, Cx, Done, Manage, New, Prior, remove_request};
use super::{batched, claim_found, same_set};
use crate::graph::Address;
use crate::graph::attrs::{self, Resolved, Tags};
use crate::provider::{Applied, Live, ProviderError, ResourceSpec};

const NOT_FOUND: &str = "LoadBalancerNotFound";

impl Manage for attrs::LoadBalancer {
    /// The load balancer under the spec's name, when its tags say it is this address's; its
    /// attributes are left out of the live shape, so the update that follows sets them.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let name = want.name.as_str();
        let r = send!(a, cx.elbv2.describe_load_balancers().names(name));
        let found = found_or_none(r, NOT_FOUND)?.and_then(|o| o.load_balancers().first().cloned());
        claim_found(cx, a, found, LoadBalancer::load_balancer_arn, |lb, tags| live(lb, tags, None))
            .await
    }

    /// Creates the load balancer, sets its attributes and waits until it is active.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send_once!(
            a,
            cx.elbv2
                .create_load_balancer()
                .name(&want.name)
                .r#type(LoadBalancerTypeEnum::from(want.r#type.as_str()))
                .scheme(LoadBalancerSchemeEnum::from(want.scheme.as_str()))
                .set_subnets(Some(want.subnets.clone()))
                .set_security_groups(Some(want.security_groups.clone()))
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let lb = out
            .load_balancers()
            .first()
            .ok_or_else(|| missing(a, "CreateLoadBalancer", "LoadBalancers"))?;
        let outputs = outputs(lb).ok_or_else(|| {
            missing(a, "CreateLoadBalancer", "LoadBalancerArn, DNSName or CanonicalHostedZoneId")
        })?;
        set_attributes(cx, spec, &outputs.arn, &want, &Changed::all()).await?;
        wait(cx, a, &outputs.arn, Until::Active).await?;
        Ok(Applied::new(spec, outputs.arn.clone(), &outputs))
    }

    /// Sets the subnets, security groups, attributes and tags that differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::LoadBalancer = prior.decode()?;
        let mut outputs = prior.outputs::<attrs::LoadBalancer>()?;
        let arn = prior.id;
        let elbv2 = &cx.elbv2;
        if !same_set(&was.subnets, &want.subnets) {
            send!(
                a,
                elbv2.set_subnets().load_balancer_arn(arn).set_subnets(Some(want.subnets.clone()))
            )?;
        }
        if !same_set(&was.security_groups, &want.security_groups) {
            send!(
                a,
                elbv2
                    .set_security_groups()
                    .load_balancer_arn(arn)
                    .set_security_groups(Some(want.security_groups.clone()))
            )?;
        }
        let changed = Changed {
            idle_timeout: want.idle_timeout != was.idle_timeout,
            deletion_protection: want.deletion_protection != was.deletion_protection,
            drop_invalid_header_fields: want.drop_invalid_header_fields
                != was.drop_invalid_header_fields,
        };
        set_attributes(cx, spec, arn, &want, &changed).await?;
        super::update_tags(cx, a, arn, &was.tags, &want.tags).await?;
        arn.clone_into(&mut outputs.arn);
        Ok(Applied::new(spec, arn, &outputs))
    }

    /// Deletes the load balancer (refused while deletion protection is on) and waits until
    /// AWS no longer lists it; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let was: attrs::LoadBalancer = prior.decode()?;
        if was.deletion_protection == Some(true) {
            return Err(ProviderError::Failed {
                address: prior.address.clone(),
                what: "deletion protection is on; set `deletion_protection = false` for this \
                       load balancer, apply, then delete it"
                    .to_owned(),
            });
        }
        remove_request(cx, prior.address, &[], &[NOT_FOUND], || {
            cx.elbv2.delete_load_balancer().load_balancer_arn(prior.id).send()
        })
        .await?;
        wait(cx, prior.address, prior.id, Until::Gone).await
    }
}

/// Which load balancer attributes to send.
struct Changed {
    idle_timeout: bool,
    deletion_protection: bool,
    drop_invalid_header_fields: bool,
}

impl Changed {
    fn all() -> Self {
        Self { idle_timeout: true, deletion_protection: true, drop_invalid_header_fields: true }
    }
}

/// Sends the `changed` attributes (one call; none when nothing changed). AWS takes every value
/// as a string under its own key.
async fn set_attributes(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    arn: &str,
    want: &attrs::LoadBalancer,
    changed: &Changed,
) -> Done<()> {
    let values = [
        (
            changed.idle_timeout,
            "idle_timeout",
            "idle_timeout.timeout_seconds",
            want.idle_timeout.map(|v| v.to_string()),
        ),
        (
            changed.deletion_protection,
            "deletion_protection",
            "deletion_protection.enabled",
            want.deletion_protection.map(|v| v.to_string()),
        ),
        (
            changed.drop_invalid_header_fields,
            "drop_invalid_header_fields",
            "routing.http.drop_invalid_header_fields.enabled",
            want.drop_invalid_header_fields.map(|v| v.to_string()),
        ),
    ];
    let mut attributes = Vec::new();
    for (_, name, key, value) in values.into_iter().filter(|(send, ..)| *send) {
        let value =
            value.ok_or_else(|| spec.invalid(name, "is missing or not a number or boolean"))?;
        attributes.push(LoadBalancerAttribute::builder().key(key).value(value).build());
    }
    if attributes.is_empty() {
        return Ok(());
    }
    send!(
        &spec.address,
        cx.elbv2
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attributes))
    )
    .map(drop)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    Active,
    Gone,
}

/// Polls the load balancer until it is `active` (or `active_impaired`) or no longer listed,
/// for at most the dependency wait (provisioning takes AWS a few minutes).
async fn wait(cx: Cx<'_>, a: &Address, arn: &str, until: Until) -> Done<()> {
    let what = match until {
        Until::Active => "the load balancer to become active",
        Until::Gone => "the load balancer to be deleted",
    };
    poll_until(cx, a, what, cx.waits.dependency, || async {
        let r = send!(a, cx.elbv2.describe_load_balancers().load_balancer_arns(arn));
        let state = found_or_none(r, NOT_FOUND)?.and_then(|out| {
            out.load_balancers()
                .first()
                .and_then(LoadBalancer::state)
                .map(|s| (s.code().cloned(), s.reason().map(str::to_owned)))
        });
        match (until, state) {
            (Until::Gone, None) => Ok(Some(())),
            (
                Until::Active,
                Some((
                    Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired),
                    _,
                )),
            ) => Ok(Some(())),
            (Until::Active, Some((Some(LoadBalancerStateEnum::Failed), reason))) => {
                Err(ProviderError::Failed {
                    address: a.clone(),
                    what: format!(
                        "AWS failed to provision the load balancer: {}",
                        reason.unwrap_or_else(|| "no reason given".to_owned())
                    ),
                })
            }
            _ => Ok(None),
        }
    })
    .await
}

/// Load balancers by ARN (20 per call); every load balancer when one of them is gone.
pub(super) async fn describe(cx: Cx<'_>, a: &Address, arns: &[String]) -> Done<Vec<LoadBalancer>> {
    let page = |arns: Option<Vec<String>>| async move {
        all!(cx.elbv2.describe_load_balancers().set_load_balancer_arns(arns), a)
    };
    batched(arns, &[NOT_FOUND], |c| page(Some(c)), || page(None)).await
}

fn outputs(lb: &LoadBalancer) -> Option<attrs::LoadBalancerOutputs> {
    Some(attrs::LoadBalancerOutputs {
        arn: lb.load_balancer_arn()?.to_owned(),
        dns_name: lb.dns_name()?.to_owned(),
        zone_id: lb.canonical_hosted_zone_id()?.to_owned(),
    })
}

/// The live load balancer; the attributes only `DescribeLoadBalancerAttributes` returns are
/// the recorded ones.
pub(super) fn live(
    lb: &LoadBalancer,
    tags: Tags,
    recorded: Option<&attrs::LoadBalancer>,
) -> Option<Tagged> {
    let arn = lb.load_balancer_arn()?;
    let subnets =
        lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_owned)).collect();
    let attributes = attrs::LoadBalancer::<Resolved> {
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        r#type: lb.r#type().map_or("", LoadBalancerTypeEnum::as_str).to_owned(),
        scheme: lb.scheme().map_or("", LoadBalancerSchemeEnum::as_str).to_owned(),
        vpc_id: lb.vpc_id().unwrap_or_default().to_owned(),
        subnets: as_set(subnets, recorded.map(|r| r.subnets.as_slice())),
        security_groups: as_set(
            lb.security_groups().to_vec(),
            recorded.map(|r| r.security_groups.as_slice()),
        ),
        idle_timeout: recorded.and_then(|r| r.idle_timeout),
        deletion_protection: recorded.and_then(|r| r.deletion_protection),
        drop_invalid_header_fields: recorded.and_then(|r| r.drop_invalid_header_fields),
        tags: visible(&tags),
    };
    Some(Tagged::of(arn, tags, &attributes, &outputs(lb)?))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_elasticloadbalancingv2::types::{AvailabilityZone, LoadBalancerState};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_described_load_balancer_reads_like_the_desired_one() {
        let lb = LoadBalancer::builder()
            .load_balancer_arn("arn:lb")
            .load_balancer_name("acceptance-default")
            .dns_name("dns")
            .canonical_hosted_zone_id("Z1")
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-b").build())
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-a").build())
            .security_groups("sg-1")
            .state(LoadBalancerState::builder().code(LoadBalancerStateEnum::Active).build())
            .build();
        let recorded = attrs::LoadBalancer {
            name: "acceptance-default".to_owned(),
            r#type: "application".to_owned(),
            scheme: "internet-facing".to_owned(),
            vpc_id: "vpc-1".to_owned(),
            subnets: vec!["subnet-a".to_owned(), "subnet-b".to_owned()],
            security_groups: vec!["sg-1".to_owned()],
            idle_timeout: Some(60),
            deletion_protection: None,
            drop_invalid_header_fields: None,
            tags: Tags::new(),
        };
        let tags = BTreeMap::from([
            ("Name".to_owned(), "n".to_owned()),
            ("ecsops:lineage".to_owned(), "L".to_owned()),
        ]);
        let t = live(&lb, tags, Some(&recorded)).expect("live");
        let attrs = &t.live.attributes;
        assert_eq!(attrs["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(attrs["scheme"], json!("internet-facing"));
        assert_eq!(attrs["type"], json!("application"));
        assert_eq!(attrs["idle_timeout"], json!(60));
        assert_eq!(attrs["tags"], json!({"Name": "n"}));
        assert!(!attrs.contains_key("deletion_protection"));
        assert_eq!(t.live.outputs["zone_id"], json!("Z1"));
    }
}
