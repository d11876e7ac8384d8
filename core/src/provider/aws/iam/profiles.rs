//! Instance profiles: the role they hand to EC2 instances, and the tags.

use crate::provider::aws::send;
use aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileOutput;
use aws_sdk_iam::types::InstanceProfile;

use super::super::ec2::visible;
use super::super::live::{found_or_none, missing};
use super::super::once::send_once;
use super::super::ownership::{claim, create_tags, send_tags};
use super::super::{Cx, Done, Manage, New, Prior, remove, remove_request};
use super::{NO_SUCH_ENTITY, tag_map, until_visible};
use crate::graph::Address;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, Tags};
use crate::provider::{Applied, Live, ResourceSpec};

impl Manage for attrs::InstanceProfile {
    /// The profile of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let name = want.name.as_str();
        let Some(out) = found_or_none(get_profile(cx, a, name).await, NO_SUCH_ENTITY)? else {
            return Ok(None);
        };
        let profile = out
            .instance_profile()
            .ok_or_else(|| missing(a, "GetInstanceProfile", "InstanceProfile"))?;
        claim(cx.own, a, name, &tag_map(profile.tags()))?;
        Ok(Some(live(profile, None)))
    }

    /// Creates the profile and adds its role.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let role = spec.required("role", want.role.as_ref())?;
        let out = send_once!(
            a,
            cx.iam
                .create_instance_profile()
                .instance_profile_name(&want.name)
                .path(&want.path)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = out
            .instance_profile()
            .map(|p| p.arn().to_owned())
            .ok_or_else(|| missing(a, "CreateInstanceProfile", "InstanceProfile"))?;
        add_role(cx, a, &want.name, role).await?;
        let outputs = ArnOutputs { arn };
        Ok(Applied::new(spec, &want.name, &outputs))
    }

    /// Swaps the role when it differs (a profile holds one), then sends the tag changes.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let outputs = prior.outputs::<Self>()?;
        let was: attrs::InstanceProfile = prior.decode()?;
        let name = prior.id;
        let role = spec.required("role", want.role.as_ref())?;
        if was.role.as_deref() != Some(role) {
            if let Some(old) = &was.role {
                remove_role(cx, a, name, old).await?;
            }
            add_role(cx, a, name, role).await?;
        }
        send_tags!(
            cx, a, &was.tags, &want.tags,
            untag: cx.iam
                .untag_instance_profile()
                .instance_profile_name(name),
            tag: cx.iam
                .tag_instance_profile()
                .instance_profile_name(name),
        )?;
        Ok(Applied::new(spec, name, &outputs))
    }

    /// Takes the live role out (IAM refuses to delete a profile that holds one, whatever the
    /// state recorded), then deletes the profile; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove(cx, &[], &[NO_SUCH_ENTITY], || delete_profile(cx, prior.address, prior.id)).await
    }
}

/// The role was created moments before, so it may not be visible yet.
async fn add_role(cx: Cx<'_>, a: &Address, profile: &str, role: &str) -> Done<()> {
    until_visible(cx, || async {
        send_once!(
            a,
            cx.iam.add_role_to_instance_profile().instance_profile_name(profile).role_name(role)
        )
        .map(drop)
    })
    .await
}

pub(super) async fn remove_role(cx: Cx<'_>, a: &Address, profile: &str, role: &str) -> Done<()> {
    remove_request(cx, a, &[], &[NO_SUCH_ENTITY], || {
        cx.iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
    })
    .await
}

async fn get_profile(cx: Cx<'_>, a: &Address, name: &str) -> Done<GetInstanceProfileOutput> {
    send!(a, cx.iam.get_instance_profile().instance_profile_name(name))
}

async fn delete_profile(cx: Cx<'_>, a: &Address, name: &str) -> Done<()> {
    let out = get_profile(cx, a, name).await?;
    for role in out.instance_profile().map(InstanceProfile::roles).unwrap_or_default() {
        remove_role(cx, a, name, role.role_name()).await?;
    }
    send!(a, cx.iam.delete_instance_profile().instance_profile_name(name)).map(drop)
}

/// The live profile. A profile nested in a role may come without its tags: then the recorded
/// ones stand (ours always carry ownership tags, so an empty list means "not reported").
pub(super) fn live(p: &InstanceProfile, recorded_tags: Option<&Tags>) -> Live {
    let tags = match (p.tags().is_empty(), recorded_tags) {
        (true, Some(recorded)) => recorded.clone(),
        _ => visible(&tag_map(p.tags())),
    };
    Live::new(
        p.instance_profile_name(),
        &attrs::InstanceProfile::<Resolved> {
            name: p.instance_profile_name().to_owned(),
            path: p.path().to_owned(),
            role: p.roles().first().map(|r| r.role_name().to_owned()),
            tags,
        },
        &ArnOutputs::of(p.arn()),
    )
}
