//! Naming rules: the environment name matches its file, section names are valid, names that
//! would collide do not, and every AWS name derived from them fits the API that receives it.

use super::{Cx, ptr};
use crate::diagnostic::did_you_mean;
use crate::graph::{Address, Kind};

fn kebab(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

/// An environment name ecsops accepts: lowercase letters, digits and `-`, at most 20 characters
/// (it starts the AWS names of the environment, whose limits are tight).
pub fn environment_name_ok(env: &str) -> bool {
    kebab(env) && env.len() <= 20
}

pub(super) fn check(cx: &mut Cx<'_>) {
    let m = cx.m;
    let env = cx.environment().to_owned();
    if let Some(name) = &m.environment.name
        && *name != env
    {
        // A name inherited through `extends` belongs to the base: the fix is in the
        // environment's own file, never a rename of the base.
        let help = match cx.inherited_from("/environment/name") {
            Some(base) => format!(
                "`{env}.toml` extends `{base}`, which names itself `{name}`; add \
                 `[environment] name = \"{env}\"` to `{env}.toml`"
            ),
            None => format!("set `name = \"{env}\"`, or rename the file to `{name}.toml`"),
        };
        cx.at_value(
            "environment-name",
            "/environment/name",
            format!("environment name `{name}` does not match its file `{env}.toml`"),
        )
        .label("differs from the file name")
        .help(help)
        .emit();
    }
    if !environment_name_ok(&env) {
        cx.at_key(
            "invalid-name",
            "/environment",
            format!("environment name `{env}` must be lowercase letters, digits and `-`, at most 20 characters"),
        )
        .label("invalid environment name")
        .help("rename the file, for example `acceptance.toml`")
        .emit();
    }
    let cluster = &m.cluster.name;
    let cluster_ok = !cluster.is_empty()
        && cluster.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !cluster_ok {
        cx.at_value(
            "invalid-name",
            "/cluster/name",
            format!("cluster name `{cluster}` has characters ECS rejects"),
        )
        .label("letters, digits, `-` and `_` only")
        .emit();
    }
    let prefix = format!("{env}-{cluster}");
    // IAM role names: `<env>-<cluster>-task-execution` is the longest.
    check_len(cx, "/cluster/name", "IAM role", &format!("{prefix}-task-execution"), 64);
    check_len(cx, "/cluster/name", "ECS cluster", &prefix, 255);
    for (section, names) in [
        ("instance_groups", m.instance_groups.keys().collect::<Vec<_>>()),
        ("load_balancers", m.load_balancers.keys().collect()),
        ("services", m.services.keys().collect()),
        ("system_containers", m.system_containers.keys().collect()),
        ("certificates", m.certificates.keys().collect()),
    ] {
        for name in names {
            let p = ptr(&[section, name]);
            if !kebab(name) {
                cx.at_key(
                    "invalid-name",
                    &p,
                    format!(
                        "`{name}` must be lowercase letters, digits and `-`, starting with a letter"
                    ),
                )
                .label("invalid name")
                .help("AWS load balancer and target group names allow no `_` or capitals")
                .emit();
                continue;
            }
            match section {
                "load_balancers" => {
                    check_len(cx, &p, "load balancer", &format!("{env}-{name}"), 32);
                }
                "services" if m.services.get(name).is_some_and(|s| s.route.is_some()) => {
                    check_len(cx, &p, "target group", &format!("{env}-{name}"), 32);
                }
                "instance_groups" => {
                    check_len(cx, &p, "auto scaling group", &format!("{prefix}-{name}"), 255);
                }
                _ => {}
            }
        }
    }
    // The task roles ecsops makes: `<env>-<cluster>-<name>-task`.
    let task_roles = m.containers().filter(|c| kebab(c.name) && c.owns_role());
    for c in task_roles {
        let role = format!("{prefix}-{}-task", c.name);
        check_len(cx, &ptr(&[c.section, c.name]), "IAM role", &role, 64);
    }
    for name in m.system_containers.keys() {
        if m.services.contains_key(name) {
            cx.at_key(
                "duplicate-name",
                &ptr(&["system_containers", name]),
                format!("`{name}` is both a service and a system container"),
            )
            .label(format!("both become ECS service `{name}`"))
            .help("rename one of them")
            .emit();
        }
    }
    for (k, v) in &m.environment.tags {
        let p = ptr(&["environment", "tags", k]);
        if k.trim().is_empty() {
            cx.at_key("invalid-tag", &p, "a tag key is empty".to_owned())
                .label("empty key")
                .help("AWS refuses tags without a key: name it, or remove the entry")
                .emit();
        }
        if k.len() > 128 || v.len() > 256 {
            cx.at_key(
                "invalid-tag",
                &p,
                format!("tag `{k}` is too long (keys 128, values 256 characters)"),
            )
            .label("too long")
            .emit();
        }
        // The characters every tagging API takes (IAM, ELB, SNS and Logs refuse the others,
        // halfway through an apply): letters, digits, white space and `_ . : / = + - @`.
        let refused = |t: &str| {
            t.chars()
                .find(|c| !(c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(*c)))
        };
        let refused_in =
            refused(k).map(|c| (c, "key")).or_else(|| refused(v).map(|c| (c, "value")));
        if let Some((c, what)) = refused_in {
            let site = if what == "key" {
                cx.at_key("invalid-tag", &p, format!("tag key `{k}` has `{c}`"))
            } else {
                cx.at_value("invalid-tag", &p, format!("tag `{k}` has `{c}` in its value"))
            };
            site.label(format!("`{c}` in the {what}"))
                .help(
                    "tags take letters, digits, spaces and `_ . : / = + - @`; AWS refuses the rest",
                )
                .emit();
        }
        if k.to_ascii_lowercase().starts_with("aws:") || k.starts_with("ecsops:") {
            cx.at_key("invalid-tag", &p, format!("tag key `{k}` uses a reserved prefix"))
                .label("reserved")
                .help("`aws:` belongs to AWS and `ecsops:` to ecsops")
                .emit();
        }
    }
    let mut targets: Vec<&str> = Vec::new();
    for (i, mv) in m.moved.iter().enumerate() {
        for (field, addr) in [("from", &mv.from), ("to", &mv.to)] {
            if !Address::is_well_formed(addr) {
                cx.at_value(
                    "invalid-address",
                    &ptr(&["moved", &i.to_string(), field]),
                    format!("`{addr}` is not a resource address"),
                )
                .label("expected kind.name[key]")
                .help("addresses look like `service[web]` or `subnet.public[eu-west-1a]`; see `ecsops diff`")
                .emit();
                continue;
            }
            // No state records a resource of a kind ecsops does not have: a typo here would
            // move nothing, and the resource would be destroyed and made again.
            let kind = addr.split(['.', '[']).next().unwrap_or_default();
            if !Kind::ALL.iter().any(|k| k.as_str() == kind) {
                let mut d = cx
                    .at_value(
                        "invalid-address",
                        &ptr(&["moved", &i.to_string(), field]),
                        format!("`{kind}` is not a kind of resource ecsops makes"),
                    )
                    .label("unknown kind");
                if let Some(s) = did_you_mean(kind, Kind::ALL.iter().map(|k| k.as_str())) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                d.emit();
            }
        }
        if mv.from == mv.to {
            cx.at_value(
                "invalid-moved",
                &ptr(&["moved", &i.to_string()]),
                "`from` and `to` are the same address".into(),
            )
            .label("moves nothing")
            .emit();
        }
        if targets.contains(&mv.to.as_str()) {
            cx.at_value(
                "invalid-moved",
                &ptr(&["moved", &i.to_string(), "to"]),
                format!("`{}` is the target of two moves", mv.to),
            )
            .label("duplicate target")
            .emit();
        }
        targets.push(&mv.to);
    }
}

fn check_len(cx: &mut Cx<'_>, pointer: &str, what: &str, aws_name: &str, max: usize) {
    if aws_name.len() > max {
        cx.at_key(
            "name-too-long",
            pointer,
            format!(
                "the {what} name `{aws_name}` is {} characters, {} over the AWS limit of {max}",
                aws_name.len(),
                aws_name.len() - max
            ),
        )
        .label("makes the AWS name too long")
        .help("shorten this name (or the environment name)")
        .emit();
    }
}
