//! EventBridge: the alert rules on the default event bus and their targets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Resolved, Stage, Tags};

/// A rule on the default event bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct EventRule<S: Stage = Resolved> {
    /// Unique on the bus: the state id.
    pub name: S::V<String>,
    pub description: S::V<Option<String>>,
    /// The event pattern, passed to EventBridge as JSON text and compared as JSON: `null` when
    /// the live rule has none, text when what it has is not JSON.
    pub event_pattern: S::V<Value>,
    /// `ENABLED` or `DISABLED`.
    pub state: S::V<String>,
    pub tags: S::V<Tags>,
}

/// A rule's target (the alerts topic); identified by rule and target id, state id
/// `<rule>/<target_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct EventTarget<S: Stage = Resolved> {
    /// The rule's name.
    pub rule: S::V<String>,
    pub target_id: S::V<String>,
    /// What the target delivers to (the topic's ARN).
    pub arn: S::V<String>,
    /// Rewrites the event before delivery; absent: the event is delivered as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<S::V<InputTransformer>>,
}

/// A target's input transformer: values picked from the event, then put into a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputTransformer {
    /// Placeholder name to the JSON path of its value in the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_paths: Option<BTreeMap<String, String>>,
    /// The delivered text, with `<placeholder>`s.
    pub input_template: String,
}
