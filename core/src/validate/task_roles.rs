//! Task role rules: a container's own AWS identity is a role of the user's (`task_role_arn`) or
//! one ecsops makes with `task_policies`, never both; the ARNs name an IAM role and managed
//! policies; the role ecsops makes holds no more managed policies than IAM allows.

use std::collections::BTreeSet;

use super::{Cx, ptr};
use crate::account::{Arn, is_account_id, role_account};

/// IAM's default quota of managed policies attached to one role. It can be raised to 20 per
/// account, but an apply that meets the default fails half-way, so validate keeps to it.
const MAX_POLICIES: usize = 10;

/// A managed policy ARN: `arn:<partition>:iam::aws:policy/<path/>name` (AWS's own) or
/// `arn:<partition>:iam::<account>:policy/<path/>name`.
fn is_policy_arn(arn: &str) -> bool {
    Arn::iam(arn).is_some_and(|a| {
        let name = a.resource.strip_prefix("policy/").and_then(|p| p.rsplit('/').next());
        (a.account == "aws" || is_account_id(a.account))
            && name.is_some_and(|n| !n.is_empty() && !n.contains(char::is_whitespace))
    })
}

pub(super) fn check(cx: &mut Cx<'_>) {
    for c in cx.m.containers() {
        let (section, name) = (c.section, c.name);
        if let Some(arn) = c.task_role_arn {
            let at = ptr(&[section, name, "task_role_arn"]);
            if role_account(arn).is_none() {
                cx.at_value(
                    "invalid-task-role-arn",
                    &at,
                    format!("`task_role_arn` of `{name}` is not an IAM role ARN"),
                )
                .label("not `arn:aws:iam::<account>:role/<name>`")
                .help("write the role's ARN as IAM shows it, for example `arn:aws:iam::123456789012:role/web`")
                .emit();
            }
            if !c.task_policies.is_empty() {
                cx.at_key(
                    "task-role-and-policies",
                    &at,
                    format!("`{name}` sets both `task_role_arn` and `task_policies`"),
                )
                .label("a role of your own")
                .help("keep one: `task_policies` makes ecsops create the role and attach them; with `task_role_arn`, attach the policies to that role yourself")
                .emit();
            }
        }
        let mut seen = BTreeSet::new();
        for (i, policy) in c.task_policies.iter().enumerate() {
            let at = ptr(&[section, name, "task_policies", &i.to_string()]);
            if !is_policy_arn(policy) {
                cx.at_value(
                    "invalid-policy-arn",
                    &at,
                    format!("`{policy}` is not a managed policy ARN"),
                )
                .label("not `arn:aws:iam::<account or aws>:policy/<name>`")
                .help("write the policy's ARN as IAM shows it, for example `arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess`; inline policies are not supported, create a managed one")
                .emit();
            } else if !seen.insert(policy) {
                cx.at_value(
                    "duplicate-policy",
                    &at,
                    format!("`{name}` lists `{policy}` twice in `task_policies`"),
                )
                .label("already listed")
                .help("remove this one: IAM attaches a policy to a role once")
                .emit();
            }
        }
        // ecsops attaches its own exec policy to the role it makes, which counts too.
        let exec = usize::from(c.owns_role() && c.execute_command);
        let count = c.task_policies.len() + exec;
        if c.owns_role() && count > MAX_POLICIES {
            let ours =
                if exec > 0 { " (one of them ecsops' own, for `execute_command`)" } else { "" };
            cx.at_key(
                "too-many-policies",
                &ptr(&[section, name, "task_policies"]),
                format!(
                    "the task role of `{name}` would hold {count} managed policies{ours}, over IAM's limit of {MAX_POLICIES}"
                ),
            )
            .label(format!("{} policies", c.task_policies.len()))
            .help("combine policies into one customer-managed policy, or create the role yourself and name it in `task_role_arn`")
            .emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns() {
        for ok in [
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
            "arn:aws:iam::123456789012:policy/uploads",
            "arn:aws-cn:iam::123456789012:policy/team/uploads",
        ] {
            assert!(is_policy_arn(ok), "{ok}");
        }
        for bad in [
            "AmazonS3ReadOnlyAccess",
            "arn:aws:iam::123456789012:role/web",
            "arn:aws:iam::12345:policy/uploads",
            "arn:aws:iam:eu-west-1:123456789012:policy/uploads",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::aws:policy/",
            "arn:aws:iam::aws:policy/team/",
        ] {
            assert!(!is_policy_arn(bad), "{bad}");
        }
    }
}
