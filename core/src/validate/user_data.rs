//! Instance group values that ecsops writes into the instances' user data, a root shell script:
//! the registry auth object (`docker_auth`) and the log drivers the agent offers
//! (`logging_drivers`). The script quotes them; these rules refuse what could only be a mistake
//! or an attempt, and what would widen the instance role's grant (`s3:GetObject` on the URL).

use super::{Cx, ptr};
use crate::diagnostic::did_you_mean;

/// The log drivers the ECS agent takes in `ECS_AVAILABLE_LOGGING_DRIVERS`.
const AGENT_LOG_DRIVERS: [&str; 9] = [
    "awsfirelens",
    "awslogs",
    "fluentd",
    "gelf",
    "journald",
    "json-file",
    "none",
    "splunk",
    "syslog",
];

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, g) in &m.instance_groups {
        if let Some(auth) = &g.docker_auth {
            docker_auth(cx, &ptr(&["instance_groups", name, "docker_auth"]), auth);
        }
        for (i, driver) in g.logging_drivers.iter().flatten().enumerate() {
            if AGENT_LOG_DRIVERS.contains(&driver.as_str()) {
                continue;
            }
            let help = did_you_mean(driver, AGENT_LOG_DRIVERS).map_or_else(
                || format!("the agent offers {}", AGENT_LOG_DRIVERS.join(", ")),
                |d| format!("did you mean `{d}`?"),
            );
            cx.at_value(
                "invalid-log-driver",
                &ptr(&["instance_groups", name, "logging_drivers", &i.to_string()]),
                format!("`{}` is not a log driver of the ECS agent", driver.escape_debug()),
            )
            .label("unknown driver")
            .help(help)
            .emit();
        }
    }
}

/// `s3://bucket/key`: a bucket name as S3 allows one (legacy names included), and a key of
/// printable characters without the IAM wildcards `*` and `?`, which would grant the instances
/// every matching object.
fn docker_auth(cx: &mut Cx<'_>, at: &str, auth: &str) {
    let Some((bucket, key)) = auth.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
        cx.at_value("invalid-docker-auth", at, "`docker_auth` is not an S3 object URL".into())
            .label("expected s3://bucket/key")
            .emit();
        return;
    };
    // Legacy us-east-1 buckets may have capitals and `_`; the script quotes whatever it gets,
    // so only what widens the grant or cannot be a name is refused.
    let bucket_ok = (3..=255).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let bad_key = key.chars().find(|c| c.is_control() || matches!(c, '*' | '?'));
    let problem = if !bucket_ok {
        format!("`{}` is not an S3 bucket name", bucket.escape_debug())
    } else if key.is_empty() {
        "`docker_auth` names no object".to_owned()
    } else if let Some(c) = bad_key {
        let shown = if c.is_control() { c.escape_debug().to_string() } else { c.to_string() };
        format!("the object key has `{shown}`")
    } else {
        return;
    };
    cx.at_value("invalid-docker-auth", at, problem)
        .label("expected s3://bucket/key")
        .help("name one object: a bucket name is letters, digits, `.`, `-` and `_`; the key takes no wildcard (`*`, `?`), which would grant every object it matches, and no control character")
        .emit();
}
