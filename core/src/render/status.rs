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
    let paint = |style: Style, s: &str| {
        if color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_owned()
        }
    };
    let warn = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
    let bold = Style::new().bold();
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
        paint(bold, &format!("status of {environment}")),
        printable(&status.location)
    );
    match &status.revision {
        Some(r) => {
            let revision = r.tag.as_deref().map_or_else(
                || format!("{} (untagged)", crate::gitops::short(&r.commit)),
                |t| format!("{t} ({})", crate::gitops::short(&r.commit)),
            );
            let _ = writeln!(
                out,
                "last applied: {} by {} at {} ({}{})",
                printable(&revision),
                printable(&r.applied_by),
                printable(&r.applied_at),
                r.operation.as_str(),
                match r.result {
                    ApplyResult::Applied => "",
                    ApplyResult::Failed => ", failed",
                    ApplyResult::Interrupted => ", interrupted",
                },
            );
        }
        None => out.push_str("last applied: no revision recorded\n"),
    }
    lock_line(&mut out, status.lock.as_ref());
    for (title, system) in [("services", false), ("system containers", true)] {
        let listed: Vec<&ServiceStatus> = status
            .services
            .iter()
            .filter(|s| s.system == system)
            .collect();
        if listed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", paint(bold, title));
        for s in listed {
            service(&mut out, s, &|st, t| paint(st, t), warn);
        }
    }
    if !status.instance_groups.is_empty() {
        let _ = writeln!(out, "\n{}", paint(bold, "instance groups"));
        for g in &status.instance_groups {
            group(&mut out, g, &|st, t| paint(st, t), warn);
        }
    }
    if status.services.is_empty() && status.instance_groups.is_empty() {
        out.push_str("\nno services or instance groups are recorded\n");
    }
    out
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

fn service(
    out: &mut String,
    s: &ServiceStatus,
    paint: &dyn Fn(Style, &str) -> String,
    warn: Style,
) {
    let name = printable(&s.name);
    if s.missing {
        let _ = writeln!(
            out,
            "  {name}: {}",
            paint(warn, "not found in ECS (deleted outside ecsops?)")
        );
        return;
    }
    let counts = format!("running {}/{}, pending {}", s.running, s.desired, s.pending);
    let counts = if s.running < s.desired {
        paint(warn, &counts)
    } else {
        counts
    };
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
            e.at.as_deref()
                .map(|at| format!(" {}", printable(at)))
                .unwrap_or_default(),
            printable(&e.message)
        );
    }
}

fn group(out: &mut String, g: &GroupStatus, paint: &dyn Fn(Style, &str) -> String, warn: Style) {
    let name = printable(&g.name);
    if g.missing {
        let _ = writeln!(
            out,
            "  {name}: {}",
            paint(warn, "not found in Auto Scaling (deleted outside ecsops?)")
        );
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
            paint(warn, &format!("outdated: {}", printable(&why.join("; "))))
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
