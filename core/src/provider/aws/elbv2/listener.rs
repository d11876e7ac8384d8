//! Listeners: found by their natural key (load balancer + port), changed in place with one
//! `ModifyListener`. A listener has no desired tags: it carries only the ownership tags.

use crate::provider::aws::send;
use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use super::super::ec2::Tagged;
use super::super::live::{all, found_or_none};
use super::super::once::send_once;
use super::super::ownership::create_tags;
use super::super::{AwsResultExt, Cx, Done, Manage, New, Prior, remove_request};
use super::{batched, claim_found, created_arn};
use crate::graph::Address;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, ListenerAction, Resolved, Tags};
use crate::provider::{Applied, Live, ResourceSpec};

impl Manage for attrs::Listener {
    /// The listener on the same port of the load balancer, when its tags say it is this address's.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let port = i32::from(want.port);
        let listeners =
            all!(cx.elbv2.describe_listeners().load_balancer_arn(&want.load_balancer_arn), a)?;
        let found = listeners.into_iter().find(|l| l.port() == Some(port));
        claim_found(cx, a, found, Listener::listener_arn, live).await
    }

    /// Creates the listener.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send_once!(
            a,
            cx.elbv2
                .create_listener()
                .load_balancer_arn(&want.load_balancer_arn)
                .port(i32::from(want.port))
                .protocol(ProtocolEnum::from(want.protocol.as_str()))
                .default_actions(default_action(spec, want.default_action.as_ref())?)
                .set_certificates(certificate(&want))
                .set_ssl_policy(want.ssl_policy.clone())
                .set_tags(Some(create_tags(cx, a, &Tags::new())?))
        )?;
        let arn = created_arn(
            a,
            "CreateListener",
            "ListenerArn",
            out.listeners(),
            Listener::listener_arn,
        )?;
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// Sends one `ModifyListener` when the port, protocol, default action, certificate or TLS
    /// policy differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::Listener = prior.decode()?;
        let arn = prior.id;
        if want.port != was.port
            || want.protocol != was.protocol
            || want.default_action != was.default_action
            || want.certificate_arn != was.certificate_arn
            || want.ssl_policy != was.ssl_policy
        {
            send!(
                a,
                cx.elbv2
                    .modify_listener()
                    .listener_arn(arn)
                    .port(i32::from(want.port))
                    .protocol(ProtocolEnum::from(want.protocol.as_str()))
                    .default_actions(default_action(spec, want.default_action.as_ref())?)
                    .set_certificates(certificate(&want))
                    .set_ssl_policy(want.ssl_policy.clone())
            )?;
        }
        Ok(Applied::new(spec, arn, &ArnOutputs::of(arn)))
    }

    /// Deletes the listener; already gone (or its load balancer gone) is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let gone = ["ListenerNotFound", "LoadBalancerNotFound"];
        remove_request(cx, prior.address, &[], &gone, || {
            cx.elbv2.delete_listener().listener_arn(prior.id).send()
        })
        .await
    }
}

/// The default action as AWS takes it: `fixed-response` or `redirect`.
fn default_action(spec: &ResourceSpec, action: Option<&ListenerAction>) -> Done<Action> {
    match action {
        Some(ListenerAction::FixedResponse { status_code, content_type, message_body }) => {
            Ok(Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .set_status_code(status_code.clone())
                        .set_content_type(content_type.clone())
                        .set_message_body(message_body.clone())
                        .build(),
                )
                .build())
        }
        Some(ListenerAction::Redirect { protocol, port, status_code }) => Ok(Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .set_protocol(protocol.clone())
                    .set_port(port.clone())
                    .set_status_code(status_code.as_deref().map(RedirectActionStatusCodeEnum::from))
                    .build(),
            )
            .build()),
        Some(_) => Err(spec
            .invalid("default_action", "has a `type` other than `fixed-response` or `redirect`")),
        None => Err(spec.invalid("default_action", "is missing or not a table")),
    }
}

/// An action in the shape of `default_action`.
fn action_of(a: &Action) -> ListenerAction {
    let target_group_arn = a.target_group_arn().map(str::to_owned);
    match a.r#type() {
        Some(ActionTypeEnum::FixedResponse) => {
            let f = a.fixed_response_config();
            ListenerAction::FixedResponse {
                status_code: f.and_then(|f| f.status_code()).map(str::to_owned),
                content_type: f.and_then(|f| f.content_type()).map(str::to_owned),
                message_body: f.and_then(|f| f.message_body()).map(str::to_owned),
            }
        }
        Some(ActionTypeEnum::Redirect) => {
            let r = a.redirect_config();
            ListenerAction::Redirect {
                protocol: r.and_then(|r| r.protocol()).map(str::to_owned),
                port: r.and_then(|r| r.port()).map(str::to_owned),
                status_code: r.and_then(|r| r.status_code()).map(|c| c.as_str().to_owned()),
            }
        }
        Some(ActionTypeEnum::Forward) => ListenerAction::Forward { target_group_arn },
        other => ListenerAction::Other {
            r#type: other.map_or("", ActionTypeEnum::as_str).to_owned(),
            target_group_arn,
        },
    }
}

fn certificate(want: &attrs::Listener) -> Option<Vec<Certificate>> {
    want.certificate_arn
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| vec![Certificate::builder().certificate_arn(c).build()])
}

/// Listeners by ARN; when one is gone, the listeners of each recorded load balancer (one call
/// per load balancer; a gone load balancer has none).
pub(super) async fn describe(
    cx: Cx<'_>,
    a: &Address,
    arns: &[String],
    load_balancers: &BTreeSet<String>,
) -> Done<Vec<Listener>> {
    let by_arns = |arns: Vec<String>| async move {
        all!(cx.elbv2.describe_listeners().set_listener_arns(Some(arns)), a)
    };
    let per_load_balancer = || async move {
        let mut listeners = Vec::new();
        for lb in load_balancers {
            let r = all!(cx.elbv2.describe_listeners().load_balancer_arn(lb), a);
            listeners.extend(found_or_none(r, "LoadBalancerNotFound")?.unwrap_or_default());
        }
        Ok(listeners)
    };
    batched(arns, &["ListenerNotFound"], by_arns, per_load_balancer).await
}

/// The live listener. Certificates and TLS policies mean something only to TLS listeners
/// (moto reports a policy for plain HTTP ones too).
pub(super) fn live(l: &Listener, tags: Tags) -> Option<Tagged> {
    let arn = l.listener_arn()?;
    let tls = matches!(l.protocol(), Some(ProtocolEnum::Https | ProtocolEnum::Tls));
    let attributes = attrs::Listener::<Resolved> {
        load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_owned(),
        port: l.port().and_then(|p| u16::try_from(p).ok()).unwrap_or_default(),
        protocol: l.protocol().map_or("", ProtocolEnum::as_str).to_owned(),
        default_action: l.default_actions().first().map(action_of),
        certificate_arn: l
            .certificates()
            .first()
            .and_then(Certificate::certificate_arn)
            .filter(|_| tls)
            .map(str::to_owned),
        ssl_policy: l.ssl_policy().filter(|_| tls).map(str::to_owned),
    };
    Some(Tagged::of(arn, tags, &attributes, &ArnOutputs::of(arn)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn default_actions_round_trip() {
        for action in [
            json!({"type": "redirect", "protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}),
            json!({"type": "fixed-response", "status_code": "404", "content_type": "text/plain",
                   "message_body": "no service matches this request"}),
        ] {
            let typed: ListenerAction = serde_json::from_value(action.clone()).expect("decodes");
            let spec = ResourceSpec {
                address: Address::keyed("listener", "default:80"),
                kind: crate::graph::Kind::Listener,
                attributes: std::collections::BTreeMap::new(),
            };
            let sdk = default_action(&spec, Some(&typed)).expect("action");
            assert_eq!(action_of(&sdk), typed);
            assert_eq!(serde_json::to_value(action_of(&sdk)).ok(), Some(action));
        }
    }
}
