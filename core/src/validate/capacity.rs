//! Capacity and instance rules: group sizes, instance types, AMIs, volumes, whether each task
//! fits on one instance of its group, ports, log retention and alert addresses.

use std::collections::BTreeMap;

use super::{Cx, ptr};

/// vCPUs and MiB of memory of common instance types, for the "does the task fit" rule. Types
/// not listed are not checked.
fn instance_size(instance_type: &str) -> Option<(u32, u32)> {
    let (family, size) = instance_type.split_once('.')?;
    let general =
        matches!(family, "m5" | "m5a" | "m6i" | "m6a" | "m6g" | "m7i" | "m7a" | "m7g" | "m8g");
    let compute = matches!(family, "c5" | "c5a" | "c6i" | "c6a" | "c6g" | "c7i" | "c7a" | "c7g");
    let memory = matches!(family, "r5" | "r5a" | "r6i" | "r6a" | "r6g" | "r7i" | "r7g");
    let burst = matches!(family, "t3" | "t3a" | "t4g");
    let vcpu = match size {
        "nano" | "micro" | "small" | "medium" | "large" => 2,
        "xlarge" => 4,
        "2xlarge" => 8,
        "4xlarge" => 16,
        "8xlarge" => 32,
        _ => return None,
    };
    let gib_per_vcpu = if general {
        4
    } else if compute {
        2
    } else if memory {
        8
    } else if burst {
        return Some(match size {
            "nano" => (2, 512),
            "micro" => (2, 1024),
            "small" => (2, 2048),
            "medium" => (2, 4096),
            "large" => (2, 8192),
            "xlarge" => (4, 16384),
            "2xlarge" => (8, 32768),
            _ => return None,
        });
    } else {
        return None;
    };
    if matches!(size, "nano" | "micro" | "small" | "medium") {
        return None;
    }
    Some((vcpu, vcpu * gib_per_vcpu * 1024))
}

/// Memory the OS and the ECS agent keep for themselves.
const RESERVED_MIB: u32 = 512;

const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The instance type is one EC2 knows (the SDK's list), unless the group allows a newer one.
fn instance_type(cx: &mut Cx<'_>, group: &str, g: &crate::manifest::InstanceGroup) {
    let known = aws_sdk_ec2::types::InstanceType::values();
    let itype = g.instance_type.as_str();
    let shaped = itype.split_once('.').is_some_and(|(f, s)| {
        !f.is_empty()
            && !s.is_empty()
            && f.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    if (g.allow_unknown_instance_type && shaped) || known.contains(&itype) {
        return;
    }
    let p = ptr(&["instance_groups", group, "instance_type"]);
    let nearest = known
        .iter()
        .map(|k| (strsim::levenshtein(k, itype), *k))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, k)| k);
    let help = match nearest {
        Some(k) => format!("did you mean `{k}`?"),
        None if shaped => "for a type newer than this ecsops, set `allow_unknown_instance_type = true` in the group".to_owned(),
        None => "for example `t3.medium` or `m6i.large`".to_owned(),
    };
    cx.at_value("invalid-instance-type", &p, format!("`{itype}` is not an EC2 instance type"))
        .label(if shaped { "unknown type" } else { "expected family.size" })
        .help(help)
        .emit();
}

/// Whether an instance type runs arm64 (Graviton) images, as its family's name says: Graviton
/// families have a `g` right after the generation (`t4g`, `m7gd`, `c6gn`, `g5g`), and `a1` was
/// the first. `None` for names that do not say (Mac instances), which are not checked.
pub fn is_arm64(instance_type: &str) -> Option<bool> {
    let family = instance_type.split_once('.').map_or(instance_type, |(f, _)| f);
    if family == "a1" {
        return Some(true);
    }
    if family.starts_with("mac") {
        return None;
    }
    let generation = family.find(|c: char| c.is_ascii_digit())?;
    let after = family[generation..].trim_start_matches(|c: char| c.is_ascii_digit());
    Some(after.starts_with('g'))
}

/// The reference picked "the most recent" ECS AMI with no architecture filter, so an instance
/// could get an image its CPU cannot boot; EC2 only refuses that when the group launches an
/// instance, long after the apply finished.
fn ami_architecture(cx: &mut Cx<'_>, group: &str, g: &crate::manifest::InstanceGroup) {
    let (wanted, parameter) = match is_arm64(&g.instance_type) {
        Some(true) if g.ami == "recommended" => ("arm64", "recommended-arm64"),
        Some(false) if g.ami == "recommended-arm64" => ("x86_64", "recommended"),
        _ => return,
    };
    let ami = ptr(&["instance_groups", group, "ami"]);
    // Point at what the manifest wrote: an `ami` left to its default is not in any file.
    let at = if cx.loaded.value.pointer(&ami).is_some() {
        ami
    } else {
        ptr(&["instance_groups", group, "instance_type"])
    };
    cx.at_value(
        "ami-architecture",
        &at,
        format!(
            "`{}` runs {wanted} images but `ami = \"{}\"` is the {} AMI",
            g.instance_type,
            g.ami,
            if wanted == "arm64" { "x86_64" } else { "arm64" }
        ),
    )
    .label("architecture mismatch")
    .help(format!(
        "set `ami = \"{parameter}\"` in `[instance_groups.{group}]`, or choose an instance type of the AMI's architecture"
    ))
    .emit();
}

/// The log drivers the ECS-optimized AMI's ecs-init offers when ecs.config names none.
const AMI_LOG_DRIVERS: [&str; 5] = ["json-file", "syslog", "awslogs", "fluentd", "none"];

/// Every container's log driver is one its instances offer: ECS places a task only on an
/// instance whose agent offers the driver, so a missing one leaves the service at zero tasks
/// with nothing failing in the apply.
fn log_drivers(cx: &mut Cx<'_>) {
    let m = cx.m;
    let all: Vec<&String> = m.instance_groups.keys().collect();
    // A service without a group runs in `default`; a system container without one, on every
    // group's instances.
    let containers = m.containers().map(|c| {
        let groups = match c.instance_group {
            Some(g) => vec![g],
            None if c.section == "services" => vec!["default"],
            None => all.iter().map(|g| g.as_str()).collect(),
        };
        (c.section, c.name, c.logging, groups)
    });
    // Containers left on the default driver are named together, in one error at the group's
    // list that drops it: one cause, one error.
    let mut on_default: BTreeMap<&str, (&crate::manifest::InstanceGroup, Vec<&str>)> =
        BTreeMap::new();
    for (section, name, logging, groups) in containers {
        for group in groups {
            let Some(g) = m.instance_groups.get(group) else {
                continue;
            };
            match logging {
                Some(l) if !offers(g, l.driver.as_str()) => not_offered(
                    cx,
                    &ptr(&[section, name, "logging", "driver"]),
                    &[name],
                    l.driver.as_str(),
                    (group, g),
                ),
                None if !offers(g, DEFAULT_LOG_DRIVER) => {
                    on_default.entry(group).or_insert((g, Vec::new())).1.push(name);
                }
                _ => {}
            }
        }
    }
    for (group, (g, names)) in on_default {
        let at = ptr(&["instance_groups", group, "logging_drivers"]);
        not_offered(cx, &at, &names, DEFAULT_LOG_DRIVER, (group, g));
    }
}

/// The driver ecsops gives a container with no `logging`: its CloudWatch log group.
const DEFAULT_LOG_DRIVER: &str = "awslogs";

fn offers(g: &crate::manifest::InstanceGroup, driver: &str) -> bool {
    g.logging_drivers
        .as_ref()
        .map_or_else(|| AMI_LOG_DRIVERS.contains(&driver), |list| list.iter().any(|d| d == driver))
}

fn not_offered(
    cx: &mut Cx<'_>,
    at: &str,
    names: &[&str],
    driver: &str,
    (group, g): (&str, &crate::manifest::InstanceGroup),
) {
    let help = if g.logging_drivers.is_some() {
        format!("add `\"{driver}\"` to `logging_drivers` of `[instance_groups.{group}]`")
    } else {
        let mut list: Vec<String> = AMI_LOG_DRIVERS.iter().map(|d| format!("\"{d}\"")).collect();
        list.push(format!("\"{driver}\""));
        format!(
            "set `logging_drivers = [{}]` in `[instance_groups.{group}]` (the AMI's list and `{driver}`)",
            list.join(", ")
        )
    };
    let who: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let verb = if names.len() == 1 { "logs" } else { "log" };
    cx.at_value(
        "log-driver-not-offered",
        at,
        format!(
            "{} {verb} with `{driver}`, which instance group `{group}` does not offer",
            who.join(", ")
        ),
    )
    .label("not offered by its instances")
    .help(help)
    .emit();
}

/// CPU units and MiB the daemons (system containers) take on every instance of `group`, in
/// u64: the manifest's u32 sizes may sum past `u32::MAX`.
fn daemons_on(m: &crate::manifest::Manifest, group: &str) -> (u64, u64, Vec<String>) {
    m.system_containers
        .iter()
        .filter(|(_, s)| s.instance_group.as_deref().is_none_or(|g| g == group))
        .fold((0, 0, Vec::new()), |(c, mem, mut names), (n, s)| {
            names.push(n.clone());
            (c + u64::from(s.cpu), mem + u64::from(s.memory), names)
        })
}

/// A service behind a classic load balancer takes the same host port on every instance, so a
/// rolling deployment places a new task only on an instance without one: when the group
/// cannot grow past the service's tasks and no old task may stop first, it never starts.
fn fixed_port_deployments(cx: &mut Cx<'_>) {
    let m = cx.m;
    for (name, s) in &m.services {
        let classic = s.route.as_ref().is_some_and(|r| {
            m.load_balancers
                .get(&r.load_balancer)
                .is_some_and(|lb| lb.kind == crate::manifest::LoadBalancerKind::Classic)
        });
        let group = s.group();
        let Some(g) = m.instance_groups.get(group).filter(|_| classic) else {
            continue;
        };
        // Without managed scaling the group keeps its desired capacity, whatever `max_size`.
        let (instances, setting) = if g.managed_scaling {
            (g.max_size, "max_size")
        } else {
            (g.desired_capacity.unwrap_or(g.min_size), "desired_capacity")
        };
        let min = s.deployment.minimum_healthy_percent.min(100);
        let stoppable = u64::from(s.desired_count) * u64::from(100 - min) / 100;
        if s.desired_count >= instances && s.desired_count > 0 && stoppable == 0 {
            cx.at_key(
                "fixed-port-deployment",
                &ptr(&["services", name]),
                format!(
                    "deployments of `{name}` cannot start: its {} tasks hold a fixed host port on all {instances} instances of `{group}`",
                    s.desired_count
                ),
            )
            .label("a new task has nowhere to run")
            .help(format!("a classic load balancer needs the same host port on every instance, and `minimum_healthy_percent = {}` stops no old task first: set it lower (50 replaces half the tasks at a time), or give `{group}` a `{setting}` above `desired_count`", s.deployment.minimum_healthy_percent))
            .warning()
            .emit();
        }
    }
}

pub(super) fn check(cx: &mut Cx<'_>) {
    log_drivers(cx);
    fixed_port_deployments(cx);
    let m = cx.m;
    for (name, g) in &m.instance_groups {
        let p = |k: &str| ptr(&["instance_groups", name, k]);
        let desired = g.desired_capacity.unwrap_or(g.min_size);
        if g.max_size == 0 {
            cx.at_value("invalid-capacity", &p("max_size"), "`max_size` must be at least 1".into())
                .label("no instances")
                .emit();
        }
        if g.min_size > g.max_size {
            cx.at_value(
                "invalid-capacity",
                &p("min_size"),
                format!("`min_size` ({}) is greater than `max_size` ({})", g.min_size, g.max_size),
            )
            .label("min > max")
            .help("make `min_size ≤ desired_capacity ≤ max_size`")
            .emit();
        } else if desired < g.min_size || desired > g.max_size {
            cx.at_value(
                "invalid-capacity",
                &p("desired_capacity"),
                format!(
                    "`desired_capacity` ({desired}) is outside `min_size`..`max_size` ({}..{})",
                    g.min_size, g.max_size
                ),
            )
            .label("out of bounds")
            .help("make `min_size ≤ desired_capacity ≤ max_size`")
            .emit();
        }
        // The Auto Scaling API takes 32-bit sizes: a larger one passes the plan and fails the
        // apply halfway.
        let api_max = i32::MAX.unsigned_abs();
        let sizes = [
            ("min_size", Some(g.min_size)),
            ("max_size", Some(g.max_size)),
            ("desired_capacity", g.desired_capacity),
        ];
        for (key, size) in sizes {
            if let Some(size) = size.filter(|s| *s > api_max) {
                cx.at_value(
                    "invalid-capacity",
                    &p(key),
                    format!("`{key}` {size} is more instances than Auto Scaling takes ({api_max})"),
                )
                .label("too many")
                .emit();
            }
        }
        instance_type(cx, name, g);
        let ami_ok = matches!(g.ami.as_str(), "recommended" | "recommended-arm64")
            || g.ami.strip_prefix("ami-").is_some_and(|h| {
                (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit())
            });
        if ami_ok {
            ami_architecture(cx, name, g);
        } else {
            cx.at_value("invalid-ami", &p("ami"), format!("`{}` is not an AMI choice", g.ami))
                .label("unknown AMI")
                .help(
                    "use `recommended`, `recommended-arm64` or an id like `ami-0123456789abcdef0`",
                )
                .emit();
        }
        let vp = ptr(&["instance_groups", name, "root_volume"]);
        if g.root_volume.size < 30 {
            cx.at_value(
                "invalid-volume",
                &format!("{vp}/size"),
                format!(
                    "root volume of {} GiB is smaller than the 30 GiB the ECS-optimized AMI needs",
                    g.root_volume.size
                ),
            )
            .label("too small")
            .emit();
        }
        // EC2 refuses a larger volume only when it launches an instance, long after the apply.
        let largest = if g.root_volume.volume_type == "io2" { 65_536 } else { 16_384 };
        if g.root_volume.size > largest {
            cx.at_value(
                "invalid-volume",
                &format!("{vp}/size"),
                format!(
                    "root volume of {} GiB is larger than a `{}` volume can be ({largest} GiB)",
                    g.root_volume.size, g.root_volume.volume_type
                ),
            )
            .label("too large")
            .emit();
        }
        if !matches!(g.root_volume.volume_type.as_str(), "gp2" | "gp3" | "io1" | "io2") {
            cx.at_value(
                "invalid-volume",
                &format!("{vp}/type"),
                format!("`{}` is not a root volume type", g.root_volume.volume_type),
            )
            .label("unknown type")
            .help("use `gp3` (default), `gp2`, `io1` or `io2`")
            .emit();
        }
    }
    for c in m.containers() {
        let (section, name, cpu, memory, group) =
            (c.section, c.name, c.cpu, c.memory, c.instance_group);
        for (field, value) in [("cpu", cpu), ("memory", memory)] {
            if value == 0 {
                cx.at_value(
                    "invalid-size",
                    &ptr(&[section, name, field]),
                    format!("`{field}` must be positive"),
                )
                .label("zero")
                .emit();
            }
        }
        let groups: Vec<&String> = match &group {
            Some(g) => m.instance_groups.keys().filter(|k| *k == g).collect(),
            None if section == "services" => {
                m.instance_groups.keys().filter(|k| *k == "default").collect()
            }
            None => m.instance_groups.keys().collect(),
        };
        for g in groups {
            let itype = &m.instance_groups[g].instance_type;
            let Some((vcpu, mib)) = instance_size(itype) else {
                continue;
            };
            // Daemons run on every instance: a service shares it with all of them, and the
            // daemons share it with each other.
            let (daemon_cpu, daemon_mib, daemons) = daemons_on(m, g);
            let (cpu_needed, mib_needed, with) = if section == "services" {
                (u64::from(cpu) + daemon_cpu, u64::from(memory) + daemon_mib, daemons)
            } else {
                (daemon_cpu, daemon_mib, daemons)
            };
            let beside = if with.is_empty() || (section != "services" && with.len() == 1) {
                String::new()
            } else {
                format!(
                    " with the daemons on every instance ({}: {daemon_cpu} CPU units, {daemon_mib} MiB)",
                    with.join(", ")
                )
            };
            if cpu_needed > u64::from(vcpu) * 1024 {
                cx.at_value(
                    "task-too-large",
                    &ptr(&[section, name, "cpu"]),
                    format!(
                        "`{name}` asks for {cpu} CPU units{beside}; a `{itype}` of group `{g}` has {}",
                        vcpu * 1024
                    ),
                )
                .label("does not fit one instance")
                .help("lower `cpu` or use a larger instance type")
                .emit();
            }
            if mib_needed + u64::from(RESERVED_MIB) > u64::from(mib) {
                cx.at_value(
                    "task-too-large",
                    &ptr(&[section, name, "memory"]),
                    format!(
                        "`{name}` asks for {memory} MiB{beside}; a `{itype}` of group `{g}` offers about {} MiB to tasks",
                        mib.saturating_sub(RESERVED_MIB)
                    ),
                )
                .label("does not fit one instance")
                .help("lower `memory` or use a larger instance type")
                .emit();
            }
        }
    }
    for (name, svc) in &m.services {
        if svc.container_port == Some(0) {
            cx.at_value(
                "invalid-port",
                &ptr(&["services", name, "container_port"]),
                "port 0 is not a valid port".into(),
            )
            .label("use 1..=65535")
            .emit();
        }
        if svc.desired_count > 1000 {
            cx.at_value(
                "invalid-count",
                &ptr(&["services", name, "desired_count"]),
                format!(
                    "`desired_count` {} is more tasks than one ECS service runs",
                    svc.desired_count
                ),
            )
            .label("too many")
            .emit();
        }
    }
    for (name, sc) in &m.system_containers {
        for (i, port) in sc.ports.iter().enumerate() {
            if port.container == 0 || port.host == Some(0) {
                cx.at_value(
                    "invalid-port",
                    &ptr(&["system_containers", name, "ports", &i.to_string()]),
                    "port 0 is not a valid port".into(),
                )
                .label("use 1..=65535")
                .emit();
            }
        }
    }
    if !RETENTION_DAYS.contains(&m.logging.retention_days) {
        let nearest = RETENTION_DAYS
            .iter()
            .min_by_key(|d| d.abs_diff(m.logging.retention_days))
            .copied()
            .unwrap_or(30);
        cx.at_value(
            "invalid-retention",
            "/logging/retention_days",
            format!("CloudWatch Logs cannot keep events for {} days", m.logging.retention_days),
        )
        .label("not a CloudWatch retention")
        .help(format!("the nearest allowed value is {nearest}"))
        .emit();
    }
    if let Some(prefix) = &m.logging.prefix {
        let ok = prefix.starts_with('/')
            && prefix.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
        if !ok {
            cx.at_value(
                "invalid-log-prefix",
                "/logging/prefix",
                format!("`{prefix}` is not a log group prefix"),
            )
            .label("expected /letters/digits/._-#")
            .emit();
        }
    }
    if !m.alerts.stopped_tasks && !m.alerts.email.is_empty() {
        cx.at_key(
            "alerts-off",
            "/alerts/email",
            "`alerts.email` is set while `stopped_tasks = false` turns the alerts off".into(),
        )
        .label("ignored: no alerts topic to subscribe to")
        .help("remove `email`, or set `stopped_tasks = true` to have these addresses alerted")
        .warning()
        .emit();
    }
    for (i, email) in m.alerts.email.iter().enumerate() {
        let ok = email.split_once('@').is_some_and(|(u, d)| {
            !u.is_empty() && d.contains('.') && !d.starts_with('.') && !email.contains(' ')
        });
        if !ok {
            cx.at_value(
                "invalid-email",
                &ptr(&["alerts", "email", &i.to_string()]),
                format!("`{email}` is not an e-mail address"),
            )
            .label("not an address")
            .emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_table() {
        assert_eq!(instance_size("t3.medium"), Some((2, 4096)));
        assert_eq!(instance_size("m6i.large"), Some((2, 8192)));
        assert_eq!(instance_size("c6i.xlarge"), Some((4, 8192)));
        assert_eq!(instance_size("r6i.2xlarge"), Some((8, 65536)));
        assert_eq!(instance_size("x2idn.metal"), None);
    }

    #[test]
    fn architecture_from_the_family_name() {
        for arm in [
            "t4g.medium",
            "m7g.large",
            "m6gd.xlarge",
            "c6gn.large",
            "g5g.xlarge",
            "im4gn.large",
            "a1.large",
        ] {
            assert_eq!(is_arm64(arm), Some(true), "{arm}");
        }
        for x86 in [
            "t3.medium",
            "m6i.large",
            "g4dn.xlarge",
            "gr6.4xlarge",
            "c7i-flex.large",
            "x2iedn.xlarge",
            "inf2.xlarge",
        ] {
            assert_eq!(is_arm64(x86), Some(false), "{x86}");
        }
        assert_eq!(is_arm64("mac2.metal"), None);
    }
}
