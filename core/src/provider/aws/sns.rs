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

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sns::types::{Subscription, Tag};
use serde_json::{Value, json};

use super::ec2::visible;
use super::live::{all, missing, recorded, report};
use super::ownership::{SdkTags, claim, create_tags, sdk_tags, send_tags, tag_map_of};
use super::{
    AwsResultExt, Cx, Done, Manage, New, Prior, RECORDED, Recorded, remove, remove_request,
};
use crate::account::Arn;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Document, Resolved, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec, decode};
use crate::state::ResourceState;

/// What SNS answers for a topic or subscription that does not exist.
const NOT_FOUND: &[&str] = &["NotFound", "NotFoundException"];

/// How listings show a subscription that awaits confirmation.
const PENDING: &str = "PendingConfirmation";

impl Manage for attrs::SnsTopic {
    /// The topic of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let topics = list_topics(cx, a).await?;
        let Some(arn) = topics.into_iter().find(|arn| topic_name(arn) == want.name) else {
            return Ok(None);
        };
        let listed = send!(a, cx.sns.list_tags_for_resource().resource_arn(&arn))?;
        let tags = tag_map_of(listed.tags(), |t| (Some(t.key()), Some(t.value())));
        claim(cx.own, a, &arn, &tags)?;
        Ok(Some(topic_live(&arn, visible(&tags))))
    }

    /// Creates the topic.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send!(
            a,
            cx.sns.create_topic().name(&want.name).set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = out.topic_arn().ok_or_else(|| missing(a, "CreateTopic", "TopicArn"))?;
        let outputs = ArnOutputs::of(arn);
        Ok(Applied::new(spec, arn, &outputs))
    }

    /// Only the tags change in place.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::SnsTopic = prior.decode()?;
        let arn = prior.id;
        send_tags!(
            cx, a, &was.tags, &want.tags,
            untag: cx.sns.untag_resource().resource_arn(arn),
            tag: cx.sns.tag_resource().resource_arn(arn),
        )?;
        let outputs = ArnOutputs::of(arn);
        Ok(Applied::new(spec, arn, &outputs))
    }

    /// Deletes the topic with its policy and subscriptions; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(cx, prior.address, &[], NOT_FOUND, || {
            cx.sns.delete_topic().topic_arn(prior.id).send()
        })
        .await
    }
}

impl Manage for attrs::SnsTopicPolicy {
    /// Sets the policy, which overwrites the topic's; a topic that has exactly this policy
    /// already counts as adopted.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let topic = want.topic_arn.as_str();
        let live = read_policy(cx, a, topic).await?;
        let outputs = attrs::SnsTopicPolicyOutputs { id: topic.to_owned() };
        let mut done = Applied::new(spec, topic, &outputs);
        if live.policy == want.policy {
            done.adopted = true;
        } else {
            set_policy(cx, a, topic, &policy_text(spec, &want.policy)?).await?;
        }
        Ok(done)
    }

    /// Sets the policy again when it differs (it only can on adoption: every change replaces
    /// it).
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::SnsTopicPolicy = prior.decode()?;
        if want.policy != was.policy {
            set_policy(cx, a, &want.topic_arn, &policy_text(spec, &want.policy)?).await?;
        }
        let outputs = attrs::SnsTopicPolicyOutputs { id: prior.id.to_owned() };
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Puts SNS's default policy back, so that what the policy granted is withdrawn even when
    /// the topic stays; a topic already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let a = prior.address;
        let default = default_policy(prior.id).ok_or_else(|| ProviderError::Failed {
            address: a.clone(),
            what: format!("`{}` is not a topic ARN", prior.id),
        })?;
        let default = default.to_string();
        remove(cx, &[], NOT_FOUND, || set_policy(cx, a, prior.id, &default)).await
    }
}

impl Manage for attrs::SnsSubscription {
    /// Subscribes, which SNS makes idempotent (an existing subscription answers its own ARN);
    /// `adopted` says whether one was listed already.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let listed = list_subscriptions(cx, a, &want.topic_arn).await?;
        let existed = listed.iter().any(|s| {
            s.protocol() == Some(want.protocol.as_str())
                && s.endpoint() == Some(want.endpoint.as_str())
        });
        let out = send!(
            a,
            cx.sns
                .subscribe()
                .topic_arn(&want.topic_arn)
                .protocol(&want.protocol)
                .endpoint(&want.endpoint)
                .return_subscription_arn(true)
        )?;
        let arn =
            out.subscription_arn().ok_or_else(|| missing(a, "Subscribe", "SubscriptionArn"))?;
        let outputs = ArnOutputs::of(arn);
        let mut done = Applied::new(spec, arn, &outputs);
        done.adopted = existed;
        Ok(done)
    }

    /// Nothing changes in place: every attribute identifies the subscription.
    async fn update(_cx: Cx<'_>, spec: &ResourceSpec, _want: Self, prior: Prior<'_>) -> Done {
        let outputs = ArnOutputs::of(prior.id);
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Unsubscribes; one that awaits confirmation (no ARN) cannot be, and is left to expire.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let a = prior.address;
        if !prior.id.starts_with("arn:") {
            tracing::warn!(
                address = %a,
                "a subscription that awaits confirmation cannot be removed; AWS deletes it after three days"
            );
            return Ok(());
        }
        remove_request(cx, a, &[], NOT_FOUND, || {
            cx.sns.unsubscribe().subscription_arn(prior.id).send()
        })
        .await
    }
}

/// See the module documentation for the calls.
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let ours = recorded(resources, &[Kind::SnsTopic, Kind::SnsTopicPolicy, Kind::SnsSubscription]);
    if ours.is_empty() {
        return Ok(());
    }
    let topics: BTreeSet<String> =
        list_topics(cx, &Address::new(Kind::SnsTopic.as_str())).await?.into_iter().collect();
    // A subscription whose recorded attributes do not read names no topic: it is missing.
    let subscribed: BTreeMap<&Address, attrs::SnsSubscription> = ours
        .iter()
        .filter(|(_, r)| r.kind == Kind::SnsSubscription)
        .filter_map(|(a, r)| {
            let s = decode(a, Some(RECORDED), &r.attributes).ok()?;
            Some((*a, s))
        })
        .collect();
    let topic_of = |address: &Address, r: &ResourceState| -> Option<String> {
        match r.kind {
            Kind::SnsTopic | Kind::SnsTopicPolicy => r.id.clone(),
            _ => subscribed.get(address).map(|s| s.topic_arn.clone()),
        }
        .filter(|t| topics.contains(t))
    };
    let mut subscriptions: BTreeMap<String, Vec<Subscription>> = BTreeMap::new();
    for (address, r) in &ours {
        if r.kind == Kind::SnsSubscription
            && let Some(topic) = topic_of(address, r)
            && !subscriptions.contains_key(&topic)
        {
            let listed = list_subscriptions(cx, address, &topic).await?;
            subscriptions.insert(topic, listed);
        }
    }
    for (address, r) in ours {
        let Some(topic) = topic_of(address, r) else {
            out.missing.insert(address.clone());
            continue;
        };
        let live = match r.kind {
            Kind::SnsTopic => {
                let recorded: attrs::SnsTopic = Prior::of(address, r)?.decode()?;
                Some(topic_live(&topic, recorded.tags))
            }
            Kind::SnsTopicPolicy => Some(policy_live(&read_policy(cx, address, &topic).await?)),
            _ => subscriptions
                .get(&topic)
                .zip(r.id.as_deref())
                .zip(subscribed.get(address))
                .and_then(|((listed, id), recorded)| subscription_live(listed, id, recorded)),
        };
        report(out, address, live);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Topics

async fn list_topics(cx: Cx<'_>, a: &Address) -> Done<Vec<String>> {
    let topics = all!(cx.sns.list_topics(), a)?;
    Ok(topics.into_iter().filter_map(|t| t.topic_arn).collect())
}

/// The topic name is the last field of its ARN.
fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn topic_live(arn: &str, tags: Tags) -> Live {
    Live::new(
        arn,
        &attrs::SnsTopic::<Resolved> { name: topic_name(arn).to_owned(), tags },
        &ArnOutputs::of(arn),
    )
}

impl SdkTags for Vec<Tag> {
    fn of(a: &Address, tags: &Tags) -> Done<Self> {
        sdk_tags(a, tags, |k, v| Tag::builder().key(k).value(v).build())
    }
}

// ---------------------------------------------------------------------------------------------
// Topic policies

fn policy_text(spec: &ResourceSpec, policy: &Document) -> Done<String> {
    policy.text().ok_or_else(|| spec.invalid("policy", "is missing or not a JSON object"))
}

async fn set_policy(cx: Cx<'_>, a: &Address, topic: &str, policy: &str) -> Done<()> {
    send!(
        a,
        cx.sns
            .set_topic_attributes()
            .topic_arn(topic)
            .attribute_name("Policy")
            .attribute_value(policy)
    )
    .map(drop)
}

/// The topic's policy as it is now.
async fn read_policy(cx: Cx<'_>, a: &Address, topic: &str) -> Done<attrs::SnsTopicPolicy> {
    let out = send!(a, cx.sns.get_topic_attributes().topic_arn(topic))?;
    let text = out.attributes().and_then(|m| m.get("Policy"));
    Ok(attrs::SnsTopicPolicy {
        topic_arn: topic.to_owned(),
        policy: Document::read(text.map(String::as_str)),
    })
}

fn policy_live(policy: &attrs::SnsTopicPolicy) -> Live {
    let outputs = attrs::SnsTopicPolicyOutputs { id: policy.topic_arn.clone() };
    Live::new(policy.topic_arn.as_str(), policy, &outputs)
}

/// The policy SNS gives a new topic: only the owning account may use it.
fn default_policy(topic: &str) -> Option<Value> {
    let account = Arn::parse(topic).map(|arn| arn.account).filter(|a| !a.is_empty())?;
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

async fn list_subscriptions(cx: Cx<'_>, a: &Address, topic: &str) -> Done<Vec<Subscription>> {
    all!(cx.sns.list_subscriptions_by_topic().topic_arn(topic), a)
}

/// The recorded subscription `id` among those listed for its topic: by ARN, or (awaiting
/// confirmation, listed without one) by protocol and endpoint.
fn subscription_live(
    listed: &[Subscription],
    id: &str,
    recorded: &attrs::SnsSubscription,
) -> Option<Live> {
    let s = listed.iter().find(|s| s.subscription_arn() == Some(id)).or_else(|| {
        listed.iter().find(|s| {
            s.subscription_arn() == Some(PENDING)
                && s.protocol() == Some(recorded.protocol.as_str())
                && s.endpoint() == Some(recorded.endpoint.as_str())
        })
    })?;
    let field = |v: Option<&str>| v.unwrap_or_default().to_owned();
    Some(Live::new(
        id,
        &attrs::SnsSubscription::<Resolved> {
            topic_arn: field(s.topic_arn()),
            protocol: field(s.protocol()),
            endpoint: field(s.endpoint()),
        },
        &ArnOutputs::of(id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_subscriptions_match_by_protocol_and_endpoint() {
        let topic = "arn:aws:sns:eu-west-1:1:acceptance-default-alerts";
        let id = format!("{topic}:abc");
        let recorded = attrs::SnsSubscription::<Resolved> {
            topic_arn: topic.to_owned(),
            protocol: "email".to_owned(),
            endpoint: "ops@example.com".to_owned(),
        };
        let listed = |arn: &str, endpoint: &str| {
            Subscription::builder()
                .subscription_arn(arn)
                .topic_arn(topic)
                .protocol("email")
                .endpoint(endpoint)
                .build()
        };
        let live = subscription_live(&[listed(PENDING, "ops@example.com")], &id, &recorded)
            .expect("pending one found");
        assert_eq!(
            Some(Value::Object(live.attributes.into_iter().collect())),
            serde_json::to_value(&recorded).ok()
        );
        assert_eq!(live.id, id);
        assert!(
            subscription_live(&[listed(PENDING, "other@example.com")], &id, &recorded).is_none()
        );
        assert!(subscription_live(&[], &id, &recorded).is_none());
    }

    #[test]
    fn the_default_policy_names_the_topic_and_its_account() {
        let p = default_policy("arn:aws:sns:eu-west-1:123456789012:t").expect("an ARN");
        assert_eq!(p["Statement"][0]["Resource"], json!("arn:aws:sns:eu-west-1:123456789012:t"));
        assert_eq!(
            p["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceOwner"],
            json!("123456789012")
        );
        assert!(default_policy("not-an-arn").is_none());
        assert_eq!(topic_name("arn:aws:sns:eu-west-1:1:alerts"), "alerts");
    }
}
