//! What ECS says happened to services ([`crate::events`]): the `events` log as text (one entry
//! a line, a stopped task followed by its containers) and as JSON (one document, or with
//! `--follow` one line per entry), and a service's history as the report of a failed rollout
//! shows it. Pure: the CLI decides where it goes.

use std::fmt::Write as _;

use serde::Serialize;

use super::printable;
use super::reports::{render, render_line};
use crate::events::{Entry, ServiceEvent, StoppedTask, arn_name};

#[derive(Serialize)]
struct Document<'a> {
    environment: &'a str,
    events: &'a [Entry],
}

/// `events --format json`: the log as one document.
pub fn json(environment: &str, entries: &[Entry]) -> String {
    render(Document { environment, events: entries })
}

/// `events --follow --format json`: one entry as one line of JSON Lines.
pub fn json_line(entry: &Entry) -> String {
    render_line(entry)
}

/// `events` for a terminal: the log, or a line saying it is empty.
pub fn text(environment: &str, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return format!("no service events or stopped tasks for `{}`\n", printable(environment));
    }
    entries.iter().map(entry).collect()
}

/// `events` of an environment whose state records nothing: why the log is empty. `serial`:
/// the state's, when there is one (it was applied, then destroyed or emptied).
pub fn nothing_recorded(environment: &str, serial: Option<u64>) -> String {
    let env = printable(environment);
    match serial {
        None => format!(
            "`{env}` has no recorded resources: nothing was applied there yet (`ecsops apply {env}`), so there are no events\n"
        ),
        Some(serial) => format!(
            "`{env}` has no recorded resources (state serial {serial}), so there are no events\n"
        ),
    }
}

/// One entry of the log: its time, its service and what happened, with a stopped task's
/// containers on the lines after.
pub fn entry(entry: &Entry) -> String {
    let at = printable(entry.at().unwrap_or("(time unknown)"));
    let service = printable(entry.service());
    match entry {
        Entry::ServiceEvent { event, .. } => {
            format!("{at}  {service}  {}\n", printable(&event.message))
        }
        Entry::StoppedTask { task, .. } => {
            let mut out = format!("{at}  {service}  ");
            stopped_task(&mut out, task, "    ");
            out
        }
    }
}

/// A stopped task: a line with the task, its revision and why it stopped, then a line per
/// container with its exit code, reason and log stream, each indented by `indent`.
pub fn stopped_task(out: &mut String, task: &StoppedTask, indent: &str) {
    let id = arn_name(&task.task_arn);
    let _ = write!(out, "task {} ({}) stopped", printable(id), printable(&task.task_definition));
    if let Some(reason) = &task.stopped_reason {
        let _ = write!(out, ": {}", printable(reason));
    }
    if let Some(code) = &task.stop_code {
        let _ = write!(out, " [{}]", printable(code));
    }
    out.push('\n');
    for c in &task.containers {
        let _ = write!(out, "{indent}container {}", printable(&c.name));
        if let Some(code) = c.exit_code {
            let _ = write!(out, ": exit code {code}");
        }
        if let Some(reason) = &c.reason {
            let _ = write!(out, ": {}", printable(reason));
        }
        out.push('\n');
        if let Some(group) = &c.log_group {
            let _ = write!(out, "{indent}  logs: group {}", printable(group));
            if let Some(stream) = &c.log_stream {
                let _ = write!(out, ", stream {}", printable(stream));
            }
            out.push('\n');
        }
    }
}

/// A service event on one line: its time and message.
pub fn service_event(out: &mut String, event: &ServiceEvent, indent: &str) {
    let _ = writeln!(
        out,
        "{indent}{}  {}",
        printable(event.at.as_deref().unwrap_or("(time unknown)")),
        printable(&event.message)
    );
}

/// A service's history (events and stopped tasks, each newest first) as a failed rollout's
/// report shows it: its newest `last_events` events, then its stopped tasks.
pub fn history(
    events: &[ServiceEvent],
    stopped_tasks: &[StoppedTask],
    last_events: usize,
) -> String {
    let mut out = String::new();
    if !events.is_empty() {
        out.push_str("  last service events:\n");
        for e in events.iter().take(last_events) {
            service_event(&mut out, e, "    ");
        }
    }
    if stopped_tasks.is_empty() {
        out.push_str("  no stopped tasks\n");
    } else {
        out.push_str("  stopped tasks, newest first:\n");
        for t in stopped_tasks {
            out.push_str("    ");
            stopped_task(&mut out, t, "      ");
        }
    }
    out
}

/// A log with every optional field present, for the tests here and the documentation check.
#[cfg(test)]
pub(super) fn example() -> Vec<Entry> {
    use crate::events::ContainerExit;
    vec![
        Entry::ServiceEvent {
            service: "web".to_owned(),
            event: ServiceEvent {
                id: Some("e-1".to_owned()),
                at: Some("2026-01-01T00:00:00Z".to_owned()),
                message: "(service acc-web) has started 1 tasks: (task 0123).".to_owned(),
            },
        },
        Entry::StoppedTask {
            service: "web".to_owned(),
            task: StoppedTask {
                task_arn: "arn:aws:ecs:eu-west-1:123456789012:task/acc/0123".to_owned(),
                task_definition: "acc-web:4".to_owned(),
                stopped_reason: Some("Essential container in task exited".to_owned()),
                stop_code: Some("EssentialContainerExited".to_owned()),
                stopped_at: Some("2026-01-01T00:01:00Z".to_owned()),
                containers: vec![ContainerExit {
                    name: "web".to_owned(),
                    exit_code: Some(137),
                    reason: Some(
                        "OutOfMemoryError: Container killed due to memory usage".to_owned(),
                    ),
                    log_group: Some("/ecsops/acc/service/web".to_owned()),
                    log_stream: Some("web/web/0123".to_owned()),
                }],
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_a_stopped_tasks_reason_exit_code_and_log_stream() {
        assert_eq!(
            text("acc", &example()),
            "2026-01-01T00:00:00Z  web  (service acc-web) has started 1 tasks: (task 0123).\n\
             2026-01-01T00:01:00Z  web  task 0123 (acc-web:4) stopped: Essential container in \
             task exited [EssentialContainerExited]\n    container web: exit code 137: \
             OutOfMemoryError: Container killed due to memory usage\n      logs: group \
             /ecsops/acc/service/web, stream web/web/0123\n"
        );
        assert_eq!(text("acc", &[]), "no service events or stopped tasks for `acc`\n");
    }

    #[test]
    fn a_history_lists_the_last_events_then_the_stopped_tasks() {
        let entries: [Entry; 2] = example().try_into().expect("two entries");
        let [Entry::ServiceEvent { event, .. }, Entry::StoppedTask { task, .. }] = entries else {
            panic!("an event and a task");
        };
        let out = history(&[event.clone(), event], &[task], 1);
        assert_eq!(out.matches("has started 1 tasks").count(), 1, "{out}");
        assert!(
            out.contains(
                "  stopped tasks, newest first:\n    task 0123 (acc-web:4) stopped: \
                 Essential container in task exited [EssentialContainerExited]\n      \
                 container web: exit code 137"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_json_line_is_one_versioned_line_per_entry() {
        let line = json_line(&example()[1]);
        assert_eq!(line.lines().count(), 1, "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["format_version"], super::super::reports::REPORT_FORMAT_VERSION);
        assert_eq!(v["kind"], "stopped_task");
        assert_eq!(v["containers"][0]["exit_code"], 137);
    }

    #[test]
    fn user_text_cannot_move_the_cursor() {
        let mut entries = example();
        if let Entry::ServiceEvent { event, .. } = &mut entries[0] {
            event.message = "a\u{1b}[2Jb".to_owned();
        }
        assert!(text("acc", &entries).contains("a\\u001b[2Jb"));
    }
}
