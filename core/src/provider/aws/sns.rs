//! SNS: the alerts topic, its access policy and its subscriptions.
//!
//! A topic is addressed by its ARN (the state id). `CreateTopic` is idempotent by name, so a
//! retry can never duplicate a topic; create still lists the topics first, so that a topic of
//! that name owned by another state is refused instead of silently shared.
//!
//! The topic policy is the topic's `Policy` attribute (id = the topic ARN): create overwrites
//! it (and counts as adopting when the topic already has exactly this policy), and delete puts
//! SNS's default policy back, so that removing the policy really withdraws what it granted even
//! when the topic stays (deleting the topic removes it anyway).
//!
//! A subscription is identified by topic, protocol and endpoint. `Subscribe` is idempotent for
//! those three and, with `ReturnSubscriptionArn`, answers the real ARN even for an email
//! subscription that still awaits confirmation (without it AWS answers `pending confirmation`).
//! Listings show such a subscription as `PendingConfirmation`, so refresh matches by ARN, else
//! by protocol and endpoint. AWS refuses to unsubscribe a pending subscription and deletes it
//! itself after three days: delete of one that has no ARN is a logged no-op.
//!
//! Refresh: one paginated `ListTopics` (existence; topic tags would cost one
//! `ListTagsForResource` per topic, so the recorded ones stand), one `GetTopicAttributes` per
//! recorded policy and one `ListSubscriptionsByTopic` per topic with recorded subscriptions:
//! SNS has no batched form of either.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sns::types::{Subscription, Tag};
use serde_json::{Value, json};

use super::ec2::{create_tags, visible_tags};
use super::live::{attrs, missing, recorded, report};
use super::ownership::{TagChanges, adopt, claim, invalid_tags, tag_changes};
use super::{AwsResultExt, Cx, Prior, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

/// What SNS answers for a topic or subscription that does not exist.
const NOT_FOUND: &[&str] = &["NotFound", "NotFoundException"];

/// How listings show a subscription that awaits confirmation.
const PENDING: &str = "PendingConfirmation";

pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    match spec.kind {
        Kind::SnsTopic => create_topic(cx, spec).await,
        Kind::SnsTopicPolicy => {
            let topic = spec.str("topic_arn")?;
            let live = policy_live(cx, &spec.address, topic).await?;
            let mut done = applied(spec, topic, "id");
            if live.attributes.get("policy") == spec.attributes.get("policy") {
                done.adopted = true;
            } else {
                set_policy(cx, &spec.address, topic, &policy_text(spec)?).await?;
            }
            Ok(done)
        }
        Kind::SnsSubscription => subscribe(cx, spec).await,
        other => Err(super::not_implemented(&spec.address, other, "create")),
    }
}

/// Topics change their tags in place; a policy is set again when it differs (it only can on
/// adoption: every change replaces it); subscriptions have nothing to change in place.
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    match spec.kind {
        Kind::SnsTopic => {
            if let Some(TagChanges { removed, set }) =
                tag_changes(cx.own, spec, prior.attributes.get("tags"))?
            {
                if !removed.is_empty() {
                    cx.aws
                        .sns
                        .untag_resource()
                        .resource_arn(prior.id)
                        .set_tag_keys(Some(removed))
                        .send()
                        .await
                        .at(a, "UntagResource")?;
                }
                cx.aws
                    .sns
                    .tag_resource()
                    .resource_arn(prior.id)
                    .set_tags(Some(sns_tags(a, &set)?))
                    .send()
                    .await
                    .at(a, "TagResource")?;
            }
            Ok(applied(spec, prior.id, "arn"))
        }
        Kind::SnsTopicPolicy => {
            if spec.attributes.get("policy") != prior.attributes.get("policy") {
                set_policy(cx, a, spec.str("topic_arn")?, &policy_text(spec)?).await?;
            }
            Ok(applied(spec, prior.id, "id"))
        }
        Kind::SnsSubscription => Ok(applied(spec, prior.id, "arn")),
        other => Err(super::not_implemented(a, other, "update")),
    }
}

pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = match kind {
        Kind::SnsTopic => cx
            .aws
            .sns
            .delete_topic()
            .topic_arn(prior.id)
            .send()
            .await
            .at(address, "DeleteTopic")
            .map(drop),
        Kind::SnsTopicPolicy => {
            let default = default_policy(prior.id).ok_or_else(|| ProviderError::Failed {
                address: address.clone(),
                what: format!("`{}` is not a topic ARN", prior.id),
            })?;
            set_policy(cx, address, prior.id, &default.to_string()).await
        }
        Kind::SnsSubscription if !prior.id.starts_with("arn:") => {
            tracing::warn!(
                address = %address,
                "a subscription that awaits confirmation cannot be removed; AWS deletes it after three days"
            );
            Ok(())
        }
        Kind::SnsSubscription => cx
            .aws
            .sns
            .unsubscribe()
            .subscription_arn(prior.id)
            .send()
            .await
            .at(address, "Unsubscribe")
            .map(drop),
        other => return Err(super::not_implemented(address, other, "delete")),
    };
    tolerate(r, NOT_FOUND)
}

/// See the module documentation for the calls.
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let ours = recorded(
        resources,
        &[Kind::SnsTopic, Kind::SnsTopicPolicy, Kind::SnsSubscription],
    );
    if ours.is_empty() {
        return Ok(());
    }
    let topics: BTreeSet<String> = list_topics(cx, &Address::new(Kind::SnsTopic.as_str()))
        .await?
        .into_iter()
        .collect();
    let topic_of = |r: &ResourceState| -> Option<String> {
        match r.kind {
            Kind::SnsTopic | Kind::SnsTopicPolicy => r.id.clone(),
            _ => r.attributes.get("topic_arn")?.as_str().map(str::to_owned),
        }
        .filter(|t| topics.contains(t))
    };
    let mut subscriptions: BTreeMap<String, Vec<Subscription>> = BTreeMap::new();
    for (address, r) in &ours {
        if r.kind == Kind::SnsSubscription
            && let Some(topic) = topic_of(r)
            && !subscriptions.contains_key(&topic)
        {
            let listed = cx
                .aws
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(&topic)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(address, "ListSubscriptionsByTopic")?;
            subscriptions.insert(topic, listed);
        }
    }
    for (address, r) in ours {
        let Some(topic) = topic_of(r) else {
            out.missing.insert(address.clone());
            continue;
        };
        let live = match r.kind {
            Kind::SnsTopic => Some(topic_live(
                &topic,
                r.attributes.get("tags").cloned().unwrap_or(Value::Null),
            )),
            Kind::SnsTopicPolicy => Some(policy_live(cx, address, &topic).await?),
            _ => subscriptions
                .get(&topic)
                .and_then(|listed| subscription_live(listed, r)),
        };
        report(out, address, live);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Topics

async fn create_topic(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let existing = list_topics(cx, a)
        .await?
        .into_iter()
        .find(|arn| topic_name(arn) == name);
    if let Some(arn) = existing {
        let tags: BTreeMap<String, String> = cx
            .aws
            .sns
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .at(a, "ListTagsForResource")?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        claim(cx.own, a, &arn, &tags)?;
        tracing::info!(address = %a, id = %arn, "adopting an existing topic");
        let live = topic_live(&arn, visible_tags(&tags));
        return adopt(spec, &live, |prior| update(cx, spec, prior)).await;
    }
    let out = cx
        .aws
        .sns
        .create_topic()
        .name(name)
        .set_tags(Some(sns_tags(a, &create_tags(cx.own, spec)?)?))
        .send()
        .await
        .at(a, "CreateTopic")?;
    let arn = out
        .topic_arn()
        .ok_or_else(|| missing(a, "CreateTopic", "TopicArn"))?;
    Ok(applied(spec, arn, "arn"))
}

async fn list_topics(cx: Cx<'_>, a: &Address) -> Result<Vec<String>, ProviderError> {
    let topics = cx
        .aws
        .sns
        .list_topics()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "ListTopics")?;
    Ok(topics.into_iter().filter_map(|t| t.topic_arn).collect())
}

/// The topic name is the last field of its ARN.
fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn topic_live(arn: &str, tags: Value) -> Live {
    Live {
        kind: Kind::SnsTopic,
        id: arn.to_owned(),
        attributes: attrs([("name", Value::from(topic_name(arn))), ("tags", tags)]),
        outputs: attrs([("arn", Value::from(arn))]),
    }
}

fn sns_tags(a: &Address, tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid_tags(a, &e))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Topic policies

fn policy_text(spec: &ResourceSpec) -> Result<String, ProviderError> {
    match spec.attributes.get("policy") {
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        _ => Err(spec.invalid("policy", "is missing or not a JSON object")),
    }
}

async fn set_policy(
    cx: Cx<'_>,
    a: &Address,
    topic: &str,
    policy: &str,
) -> Result<(), ProviderError> {
    cx.aws
        .sns
        .set_topic_attributes()
        .topic_arn(topic)
        .attribute_name("Policy")
        .attribute_value(policy)
        .send()
        .await
        .at(a, "SetTopicAttributes")
        .map(drop)
}

async fn policy_live(cx: Cx<'_>, a: &Address, topic: &str) -> Result<Live, ProviderError> {
    let out = cx
        .aws
        .sns
        .get_topic_attributes()
        .topic_arn(topic)
        .send()
        .await
        .at(a, "GetTopicAttributes")?;
    let policy = out
        .attributes()
        .and_then(|m| m.get("Policy"))
        .map_or(Value::Null, |text| {
            serde_json::from_str(text).unwrap_or_else(|_| Value::from(text.as_str()))
        });
    Ok(Live {
        kind: Kind::SnsTopicPolicy,
        id: topic.to_owned(),
        attributes: attrs([("topic_arn", Value::from(topic)), ("policy", policy)]),
        outputs: attrs([("id", Value::from(topic))]),
    })
}

/// The policy SNS gives a new topic: only the owning account may use it.
fn default_policy(topic: &str) -> Option<Value> {
    let account = topic.split(':').nth(4).filter(|a| !a.is_empty())?;
    Some(json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    }))
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

/// Subscribes, which SNS makes idempotent (an existing subscription answers its own ARN);
/// `adopted` says whether one was listed already.
async fn subscribe(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let topic = spec.str("topic_arn")?;
    let protocol = spec.str("protocol")?;
    let endpoint = spec.str("endpoint")?;
    let listed = cx
        .aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "ListSubscriptionsByTopic")?;
    let existed = listed
        .iter()
        .any(|s| s.protocol() == Some(protocol) && s.endpoint() == Some(endpoint));
    let out = cx
        .aws
        .sns
        .subscribe()
        .topic_arn(topic)
        .protocol(protocol)
        .endpoint(endpoint)
        .return_subscription_arn(true)
        .send()
        .await
        .at(a, "Subscribe")?;
    let arn = out
        .subscription_arn()
        .ok_or_else(|| missing(a, "Subscribe", "SubscriptionArn"))?;
    let mut done = applied(spec, arn, "arn");
    done.adopted = existed;
    Ok(done)
}

/// The recorded subscription among those listed for its topic: by ARN, or (awaiting
/// confirmation, listed without one) by protocol and endpoint.
fn subscription_live(listed: &[Subscription], r: &ResourceState) -> Option<Live> {
    let attr = |name: &str| r.attributes.get(name).and_then(Value::as_str);
    let id = r.id.as_deref()?;
    let s = listed
        .iter()
        .find(|s| s.subscription_arn() == Some(id))
        .or_else(|| {
            listed.iter().find(|s| {
                s.subscription_arn() == Some(PENDING)
                    && s.protocol() == attr("protocol")
                    && s.endpoint() == attr("endpoint")
            })
        })?;
    let opt = |v: Option<&str>| v.map_or(Value::Null, Value::from);
    Some(Live {
        kind: Kind::SnsSubscription,
        id: id.to_owned(),
        attributes: attrs([
            ("topic_arn", opt(s.topic_arn())),
            ("protocol", opt(s.protocol())),
            ("endpoint", opt(s.endpoint())),
        ]),
        outputs: attrs([("arn", Value::from(id))]),
    })
}

/// The applied spec with `id` as its id and as its one output, `output`.
fn applied(spec: &ResourceSpec, id: &str, output: &'static str) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs: attrs([(output, Value::from(id))]),
        adopted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn pending_subscriptions_match_by_protocol_and_endpoint() {
        let topic = "arn:aws:sns:eu-west-1:1:acceptance-default-alerts";
        let recorded = ResourceState {
            kind: Kind::SnsSubscription,
            id: Some(format!("{topic}:abc")),
            attributes: attrs([
                ("topic_arn", json!(topic)),
                ("protocol", json!("email")),
                ("endpoint", json!("ops@example.com")),
            ]),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        };
        let listed = |arn: &str, endpoint: &str| {
            Subscription::builder()
                .subscription_arn(arn)
                .topic_arn(topic)
                .protocol("email")
                .endpoint(endpoint)
                .build()
        };
        let live = subscription_live(&[listed(PENDING, "ops@example.com")], &recorded)
            .expect("pending one found");
        assert_eq!(live.attributes, recorded.attributes);
        assert_eq!(live.id, format!("{topic}:abc"));
        assert!(subscription_live(&[listed(PENDING, "other@example.com")], &recorded).is_none());
        assert!(subscription_live(&[], &recorded).is_none());
    }

    #[test]
    fn the_default_policy_names_the_topic_and_its_account() {
        let p = default_policy("arn:aws:sns:eu-west-1:123456789012:t").expect("an ARN");
        assert_eq!(
            p["Statement"][0]["Resource"],
            json!("arn:aws:sns:eu-west-1:123456789012:t")
        );
        assert_eq!(
            p["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceOwner"],
            json!("123456789012")
        );
        assert!(default_policy("not-an-arn").is_none());
        assert_eq!(topic_name("arn:aws:sns:eu-west-1:1:alerts"), "alerts");
    }
}
