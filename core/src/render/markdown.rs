//! Plan as Markdown for pull-request comments: plain CommonMark plus `<details>`, so GitHub and
//! GitLab render it. Destructive changes are called out first. The whole comment stays under
//! GitHub's 65,536-character limit: when details would not fit, whole resource sections are
//! replaced by a one-line mention (never cut mid-table or mid-fence), destructive ones last.

use std::fmt::Write as _;

use super::text::{attribute_lines, symbol, verb};
use crate::plan::{Action, Plan, ResourceChange};

/// GitHub rejects comments over 65,536 characters; leave room for a CI tool's own header.
pub const MAX_CHARS: usize = 60_000;

/// Renders `plan` as CommonMark with `<details>` sections.
pub fn render(plan: &Plan) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "### ecsops plan: `{}`\n", plan.environment);
    if !plan.has_changes() {
        let _ = writeln!(
            head,
            "**No changes.** The infrastructure matches the manifest.\n"
        );
        let _ = writeln!(head, "{}", plan.summary.line());
        return head;
    }
    let s = plan.summary;
    let _ = writeln!(head, "**{}**\n", plan.summary.line());
    head.push_str("| create | update | replace | delete |\n|---:|---:|---:|---:|\n");
    let _ = writeln!(
        head,
        "| {} | {} | {} | {} |\n",
        s.create, s.update, s.replace, s.delete
    );

    let changed: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let destructive: Vec<&&ResourceChange> = changed
        .iter()
        .filter(|c| c.action.is_destructive())
        .collect();
    if !destructive.is_empty() {
        head.push_str("> [!WARNING]\n");
        let _ = writeln!(
            head,
            "> This plan destroys or replaces {} resource{}:\n>",
            destructive.len(),
            if destructive.len() == 1 { "" } else { "s" }
        );
        for c in &destructive {
            let mut line = format!("> - `{}` {}", c.address, verb(c.action));
            if !c.replace_because.is_empty() {
                let _ = write!(line, " (forced by `{}`)", c.replace_because.join("`, `"));
            }
            // Addresses sit in code spans, where Markdown renders HTML literally.
            head.push_str(&line);
            head.push('\n');
        }
        head.push('\n');
    }

    // Destructive changes first, then the rest in plan order.
    let mut ordered: Vec<&ResourceChange> = destructive.iter().map(|c| **c).collect();
    ordered.extend(changed.iter().filter(|c| !c.action.is_destructive()));
    let sections: Vec<String> = ordered.iter().map(|c| section(c)).collect();
    let mentions: Vec<String> = ordered
        .iter()
        .map(|c| {
            format!(
                "- `{} {}` {}\n",
                symbol(c.action),
                c.address,
                verb(c.action)
            )
        })
        .collect();

    // Keep full sections while they fit, in order; mention the rest in one list.
    let footer_budget = 200;
    let mut body = String::new();
    let mut used = head.len() + footer_budget;
    let mut elided = Vec::new();
    for (i, sec) in sections.iter().enumerate() {
        let rest: usize = mentions[i + 1..].iter().map(String::len).sum();
        if elided.is_empty() && used + sec.len() + rest <= MAX_CHARS {
            used += sec.len();
            body.push_str(sec);
        } else {
            elided.push(i);
        }
    }
    let mut out = head;
    out.push_str(&body);
    if !elided.is_empty() {
        let _ = writeln!(
            out,
            "\n… {} more resource{}, details elided to fit a comment (see the full plan with `--format text`):\n",
            elided.len(),
            if elided.len() == 1 { "" } else { "s" }
        );
        let mut listed = 0;
        for &i in &elided {
            if out.len() + mentions[i].len() + footer_budget > MAX_CHARS {
                break;
            }
            out.push_str(&mentions[i]);
            listed += 1;
        }
        if listed < elided.len() {
            let _ = writeln!(out, "- … and {} more", elided.len() - listed);
        }
    }
    out
}

fn section(c: &ResourceChange) -> String {
    let mut s = String::new();
    let mut summary = format!(
        "<code>{} {}</code> {}",
        symbol(c.action),
        escape_html(c.address.as_str()),
        verb(c.action)
    );
    if let Some(from) = &c.moved_from {
        let _ = write!(
            summary,
            " (moved from <code>{}</code>)",
            escape_html(from.as_str())
        );
    }
    let _ = writeln!(s, "<details><summary>{summary}</summary>\n");
    // A fence longer than any backtick run inside keeps user text from closing it.
    let mut lines = Vec::new();
    let width = c.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &c.attributes {
        let (sign, body) = attribute_lines(c.action, a, width);
        let sign = if sign == '~' { '!' } else { sign };
        for (i, l) in body.into_iter().enumerate() {
            lines.push(if i == 0 {
                format!("{sign} {l}")
            } else {
                format!("  {l}")
            });
        }
    }
    let longest_run = lines.iter().map(|l| max_backticks(l)).max().unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    let _ = writeln!(s, "{fence}diff");
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
    let _ = writeln!(s, "{fence}\n\n</details>\n");
    s
}

fn max_backticks(line: &str) -> usize {
    line.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Address, Kind};
    use crate::plan::AttributeChange;
    use serde_json::json;

    fn change(i: usize, action: Action) -> ResourceChange {
        ResourceChange {
            address: Address::keyed("service", &format!("svc-{i:04}")),
            kind: Kind::Service,
            action,
            moved_from: None,
            replace_because: if action == Action::Replace {
                vec!["name".to_owned()]
            } else {
                vec![]
            },
            attributes: vec![AttributeChange {
                name: "user_data".to_owned(),
                before: (action != Action::Create).then(|| json!("#!/bin/bash\necho old ```")),
                after: (action != Action::Delete)
                    .then(|| json!(format!("#!/bin/bash\n{}", "x".repeat(200)))),
                after_unknown: false,
                forces_replacement: action == Action::Replace,
            }],
            depends_on: vec![],
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan::for_tests(changes, 1)
    }

    /// Every `<details>` closed and every fence closed, in order.
    fn well_formed(md: &str) -> bool {
        let mut depth = 0i32;
        let mut fence: Option<String> = None;
        for line in md.lines() {
            if let Some(f) = &fence {
                if line == f {
                    fence = None;
                }
                continue;
            }
            if line.starts_with("```") {
                fence = Some(line.trim_end_matches("diff").to_owned());
                continue;
            }
            depth += i32::try_from(line.matches("<details>").count()).unwrap_or(0);
            depth -= i32::try_from(line.matches("</details>").count()).unwrap_or(0);
            if depth < 0 {
                return false;
            }
        }
        depth == 0 && fence.is_none()
    }

    #[test]
    fn destructive_changes_come_first_and_structure_is_balanced() {
        let p = plan(vec![
            change(1, Action::Create),
            change(2, Action::Delete),
            change(3, Action::Replace),
        ]);
        let md = render(&p);
        assert!(md.starts_with("### ecsops plan: `acc`\n"));
        let warning = md.find("[!WARNING]").expect("callout");
        let first_details = md.find("<details>").expect("details");
        assert!(warning < first_details);
        assert!(
            md.contains("> - `service[svc-0003]` must be replaced (forced by `name`)"),
            "{md}"
        );
        let delete_at = md
            .find("<code>- service[svc-0002]</code>")
            .expect("delete section");
        let create_at = md
            .find("<code>+ service[svc-0001]</code>")
            .expect("create section");
        assert!(delete_at < create_at, "destructive sections first");
        assert!(
            md.contains("````diff\n"),
            "fence longer than the backticks inside"
        );
        assert!(well_formed(&md), "{md}");
        let parser = pulldown_cmark::Parser::new(&md);
        assert!(parser.count() > 10);
    }

    #[test]
    fn huge_plans_fit_a_github_comment() {
        let changes: Vec<ResourceChange> = (0..2000)
            .map(|i| {
                change(
                    i,
                    [
                        Action::Create,
                        Action::Update,
                        Action::Replace,
                        Action::Delete,
                    ][i % 4],
                )
            })
            .collect();
        let md = render(&plan(changes));
        assert!(md.chars().count() <= 65_536, "{} chars", md.chars().count());
        assert!(md.contains("details elided to fit a comment"));
        assert!(well_formed(&md));
        // Every destructive change is named in the callout even when its details are elided.
        assert!(md.contains("`service[svc-1999]` will be destroyed"));
    }

    #[test]
    fn no_changes_is_short() {
        let mut c = change(1, Action::NoOp);
        c.attributes.clear();
        let md = render(&plan(vec![c]));
        assert!(md.contains("**No changes.**"));
        assert!(!md.contains("<details>"));
    }
}
