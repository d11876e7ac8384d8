//! Customer-managed IAM policies: the default version's document and the tags.

use crate::provider::aws::send;
use aws_sdk_iam::types::{ManagedPolicyDetail, PolicyScopeType, PolicyVersion};

use super::super::ec2::visible;
use super::super::live::{all, missing};
use super::super::once::send_once;
use super::super::ownership::{claim, create_tags, send_tags};
use super::super::{AwsResultExt, Cx, Done, Manage, New, Prior, remove, remove_request, tolerate};
use super::roles::detach_policy;
use super::{NO_SUCH_ENTITY, document, document_text, tag_map};
use crate::graph::Address;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, Tags};
use crate::provider::{Applied, Live, ResourceSpec};

/// A policy has at most five versions; the oldest non-default one makes room for a new one.
const MAX_POLICY_VERSIONS: usize = 5;

impl Manage for attrs::IamPolicy {
    /// The policy of that name and path, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let iam = &cx.iam;
        // The ARN needs the account id, which nothing at hand names: list by path instead.
        let listed =
            all!(iam.list_policies().scope(PolicyScopeType::Local).path_prefix(&want.path), a)?;
        let Some(arn) = listed
            .iter()
            .find(|p| p.policy_name() == Some(want.name.as_str()))
            .and_then(|p| p.arn())
        else {
            return Ok(None);
        };
        let out = send!(a, iam.get_policy().policy_arn(arn))?;
        let policy = out.policy().ok_or_else(|| missing(a, "GetPolicy", "Policy"))?;
        let tags = tag_map(policy.tags());
        claim(cx.own, a, arn, &tags)?;
        let version = policy
            .default_version_id()
            .ok_or_else(|| missing(a, "GetPolicy", "DefaultVersionId"))?;
        let out = send!(a, iam.get_policy_version().policy_arn(arn).version_id(version))?;
        let document = out.policy_version().and_then(|v| v.document());
        Ok(Some(live(arn, &want.name, policy.path().unwrap_or_default(), document, visible(&tags))))
    }

    /// Creates the policy.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let out = send_once!(
            a,
            cx.iam
                .create_policy()
                .policy_name(&want.name)
                .path(&want.path)
                .policy_document(document_text(spec, "document", &want.document)?)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = out
            .policy()
            .and_then(|p| p.arn())
            .ok_or_else(|| missing(a, "CreatePolicy", "Policy.Arn"))?;
        let outputs = ArnOutputs::of(arn);
        Ok(Applied::new(spec, arn, &outputs))
    }

    /// A changed document becomes the new default version (the oldest one goes when IAM's
    /// limit is reached); then the tag changes.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::IamPolicy = prior.decode()?;
        let arn = prior.id;
        if want.document != was.document {
            let versions = list_versions(cx, a, arn).await?;
            if versions.len() >= MAX_POLICY_VERSIONS
                && let Some(oldest) = versions
                    .iter()
                    .filter(|v| !v.is_default_version())
                    .min_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())))
                    .and_then(|v| v.version_id())
            {
                delete_version(cx, a, arn, oldest).await?;
            }
            send!(
                a,
                cx.iam
                    .create_policy_version()
                    .policy_arn(arn)
                    .policy_document(document_text(spec, "document", &want.document)?)
                    .set_as_default(true)
            )?;
        }
        send_tags!(
            cx, a, &was.tags, &want.tags,
            untag: cx.iam.untag_policy().policy_arn(arn),
            tag: cx.iam.tag_policy().policy_arn(arn),
        )?;
        let outputs = ArnOutputs::of(arn);
        Ok(Applied::new(spec, arn, &outputs))
    }

    /// Detaches the policy from whatever still uses it and deletes its other versions (IAM
    /// refuses to delete it otherwise), then deletes it; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove(cx, &[], &[NO_SUCH_ENTITY], || delete_policy(cx, prior.address, prior.id)).await
    }
}

async fn list_versions(cx: Cx<'_>, a: &Address, arn: &str) -> Done<Vec<PolicyVersion>> {
    all!(cx.iam.list_policy_versions().policy_arn(arn), a)
}

async fn delete_version(cx: Cx<'_>, a: &Address, arn: &str, version: &str) -> Done<()> {
    send!(a, cx.iam.delete_policy_version().policy_arn(arn).version_id(version)).map(drop)
}

/// Whatever still uses the policy (the role of a replaced policy) is detached first, which it
/// must be anyway.
async fn delete_policy(cx: Cx<'_>, a: &Address, arn: &str) -> Done<()> {
    let entities = cx
        .iam
        .list_entities_for_policy()
        .policy_arn(arn)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a)?;
    for page in &entities {
        for role in page.policy_roles().iter().filter_map(|r| r.role_name()) {
            detach_policy(cx, a, role, arn).await?;
        }
        for user in page.policy_users().iter().filter_map(|u| u.user_name()) {
            remove_request(cx, a, &[], &[NO_SUCH_ENTITY], || {
                cx.iam.detach_user_policy().user_name(user).policy_arn(arn).send()
            })
            .await?;
        }
        for group in page.policy_groups().iter().filter_map(|g| g.group_name()) {
            remove_request(cx, a, &[], &[NO_SUCH_ENTITY], || {
                cx.iam.detach_group_policy().group_name(group).policy_arn(arn).send()
            })
            .await?;
        }
    }
    for version in list_versions(cx, a, arn).await? {
        if let Some(id) = version.version_id().filter(|_| !version.is_default_version()) {
            tolerate(delete_version(cx, a, arn, id).await, &[NO_SUCH_ENTITY])?;
        }
    }
    send!(a, cx.iam.delete_policy().policy_arn(arn)).map(drop)
}

fn live(arn: &str, name: &str, path: &str, document_text: Option<&str>, tags: Tags) -> Live {
    Live::new(
        arn,
        &attrs::IamPolicy::<Resolved> {
            name: name.to_owned(),
            path: path.to_owned(),
            document: document(document_text),
            tags,
        },
        &ArnOutputs::of(arn),
    )
}

/// The live policy; `tags` are the recorded ones (the response has none).
pub(super) fn detail_live(p: &ManagedPolicyDetail, recorded_tags: Tags) -> Live {
    let default = p
        .policy_version_list()
        .iter()
        .find(|v| v.is_default_version() || v.version_id() == p.default_version_id());
    live(
        p.arn().unwrap_or_default(),
        // moto leaves the name out of this response; it is the ARN's last segment.
        p.policy_name().or_else(|| p.arn()?.rsplit('/').next()).unwrap_or_default(),
        p.path().unwrap_or_default(),
        default.and_then(|v| v.document()),
        recorded_tags,
    )
}
