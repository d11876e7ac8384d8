//! Plan as text for terminals, in the shape `terraform plan` users read every day: a header
//! naming the environment, the state and (when AWS was asked) the account and caller, one
//! block per changed resource (symbol, a sentence saying what happens and why, its
//! attributes), then the summary line, always last so scripts can take the final line. `color` only adds ANSI SGR styles around the same text.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::attribute::{Line, Mark, attribute};
use super::{Compared, name_width, printable, symbol, unchanged, verb};
use crate::plan::{Action, Plan, ResourceChange};

/// Renders `plan` for a terminal; `color` adds ANSI styles and changes nothing else.
pub fn render(plan: &Plan, color: bool, compared: Compared) -> String {
    let paint = Painter { color };
    let mut out = String::new();
    let environment = printable(&plan.environment);
    match &plan.prior_state {
        _ if plan.promoted_from.is_some() => {
            let _ = writeln!(
                out,
                "ecsops plan for {environment}: what promoting {}'s manifests would change (no state or AWS read)",
                printable(plan.promoted_from.as_deref().unwrap_or_default())
            );
        }
        _ if plan.base_revision.is_some() => {
            let _ = writeln!(
                out,
                "ecsops plan for {environment}: the work tree's manifests against revision {} (no state or AWS read)",
                printable(plan.base_revision.as_deref().unwrap_or_default())
            );
        }
        Some(p) => {
            let _ = writeln!(
                out,
                "ecsops plan for {environment} (state serial {}, lineage {})",
                p.serial,
                printable(&p.lineage)
            );
        }
        None if plan.destroy => {
            let _ = writeln!(out, "ecsops plan for {environment} (no state)");
        }
        None => {
            let _ = writeln!(
                out,
                "ecsops plan for {environment} (no state yet: everything will be created)"
            );
        }
    }
    if let Some(c) = &plan.caller {
        let _ = writeln!(out, "AWS account {} as {}", printable(&c.account), printable(&c.arn));
    }
    drift(&mut out, plan, paint);
    rolls(&mut out, plan, paint);
    if !plan.has_changes() {
        notes(&mut out, plan);
        out.push('\n');
        out.push_str(&paint.bold(&format!("No changes. {}", unchanged(plan, compared))));
        out.push_str("\n\n");
        out.push_str(&plan.summary.line());
        out.push('\n');
        return out;
    }
    out.push_str(&legend(plan, paint));
    for change in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        out.push('\n');
        resource(&mut out, change, paint);
    }
    for change in plan.changes.iter().filter(|c| c.action == Action::NoOp && c.moved_from.is_some())
    {
        let from = change.moved_from.as_ref().map_or("", |a| a.as_str());
        let _ = writeln!(
            out,
            "\n  {}",
            paint.bold(&format!(
                "# {} has moved to {} (no other change)",
                printable(from),
                printable(change.address.as_str())
            ))
        );
    }
    warning(&mut out, plan, paint);
    notes(&mut out, plan);
    out.push('\n');
    out.push_str(&paint.bold(&plan.summary.line()));
    out.push('\n');
    out
}

/// What the plan could not check, one line each, so a plan without AWS does not read as
/// complete.
fn notes(out: &mut String, plan: &Plan) {
    if plan.notes.is_empty() {
        return;
    }
    out.push('\n');
    for n in &plan.notes {
        let _ = writeln!(out, "note: {}: {}", printable(n.address.as_str()), printable(&n.message));
    }
}

/// Instance groups a roll is replacing instances of: apply leaves their capacity to it.
fn rolls(out: &mut String, plan: &Plan, paint: Painter) {
    for (address, r) in &plan.rolls {
        out.push('\n');
        out.push_str(&paint.bold(&format!(
            "# {} is being rolled: apply leaves its desired capacity and max size to the roll, which restores desired {} and max {}; finish it with `ecsops roll {}`",
            printable(address.as_str()),
            r.desired,
            r.max,
            printable(&plan.environment)
        )));
        out.push('\n');
    }
}

/// Changes made outside ecsops since the last apply; the plan below repairs them, or, when it
/// changes nothing, the manifest already matches them and an apply only records them.
fn drift(out: &mut String, plan: &Plan, paint: Painter) {
    if plan.drift.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(&paint.bold(if plan.destroy {
        "Changed outside ecsops since the last apply (drift):"
    } else if !plan.has_changes() {
        "Changed outside ecsops since the last apply (drift); the manifest matches it, so an apply only records it in the state:"
    } else {
        "Changed outside ecsops since the last apply (drift); the plan below repairs it:"
    }));
    out.push('\n');
    for d in &plan.drift {
        let address = printable(d.address.as_str());
        if d.deleted {
            let _ = writeln!(out, "  # {address} was deleted outside ecsops");
            continue;
        }
        let _ = writeln!(out, "  # {address} was changed outside ecsops");
        let _ = writeln!(
            out,
            "{} {} {{",
            paint.action(Action::Update, &format!("{:>3}", symbol(Action::Update))),
            d.kind
        );
        let width = name_width(&d.attributes);
        for a in &d.attributes {
            for line in attribute(Action::Update, a, width) {
                write_line(out, &line, paint);
            }
        }
        out.push_str("    }\n");
    }
}

/// The meaning of the symbols this plan uses, and only those.
fn legend(plan: &Plan, paint: Painter) -> String {
    let entries: Vec<String> = [
        (Action::Create, "create"),
        (Action::Update, "update in place"),
        (Action::Replace, "replace (destroy, then create)"),
        (Action::Revise, "new revision (the old one kept for rollback)"),
        (Action::Delete, "destroy"),
    ]
    .into_iter()
    .filter(|(action, _)| plan.changes.iter().any(|c| c.action == *action))
    .map(|(action, meaning)| format!("{} {meaning}", paint.action(action, symbol(action))))
    .collect();
    if entries.is_empty() {
        return String::new();
    }
    format!("Symbols: {}\n", entries.join(", "))
}

fn resource(out: &mut String, c: &ResourceChange, paint: Painter) {
    let mut head = format!("# {} {}", printable(c.address.as_str()), verb(c.action));
    if let Some(from) = &c.moved_from {
        let _ = write!(head, " (moved from {})", printable(from.as_str()));
    }
    let _ = writeln!(out, "  {}", paint.bold(&head));
    if !c.replace_because.is_empty() {
        let reasons: Vec<_> = c.replace_because.iter().map(|r| printable(r)).collect();
        let _ = writeln!(
            out,
            "  {}",
            paint.action(Action::Replace, &format!("# forces replacement: {}", reasons.join(", ")))
        );
    }
    // Right-aligned so that `-/+` and `+` put the kind in the same column, as Terraform does.
    let _ = writeln!(
        out,
        "{} {} {{",
        paint.action(c.action, &format!("{:>3}", symbol(c.action))),
        c.kind
    );
    let width = name_width(&c.attributes);
    for a in &c.attributes {
        for line in attribute(c.action, a, width) {
            write_line(out, &line, paint);
        }
    }
    out.push_str("    }\n");
}

/// Column of an attribute's mark: inside the resource block's braces.
const BASE: usize = 6;

fn write_line(out: &mut String, line: &Line, paint: Painter) {
    out.push_str(&" ".repeat(BASE + line.indent));
    let (mark, action) = match line.mark {
        Mark::Add => ("+", Action::Create),
        Mark::Remove => ("-", Action::Delete),
        Mark::Change => ("~", Action::Update),
        Mark::Same => (" ", Action::NoOp),
    };
    if line.shown {
        out.push_str(&paint.action(action, mark));
    } else {
        out.push(' ');
    }
    if !line.text.is_empty() {
        out.push(' ');
        out.push_str(&line.text);
    }
    // Blank lines of user data keep no trailing spaces.
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
}

#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

/// Before the summary: every resource the plan destroys or replaces, with what forces it, so a
/// cascade (a CIDR change replacing twenty resources) is never a surprise at the prompt.
fn warning(out: &mut String, plan: &Plan, paint: Painter) {
    const SHOWN: usize = 25;
    let destructive: Vec<&ResourceChange> =
        plan.changes.iter().filter(|c| c.action.is_destructive()).collect();
    if destructive.is_empty() {
        return;
    }
    let n = destructive.len();
    let heading = format!(
        "Warning: this plan destroys or replaces {n} resource{}:",
        if n == 1 { "" } else { "s" }
    );
    let red = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    let _ = writeln!(out, "\n{}", paint.paint(red, &heading));
    for c in destructive.iter().take(SHOWN) {
        let why = if c.replace_because.is_empty() {
            String::new()
        } else {
            let reasons: Vec<String> =
                c.replace_because.iter().map(|r| printable(r).into_owned()).collect();
            format!(" (forced by {})", reasons.join(", "))
        };
        let _ = writeln!(out, "  - {} {}{why}", printable(c.address.as_str()), verb(c.action));
    }
    if n > SHOWN {
        let _ = writeln!(out, "  - … and {} more", n - SHOWN);
    }
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
            Action::Revise => AnsiColor::Cyan,
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
    use crate::plan::{AttributeChange, PriorState};
    use serde_json::{Value, json};

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

    fn attr(name: &str, before: Option<Value>, after: Option<Value>) -> AttributeChange {
        AttributeChange {
            name: name.to_owned(),
            before,
            after_unknown: false,
            after,
            forces_replacement: false,
            names: None,
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan::for_tests(changes, 3)
    }

    #[test]
    fn notes_say_what_was_not_checked_even_without_changes() {
        let mut p = plan(vec![change("launch_template[default]", Action::NoOp, vec![])]);
        p.notes = vec![crate::plan::Note {
            code: "ami-not-checked".to_owned(),
            address: Address::from("launch_template[default]"),
            message: "the recommended AMI was not checked (offline)".to_owned(),
        }];
        let out = render(&p, false, Compared::Recorded);
        assert!(
            out.contains(
                "\nnote: launch_template[default]: the recommended AMI was not checked (offline)\n"
            ),
            "{out}"
        );
        let md = super::super::markdown::render(&p, Compared::Recorded);
        assert!(
            md.contains("> [!NOTE]\n> - `launch_template[default]`: the recommended AMI was not checked (offline)\n"),
            "{md}"
        );
    }

    /// One change of every kind, plus a no-op, a move, an unknown and a forced replacement.
    fn every_action() -> Plan {
        let mut unknown = attr("id", None, None);
        unknown.after_unknown = true;
        let mut forced = attr("cidr_block", Some(json!("10.0.0.0/16")), Some(json!("10.1.0.0/16")));
        forced.forces_replacement = true;
        let mut replace = change("vpc", Action::Replace, vec![forced]);
        replace.replace_because = vec!["cidr_block".to_owned()];
        let mut moved = change(
            "vpc.main",
            Action::Update,
            vec![attr("tags", Some(json!({"a": "1"})), Some(json!({"a": "2"})))],
        );
        moved.moved_from = Some(Address::from("vpc.old"));
        plan(vec![
            change(
                "subnet.public[a]",
                Action::Create,
                vec![attr("cidr_block", None, Some(json!("10.0.0.0/24"))), unknown],
            ),
            moved,
            replace,
            change("nat", Action::Delete, vec![attr("subnet_id", Some(json!("s-1")), None)]),
            change("same", Action::NoOp, vec![]),
        ])
    }

    #[test]
    fn every_action_reads_like_terraform() {
        let text = render(&every_action(), false, Compared::Live);
        let expected = "\
ecsops plan for acc (state serial 3, lineage L)
Symbols: + create, ~ update in place, -/+ replace (destroy, then create), - destroy

  # subnet.public[a] will be created
  + vpc {
      + cidr_block = \"10.0.0.0/24\"
      + id         = (known after apply)
    }

  # vpc.main will be updated in place (moved from vpc.old)
  ~ vpc {
      ~ tags = { a = \"1\" } -> { a = \"2\" }
    }

  # vpc must be replaced
  # forces replacement: cidr_block
-/+ vpc {
      ~ cidr_block = \"10.0.0.0/16\" -> \"10.1.0.0/16\" # forces replacement
    }

  # nat will be destroyed
  - vpc {
      - subnet_id = \"s-1\"
    }

Warning: this plan destroys or replaces 2 resources:
  - vpc must be replaced (forced by cidr_block)
  - nat will be destroyed

Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_header_names_the_account_and_caller_asked() {
        let mut plan = every_action();
        plan.caller = Some(crate::account::Caller {
            account: "222222222222".to_owned(),
            arn: "arn:aws:sts::222222222222:assumed-role/deployer/ecsops-acc-ci".to_owned(),
        });
        let text = render(&plan, false, Compared::Live);
        assert!(
            text.starts_with(
                "ecsops plan for acc (state serial 3, lineage L)\nAWS account 222222222222 as arn:aws:sts::222222222222:assumed-role/deployer/ecsops-acc-ci\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn colour_adds_sgr_codes_and_nothing_else() {
        let plain = render(&every_action(), false, Compared::Live);
        assert!(!plain.contains('\u{1b}'));
        let coloured = render(&every_action(), true, Compared::Live);
        assert!(coloured.contains("\u{1b}[32m+\u{1b}[0m"), "green create");
        assert!(coloured.contains("\u{1b}[33m~\u{1b}[0m"), "yellow update");
        assert!(coloured.contains("\u{1b}[35m-/+\u{1b}[0m"), "magenta replace");
        assert!(coloured.contains("\u{1b}[31m-\u{1b}[0m"), "red delete");
        assert_eq!(strip_sgr(&coloured), plain);
    }

    fn strip_sgr(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("\u{1b}[") {
            out.push_str(&rest[..i]);
            let end = rest[i..].find('m').expect("SGR ends with m");
            rest = &rest[i + end + 1..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn user_text_cannot_inject_escapes() {
        let mut c = change(
            "service[\u{1b}[2J]",
            Action::Create,
            vec![attr("user_data", None, Some(json!("a\u{1b}]0;x\u{7}\nb")))],
        );
        c.attributes.push(attr("name\u{1b}", None, Some(json!("\u{1b}[31m"))));
        let text = render(&plan(vec![c]), false, Compared::Live);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(!text.contains('\u{7}'), "{text}");
        assert!(text.contains("# service[\\u001b[2J] will be created"), "{text}");
    }

    #[test]
    fn no_changes_and_no_state() {
        let mut p = plan(vec![change("vpc", Action::NoOp, vec![])]);
        assert_eq!(
            render(&p, false, Compared::Live),
            "ecsops plan for acc (state serial 3, lineage L)\n\n\
             No changes. The infrastructure matches the manifest.\n\n\
             Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.\n"
        );
        p.changes.clear();
        p.prior_state = None;
        p.summary = crate::plan::Summary::default();
        let text = render(&p, false, Compared::Live);
        assert!(
            text.starts_with("ecsops plan for acc (no state yet: everything will be created)\n")
        );
        assert!(text.contains("No changes."));
        p.prior_state = Some(PriorState { lineage: "L".to_owned(), serial: 0 });
        assert!(!render(&p, true, Compared::Live).contains("No changes.\u{1b}"), "styles close");
    }

    #[test]
    fn a_destroy_with_nothing_to_destroy_says_so_not_that_the_manifest_matches() {
        let mut p = plan(vec![]);
        p.summary = crate::plan::Summary::default();
        p.destroy = true;
        assert_eq!(
            render(&p, false, Compared::Live),
            "ecsops plan for acc (state serial 3, lineage L)\n\n\
             No changes. Nothing to destroy: the state records no resources.\n\n\
             Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.\n"
        );
        p.drift = vec![crate::plan::Drift {
            address: Address::from("vpc"),
            kind: crate::graph::Kind::Vpc,
            deleted: true,
            attributes: Vec::new(),
        }];
        let text = render(&p, false, Compared::Live);
        assert!(
            text.contains(
                "Changed outside ecsops since the last apply (drift):\n  # vpc was deleted outside ecsops\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("No changes. Nothing left to destroy: the recorded resources were already deleted outside ecsops."),
            "{text}"
        );
        p.drift.clear();
        p.prior_state = None;
        let text = render(&p, false, Compared::Live);
        assert!(
            text.starts_with("ecsops plan for acc (no state)\n\nNo changes. Nothing to destroy: `acc` has no state.\n"),
            "{text}"
        );
    }

    #[test]
    fn multi_line_and_nested_values_are_blocks() {
        let user_data = "#!/bin/bash\necho \"ECS_CLUSTER=acc\" >> /etc/ecs/ecs.config\n\nexit 0\n";
        let p = plan(vec![
            change(
                "launch_template[default]",
                Action::Create,
                vec![
                    attr("user_data", None, Some(json!(user_data))),
                    attr("tags", None, Some(json!({"Name": "acc", "Description": "x".repeat(80)}))),
                ],
            ),
            change(
                "lt",
                Action::Update,
                vec![
                    attr("key_name", Some(json!("k")), None),
                    attr(
                        "user_data",
                        Some(json!("#!/bin/bash\necho a\n")),
                        Some(json!("#!/bin/bash\necho b\n")),
                    ),
                ],
            ),
        ]);
        let text = render(&p, false, Compared::Live);
        let expected_create = format!(
            "  + vpc {{
      + user_data = <<EOT
            #!/bin/bash
            echo \"ECS_CLUSTER=acc\" >> /etc/ecs/ecs.config

            exit 0
        EOT
      + tags      = {{
            Name        = \"acc\"
            Description = \"{}\"
        }}
    }}
",
            "x".repeat(80)
        );
        assert!(text.contains(&expected_create), "{text}");
        let expected_update = "  ~ vpc {
      - key_name  = \"k\" -> null
      ~ user_data = <<EOT
            #!/bin/bash
          - echo a
          + echo b
        EOT
    }
";
        assert!(text.contains(expected_update), "{text}");
        assert!(!text.lines().any(|l| l.ends_with(' ')), "no trailing blanks");
    }

    #[test]
    fn a_real_plan_from_the_planner() {
        use crate::graph::{Expr, Graph, Resource};
        use crate::plan::{PlanInput, diff};
        use std::collections::{BTreeMap, BTreeSet};

        let vpc = Resource {
            address: Address::from("vpc"),
            kind: Kind::Vpc,
            attributes: BTreeMap::from([("cidr_block".to_owned(), Expr::str("10.0.0.0/16"))]),
            depends_on: BTreeSet::new(),
        };
        let graph = Graph { resources: BTreeMap::from([(vpc.address.clone(), vpc)]) };
        let p = diff(PlanInput {
            environment: "acc",
            graph: &graph,
            state: None,
            moved: &[],
            manifest_digest: "d",
        });
        let text = render(&p, false, Compared::Live);
        assert!(text.contains("(no state yet: everything will be created)"));
        assert!(
            text.contains(
                "  # vpc will be created\n  + vpc {\n      + cidr_block = \"10.0.0.0/16\"\n"
            ),
            "{text}"
        );
        assert!(text.contains("(known after apply)"), "{text}");
        assert_eq!(text.lines().last(), Some(p.summary.line().as_str()));
    }

    #[test]
    fn a_move_alone_is_a_change_to_apply() {
        let mut c = ResourceChange {
            address: Address::from("vpc.main"),
            kind: Kind::Vpc,
            action: Action::NoOp,
            moved_from: Some(Address::from("vpc")),
            replace_because: vec![],
            attributes: vec![],
            depends_on: vec![],
        };
        let out = render(&plan(vec![c.clone()]), false, Compared::Live);
        assert!(out.contains("# vpc has moved to vpc.main (no other change)"), "{out}");
        assert!(!out.contains("No changes."), "{out}");
        assert!(!out.contains("Symbols:"), "{out}");
        c.moved_from = None;
        assert!(render(&plan(vec![c]), false, Compared::Live).contains("No changes."));
    }
}
