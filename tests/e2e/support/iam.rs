//! IAM read back in the emulator with plain SDK calls, for the tests that check what ecsops made
//! there: roles, the managed policies attached to them, managed policies with their versions and
//! default document, and instance profiles. Each fails the test when IAM has no such entity.

use std::collections::BTreeSet;
use std::fmt::Debug;

use ecsops_core::provider::aws::sdk::iam::Client;
use ecsops_core::provider::aws::sdk::iam::types::{InstanceProfile, Policy, PolicyVersion, Role};
use serde_json::Value;

/// The role `name`.
pub async fn role(client: &Client, name: &str) -> Role {
    let out = client.get_role().role_name(name).send().await;
    answered(&format!("GetRole `{name}`"), out.map(|o| o.role))
}

/// The ARNs of the managed policies attached to the role `name`.
pub async fn attached_policy_arns(client: &Client, name: &str) -> BTreeSet<String> {
    let out = (client.list_attached_role_policies()).role_name(name).send().await;
    let what = format!("ListAttachedRolePolicies `{name}`");
    let attached = answered(&what, out.map(|o| o.attached_policies));
    attached.into_iter().filter_map(|p| p.policy_arn).collect()
}

/// The managed policy `arn`.
pub async fn policy(client: &Client, arn: &str) -> Policy {
    let out = client.get_policy().policy_arn(arn).send().await;
    answered(&format!("GetPolicy `{arn}`"), out.map(|o| o.policy))
}

/// The versions the managed policy `arn` keeps.
pub async fn policy_versions(client: &Client, arn: &str) -> Vec<PolicyVersion> {
    let out = client.list_policy_versions().policy_arn(arn).send().await;
    answered(&format!("ListPolicyVersions `{arn}`"), out.map(|o| o.versions))
}

/// The document of the managed policy `arn`'s default version, as JSON. moto answers
/// `GetPolicyVersion` with the document as plain JSON (AWS would percent-encode it), so a
/// document that does not parse fails the test with its text.
pub async fn policy_document(client: &Client, arn: &str) -> Value {
    let version = policy(client, arn).await.default_version_id;
    let version = version.unwrap_or_else(|| panic!("policy `{arn}` has no default version"));
    let out = (client.get_policy_version()).policy_arn(arn).version_id(&version).send().await;
    let what = format!("GetPolicyVersion `{arn}` {version}");
    let text = answered(&what, out.map(|o| o.policy_version.and_then(|v| v.document)));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

/// The instance profile `name`.
pub async fn instance_profile(client: &Client, name: &str) -> InstanceProfile {
    let out = (client.get_instance_profile()).instance_profile_name(name).send().await;
    let what = format!("GetInstanceProfile `{name}`");
    answered(&what, out.map(|o| o.instance_profile))
}

/// What the IAM call `what` answered; a failed call or an answer without it fails the test.
fn answered<T, E: Debug>(what: &str, out: Result<Option<T>, E>) -> T {
    out.unwrap_or_else(|e| panic!("{what}: {e:?}"))
        .unwrap_or_else(|| panic!("{what}: nothing in the answer"))
}
