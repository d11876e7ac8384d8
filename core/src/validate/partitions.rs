//! Every ARN a manifest names is of the environment's partition. Partitions (the commercial
//! regions, China, GovCloud, ...) are separate clouds: an account of one cannot assume a role,
//! attach a policy, read a secret or use a certificate of another, and AWS's own managed
//! policies have an ARN in each (`arn:aws-cn:iam::aws:policy/...`). Without this rule an
//! `arn:aws:` policy in a China environment passes validation and fails the apply half-way.
//! The S3 state's bucket is of the partition too, unless `[state]` has credentials of its own.
//! The ARN's form is other rules'; here only its partition and region count. A region of another
//! partition is reported here, not as another region (`Cx::other_region`), so one cause makes
//! one error.

use super::{Cx, ptr};
use crate::account::Arn;
use crate::manifest::types::StateBackendKind;
use crate::partition::Partition;

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    let Some(region) = m.environment.region.as_deref().filter(|r| !r.is_empty()) else {
        return;
    };
    let want = Partition::of(region);
    state_region(cx, region, want);
    for (pointer, subject, value) in arns(cx) {
        let Some(arn) = Arn::parse(value) else {
            continue;
        };
        let of_region = (!arn.region.is_empty()).then(|| Partition::of(arn.region).name);
        let (found, message) = if arn.partition != want.name {
            let p = arn.partition;
            (p, format!("{subject} is an ARN of partition `{p}`"))
        } else if let Some(p) = of_region.filter(|p| *p != want.name) {
            (p, format!("{subject} is in `{}`, of partition `{p}`", arn.region))
        } else {
            continue;
        };
        let policy = pointer.contains("/task_policies/") && arn.account == "aws";
        let message =
            format!("{message}; the environment's region `{region}` is in `{}`", want.name);
        cx.at_value("arn-partition", &pointer, message)
        .label(format!("partition `{found}`"))
        .help(if policy {
            format!("AWS's managed policies exist in every partition: write `arn:{}:iam::aws:policy/<name>`", want.name)
        } else {
            format!("partitions are separate clouds: name a resource of the environment's partition, `arn:{}:...` in a region of it", want.name)
        })
        .emit();
    }
}

/// The S3 state's bucket: without a `profile` of its own, `[state]` is reached with the
/// environment's credentials (or a role they assume), which reach one partition.
fn state_region(cx: &mut Cx<'_>, region: &str, want: Partition) {
    let state = &cx.m.state;
    if state.backend != StateBackendKind::S3 || state.profile.is_some() {
        return;
    }
    let Some(bucket) = state.region.as_deref() else {
        return;
    };
    let found = Partition::of(bucket);
    if found == want {
        return;
    }
    cx.at_value(
        "state-partition",
        "/state/region",
        format!(
            "the state bucket's region `{bucket}` is in partition `{}`; the environment's region `{region}` is in `{}`",
            found.name, want.name
        ),
    )
    .label(format!("partition `{}`", found.name))
    .help(format!(
        "one set of credentials reaches one partition: keep the bucket in a region of `{}`, or give `[state]` a `profile` of the bucket's",
        want.name
    ))
    .emit();
}

/// Every ARN-valued key of the manifest, with its pointer and how a message names it (never by
/// its value: the snippet shows it, where it is no secret).
fn arns<'m>(cx: &Cx<'m>) -> Vec<(String, String, &'m str)> {
    let m = cx.m;
    let mut all = Vec::new();
    // `[state]`'s role is assumed with the credentials that reach the environment.
    let roles = [
        ("environment", "`role_arn`", &m.environment.role_arn),
        ("state", "`role_arn` of `[state]`", &m.state.role_arn),
    ];
    for (table, subject, arn) in roles {
        if let Some(arn) = arn.as_deref() {
            all.push((ptr(&[table, "role_arn"]), subject.to_owned(), arn));
        }
    }
    for (name, cert) in &m.certificates {
        let pointer = ptr(&["certificates", name, "arn"]);
        all.push((pointer, format!("certificate `{name}`"), cert.arn.as_str()));
    }
    for c in m.containers() {
        let (section, name) = (c.section, c.name);
        let at = |key: &str| ptr(&[section, name, key]);
        let nth = |key: &str, i: usize| ptr(&[section, name, key, &i.to_string()]);
        for (key, value) in c.secrets {
            let pointer = ptr(&[section, name, "secrets", key]);
            all.push((pointer, format!("secret `{key}` of `{name}`"), value.as_str()));
        }
        if let Some(arn) = c.registry_credentials {
            let subject = format!("`registry_credentials` of `{name}`");
            all.push((at("registry_credentials"), subject, arn));
        }
        for (i, key) in c.secrets_kms_keys.iter().enumerate() {
            let subject = format!("a KMS key of `{name}`");
            all.push((nth("secrets_kms_keys", i), subject, key.as_str()));
        }
        for (i, policy) in c.task_policies.iter().enumerate() {
            let subject = format!("a task policy of `{name}`");
            all.push((nth("task_policies", i), subject, policy.as_str()));
        }
        if let Some(arn) = c.task_role_arn {
            all.push((at("task_role_arn"), format!("`task_role_arn` of `{name}`"), arn));
        }
    }
    all
}
