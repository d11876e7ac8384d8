//! IAM roles: the trust policy, the attached managed policies and the tags.

use crate::provider::aws::send;
use aws_sdk_iam::types::RoleDetail;

use super::super::ec2::visible;
use super::super::live::{all, found_or_none, missing};
use super::super::once::send_once;
use super::super::ownership::{claim, create_tags, send_tags};
use super::super::{
    AwsResultExt, Cx, Done, Manage, New, Prior, remove, remove_request, set_changes,
};
use super::profiles::remove_role;
use super::{NO_SUCH_ENTITY, as_set, document, document_text, tag_map, until_visible};
use crate::graph::Address;
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, Tags};
use crate::provider::{Applied, Live, ResourceSpec};

impl Manage for attrs::IamRole {
    /// The role of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let iam = &cx.iam;
        let got = send!(a, iam.get_role().role_name(&want.name));
        let Some(out) = found_or_none(got, NO_SUCH_ENTITY)? else {
            return Ok(None);
        };
        let role = out.role().ok_or_else(|| missing(a, "GetRole", "Role"))?;
        let tags = tag_map(role.tags());
        claim(cx.own, a, role.role_name(), &tags)?;
        let arns = attached_policies(cx, a, &want.name).await?;
        // `GetRole` does not list them: an adopted role's are deleted by the adoption's update.
        let inline = all!(cx.iam.list_role_policies().role_name(&want.name), a)?;
        Ok(Some(live(
            Parts {
                name: role.role_name(),
                path: role.path(),
                arn: role.arn(),
                trust: role.assume_role_policy_document(),
                tags: &tags,
            },
            arns,
            &want.policy_arns,
            inline,
        )))
    }

    /// Creates the role and attaches its policies.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let trust = document_text(spec, "assume_role_policy", &want.assume_role_policy)?;
        let out = send_once!(
            a,
            cx.iam
                .create_role()
                .role_name(&want.name)
                .path(&want.path)
                .assume_role_policy_document(trust)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let arn = out
            .role()
            .map(|r| r.arn().to_owned())
            .ok_or_else(|| missing(a, "CreateRole", "Role"))?;
        let arns = want.policy_arns.iter().map(String::as_str);
        attach_policies(cx, a, &want.name, arns).await?;
        Ok(Applied::new(spec, &want.name, &ArnOutputs { arn }))
    }

    /// Sends what differs from `prior`: the trust policy, attachments and detachments, tags.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let outputs = prior.outputs::<Self>()?;
        let was: attrs::IamRole = prior.decode()?;
        let name = prior.id;
        if want.assume_role_policy != was.assume_role_policy {
            send!(
                a,
                cx.iam.update_assume_role_policy().role_name(name).policy_document(document_text(
                    spec,
                    "assume_role_policy",
                    &want.assume_role_policy,
                )?)
            )?;
        }
        let (attach, detach) = set_changes(&was.policy_arns, &want.policy_arns);
        attach_policies(cx, a, name, attach.iter().map(String::as_str)).await?;
        for arn in &detach {
            detach_policy(cx, a, name, arn).await?;
        }
        // ecsops writes no inline policy: every one read was put on the role outside it.
        delete_inline_policies(cx, a, name, &was.inline_policies).await?;
        send_tags!(
            cx, a, &was.tags, &want.tags,
            untag: cx.iam.untag_role().role_name(name),
            tag: cx.iam.tag_role().role_name(name),
        )?;
        Ok(Applied::new(spec, name, &outputs))
    }

    /// Detaches the role's policies and takes it out of its instance profiles (IAM refuses to
    /// delete it otherwise), then deletes it; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove(cx, &[], &[NO_SUCH_ENTITY], || delete_role(cx, prior.address, prior.id)).await
    }
}

/// Attaches each policy; a customer policy created moments before may not be visible yet.
async fn attach_policies(
    cx: Cx<'_>,
    a: &Address,
    role: &str,
    arns: impl Iterator<Item = &str>,
) -> Done<()> {
    for arn in arns {
        until_visible(cx, || async {
            send!(a, cx.iam.attach_role_policy().role_name(role).policy_arn(arn))
        })
        .await?;
    }
    Ok(())
}

/// Detaches one policy; one already detached (or gone) is success.
pub(super) async fn detach_policy(cx: Cx<'_>, a: &Address, role: &str, arn: &str) -> Done<()> {
    remove_request(cx, a, &[], &[NO_SUCH_ENTITY], || {
        cx.iam.detach_role_policy().role_name(role).policy_arn(arn).send()
    })
    .await
}

/// The ARNs of the managed policies attached to `role`.
async fn attached_policies(cx: Cx<'_>, a: &Address, role: &str) -> Done<Vec<String>> {
    let attached = all!(cx.iam.list_attached_role_policies().role_name(role), a)?;
    Ok(attached.into_iter().filter_map(|p| p.policy_arn).collect())
}

/// Empties the role (IAM refuses to delete one with policies or instance profiles), then
/// deletes it. Inline policies are not ecsops's (it makes none) but somebody's, added outside
/// it: they go with the role, or the destroy would stop at `DeleteConflict`.
async fn delete_role(cx: Cx<'_>, a: &Address, name: &str) -> Done<()> {
    for arn in attached_policies(cx, a, name).await? {
        detach_policy(cx, a, name, &arn).await?;
    }
    let inline = all!(cx.iam.list_role_policies().role_name(name), a)?;
    delete_inline_policies(cx, a, name, &inline).await?;
    let profiles = all!(cx.iam.list_instance_profiles_for_role().role_name(name), a)?;
    for p in &profiles {
        remove_role(cx, a, p.instance_profile_name(), name).await?;
    }
    send!(a, cx.iam.delete_role().role_name(name)).map(drop)
}

/// Deletes the inline policies `names` of role `role`; one already gone is success.
async fn delete_inline_policies(cx: Cx<'_>, a: &Address, role: &str, names: &[String]) -> Done<()> {
    for policy in names {
        remove_request(cx, a, &[], &[NO_SUCH_ENTITY], || {
            cx.iam.delete_role_policy().role_name(role).policy_name(policy).send()
        })
        .await?;
    }
    Ok(())
}

/// What `GetRole` and `GetAccountAuthorizationDetails` both report of a role.
#[derive(Clone, Copy)]
struct Parts<'a> {
    name: &'a str,
    path: &'a str,
    arn: &'a str,
    trust: Option<&'a str>,
    tags: &'a Tags,
}

/// The live role; `attached` in the order of `recorded_arns` when they are the same set.
fn live(
    parts: Parts<'_>,
    attached: Vec<String>,
    recorded_arns: &[String],
    inline_policies: Vec<String>,
) -> Live {
    Live::new(
        parts.name,
        &attrs::IamRole::<Resolved> {
            name: parts.name.to_owned(),
            path: parts.path.to_owned(),
            assume_role_policy: document(parts.trust),
            policy_arns: as_set(attached, Some(recorded_arns)),
            tags: visible(parts.tags),
            inline_policies,
        },
        &ArnOutputs::of(parts.arn),
    )
}

pub(super) fn detail_live(d: &RoleDetail, recorded_arns: &[String]) -> Live {
    let attached = d
        .attached_managed_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    live(
        Parts {
            name: d.role_name().unwrap_or_default(),
            path: d.path().unwrap_or_default(),
            arn: d.arn().unwrap_or_default(),
            trust: d.assume_role_policy_document(),
            tags: &tag_map(d.tags()),
        },
        attached,
        recorded_arns,
        d.role_policy_list().iter().filter_map(|p| p.policy_name().map(str::to_owned)).collect(),
    )
}
