//! `[[moved]]` against what the manifest declares. A move records a resource under its `to`
//! address: a `to` the manifest does not declare leaves it where the plan destroys it (a typo
//! would delete a log group with its logs), and a `from` still declared is created again beside
//! the one moved away from it.

use std::collections::BTreeSet;

use super::{Cx, did_you_mean, ptr};
use crate::graph::Address;

pub(super) fn check(cx: &mut Cx<'_>, declared: &BTreeSet<Address>) {
    let candidates = || declared.iter().map(Address::as_str);
    for (i, mv) in cx.m.moved.iter().enumerate() {
        let (from, to) = (Address::from(mv.from.as_str()), Address::from(mv.to.as_str()));
        if !declared.contains(&to) {
            let help = did_you_mean(&mv.to, candidates()).map_or_else(
                || "`ecsops diff` lists the declared addresses".to_owned(),
                |s| format!("did you mean `{s}`?"),
            );
            cx.at_value(
                "invalid-moved",
                &ptr(&["moved", &i.to_string(), "to"]),
                format!("`{}` is not declared by the manifest, so the plan would destroy what moves there", mv.to),
            )
            .label("undeclared address")
            .help(help)
            .emit();
        }
        if declared.contains(&from) {
            cx.at_value(
                "invalid-moved",
                &ptr(&["moved", &i.to_string(), "from"]),
                format!("`{}` is still declared by the manifest, so the plan would create it again", mv.from),
            )
            .label("still declared")
            .help("rename the resource in the manifest (or remove it) before moving it, or remove this `[[moved]]`")
            .emit();
        }
    }
}
