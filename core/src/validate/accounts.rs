//! Account rules: the forms of `[environment] account_id`, the roles to assume (`[environment]`
//! and `[state]`) and their session settings, and the combinations that cannot work (a profile
//! and a role at once, a role in another account than the one the environment is bound to).

use super::Cx;
use crate::account::{MAX_SESSION, MIN_SESSION, is_account_id, is_session_name, role_account};

pub(super) fn check(cx: &mut Cx<'_>) {
    let env = &cx.m.environment;
    let (account_id, role_arn) = (env.account_id.clone(), env.role_arn.clone());
    if let Some(id) = &account_id
        && !is_account_id(id)
    {
        cx.at_value(
            "invalid-account-id",
            "/environment/account_id",
            format!("`{id}` is not an AWS account id"),
        )
        .label("not 12 digits")
        .help("an account id is the 12 digits `aws sts get-caller-identity` prints as `Account`, leading zeros included, written as a string")
        .emit();
    }
    role(cx, "environment", role_arn.as_deref());
    let state_role = cx.m.state.role_arn.clone();
    role(cx, "state", state_role.as_deref());
    if let (Some(id), Some(arn)) = (&account_id, &role_arn)
        && let Some(in_account) = role_account(arn)
        && is_account_id(id)
        && in_account != id
    {
        cx.at_value(
            "role-in-other-account",
            "/environment/role_arn",
            format!("role `{arn}` is in account {in_account}, but the environment is bound to account {id}"),
        )
        .label(format!("a role of account {in_account}"))
        .help(format!("assume a role of account {id}, or change `account_id` if the environment moved"))
        .emit();
    }
    let env = &cx.m.environment;
    let (profile_env, profile_state) = (env.profile.is_some(), cx.m.state.profile.is_some());
    for (table, both) in [
        ("environment", profile_env && role_arn.is_some()),
        ("state", profile_state && state_role.is_some()),
    ] {
        if both {
            cx.at_key(
                "profile-and-role",
                &format!("/{table}/profile"),
                format!("`[{table}]` sets both `profile` and `role_arn`"),
            )
            .label("a profile here")
            .help("keep one: `role_arn` is assumed with the base credentials, and a profile can assume a role itself (`role_arn` and `source_profile` in `~/.aws/config`)")
            .emit();
        }
    }
    session(cx);
}

/// `role_arn` of `[table]`: an IAM role ARN, and an external id AWS accepts.
fn role(cx: &mut Cx<'_>, table: &str, arn: Option<&str>) {
    if let Some(arn) = arn
        && role_account(arn).is_none()
    {
        cx.at_value(
            "invalid-role-arn",
            &format!("/{table}/role_arn"),
            format!("`{arn}` is not an IAM role ARN"),
        )
        .label("not `arn:aws:iam::<account>:role/<name>`")
        .help("write the role's ARN as IAM shows it, for example `arn:aws:iam::123456789012:role/deployer`")
        .emit();
    }
    let external = match table {
        "state" => cx.m.state.external_id.clone(),
        _ => cx.m.environment.external_id.clone(),
    };
    let Some(external) = external else { return };
    let pointer = format!("/{table}/external_id");
    if arn.is_none() {
        unused(cx, table, &pointer, "external_id");
    } else if !(2..=1224).contains(&external.len())
        || !external.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
    {
        cx.at_value(
            "invalid-external-id",
            &pointer,
            "the external id is not one AWS accepts".to_owned(),
        )
        .label("2 to 1224 of letters, digits and `_+=,.@:/-`")
        .help("use the external id the role's trust policy names in `sts:ExternalId`")
        .sensitive()
        .emit();
    }
}

/// `session_name` and `session_duration` of `[environment]`.
fn session(cx: &mut Cx<'_>) {
    let env = &cx.m.environment;
    let (name, duration, role) =
        (env.session_name.clone(), env.session_duration.clone(), env.role_arn.is_some());
    if let Some(name) = name {
        let pointer = "/environment/session_name";
        if !role {
            unused(cx, "environment", pointer, "session_name");
        } else if !is_session_name(&name) {
            cx.at_value(
                "invalid-session-name",
                pointer,
                format!("`{name}` is not a role session name"),
            )
            .label("2 to 64 of letters, digits and `_+=,.@-`")
            .help("leave it out for the default `ecsops-<environment>-<user>`")
            .emit();
        }
    }
    if let Some(duration) = duration {
        let pointer = "/environment/session_duration";
        if !role {
            unused(cx, "environment", pointer, "session_duration");
            return;
        }
        let parsed = humantime::parse_duration(&duration).ok();
        if !parsed.is_some_and(|d| (MIN_SESSION..=MAX_SESSION).contains(&d)) {
            cx.at_value(
                "invalid-session-duration",
                pointer,
                format!("`{duration}` is not a session duration from 15m to 12h"),
            )
            .label(if parsed.is_some() {
                "out of range"
            } else {
                "not a duration"
            })
            .help("write it like `1h` or `90m`; AWS allows 15 minutes to 12 hours, capped by the role's maximum session duration")
            .emit();
        }
    }
}

/// A setting of the assumed role written without `role_arn`: it would be ignored.
fn unused(cx: &mut Cx<'_>, table: &str, pointer: &str, key: &str) {
    cx.at_key("without-role", pointer, format!("`[{table}] {key}` is set without `role_arn`"))
        .label("ignored without a role to assume")
        .help(format!("set `[{table}] role_arn`, or remove `{key}`"))
        .warning()
        .emit();
}
