//! IAM: roles, customer-managed policies and instance profiles, and the policy document model
//! that IAM and SNS share.
//!
//! Documents are passed to AWS as JSON text and compared as JSON values; the model names what a
//! statement holds so that a document is read, built and shown the same way everywhere, and
//! keeps whatever else a document carries (`NotAction`, ...) so that nothing read is lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Resolved, Stage, Tags};

/// An IAM role (the instances' role, the task execution role).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct IamRole<S: Stage = Resolved> {
    /// The role name, unique in the account: the state id.
    pub name: S::V<String>,
    /// Groups ecsops' roles (`/ecsops/`); part of the ARN, so a change makes a new role.
    pub path: S::V<String>,
    /// The trust policy: which service may assume the role.
    pub assume_role_policy: S::V<Document>,
    /// The managed policies attached, compared as a set (IAM lists them in its own order).
    pub policy_arns: S::V<Vec<String>>,
    pub tags: S::V<Tags>,
    /// The names of its inline policies. ecsops writes none, so one read here was put on the
    /// role outside ecsops (drift, which grants what no manifest says; an update deletes it).
    /// Absent while empty, as it always is in the graph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_policies: Vec<String>,
}

/// A customer-managed policy (scoped to this environment's logs, secrets, auth objects). Its
/// ARN is also its state id: IAM addresses a policy by its ARN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct IamPolicy<S: Stage = Resolved> {
    pub name: S::V<String>,
    pub path: S::V<String>,
    /// The default version's document; a change is a new version.
    pub document: S::V<Document>,
    pub tags: S::V<Tags>,
}

/// The instance profile that hands the instance role to EC2 instances; launch templates name
/// its ARN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct InstanceProfile<S: Stage = Resolved> {
    /// The profile name, unique in the account: the state id.
    pub name: S::V<String>,
    pub path: S::V<String>,
    /// The role's name (a profile holds at most one); `null` when the live profile holds none.
    pub role: S::V<Option<String>>,
    pub tags: S::V<Tags>,
}

/// A policy document attribute: an IAM policy document or, read back from AWS, what was there
/// instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Document {
    Policy(PolicyDocument),
    /// What AWS answered when it is not a policy document (text that is not JSON, JSON of
    /// another shape, or nothing: `null`), kept as read so that refresh shows it as drift
    /// instead of failing.
    Other(Value),
}

impl Document {
    /// A document as AWS returns it (JSON text); `None` reads as `null`.
    pub fn read(text: Option<&str>) -> Self {
        let Some(text) = text else {
            return Self::Other(Value::Null);
        };
        serde_json::from_str(text).unwrap_or_else(|_| Self::Other(Value::from(text)))
    }

    /// The JSON text AWS takes; `None` when this is no JSON object (never for a desired one).
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Policy(d) => serde_json::to_string(d).ok(),
            Self::Other(v @ Value::Object(_)) => Some(v.to_string()),
            Self::Other(_) => None,
        }
    }
}

/// An IAM policy document (also the language of SNS topic policies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// The policy language version (`2012-10-17`; SNS's default policy says `2008-10-17`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub statement: Vec<Statement>,
    /// Anything else the document carries, kept so that it reads back unchanged.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One statement of a policy document; each element keeps the form it was written in (one
/// value or a list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    /// Who the statement applies to (resource and trust policies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    /// Operator (`ArnEquals`) to condition key (`aws:SourceArn`) to values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<String, BTreeMap<String, OneOrMany>>>,
    /// Elements the model does not name (`NotAction`, `NotResource`, ...), kept as read.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// A statement's principal: `"*"`, or principal type (`Service`, `AWS`) to principals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Principal {
    Anyone(String),
    Of(BTreeMap<String, OneOrMany>),
}

/// A policy element that is one string or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_read_back_as_written() {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "NotResource": ["x"]
            }]
        });
        let read = Document::read(Some(&trust.to_string()));
        assert!(matches!(read, Document::Policy(_)), "{read:?}");
        assert_eq!(serde_json::to_value(&read).ok(), Some(trust));

        let not_a_policy = json!({"Statement": {"Effect": "Allow"}});
        let read = Document::read(Some(&not_a_policy.to_string()));
        assert_eq!(read, Document::Other(not_a_policy));
        assert_eq!(Document::read(Some("{oops")), Document::Other(json!("{oops")));
        assert_eq!(Document::read(None), Document::Other(Value::Null));
        assert_eq!(Document::read(Some("{oops")).text(), None);
    }

    /// The desired documents read as the model, not as the fallback that takes anything.
    #[test]
    fn the_examples_documents_are_policy_documents() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let ws = crate::workspace::Workspace::at(root);
        let graph = crate::ops::diff::desired(&ws, "production")
            .unwrap_or_else(|e| panic!("the production example builds: {e}"))
            .graph;
        let mut documents = 0;
        for r in graph.resources.values() {
            let name = match r.kind {
                super::super::Kind::IamRole => "assume_role_policy",
                super::super::Kind::IamPolicy => "document",
                _ => continue,
            };
            let Some(crate::graph::Expr::Lit(value)) = r.attributes.get(name) else {
                panic!("`{}` has a literal {name}", r.address);
            };
            let read: Document = serde_json::from_value(value.clone()).expect("decodes");
            assert!(matches!(read, Document::Policy(_)), "{}: {read:?}", r.address);
            documents += 1;
        }
        assert!(documents >= 3, "{documents}");
    }
}
