//! Log group names no other environment of the workspace uses.
//!
//! CloudWatch log group names are unique per account and region. The reference module shared
//! its host log groups between environments unless each set its own prefix, and the second
//! environment failed with `ResourceAlreadyExistsException`. ecsops' default prefix holds the
//! environment and cluster, but a `[logging] prefix` set in a shared base file, or the same
//! one in two files, brings the collision back: the second apply would stop halfway, at the
//! first group the other environment owns.

use super::{Cx, Neighbour};
use crate::account::role_account;
use crate::manifest::Environment;

/// Which account an environment's credentials reach, as far as the manifest says: its
/// `account_id`, else the account of its `role_arn`, else its `profile`.
pub fn account(e: &Environment) -> Option<String> {
    let of_role = || e.role_arn.as_deref().and_then(role_account).map(str::to_owned);
    e.account_id
        .clone()
        .or_else(of_role)
        .or_else(|| e.profile.as_ref().map(|p| format!("profile {p}")))
}

pub(super) fn check(cx: &mut Cx<'_>, neighbours: &[Neighbour]) {
    let m = cx.m;
    let Some(prefix) = &m.logging.prefix else {
        return;
    };
    let (region, account) = (&m.environment.region, &account(&m.environment));
    // Only where both sides say where they are can two environments be told apart.
    let apart =
        |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a != b);
    let mut clashes: Vec<&str> = neighbours
        .iter()
        .filter(|n| &n.log_prefix == prefix)
        .filter(|n| !apart(region, &n.region) && !apart(account, &n.account))
        .map(|n| n.environment.as_str())
        .collect();
    if clashes.is_empty() {
        return;
    }
    clashes.sort_unstable();
    let help = match cx.inherited_from("/logging/prefix") {
        Some(base) => format!(
            "`{base}` sets it for every environment extending it; set `prefix` in each \
             environment's own file, or remove it for the default `/ecsops/<env>/<cluster>` \
             (environments in different accounts: set `account_id` in each)"
        ),
        None => "give each environment its own `prefix`, or remove it for the default \
                 `/ecsops/<env>/<cluster>` (environments in different accounts: set \
                 `account_id` in each)"
            .to_owned(),
    };
    let names: Vec<String> = clashes.iter().map(|e| format!("`{e}`")).collect();
    let others = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    cx.at_value(
        "log-prefix-collision",
        "/logging/prefix",
        format!("log prefix `{prefix}` is also that of {others}: their log groups would have the same names"),
    )
    .label("shared log group names")
    .help(help)
    .emit();
}
