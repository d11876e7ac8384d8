//! IAM: roles (trust policy and attached managed policies), customer-managed policies and
//! instance profiles, one module each. IAM is global, and every one of these is named
//! deterministically, so create looks the name up first and adopts what carries this lineage's
//! tags (a crash between create and state write) or refuses what belongs to someone else; IAM
//! has no client tokens.
//!
//! Refresh reads roles and policies with ONE paginated `GetAccountAuthorizationDetails`: it
//! returns each role with its trust policy, attached policies, tags and instance profiles, and
//! each local policy with its versions' documents. Instance profiles come from the roles they
//! hold; only a recorded profile that no role lists (it lost its role, or is gone) costs one
//! `ListInstanceProfiles` to tell the two apart. That response has no policy tags, so a policy's
//! live `tags` are the recorded ones (reading them is one `ListPolicyTags` per policy).
//! IAM returns documents percent-encoded (moto does in some responses and not in others): they
//! are decoded when needed and compared as policy documents, as the desired ones are.
//! `policy_arns` compare as a set and come back in the recorded order when equal.
//!
//! `GetAccountAuthorizationDetails` and `ListEntitiesForPolicy` answer several lists per page,
//! so the SDK gives them no item paginator and `all!` cannot serve them: they collect pages.

mod policies;
mod profiles;
mod roles;

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput as AuthorizationDetails;
use aws_sdk_iam::types::{EntityType, InstanceProfile, ManagedPolicyDetail, RoleDetail, Tag};

use super::ec2::owner;
use super::live::{all, as_set, common_prefix, recorded, report};
use super::ownership::{SdkTags, sdk_tags, tag_map_of};
use super::{AwsResultExt, Cx, Done, Prior, RECORDED, Recorded, retry_while};
use crate::graph::attrs::{self, Document, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{Refresh, ResourceSpec, TAG_ECSOPS_ENVIRONMENT, decode};
use crate::state::ResourceState;

/// IAM answers this for an entity created a moment ago (IAM is eventually consistent) as it
/// does for one that does not exist.
const NO_SUCH_ENTITY: &str = "NoSuchEntity";

/// Runs `op` again while IAM answers [`NO_SUCH_ENTITY`] for what it names (a role or policy
/// created moments before), for at most the consistency wait.
async fn until_visible<T, F, Fut>(cx: Cx<'_>, op: F) -> Done<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<T>>,
{
    retry_while(cx.waits, cx.waits.consistency, &[NO_SUCH_ENTITY], op).await
}

/// Reads every recorded role, policy and instance profile (see the module documentation for
/// the calls).
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let ours = recorded(resources, &[Kind::IamRole, Kind::IamPolicy, Kind::InstanceProfile]);
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
        .iam
        .get_account_authorization_details()
        .set_filter(Some(filters))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(&at)?;
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

    let recorded_profiles: Vec<&ResourceState> =
        ours.iter().filter(|(_, r)| r.kind == Kind::InstanceProfile).map(|(_, r)| *r).collect();
    let unseen = recorded_profiles
        .iter()
        .filter_map(|r| r.id.as_deref())
        .any(|name| !profiles.contains_key(name));
    let roleless = if unseen {
        // A profile whose recorded attributes do not read widens the listing to every path.
        let paths: Vec<String> = ours
            .iter()
            .filter(|(_, r)| r.kind == Kind::InstanceProfile)
            .map(|(a, r)| {
                decode::<attrs::InstanceProfile>(a, Some(RECORDED), &r.attributes)
                    .map_or_else(|_| "/".to_owned(), |p| p.path)
            })
            .collect();
        let prefix = common_prefix(paths.iter().map(String::as_str));
        all!(
            cx.iam.list_instance_profiles().path_prefix(if prefix.is_empty() {
                "/"
            } else {
                &prefix
            }),
            &Address::new(Kind::InstanceProfile.as_str())
        )?
    } else {
        Vec::new()
    };
    profiles.extend(roleless.iter().map(|p| (p.instance_profile_name(), p)));

    for (address, r) in &ours {
        let id = r.id.as_deref().unwrap_or_default();
        let live = match r.kind {
            Kind::IamRole => match roles.get(id) {
                Some(d) => {
                    let recorded: attrs::IamRole = Prior::of(address, r)?.decode()?;
                    Some(roles::detail_live(d, &recorded.policy_arns))
                }
                None => None,
            },
            Kind::IamPolicy => match policies.get(id) {
                Some(p) => {
                    let recorded: attrs::IamPolicy = Prior::of(address, r)?.decode()?;
                    Some(policies::detail_live(p, recorded.tags))
                }
                None => None,
            },
            _ => match profiles.get(id) {
                Some(p) => {
                    let recorded: attrs::InstanceProfile = Prior::of(address, r)?.decode()?;
                    Some(profiles::live(p, Some(&recorded.tags)))
                }
                None => None,
            },
        };
        report(out, address, live);
    }

    // Roles and profiles carry their tags in this response: ours that the state lacks are
    // reported for adoption. Policies cannot be: the response has no policy tags.
    let untracked = roles
        .values()
        .map(|d| (d.tags(), roles::detail_live(d, &[])))
        .chain(profiles.values().map(|p| (p.tags(), profiles::live(p, None))));
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

/// A policy document as IAM returns it (JSON, or JSON percent-encoded); text that is neither
/// stays as read, so it shows as drift instead of failing the refresh.
fn document(text: Option<&str>) -> Document {
    let is_json = |t: &str| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok();
    let decoded = text.filter(|t| !is_json(t)).and_then(percent_decode).filter(|t| is_json(t));
    Document::read(decoded.as_deref().or(text))
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

/// A desired document (the attribute `name` of `spec`) as the JSON text IAM takes.
fn document_text(spec: &ResourceSpec, name: &str, document: &Document) -> Done<String> {
    document.text().ok_or_else(|| spec.invalid(name, "is missing or not a JSON object"))
}

fn tag_map(tags: &[Tag]) -> Tags {
    tag_map_of(tags, |t| (Some(t.key()), Some(t.value())))
}

impl SdkTags for Vec<Tag> {
    fn of(a: &Address, tags: &Tags) -> Done<Self> {
        sdk_tags(a, tags, |k, v| Tag::builder().key(k).value(v).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn documents_decode_from_plain_or_percent_encoded_json() {
        let want = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "arn:aws:s3:::x/y z"}]});
        let read = |text: &str| serde_json::to_value(document(Some(text))).ok();
        assert_eq!(read(&want.to_string()), Some(want.clone()));
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Resource%22%3A%20%22arn%3Aaws%3As3%3A%3A%3Ax/y%20z%22%7D%5D%7D";
        assert_eq!(read(encoded), Some(want));
        assert!(matches!(document(Some(encoded)), Document::Policy(_)));
        assert_eq!(read("%zz"), Some(json!("%zz")));
        assert_eq!(document(None), Document::Other(Value::Null));
    }
}
