//! `ecsops status`: what [`crate::ops::status`] found, as text for a terminal and as the JSON
//! document of `docs/json-output.md` (versioned like the other reports).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::printable;
use super::reports::render;
use crate::ops::status::Status;
use crate::state::{ApplyResult, LockInfo, Revision};
use crate::status::{GroupStatus, Outdated, ServiceStatus};

#[derive(Serialize)]
struct Document<'a> {
    environment: &'a str,
    location: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<&'a LockInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_applied: Option<&'a Revision>,
    services: &'a [ServiceStatus],
    instance_groups: &'a [GroupStatus],
}

/// `status --format json`.
pub fn json(status: &Status) -> String {
    render(Document {
        environment: &status.environment,
        location: &status.location,
        serial: status.serial,
        locked: status.lock.is_some(),
        lock: status.lock.as_ref(),
        last_applied: status.revision.as_ref(),
        services: &status.services,
        instance_groups: &status.instance_groups,
    })
}

/// `status` for a terminal; `color` paints what needs attention.
pub fn text(status: &Status, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    let environment = printable(&status.environment);
    let Some(serial) = status.serial else {
        let _ = writeln!(
            out,
            "`{environment}` has no state yet ({}): `ecsops apply {environment}` creates it",
            printable(&status.location)
        );
        lock_line(&mut out, status.lock.as_ref());
        return out;
    };
    let _ = writeln!(
        out,
        "{} (state serial {serial}, {})",
        paint.bold(&format!("status of {environment}")),
        printable(&status.location)
    );
    match &status.revision {
        Some(r) => {
            let revision = match (&r.tag, &r.commit) {
                (Some(t), Some(c)) => format!("{t} ({})", crate::gitops::short(c)),
                (None, Some(c)) => format!("{} (untagged)", crate::gitops::short(c)),
                (_, None) => "outside git".to_owned(),
            };
            let _ = writeln!(
                out,
                "last applied: {} by {} at {} ({}{})",
                printable(&revision),
                printable(&r.applied_by),
                printable(&r.applied_at),
                r.operation.as_str(),
                match r.result {
                    ApplyResult::Applied => "",
                    ApplyResult::RolloutFailed => ", rollout failed",
                    ApplyResult::Failed => ", failed",
                    ApplyResult::Interrupted => ", interrupted",
                },
            );
        }
        None => out.push_str("last applied: no revision recorded\n"),
    }
    lock_line(&mut out, status.lock.as_ref());
    for (title, system) in [("services", false), ("system containers", true)] {
        let listed: Vec<&ServiceStatus> =
            status.services.iter().filter(|s| s.system == system).collect();
        if listed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", paint.bold(title));
        for s in listed {
            service(&mut out, s, paint);
        }
    }
    if !status.instance_groups.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("instance groups"));
        for g in &status.instance_groups {
            group(&mut out, g, paint);
        }
    }
    if status.services.is_empty() && status.instance_groups.is_empty() {
        out.push_str("\nno services or instance groups are recorded\n");
    }
    out
}

/// Colour on or off; yellow marks what needs attention.
#[derive(Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn style(self, style: Style, s: &str) -> String {
        if self.color { format!("{style}{s}{style:#}") } else { s.to_owned() }
    }

    fn bold(self, s: &str) -> String {
        self.style(Style::new().bold(), s)
    }

    fn warn(self, s: &str) -> String {
        self.style(Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())), s)
    }
}

/// A recorded resource the AWS service `service` no longer has.
fn gone(out: &mut String, name: &str, service: &str, paint: Paint) {
    let _ = writeln!(
        out,
        "  {name}: {}",
        paint.warn(&format!("not found in {service} (deleted outside ecsops?)"))
    );
}

fn lock_line(out: &mut String, lock: Option<&LockInfo>) {
    match lock {
        None => out.push_str("lock: free\n"),
        Some(l) => {
            let _ = writeln!(
                out,
                "lock: held by {} since {} ({}, id {})",
                printable(&l.who),
                printable(&l.when),
                printable(&l.operation),
                printable(&l.id)
            );
        }
    }
}

fn service(out: &mut String, s: &ServiceStatus, paint: Paint) {
    let name = printable(&s.name);
    if s.missing {
        gone(out, &name, "ECS", paint);
        return;
    }
    let counts = format!("running {}/{}, pending {}", s.running, s.desired, s.pending);
    let counts = if s.running < s.desired { paint.warn(&counts) } else { counts };
    let _ = writeln!(
        out,
        "  {name}  {}  {counts}  rollout {}",
        printable(s.task_definition.as_deref().unwrap_or("?")),
        printable(s.rollout_state.as_deref().unwrap_or("unknown")),
    );
    for c in &s.containers {
        let _ = writeln!(out, "    {}: {}", printable(&c.name), printable(&c.image));
    }
    if let Some(e) = &s.last_event {
        let _ = writeln!(
            out,
            "    last event{}: {}",
            e.at.as_deref().map(|at| format!(" {}", printable(at))).unwrap_or_default(),
            printable(&e.message)
        );
    }
}

fn group(out: &mut String, g: &GroupStatus, paint: Paint) {
    let name = printable(&g.name);
    if g.missing {
        gone(out, &name, "Auto Scaling", paint);
        return;
    }
    match &g.launch_template {
        Some(t) => {
            let _ = writeln!(
                out,
                "  {name}  launch template {} version {} ({}, {})",
                printable(&t.id),
                t.version,
                printable(t.instance_type.as_deref().unwrap_or("type unknown")),
                printable(t.image_id.as_deref().unwrap_or("AMI unknown")),
            );
        }
        None => {
            let _ = writeln!(out, "  {name}  launch template version unknown");
        }
    }
    if g.instances.is_empty() {
        out.push_str("    no instances\n");
    }
    for i in &g.instances {
        let verdict = if i.outdated {
            let why: Vec<String> = i.outdated_because.iter().map(Outdated::describe).collect();
            paint.warn(&format!("outdated: {}", printable(&why.join("; "))))
        } else {
            "up to date".to_owned()
        };
        let _ = writeln!(
            out,
            "    {}  {}  {}  {}  version {}  {verdict}",
            printable(&i.id),
            printable(&i.state),
            printable(i.instance_type.as_deref().unwrap_or("?")),
            printable(i.image_id.as_deref().unwrap_or("?")),
            printable(i.launch_template_version.as_deref().unwrap_or("?")),
        );
    }
}

/// A status with every optional field present, for the tests here and the documentation check.
#[cfg(test)]
pub(super) fn example() -> Status {
    use crate::events::ServiceEvent;
    use crate::status::{ContainerImage, InstanceStatus, TemplateVersion};
    let revision = serde_json::from_value(serde_json::json!({
        "commit": "abc", "tag": "ecsops/acc/7", "dirty": false, "operation": "rollback",
        "result": "applied", "rolled_back_to": {"commit": "def", "tag": "ecsops/acc/5"},
        "applied_at": "2026-01-01T00:00:00Z", "applied_by": "me@host"
    }))
    .expect("revision");
    Status {
        environment: "acc".to_owned(),
        location: "here".to_owned(),
        serial: Some(7),
        lock: Some(super::reports::tests::holder()),
        revision: Some(revision),
        services: vec![ServiceStatus {
            name: "web".to_owned(),
            system: false,
            missing: false,
            task_definition: Some("acc-default-web:3".to_owned()),
            desired: 2,
            running: 1,
            pending: 1,
            rollout_state: Some("IN_PROGRESS".to_owned()),
            last_event: Some(ServiceEvent {
                id: Some("e-1".to_owned()),
                at: Some("2026-01-01T00:00:00Z".to_owned()),
                message: "(service web) has started 1 tasks".to_owned(),
            }),
            containers: vec![ContainerImage {
                name: "web".to_owned(),
                image: "nginx:1".to_owned(),
            }],
        }],
        instance_groups: vec![GroupStatus {
            name: "default".to_owned(),
            missing: false,
            launch_template: Some(TemplateVersion {
                id: "lt-1".to_owned(),
                version: 2,
                image_id: Some("ami-1".to_owned()),
                instance_type: Some("t3.large".to_owned()),
            }),
            instances: vec![InstanceStatus {
                id: "i-1".to_owned(),
                state: "running".to_owned(),
                image_id: Some("ami-1".to_owned()),
                instance_type: Some("t3.medium".to_owned()),
                launch_template_version: Some("1".to_owned()),
                outdated: true,
                outdated_because: vec![Outdated::Version { has: "1".to_owned(), current: 2 }],
            }],
            capacity: crate::status::Capacity::default(),
        }],
        aws_requests: 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ServiceEvent;

    #[test]
    fn text_names_the_revision_the_lock_and_how_an_instance_is_outdated() {
        let out = text(&example(), false);
        for expected in [
            "status of acc (state serial 7, here)",
            "last applied: ecsops/acc/7 (abc) by me@host at 2026-01-01T00:00:00Z (rollback)",
            "lock: held by me@host since 2026-01-01T00:00:00Z (apply, id id-1)",
            "  web  acc-default-web:3  running 1/2, pending 1  rollout IN_PROGRESS",
            "    web: nginx:1",
            "    last event 2026-01-01T00:00:00Z: (service web) has started 1 tasks",
            "  default  launch template lt-1 version 2 (t3.large, ami-1)",
            "    i-1  running  t3.medium  ami-1  version 1  outdated: launch template version 1, now 2",
        ] {
            assert!(out.contains(expected), "no `{expected}` in:\n{out}");
        }
        assert!(!out.contains("system containers"), "none to list:\n{out}");
    }

    #[test]
    fn without_state_text_says_how_to_make_one() {
        let status = Status {
            serial: None,
            revision: None,
            lock: None,
            services: Vec::new(),
            instance_groups: Vec::new(),
            ..example()
        };
        assert_eq!(
            text(&status, false),
            "`acc` has no state yet (here): `ecsops apply acc` creates it\nlock: free\n"
        );
    }

    #[test]
    fn user_text_cannot_move_the_cursor() {
        let mut status = example();
        status.services[0].last_event =
            Some(ServiceEvent { id: None, at: None, message: "a\u{1b}[2Jb".to_owned() });
        assert!(text(&status, false).contains("a\\u001b[2Jb"));
    }
}
