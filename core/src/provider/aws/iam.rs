//! IAM: roles (trust policy and attached managed policies), customer-managed policies and
//! instance profiles. IAM is global, and every one of these is named deterministically, so
//! create looks the name up first and adopts what carries this lineage's tags (a crash between
//! create and state write) or refuses what belongs to someone else; IAM has no client tokens.
//!
//! Refresh reads roles and policies with ONE paginated `GetAccountAuthorizationDetails`: it
//! returns each role with its trust policy, attached policies, tags and instance profiles, and
//! each local policy with its versions' documents. Instance profiles come from the roles they
//! hold; only a recorded profile that no role lists (it lost its role, or is gone) costs one
//! `ListInstanceProfiles` to tell the two apart. That response has no policy tags, so a policy's
//! live `tags` are the recorded ones (reading them is one `ListPolicyTags` per policy).
//! IAM returns documents percent-encoded (moto does in some responses and not in others): they
//! are decoded when needed and compared as JSON values, as the desired ones are JSON objects.
//! `policy_arns` compare as a set and come back in the recorded order when equal.
//!
//! The end of this file holds helpers the other named-resource families (logs, SNS,
//! EventBridge) share: ownership checks of a found name, tag changes, refresh bookkeeping.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput as AuthorizationDetails;
use aws_sdk_iam::types::{
    EntityType, InstanceProfile, ManagedPolicyDetail, PolicyScopeType, RoleDetail, Tag,
};
use serde_json::Value;

use super::ec2::{create_tags, owner, visible_tags};
use super::live::{as_set, attrs, common_prefix, missing, recorded, report};
use super::once::send_once;
use super::ownership::{TagChanges, adopt, claim, invalid_tags, tag_changes};
use super::{AwsResultExt, Cx, Prior, retry_while, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{
    Applied, Live, ProviderError, Refresh, ResourceSpec, TAG_ECSOPS_ENVIRONMENT,
};
use crate::state::ResourceState;

/// IAM answers this for an entity created a moment ago (IAM is eventually consistent) as it
/// does for one that does not exist.
const NO_SUCH_ENTITY: &str = "NoSuchEntity";

/// A policy has at most five versions; the oldest non-default one makes room for a new one.
const MAX_POLICY_VERSIONS: usize = 5;

// ---------------------------------------------------------------------------------------------
// Entry points (dispatched from `aws::AwsProvider`)

/// Creates the role, policy or instance profile, or adopts the one of the same name that
/// carries this lineage's tags and brings it to the spec.
pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    _token_seed: u64,
) -> Result<Applied, ProviderError> {
    if let Some(live) = find(cx, spec).await? {
        return adopt(spec, &live, |prior| update(cx, spec, prior)).await;
    }
    match spec.kind {
        Kind::IamRole => create_role(cx, spec).await,
        Kind::IamPolicy => create_policy(cx, spec).await,
        Kind::InstanceProfile => create_instance_profile(cx, spec).await,
        other => Err(super::not_implemented(&spec.address, other, "create")),
    }
}

/// Brings the resource to the spec in place; only what differs from `prior` is sent.
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    match spec.kind {
        Kind::IamRole => update_role(cx, spec, prior).await,
        Kind::IamPolicy => update_policy(cx, spec, prior).await,
        Kind::InstanceProfile => update_instance_profile(cx, spec, prior).await,
        other => Err(super::not_implemented(&spec.address, other, "update")),
    }
}

/// Deletes the resource and what IAM requires gone first (attachments, old policy versions,
/// profile memberships); already gone is success.
pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = match kind {
        Kind::IamRole => delete_role(cx, address, prior.id).await,
        Kind::IamPolicy => delete_policy(cx, address, prior.id).await,
        Kind::InstanceProfile => delete_instance_profile(cx, address, prior.id).await,
        other => return Err(super::not_implemented(address, other, "delete")),
    };
    tolerate(r, &[NO_SUCH_ENTITY])
}

/// Reads every recorded role, policy and instance profile (see the module documentation for
/// the calls).
pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    let ours = recorded(
        resources,
        &[Kind::IamRole, Kind::IamPolicy, Kind::InstanceProfile],
    );
    if ours.is_empty() {
        return Ok(());
    }
    let at = Address::new(Kind::IamRole.as_str());
    let mut filters = Vec::new();
    if ours.iter().any(|(_, r)| r.kind != Kind::IamPolicy) {
        filters.push(EntityType::Role);
    }
    if ours.iter().any(|(_, r)| r.kind == Kind::IamPolicy) {
        filters.push(EntityType::LocalManagedPolicy);
    }
    let pages = cx
        .aws
        .iam
        .get_account_authorization_details()
        .set_filter(Some(filters))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(&at, "GetAccountAuthorizationDetails")?;
    let roles: BTreeMap<&str, &RoleDetail> = pages
        .iter()
        .flat_map(AuthorizationDetails::role_detail_list)
        .filter_map(|r| Some((r.role_name()?, r)))
        .collect();
    let policies: BTreeMap<&str, &ManagedPolicyDetail> = pages
        .iter()
        .flat_map(AuthorizationDetails::policies)
        .filter_map(|p| Some((p.arn()?, p)))
        .collect();
    let mut profiles: BTreeMap<&str, &InstanceProfile> = roles
        .values()
        .flat_map(|r| r.instance_profile_list())
        .map(|p| (p.instance_profile_name(), p))
        .collect();

    let unseen: Vec<&str> = ours
        .iter()
        .filter(|(_, r)| r.kind == Kind::InstanceProfile)
        .filter_map(|(_, r)| r.id.as_deref())
        .filter(|name| !profiles.contains_key(name))
        .collect();
    let roleless = if unseen.is_empty() {
        Vec::new()
    } else {
        let prefix = common_prefix(
            ours.iter()
                .filter(|(_, r)| r.kind == Kind::InstanceProfile)
                .map(|(_, r)| {
                    r.attributes
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or("/")
                }),
        );
        cx.aws
            .iam
            .list_instance_profiles()
            .path_prefix(if prefix.is_empty() { "/" } else { &prefix })
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .at(
                &Address::new(Kind::InstanceProfile.as_str()),
                "ListInstanceProfiles",
            )?
    };
    profiles.extend(roleless.iter().map(|p| (p.instance_profile_name(), p)));

    for (address, r) in &ours {
        let id = r.id.as_deref().unwrap_or_default();
        let live = match r.kind {
            Kind::IamRole => roles
                .get(id)
                .map(|d| role_detail_live(d, r.attributes.get("policy_arns"))),
            Kind::IamPolicy => policies
                .get(id)
                .map(|p| policy_detail_live(p, r.attributes.get("tags"))),
            _ => profiles
                .get(id)
                .map(|p| profile_live(p, r.attributes.get("tags"))),
        };
        report(out, address, live);
    }

    // Roles and profiles carry their tags in this response: ours that the state lacks are
    // reported for adoption. Policies cannot be: the response has no policy tags.
    let untracked = roles
        .values()
        .map(|d| (d.tags(), role_detail_live(d, None)))
        .chain(profiles.values().map(|p| (p.tags(), profile_live(p, None))));
    for (tags, live) in untracked {
        let tags = tag_map(tags);
        if let Some((address, lineage)) = owner(&tags)
            && lineage == cx.own.lineage
            && tags.get(TAG_ECSOPS_ENVIRONMENT) == Some(&cx.own.environment)
            && !resources.contains_key(&address)
        {
            out.untracked.insert(address, live);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Roles

async fn create_role(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let out = send_once!(
        aws_sdk_iam,
        cx.aws
            .iam
            .create_role()
            .role_name(name)
            .path(spec.str("path")?)
            .assume_role_policy_document(document_text(spec, "assume_role_policy")?)
            .set_tags(Some(iam_tags(a, &create_tags(cx.own, spec)?)?))
    )
    .await
    .at(a, "CreateRole")?;
    let arn = out
        .role()
        .map(|r| r.arn().to_owned())
        .ok_or_else(|| missing(a, "CreateRole", "Role"))?;
    let arns = string_list(spec, "policy_arns")?;
    attach_policies(cx, a, name, arns.iter().map(String::as_str)).await?;
    Ok(applied(spec, name, &arn))
}

async fn update_role(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = prior.id;
    if spec.attributes.get("assume_role_policy") != prior.attributes.get("assume_role_policy") {
        cx.aws
            .iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(document_text(spec, "assume_role_policy")?)
            .send()
            .await
            .at(a, "UpdateAssumeRolePolicy")?;
    }
    let want: BTreeSet<String> = string_list(spec, "policy_arns")?.into_iter().collect();
    let had: BTreeSet<String> = prior
        .attributes
        .get("policy_arns")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    attach_policies(cx, a, name, want.difference(&had).map(String::as_str)).await?;
    for arn in had.difference(&want) {
        let r = cx
            .aws
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .at(a, "DetachRolePolicy")
            .map(drop);
        tolerate(r, &[NO_SUCH_ENTITY])?;
    }
    if let Some(TagChanges { removed, set: tags }) =
        tag_changes(cx.own, spec, prior.attributes.get("tags"))?
    {
        if !removed.is_empty() {
            cx.aws
                .iam
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .at(a, "UntagRole")?;
        }
        cx.aws
            .iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(iam_tags(a, &tags)?))
            .send()
            .await
            .at(a, "TagRole")?;
    }
    Ok(applied(spec, name, &arn_of(a, prior)?))
}

/// Attaches each policy; a customer policy created moments before may not be visible yet.
async fn attach_policies(
    cx: Cx<'_>,
    a: &Address,
    role: &str,
    arns: impl Iterator<Item = &str>,
) -> Result<(), ProviderError> {
    for arn in arns {
        retry_while(
            cx.waits,
            cx.waits.consistency,
            &[NO_SUCH_ENTITY],
            || async {
                cx.aws
                    .iam
                    .attach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .at(a, "AttachRolePolicy")
            },
        )
        .await?;
    }
    Ok(())
}

/// IAM refuses to delete a role with attached policies or in an instance profile.
async fn delete_role(cx: Cx<'_>, a: &Address, name: &str) -> Result<(), ProviderError> {
    let attached = cx
        .aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "ListAttachedRolePolicies")?;
    for arn in attached.iter().filter_map(|p| p.policy_arn()) {
        let r = cx
            .aws
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .at(a, "DetachRolePolicy")
            .map(drop);
        tolerate(r, &[NO_SUCH_ENTITY])?;
    }
    let profiles = cx
        .aws
        .iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "ListInstanceProfilesForRole")?;
    for p in &profiles {
        remove_role(cx, a, p.instance_profile_name(), name).await?;
    }
    cx.aws
        .iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .at(a, "DeleteRole")
        .map(drop)
}

// ---------------------------------------------------------------------------------------------
// Policies

async fn create_policy(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let out = send_once!(
        aws_sdk_iam,
        cx.aws
            .iam
            .create_policy()
            .policy_name(spec.str("name")?)
            .path(spec.str("path")?)
            .policy_document(document_text(spec, "document")?)
            .set_tags(Some(iam_tags(a, &create_tags(cx.own, spec)?)?))
    )
    .await
    .at(a, "CreatePolicy")?;
    let arn = out
        .policy()
        .and_then(|p| p.arn())
        .ok_or_else(|| missing(a, "CreatePolicy", "Policy.Arn"))?;
    Ok(applied(spec, arn, arn))
}

async fn update_policy(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let arn = prior.id;
    if spec.attributes.get("document") != prior.attributes.get("document") {
        let versions = list_versions(cx, a, arn).await?;
        if versions.len() >= MAX_POLICY_VERSIONS
            && let Some(oldest) = versions
                .iter()
                .filter(|v| !v.is_default_version())
                .min_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())))
                .and_then(|v| v.version_id())
        {
            cx.aws
                .iam
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(oldest)
                .send()
                .await
                .at(a, "DeletePolicyVersion")?;
        }
        cx.aws
            .iam
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(document_text(spec, "document")?)
            .set_as_default(true)
            .send()
            .await
            .at(a, "CreatePolicyVersion")?;
    }
    if let Some(TagChanges { removed, set: tags }) =
        tag_changes(cx.own, spec, prior.attributes.get("tags"))?
    {
        if !removed.is_empty() {
            cx.aws
                .iam
                .untag_policy()
                .policy_arn(arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .at(a, "UntagPolicy")?;
        }
        cx.aws
            .iam
            .tag_policy()
            .policy_arn(arn)
            .set_tags(Some(iam_tags(a, &tags)?))
            .send()
            .await
            .at(a, "TagPolicy")?;
    }
    Ok(applied(spec, arn, arn))
}

async fn list_versions(
    cx: Cx<'_>,
    a: &Address,
    arn: &str,
) -> Result<Vec<aws_sdk_iam::types::PolicyVersion>, ProviderError> {
    cx.aws
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "ListPolicyVersions")
}

/// IAM refuses to delete an attached policy or one with non-default versions: whatever still
/// uses it (the role of a replaced policy) is detached first, which it must be anyway.
async fn delete_policy(cx: Cx<'_>, a: &Address, arn: &str) -> Result<(), ProviderError> {
    let entities = cx
        .aws
        .iam
        .list_entities_for_policy()
        .policy_arn(arn)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "ListEntitiesForPolicy")?;
    for page in &entities {
        for role in page.policy_roles().iter().filter_map(|r| r.role_name()) {
            let r = cx
                .aws
                .iam
                .detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .at(a, "DetachRolePolicy")
                .map(drop);
            tolerate(r, &[NO_SUCH_ENTITY])?;
        }
        for user in page.policy_users().iter().filter_map(|u| u.user_name()) {
            let r = cx
                .aws
                .iam
                .detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .at(a, "DetachUserPolicy")
                .map(drop);
            tolerate(r, &[NO_SUCH_ENTITY])?;
        }
        for group in page.policy_groups().iter().filter_map(|g| g.group_name()) {
            let r = cx
                .aws
                .iam
                .detach_group_policy()
                .group_name(group)
                .policy_arn(arn)
                .send()
                .await
                .at(a, "DetachGroupPolicy")
                .map(drop);
            tolerate(r, &[NO_SUCH_ENTITY])?;
        }
    }
    for version in list_versions(cx, a, arn).await? {
        if let Some(id) = version
            .version_id()
            .filter(|_| !version.is_default_version())
        {
            let r = cx
                .aws
                .iam
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(id)
                .send()
                .await
                .at(a, "DeletePolicyVersion")
                .map(drop);
            tolerate(r, &[NO_SUCH_ENTITY])?;
        }
    }
    cx.aws
        .iam
        .delete_policy()
        .policy_arn(arn)
        .send()
        .await
        .at(a, "DeletePolicy")
        .map(drop)
}

// ---------------------------------------------------------------------------------------------
// Instance profiles

async fn create_instance_profile(
    cx: Cx<'_>,
    spec: &ResourceSpec,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let out = send_once!(
        aws_sdk_iam,
        cx.aws
            .iam
            .create_instance_profile()
            .instance_profile_name(name)
            .path(spec.str("path")?)
            .set_tags(Some(iam_tags(a, &create_tags(cx.own, spec)?)?))
    )
    .await
    .at(a, "CreateInstanceProfile")?;
    let arn = out
        .instance_profile()
        .map(|p| p.arn().to_owned())
        .ok_or_else(|| missing(a, "CreateInstanceProfile", "InstanceProfile"))?;
    add_role(cx, a, name, spec.str("role")?).await?;
    Ok(applied(spec, name, &arn))
}

async fn update_instance_profile(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = prior.id;
    let want = spec.str("role")?;
    let had = prior.attributes.get("role").and_then(Value::as_str);
    if had != Some(want) {
        if let Some(old) = had {
            remove_role(cx, a, name, old).await?;
        }
        add_role(cx, a, name, want).await?;
    }
    if let Some(TagChanges { removed, set: tags }) =
        tag_changes(cx.own, spec, prior.attributes.get("tags"))?
    {
        if !removed.is_empty() {
            cx.aws
                .iam
                .untag_instance_profile()
                .instance_profile_name(name)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .at(a, "UntagInstanceProfile")?;
        }
        cx.aws
            .iam
            .tag_instance_profile()
            .instance_profile_name(name)
            .set_tags(Some(iam_tags(a, &tags)?))
            .send()
            .await
            .at(a, "TagInstanceProfile")?;
    }
    Ok(applied(spec, name, &arn_of(a, prior)?))
}

/// The role was created moments before, so it may not be visible yet.
async fn add_role(cx: Cx<'_>, a: &Address, profile: &str, role: &str) -> Result<(), ProviderError> {
    retry_while(
        cx.waits,
        cx.waits.consistency,
        &[NO_SUCH_ENTITY],
        || async {
            send_once!(
                aws_sdk_iam,
                cx.aws
                    .iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(role)
            )
            .await
            .at(a, "AddRoleToInstanceProfile")
            .map(drop)
        },
    )
    .await
}

async fn remove_role(
    cx: Cx<'_>,
    a: &Address,
    profile: &str,
    role: &str,
) -> Result<(), ProviderError> {
    let r = cx
        .aws
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(profile)
        .role_name(role)
        .send()
        .await
        .at(a, "RemoveRoleFromInstanceProfile")
        .map(drop);
    tolerate(r, &[NO_SUCH_ENTITY])
}

/// IAM refuses to delete a profile that still holds a role; the live one is removed, whatever
/// the state recorded.
async fn delete_instance_profile(cx: Cx<'_>, a: &Address, name: &str) -> Result<(), ProviderError> {
    let out = cx
        .aws
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .at(a, "GetInstanceProfile")?;
    for role in out
        .instance_profile()
        .map(InstanceProfile::roles)
        .unwrap_or_default()
    {
        remove_role(cx, a, name, role.role_name()).await?;
    }
    cx.aws
        .iam
        .delete_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .at(a, "DeleteInstanceProfile")
        .map(drop)
}

// ---------------------------------------------------------------------------------------------
// Adoption

/// The resource of the spec's name, when it exists and carries this address's tags.
async fn find(cx: Cx<'_>, spec: &ResourceSpec) -> Result<Option<Live>, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let iam = &cx.aws.iam;
    match spec.kind {
        Kind::IamRole => {
            let got = iam.get_role().role_name(name).send().await.at(a, "GetRole");
            let Some(out) = absent_as_none(got)? else {
                return Ok(None);
            };
            let role = out.role().ok_or_else(|| missing(a, "GetRole", "Role"))?;
            let tags = tag_map(role.tags());
            claim(cx.own, a, role.role_name(), &tags)?;
            let attached = iam
                .list_attached_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(a, "ListAttachedRolePolicies")?;
            let arns = attached
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect();
            Ok(Some(role_live(
                RoleParts {
                    name: role.role_name(),
                    path: role.path(),
                    arn: role.arn(),
                    trust: role.assume_role_policy_document(),
                    tags: &tags,
                },
                arns,
                spec.attributes.get("policy_arns"),
            )))
        }
        Kind::IamPolicy => {
            // The ARN needs the account id, which nothing at hand names: list by path instead.
            let listed = iam
                .list_policies()
                .scope(PolicyScopeType::Local)
                .path_prefix(spec.str("path")?)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .at(a, "ListPolicies")?;
            let Some(arn) = listed
                .iter()
                .find(|p| p.policy_name() == Some(name))
                .and_then(|p| p.arn())
            else {
                return Ok(None);
            };
            let out = iam
                .get_policy()
                .policy_arn(arn)
                .send()
                .await
                .at(a, "GetPolicy")?;
            let policy = out
                .policy()
                .ok_or_else(|| missing(a, "GetPolicy", "Policy"))?;
            let tags = tag_map(policy.tags());
            claim(cx.own, a, arn, &tags)?;
            let version = policy
                .default_version_id()
                .ok_or_else(|| missing(a, "GetPolicy", "DefaultVersionId"))?;
            let out = iam
                .get_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await
                .at(a, "GetPolicyVersion")?;
            let document = out.policy_version().and_then(|v| v.document());
            Ok(Some(policy_live(
                arn,
                name,
                policy.path().unwrap_or_default(),
                document,
                visible_tags(&tags),
            )))
        }
        Kind::InstanceProfile => {
            let got = iam
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
                .at(a, "GetInstanceProfile");
            let Some(out) = absent_as_none(got)? else {
                return Ok(None);
            };
            let profile = out
                .instance_profile()
                .ok_or_else(|| missing(a, "GetInstanceProfile", "InstanceProfile"))?;
            claim(cx.own, a, name, &tag_map(profile.tags()))?;
            Ok(Some(profile_live(profile, None)))
        }
        other => Err(super::not_implemented(a, other, "adopt")),
    }
}

/// `Ok(None)` for "no such entity": the name is free.
fn absent_as_none<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.aws_code() == Some(NO_SUCH_ENTITY) => Ok(None),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Live shapes

#[derive(Clone, Copy)]
struct RoleParts<'a> {
    name: &'a str,
    path: &'a str,
    arn: &'a str,
    trust: Option<&'a str>,
    tags: &'a BTreeMap<String, String>,
}

fn role_live(parts: RoleParts<'_>, attached: Vec<String>, recorded_arns: Option<&Value>) -> Live {
    Live {
        kind: Kind::IamRole,
        id: parts.name.to_owned(),
        attributes: attrs([
            ("name", Value::from(parts.name)),
            ("path", Value::from(parts.path)),
            (
                "assume_role_policy",
                parts.trust.map_or(Value::Null, document),
            ),
            ("policy_arns", as_set(attached, recorded_arns)),
            ("tags", visible_tags(parts.tags)),
        ]),
        outputs: attrs([("arn", Value::from(parts.arn))]),
    }
}

fn role_detail_live(d: &RoleDetail, recorded_arns: Option<&Value>) -> Live {
    let attached = d
        .attached_managed_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    role_live(
        RoleParts {
            name: d.role_name().unwrap_or_default(),
            path: d.path().unwrap_or_default(),
            arn: d.arn().unwrap_or_default(),
            trust: d.assume_role_policy_document(),
            tags: &tag_map(d.tags()),
        },
        attached,
        recorded_arns,
    )
}

fn policy_live(
    arn: &str,
    name: &str,
    path: &str,
    document_text: Option<&str>,
    tags: Value,
) -> Live {
    Live {
        kind: Kind::IamPolicy,
        id: arn.to_owned(),
        attributes: attrs([
            ("name", Value::from(name)),
            ("path", Value::from(path)),
            ("document", document_text.map_or(Value::Null, document)),
            ("tags", tags),
        ]),
        outputs: attrs([("arn", Value::from(arn))]),
    }
}

/// The live policy; `tags` are the recorded ones (the response has none).
fn policy_detail_live(p: &ManagedPolicyDetail, recorded_tags: Option<&Value>) -> Live {
    let default = p
        .policy_version_list()
        .iter()
        .find(|v| v.is_default_version() || v.version_id() == p.default_version_id());
    policy_live(
        p.arn().unwrap_or_default(),
        // moto leaves the name out of this response; it is the ARN's last segment.
        p.policy_name()
            .or_else(|| p.arn()?.rsplit('/').next())
            .unwrap_or_default(),
        p.path().unwrap_or_default(),
        default.and_then(|v| v.document()),
        recorded_tags.cloned().unwrap_or(Value::Null),
    )
}

/// The live profile. A profile nested in a role may come without its tags: then the recorded
/// ones stand (ours always carry ownership tags, so an empty list means "not reported").
fn profile_live(p: &InstanceProfile, recorded_tags: Option<&Value>) -> Live {
    let tags = match (p.tags().is_empty(), recorded_tags) {
        (true, Some(recorded)) => recorded.clone(),
        _ => visible_tags(&tag_map(p.tags())),
    };
    Live {
        kind: Kind::InstanceProfile,
        id: p.instance_profile_name().to_owned(),
        attributes: attrs([
            ("name", Value::from(p.instance_profile_name())),
            ("path", Value::from(p.path())),
            (
                "role",
                p.roles()
                    .first()
                    .map_or(Value::Null, |r| Value::from(r.role_name())),
            ),
            ("tags", tags),
        ]),
        outputs: attrs([("arn", Value::from(p.arn()))]),
    }
}

/// A policy document as IAM returns it (JSON, or JSON percent-encoded) as a JSON value; text
/// that is neither stays a string, so it shows as drift instead of failing the refresh.
fn document(text: &str) -> Value {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(text)?).ok())
        .unwrap_or_else(|| Value::from(text))
}

/// RFC 3986 percent-decoding; `None` when the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A desired document attribute (a JSON object) as the JSON text IAM takes.
fn document_text(spec: &ResourceSpec, name: &str) -> Result<String, ProviderError> {
    match spec.attributes.get(name) {
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        _ => Err(spec.invalid(name, "is missing or not a JSON object")),
    }
}

fn string_list(spec: &ResourceSpec, name: &str) -> Result<Vec<String>, ProviderError> {
    match spec.attributes.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| spec.invalid(name, "has an entry that is not a string"))
            })
            .collect(),
        Some(_) => Err(spec.invalid(name, "is not a list of strings")),
    }
}

fn arn_of(a: &Address, prior: Prior<'_>) -> Result<String, ProviderError> {
    prior
        .outputs
        .get("arn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::Failed {
            address: a.clone(),
            what: format!(
                "the state records no `arn` for it; {}",
                super::UNRECORDED_ID
            ),
        })
}

fn applied(spec: &ResourceSpec, id: &str, arn: &str) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs: attrs([("arn", Value::from(arn))]),
        adopted: false,
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn iam_tags(a: &Address, tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_decode_from_plain_or_percent_encoded_json() {
        let want =
            json!({"Version": "2012-10-17", "Statement": [{"Resource": "arn:aws:s3:::x/y z"}]});
        assert_eq!(document(&want.to_string()), want);
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Resource%22%3A%20%22arn%3Aaws%3As3%3A%3A%3Ax/y%20z%22%7D%5D%7D";
        assert_eq!(document(encoded), want);
        assert_eq!(document("%zz"), json!("%zz"));
    }
}
