//! SNS: the alerts topic, its access policy and its e-mail subscriptions.

use serde::{Deserialize, Serialize};

use super::iam::Document;
use super::{Resolved, Stage, Tags};

/// A topic (the alerts topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct SnsTopic<S: Stage = Resolved> {
    /// Unique in the account and region; the state id is the ARN.
    pub name: S::V<String>,
    pub tags: S::V<Tags>,
}

/// A topic's access policy (the topic's `Policy` attribute): lets EventBridge publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct SnsTopicPolicy<S: Stage = Resolved> {
    /// The topic's ARN, also the state id: a topic has one policy.
    pub topic_arn: S::V<String>,
    pub policy: S::V<Document>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsTopicPolicyOutputs {
    /// The topic's ARN.
    pub id: String,
}

/// A subscription to a topic (one per alert e-mail address); identified by its three fields.
/// Its ARN is also its state id; an e-mail subscription awaiting confirmation has no usable ARN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct SnsSubscription<S: Stage = Resolved> {
    pub topic_arn: S::V<String>,
    /// `email` for the alert addresses.
    pub protocol: S::V<String>,
    pub endpoint: S::V<String>,
}
