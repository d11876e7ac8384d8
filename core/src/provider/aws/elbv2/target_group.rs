//! Target groups: found by name, created with their health check and deregistration delay;
//! deleted once the rule forwarding to them is gone.

use crate::provider::aws::send;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};

use super::super::ec2::{Tagged, visible};
use super::super::live::{all, found_or_none};
use super::super::once::send_once;
use super::super::ownership::create_tags;
use super::super::{AwsResultExt, Cx, Done, Manage, New, Prior, remove_request};
use super::{batched, claim_found, created_arn};
use crate::graph::Address;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, Tags};
use crate::provider::{Applied, Live, ResourceSpec};

const NOT_FOUND: &str = "TargetGroupNotFound";
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// Sets a [`HealthCheck`] on a `CreateTargetGroup` or `ModifyTargetGroup` request: the two
/// share these setters but no trait, so one list of setters serves both.
macro_rules! with_health_check {
    ($request:expr, $hc:expr) => {{
        let hc: HealthCheck = $hc;
        $request
            .set_health_check_protocol(hc.protocol)
            .set_health_check_port(hc.port)
            .set_health_check_path(hc.path)
            .set_health_check_interval_seconds(hc.interval)
            .set_health_check_timeout_seconds(hc.timeout)
            .set_healthy_threshold_count(hc.healthy_threshold)
            .set_unhealthy_threshold_count(hc.unhealthy_threshold)
            .set_matcher(hc.matcher)
    }};
}

impl Manage for attrs::TargetGroup {
    /// The target group under the spec's name, when its tags say it is this address's; its
    /// deregistration delay is left out of the live shape, so the update that follows sets it.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let name = want.name.as_str();
        let r = send!(a, cx.elbv2.describe_target_groups().names(name));
        let found = found_or_none(r, NOT_FOUND)?.and_then(|o| o.target_groups().first().cloned());
        claim_found(cx, a, found, TargetGroup::target_group_arn, |tg, tags| live(tg, tags, None))
            .await
    }

    /// Creates the target group with its health check, then sets its deregistration delay.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let hc = HealthCheck::of(spec, &want.health_check)?;
        let out = send_once!(
            a,
            with_health_check!(
                cx.elbv2
                    .create_target_group()
                    .name(&want.name)
                    .protocol(ProtocolEnum::from(want.protocol.as_str()))
                    .port(i32::from(want.port))
                    .vpc_id(&want.vpc_id)
                    .target_type(TargetTypeEnum::from(want.target_type.as_str())),
                hc
            )
            .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = created_arn(
            a,
            "CreateTargetGroup",
            "TargetGroupArn",
            out.target_groups(),
            TargetGroup::target_group_arn,
        )?;
        set_deregistration_delay(cx, a, arn, want.deregistration_delay).await?;
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// Sets the health check, deregistration delay and tags that differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::TargetGroup = prior.decode()?;
        let arn = prior.id;
        if want.health_check != was.health_check {
            let hc = HealthCheck::of(spec, &want.health_check)?;
            with_health_check!(cx.elbv2.modify_target_group().target_group_arn(arn), hc)
                .send()
                .await
                .at(a)?;
        }
        if want.deregistration_delay != was.deregistration_delay {
            set_deregistration_delay(cx, a, arn, want.deregistration_delay).await?;
        }
        super::update_tags(cx, a, arn, &was.tags, &want.tags).await?;
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// Deletes the target group, retrying while the rule forwarding to it is still being
    /// deleted; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let busy = ["ResourceInUse"];
        remove_request(cx, prior.address, &busy, &[NOT_FOUND], || {
            cx.elbv2.delete_target_group().target_group_arn(prior.id).send()
        })
        .await
    }
}

/// The health check as the API takes it.
struct HealthCheck {
    protocol: Option<ProtocolEnum>,
    port: Option<String>,
    path: Option<String>,
    interval: Option<i32>,
    timeout: Option<i32>,
    healthy_threshold: Option<i32>,
    unhealthy_threshold: Option<i32>,
    matcher: Option<Matcher>,
}

impl HealthCheck {
    fn of(spec: &ResourceSpec, hc: &attrs::HealthCheck) -> Done<Self> {
        let n = |k: &str, v: Option<u32>| -> Done<Option<i32>> {
            v.map(|n| {
                i32::try_from(n).map_err(|_| {
                    spec.invalid("health_check", &format!("has a `{k}` that is not a number"))
                })
            })
            .transpose()
        };
        Ok(Self {
            protocol: hc.protocol.as_deref().map(ProtocolEnum::from),
            port: hc.port.clone(),
            path: hc.path.clone(),
            interval: n("interval", hc.interval)?,
            timeout: n("timeout", hc.timeout)?,
            healthy_threshold: n("healthy_threshold", hc.healthy_threshold)?,
            unhealthy_threshold: n("unhealthy_threshold", hc.unhealthy_threshold)?,
            matcher: hc.matcher.as_ref().map(|m| Matcher::builder().http_code(m).build()),
        })
    }
}

/// Sets the deregistration delay; `None` leaves AWS's.
async fn set_deregistration_delay(
    cx: Cx<'_>,
    a: &Address,
    arn: &str,
    delay: Option<u32>,
) -> Done<()> {
    let Some(delay) = delay else {
        return Ok(());
    };
    send!(
        a,
        cx.elbv2.modify_target_group_attributes().target_group_arn(arn).attributes(
            TargetGroupAttribute::builder()
                .key(DEREGISTRATION_DELAY)
                .value(delay.to_string())
                .build(),
        )
    )
    .map(drop)
}

/// Target groups by ARN (20 per call); every target group when one of them is gone.
pub(super) async fn describe(cx: Cx<'_>, a: &Address, arns: &[String]) -> Done<Vec<TargetGroup>> {
    let page = |arns: Option<Vec<String>>| async move {
        all!(cx.elbv2.describe_target_groups().set_target_group_arns(arns), a)
    };
    batched(arns, &[NOT_FOUND], |c| page(Some(c)), || page(None)).await
}

/// The live target group; `deregistration_delay` is the recorded one.
pub(super) fn live(
    tg: &TargetGroup,
    tags: Tags,
    recorded: Option<&attrs::TargetGroup>,
) -> Option<Tagged> {
    let arn = tg.target_group_arn()?;
    let seconds = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
    let attributes = attrs::TargetGroup::<Resolved> {
        name: tg.target_group_name().unwrap_or_default().to_owned(),
        port: tg.port().and_then(|p| u16::try_from(p).ok()).unwrap_or_default(),
        protocol: tg.protocol().map_or("", ProtocolEnum::as_str).to_owned(),
        vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
        target_type: tg.target_type().map_or("", TargetTypeEnum::as_str).to_owned(),
        deregistration_delay: recorded.and_then(|r| r.deregistration_delay),
        health_check: attrs::HealthCheck {
            path: tg.health_check_path().map(str::to_owned),
            matcher: tg.matcher().and_then(Matcher::http_code).map(str::to_owned),
            interval: seconds(tg.health_check_interval_seconds()),
            timeout: seconds(tg.health_check_timeout_seconds()),
            healthy_threshold: seconds(tg.healthy_threshold_count()),
            unhealthy_threshold: seconds(tg.unhealthy_threshold_count()),
            protocol: tg.health_check_protocol().map(|p| p.as_str().to_owned()),
            port: tg.health_check_port().map(str::to_owned),
        },
        tags: visible(&tags),
    };
    Some(Tagged::of(arn, tags, &attributes, &ArnOutputs::of(arn)))
}
