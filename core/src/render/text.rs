//! Plan as text for terminals, in the shape `terraform plan` users read every day: one block per
//! changed resource with a symbol, a sentence saying what happens and why, and its attributes.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::value::{UNKNOWN, lines};
use crate::plan::{Action, AttributeChange, Plan, ResourceChange};

/// Renders `plan` for a terminal; `color` adds ANSI styles (and nothing else changes).
pub fn render(plan: &Plan, color: bool) -> String {
    let paint = Painter { color };
    let mut out = String::new();
    match &plan.prior_state {
        Some(p) => {
            let _ = writeln!(
                out,
                "ecsops plan for {} (state serial {}, lineage {})",
                plan.environment, p.serial, p.lineage
            );
        }
        None => {
            let _ = writeln!(
                out,
                "ecsops plan for {} (no state yet: everything will be created)",
                plan.environment
            );
        }
    }
    if !plan.has_changes() {
        out.push('\n');
        out.push_str(&paint.bold("No changes. The infrastructure matches the manifest."));
        out.push_str("\n\n");
        out.push_str(&plan.summary.line());
        out.push('\n');
        return out;
    }
    let _ = writeln!(
        out,
        "Symbols: {} create, {} update in place, {} replace, {} destroy",
        paint.action(Action::Create, "+"),
        paint.action(Action::Update, "~"),
        paint.action(Action::Replace, "-/+"),
        paint.action(Action::Delete, "-"),
    );
    for change in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        out.push('\n');
        resource(&mut out, change, paint);
    }
    out.push('\n');
    out.push_str(&paint.bold(&plan.summary.line()));
    out.push('\n');
    out
}

/// The sentence after `# <address>`.
pub(super) fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::NoOp => "is unchanged",
    }
}

pub(super) fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

fn resource(out: &mut String, c: &ResourceChange, paint: Painter) {
    let mut head = format!("# {} {}", c.address, verb(c.action));
    if let Some(from) = &c.moved_from {
        let _ = write!(head, " (moved from {from})");
    }
    let _ = writeln!(out, "  {}", paint.bold(&head));
    if !c.replace_because.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            paint.action(
                Action::Replace,
                &format!("# forces replacement: {}", c.replace_because.join(", "))
            )
        );
    }
    let _ = writeln!(
        out,
        "  {} {} {{",
        paint.action(c.action, symbol(c.action)),
        c.kind
    );
    let width = c.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &c.attributes {
        attribute(out, c.action, a, width, paint);
    }
    out.push_str("    }\n");
}

pub(super) fn attribute_lines(
    action: Action,
    a: &AttributeChange,
    width: usize,
) -> (char, Vec<String>) {
    let name = format!("{:width$}", a.name);
    let after = |indent: usize| -> Vec<String> {
        match &a.after {
            Some(v) if !a.after_unknown => lines(v, indent),
            _ => vec![UNKNOWN.to_owned()],
        }
    };
    let indent = 6 + width + 3;
    match (action, &a.before) {
        (Action::Delete, before) => {
            let mut l = before
                .as_ref()
                .map_or_else(|| vec!["null".to_owned()], |b| lines(b, indent));
            l[0] = format!("{name} = {}", l[0]);
            ('-', l)
        }
        (_, None) => {
            let mut l = after(indent);
            l[0] = format!("{name} = {}", l[0]);
            ('+', l)
        }
        (_, Some(before)) => {
            let mut l = lines(before, indent);
            l[0] = format!("{name} = {}", l[0]);
            if a.after.is_none() && !a.after_unknown {
                let last = l.len() - 1;
                l[last].push_str(" -> null");
            } else {
                let mut new = after(indent);
                let last = l.len() - 1;
                let first = std::mem::take(&mut new[0]);
                l[last] = format!("{} -> {first}", l[last]);
                l.extend(new.into_iter().skip(1));
            }
            if a.forces_replacement {
                let last = l.len() - 1;
                l[last].push_str(" # forces replacement");
            }
            ('~', l)
        }
    }
}

fn attribute(out: &mut String, action: Action, a: &AttributeChange, width: usize, paint: Painter) {
    let (sign, body) = attribute_lines(action, a, width);
    let sign_action = match sign {
        '+' => Action::Create,
        '-' => Action::Delete,
        _ => Action::Update,
    };
    for (i, line) in body.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(
                out,
                "      {} {line}",
                paint.action(sign_action, &sign.to_string())
            );
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
}

#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn action(self, action: Action, text: &str) -> String {
        let color = match action {
            Action::Create => AnsiColor::Green,
            Action::Update => AnsiColor::Yellow,
            Action::Replace => AnsiColor::Magenta,
            Action::Delete => AnsiColor::Red,
            Action::NoOp => return text.to_owned(),
        };
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Address, Kind};
    use serde_json::json;

    fn change(address: &str, action: Action, attributes: Vec<AttributeChange>) -> ResourceChange {
        ResourceChange {
            address: Address::from(address),
            kind: Kind::Vpc,
            action,
            moved_from: None,
            replace_because: Vec::new(),
            attributes,
            depends_on: Vec::new(),
        }
    }

    fn attr(
        name: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> AttributeChange {
        AttributeChange {
            name: name.to_owned(),
            before,
            after_unknown: false,
            after,
            forces_replacement: false,
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan::for_tests(changes, 3)
    }

    #[test]
    fn every_action_reads_like_terraform() {
        let mut unknown = attr("id", None, None);
        unknown.after_unknown = true;
        let mut forced = attr(
            "cidr_block",
            Some(json!("10.0.0.0/16")),
            Some(json!("10.1.0.0/16")),
        );
        forced.forces_replacement = true;
        let mut replace = change("vpc", Action::Replace, vec![forced]);
        replace.replace_because = vec!["cidr_block".to_owned()];
        let mut moved = change(
            "vpc.main",
            Action::Update,
            vec![attr(
                "tags",
                Some(json!({"a": "1"})),
                Some(json!({"a": "2"})),
            )],
        );
        moved.moved_from = Some(Address::from("vpc.old"));
        let p = plan(vec![
            change(
                "subnet.public[a]",
                Action::Create,
                vec![
                    attr("cidr_block", None, Some(json!("10.0.0.0/24"))),
                    unknown,
                ],
            ),
            moved,
            replace,
            change(
                "nat",
                Action::Delete,
                vec![attr("subnet_id", Some(json!("s-1")), None)],
            ),
            change("same", Action::NoOp, vec![]),
        ]);
        let text = render(&p, false);
        assert!(
            text.starts_with("ecsops plan for acc (state serial 3, lineage L)\n"),
            "{text}"
        );
        assert!(text.contains("  # subnet.public[a] will be created\n  + vpc {\n      + cidr_block = \"10.0.0.0/24\"\n      + id         = (known after apply)\n    }\n"), "{text}");
        assert!(
            text.contains("# vpc.main will be updated in place (moved from vpc.old)"),
            "{text}"
        );
        assert!(
            text.contains("      ~ tags = { a = \"1\" } -> { a = \"2\" }\n"),
            "{text}"
        );
        assert!(
            text.contains("# vpc must be replaced\n  # forces replacement: cidr_block\n"),
            "{text}"
        );
        assert!(
            text.contains("~ cidr_block = \"10.0.0.0/16\" -> \"10.1.0.0/16\" # forces replacement"),
            "{text}"
        );
        assert!(
            text.contains("# nat will be destroyed\n  - vpc {\n      - subnet_id = \"s-1\"\n"),
            "{text}"
        );
        assert!(!text.contains("same"), "no-ops are not listed");
        assert!(
            text.ends_with("Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.\n"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "no escapes without colour");
        assert!(render(&p, true).contains("\u{1b}["), "colour uses ANSI SGR");
    }

    #[test]
    fn empty_plans_say_so() {
        let p = plan(vec![change("vpc", Action::NoOp, vec![])]);
        let text = render(&p, false);
        assert!(text.contains("No changes. The infrastructure matches the manifest."));
        assert!(text.ends_with("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.\n"));
    }

    #[test]
    fn removed_attributes_and_multiline_values() {
        let p = plan(vec![change(
            "lt",
            Action::Update,
            vec![
                attr("key_name", Some(json!("k")), None),
                attr("user_data", Some(json!("a\nb")), Some(json!("a\nc"))),
            ],
        )]);
        let text = render(&p, false);
        assert!(text.contains("~ key_name  = \"k\" -> null"), "{text}");
        assert!(text.contains("~ user_data = <<EOT\n"), "{text}");
        assert!(text.contains("EOT -> <<EOT\n"), "{text}");
    }
}
