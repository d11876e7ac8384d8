//! Plan as Markdown for pull-request comments: plain CommonMark plus `<details>`, so GitHub and
//! GitLab render it. The reviewer sees, in order: the summary line, a table of counts, a warning
//! listing every destructive change with its reason, then one collapsed section per changed
//! resource with its attributes in a ```` ```diff ```` block (GitHub colours `+`, `-` and `!`).
//!
//! Sections come in order of importance: destroys and replacements, then updates, then creates
//! (no-ops never appear). The comment stays under [`MAX_LEN`], well inside GitHub's limit of
//! 65,536 characters: when the sections would not fit, the least important ones are reduced to
//! a one-line mention, always whole (never cut inside a table, a fence or a `<details>`), and a
//! single very long section is shortened inside its fence first.

use std::fmt::Write as _;

use super::attribute::{Line, Mark, attribute};
use super::{Compared, name_width, printable, symbol, unchanged, verb};
use crate::plan::{Action, Plan, ResourceChange};

/// Upper bound of the comment's length in bytes (so also in characters), leaving GitHub's
/// 65,536-character limit room for a CI tool's own header and footer.
pub const MAX_LEN: usize = 60_000;

/// Room kept for the elision note and its list of elided resources.
const NOTE_RESERVE: usize = 400;
/// At most this much of the comment names elided resources one by one.
const MENTION_BUDGET: usize = 8_000;
/// At most this much of the comment lists destructive changes in the warning.
const CALLOUT_BUDGET: usize = 12_000;
/// A section's diff stops after this many bytes, so one huge value cannot crowd out the rest.
const SECTION_BUDGET: usize = 12_000;
/// Longest diff line shown; longer ones (a policy in one string) end in a count.
const MAX_LINE: usize = 1_000;

/// Renders `plan` as CommonMark with `<details>` sections, at most [`MAX_LEN`] bytes long.
pub fn render(plan: &Plan, compared: Compared) -> String {
    render_within(plan, MAX_LEN, compared)
}

/// Several environments' plans in one comment, each given an equal share of [`MAX_LEN`] (a
/// plan that needs less leaves nothing unused to the others: shares are fixed, so each plan
/// renders the same whatever else changed). `base` names the revision they start from.
pub fn render_many(plans: &[Plan], base: &str) -> String {
    let mut out = String::new();
    let base = code_span(&printable(base));
    if plans.is_empty() {
        let _ = writeln!(
            out,
            "### ecsops plan\n\n**No changes.** No environment's manifests differ from {base}."
        );
        return out;
    }
    let names: Vec<String> = plans.iter().map(|p| code_span(&printable(&p.environment))).collect();
    let _ = writeln!(
        out,
        "### ecsops plan: {} environment{} changed since {base}: {}\n",
        plans.len(),
        plural(plans.len()),
        names.join(", ")
    );
    let share = (MAX_LEN - out.len()) / plans.len();
    for p in plans {
        out.push_str(&render_within(p, share, Compared::Recorded));
        out.push('\n');
    }
    out
}

/// The command that prints `plan` in full: the same comparison, as text.
fn full_plan(plan: &Plan, compared: Compared) -> String {
    let bare = |s: &str| printable(s).replace('`', "");
    let against = match (&plan.promoted_from, &plan.base_revision) {
        (Some(from), _) => format!(" --from {}", bare(from)),
        (None, Some(rev)) => format!(" --rev {}", bare(rev)),
        (None, None) if compared == Compared::Recorded => " --offline".to_owned(),
        (None, None) => String::new(),
    };
    format!("ecsops diff {}{against} --format text", bare(&plan.environment))
}

/// [`render`] in at most `max_len` bytes.
fn render_within(plan: &Plan, max_len: usize, compared: Compared) -> String {
    let mut out = String::new();
    let since = match (&plan.promoted_from, &plan.base_revision) {
        (Some(from), _) => format!(" (promoting {})", code_span(&printable(from))),
        (None, Some(r)) => format!(" (changes since {})", code_span(&printable(r))),
        (None, None) => String::new(),
    };
    let _ = writeln!(out, "### ecsops plan: {}{since}\n", code_span(&printable(&plan.environment)));
    if let Some(c) = &plan.caller {
        let _ = writeln!(
            out,
            "AWS account {} as {}\n",
            code_span(&printable(&c.account)),
            code_span(&printable(&c.arn))
        );
    }
    drift(&mut out, plan);
    notes(&mut out, plan);
    rolls(&mut out, plan);
    if !plan.has_changes() {
        let _ = writeln!(
            out,
            "**No changes.** {}\n\n{}",
            unchanged(plan, compared),
            plan.summary.line()
        );
        return out;
    }
    let s = plan.summary;
    let _ = writeln!(out, "**{}**\n", s.line());
    // The revision column only when there are revisions: other plans read as they always did.
    let (head, rule, revisions) = if s.revise > 0 {
        (" new revision |", "---:|", format!(" {} |", s.revise))
    } else {
        ("", "", String::new())
    };
    let _ = writeln!(
        out,
        "| create | update | replace |{head} delete | unchanged |\n\
         |---:|---:|---:|{rule}---:|---:|\n\
         | {} | {} | {} |{revisions} {} | {} |\n",
        s.create, s.update, s.replace, s.delete, s.no_op
    );
    for c in plan.changes.iter().filter(|c| c.action == Action::NoOp && c.moved_from.is_some()) {
        let from = c.moved_from.as_ref().map_or("", |a| a.as_str());
        let _ = writeln!(
            out,
            "- moved: {} → {} (recorded in the state; nothing changes in AWS)",
            code_span(&printable(from)),
            code_span(&printable(c.address.as_str()))
        );
    }

    let mut ordered: Vec<&ResourceChange> = Vec::new();
    for rank in [Rank::Destructive, Rank::Update, Rank::Create] {
        ordered.extend(plan.changes.iter().filter(|c| rank_of(c.action) == Some(rank)));
    }
    let destructive = ordered.iter().take_while(|c| c.action.is_destructive()).count();
    // Budgets shrink with the share of the comment this plan has (several environments).
    let scaled = |budget: usize| budget * max_len / MAX_LEN;
    callout(&mut out, &ordered[..destructive], scaled(CALLOUT_BUDGET));

    let sections: Vec<String> = ordered.iter().map(|c| section(c)).collect();
    let mentions: Vec<String> = ordered.iter().map(|c| mention(c)).collect();
    // after[i]: bytes needed to mention every section after the i-th.
    let mut after = vec![0; mentions.len() + 1];
    for i in (0..mentions.len()).rev() {
        after[i] = after[i + 1] + mentions[i].len();
    }
    let mut kept = 0;
    for (i, section) in sections.iter().enumerate() {
        let rest = after[i + 1];
        let reserve = if rest == 0 { 0 } else { rest.min(scaled(MENTION_BUDGET)) + NOTE_RESERVE };
        if out.len() + section.len() + reserve > max_len {
            break;
        }
        out.push_str(section);
        kept += 1;
    }
    let elided = &mentions[kept..];
    if !elided.is_empty() {
        let _ = writeln!(
            out,
            "… {} more resource{}, details elided to fit a comment (see the full plan with \
             `{}`):\n",
            elided.len(),
            plural(elided.len()),
            full_plan(plan, compared)
        );
        let mut listed = 0;
        for m in elided {
            if out.len() + m.len() + 100 > max_len {
                break;
            }
            out.push_str(m);
            listed += 1;
        }
        if listed < elided.len() {
            let _ = writeln!(out, "- … and {} more", elided.len() - listed);
        }
    }
    out
}

/// What the plan could not check, as a note a reviewer sees before the changes.
fn notes(out: &mut String, plan: &Plan) {
    if plan.notes.is_empty() {
        return;
    }
    out.push_str("> [!NOTE]\n");
    for n in &plan.notes {
        let _ = writeln!(
            out,
            "> - {}: {}",
            code_span(&printable(n.address.as_str())),
            escape_html(&printable(&n.message))
        );
    }
    out.push('\n');
}

/// One line per resource changed outside ecsops, naming the changed attributes (the values
/// are in the text plan; a comment stays short).
fn drift(out: &mut String, plan: &Plan) {
    if plan.drift.is_empty() {
        return;
    }
    out.push_str(if plan.has_changes() {
        "> [!WARNING]\n> **Changed outside ecsops since the last apply** (the plan repairs it):\n"
    } else {
        "> [!WARNING]\n> **Changed outside ecsops since the last apply** (the manifest matches it: an apply only records it in the state):\n"
    });
    for d in plan.drift.iter().take(50) {
        let what = if d.deleted {
            "deleted".to_owned()
        } else {
            let names: Vec<String> =
                d.attributes.iter().map(|a| code_span(&printable(&a.name))).collect();
            format!("changed: {}", names.join(", "))
        };
        let _ = writeln!(out, "> - {} {what}", code_span(&printable(d.address.as_str())));
    }
    if plan.drift.len() > 50 {
        let _ = writeln!(out, "> - … and {} more", plan.drift.len() - 50);
    }
    out.push('\n');
}

/// Instance groups a roll is replacing instances of: apply leaves their capacity to it.
fn rolls(out: &mut String, plan: &Plan) {
    for (address, r) in &plan.rolls {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> {} is being rolled: apply leaves its desired capacity and max size to the roll, which restores desired {} and max {}; finish it with {}\n",
            code_span(&printable(address.as_str())),
            r.desired,
            r.max,
            code_span(&format!("ecsops roll {}", printable(&plan.environment)))
        );
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rank {
    Destructive,
    Update,
    Create,
}

fn rank_of(action: Action) -> Option<Rank> {
    match action {
        Action::Delete | Action::Replace => Some(Rank::Destructive),
        Action::Update | Action::Revise => Some(Rank::Update),
        Action::Create => Some(Rank::Create),
        Action::NoOp => None,
    }
}

/// A GitHub alert naming every destructive change before any detail, so no reviewer misses one
/// inside a collapsed section.
fn callout(out: &mut String, destructive: &[&ResourceChange], budget: usize) {
    if destructive.is_empty() {
        return;
    }
    let n = destructive.len();
    let _ = writeln!(
        out,
        "> [!WARNING]\n> This plan destroys or replaces {n} resource{}:\n>",
        plural(n)
    );
    let start = out.len();
    for (i, c) in destructive.iter().enumerate() {
        let mut line =
            format!("> - {} {}", code_span(&printable(c.address.as_str())), verb(c.action));
        if !c.replace_because.is_empty() {
            let reasons: Vec<String> =
                c.replace_because.iter().map(|r| code_span(&printable(r))).collect();
            let _ = write!(line, " (forced by {})", reasons.join(", "));
        }
        if out.len() - start + line.len() > budget {
            let _ = writeln!(out, "> - … and {} more", n - i);
            break;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
}

fn section(c: &ResourceChange) -> String {
    let mut summary = format!(
        "<code>{} {}</code> {}",
        symbol(c.action),
        escape_html(&printable(c.address.as_str())),
        verb(c.action)
    );
    if let Some(from) = &c.moved_from {
        let _ = write!(
            summary,
            " (moved from <code>{}</code>)",
            escape_html(&printable(from.as_str()))
        );
    }
    if !c.replace_because.is_empty() {
        let reasons: Vec<String> = c
            .replace_because
            .iter()
            .map(|r| format!("<code>{}</code>", escape_html(&printable(r))))
            .collect();
        let _ = write!(summary, ", forced by {}", reasons.join(", "));
    }
    let mut s = format!("<details><summary>{summary}</summary>\n\n");
    if c.attributes.is_empty() {
        s.push_str("No attribute changes.\n\n</details>\n\n");
        return s;
    }
    let width = name_width(&c.attributes);
    let all: Vec<String> = c
        .attributes
        .iter()
        .flat_map(|a| attribute(c.action, a, width))
        .map(|l| diff_line(&l))
        .collect();
    let mut body = Vec::new();
    let mut used = 0;
    for line in &all {
        if used + line.len() > SECTION_BUDGET {
            body.push(format!(
                "  … {} more lines (see the full plan with --format text)",
                all.len() - body.len()
            ));
            break;
        }
        used += line.len() + 1;
        body.push(line.clone());
    }
    // A fence longer than any backtick run inside keeps user text from closing it.
    let longest = body.iter().map(|l| backtick_run(l)).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(s, "{fence}diff");
    for l in body {
        s.push_str(&l);
        s.push('\n');
    }
    let _ = writeln!(s, "{fence}\n\n</details>\n");
    s
}

/// A line of a ```` ```diff ```` block: the mark in the first column, where GitHub looks for it.
fn diff_line(line: &Line) -> String {
    let mark = match line.mark {
        Mark::Add => '+',
        Mark::Remove => '-',
        Mark::Change => '!',
        Mark::Same => ' ',
    };
    let mut s = format!("{mark} {}{}", " ".repeat(line.indent), line.text);
    if let Some((cut, _)) = s.char_indices().nth(MAX_LINE) {
        let rest = s[cut..].chars().count();
        s.truncate(cut);
        let _ = write!(s, " … ({rest} more characters)");
    }
    s.trim_end().to_owned()
}

/// The line naming an elided resource.
fn mention(c: &ResourceChange) -> String {
    format!(
        "- {} {}\n",
        code_span(&format!("{} {}", symbol(c.action), printable(c.address.as_str()))),
        verb(c.action)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn backtick_run(line: &str) -> usize {
    line.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `s` as an inline code span that no backtick inside can end early (CommonMark 6.1).
fn code_span(s: &str) -> String {
    let run = backtick_run(s);
    if run == 0 {
        return format!("`{s}`");
    }
    let ticks = "`".repeat(run + 1);
    format!("{ticks} {s} {ticks}")
}

/// Text for inside HTML (`<summary>`), where Markdown is not interpreted.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
    use serde_json::{Value, json};

    use super::*;
    use crate::graph::{Address, Kind};
    use crate::plan::AttributeChange;

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
                names: None,
            }],
            depends_on: vec![],
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan::for_tests(changes, 1)
    }

    /// What a CommonMark parser sees: every `<details>` closed after it opens, every code block
    /// a `diff` fence that ends before the `</details>` around it, and the text outside code.
    struct Structure {
        details: usize,
        code_blocks: usize,
        prose: String,
    }

    fn parse(md: &str) -> Structure {
        let mut depth = 0usize;
        let mut in_code = false;
        let mut structure = Structure { details: 0, code_blocks: 0, prose: String::new() };
        for event in Parser::new(md) {
            match event {
                Event::Html(h) | Event::InlineHtml(h) => {
                    assert!(!in_code);
                    let opens = h.matches("<details>").count();
                    let closes = h.matches("</details>").count();
                    depth += opens;
                    structure.details += opens;
                    assert!(depth >= closes, "</details> before <details>:\n{md}");
                    depth -= closes;
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    assert_eq!(kind, CodeBlockKind::Fenced("diff".into()), "{md}");
                    assert_eq!(depth, 1, "code only inside a section:\n{md}");
                    in_code = true;
                    structure.code_blocks += 1;
                }
                Event::End(TagEnd::CodeBlock) => in_code = false,
                Event::Text(t) | Event::Code(t) if !in_code => structure.prose.push_str(&t),
                _ => {}
            }
        }
        assert_eq!(depth, 0, "unclosed <details>:\n{md}");
        // A fence left open would have swallowed the `</details>` after it, so reaching depth 0
        // with every code block inside a section proves every fence closed.
        structure
    }

    #[test]
    fn the_account_and_caller_follow_the_heading() {
        let mut p = plan(vec![change(1, Action::Create)]);
        p.caller = Some(crate::account::Caller {
            account: "222222222222".to_owned(),
            arn: "arn:aws:sts::222222222222:assumed-role/deployer/ci".to_owned(),
        });
        let md = render(&p, Compared::Live);
        assert!(
            md.starts_with("### ecsops plan: `acc`\n\nAWS account `222222222222` as `arn:aws:sts::222222222222:assumed-role/deployer/ci`\n\n"),
            "{md}"
        );
        assert!(parse(&md).prose.contains("222222222222"));
    }

    #[test]
    fn a_small_plan_reads_well_and_parses() {
        let mut moved = change(5, Action::Update);
        moved.moved_from = Some(Address::from("service[old]"));
        let p = plan(vec![
            change(1, Action::Create),
            change(2, Action::Delete),
            moved,
            change(3, Action::Replace),
            change(4, Action::NoOp),
        ]);
        let md = render(&p, Compared::Live);
        let head = "\
### ecsops plan: `acc`

**Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.**

| create | update | replace | delete | unchanged |
|---:|---:|---:|---:|---:|
| 1 | 1 | 1 | 1 | 1 |

> [!WARNING]
> This plan destroys or replaces 2 resources:
>
> - `service[svc-0002]` will be destroyed
> - `service[svc-0003]` must be replaced (forced by `name`)

<details><summary><code>- service[svc-0002]</code> will be destroyed</summary>

````diff
- user_data = <<EOT
-     #!/bin/bash
-     echo old ```
- EOT
````

</details>

<details><summary><code>-/+ service[svc-0003]</code> must be replaced, forced by <code>name</code></summary>
";
        assert!(md.starts_with(head), "{md}");
        let order: Vec<usize> = ["svc-0003", "svc-0005", "svc-0001"]
            .iter()
            .map(|a| md.find(&format!("{a}]</code>")).expect(a))
            .collect();
        assert!(order.is_sorted(), "replace, then update, then create:\n{md}");
        assert!(md.contains("(moved from <code>service[old]</code>)"), "{md}");
        assert!(md.contains("\n! user_data = <<EOT # forces replacement\n"), "{md}");
        assert!(md.contains("\n-     echo old ```\n+     xxxx"), "{md}");
        assert!(!md.contains("svc-0004"), "no-ops are not shown");
        assert!(!md.contains("elided"));
        let structure = parse(&md);
        assert_eq!((structure.details, structure.code_blocks), (4, 4));
        let warning = md.find("[!WARNING]").expect("callout");
        assert!(warning < md.find("<details>").expect("details"));
    }

    #[test]
    fn a_new_revision_is_counted_in_its_own_column_and_is_not_destructive() {
        let p = plan(vec![change(1, Action::Revise), change(2, Action::Update)]);
        let md = render(&p, Compared::Live);
        assert!(
            md.contains(
                "**Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 1 new revision.**\n\n\
                 | create | update | replace | new revision | delete | unchanged |\n\
                 |---:|---:|---:|---:|---:|---:|\n\
                 | 0 | 1 | 0 | 1 | 0 | 0 |\n"
            ),
            "{md}"
        );
        assert!(!md.contains("[!WARNING]"), "{md}");
        assert!(!md.contains("destroy"), "{md}");
        assert!(md.contains("<code>+~ service[svc-0001]</code> gets a new revision"), "{md}");
    }

    #[test]
    fn user_text_is_escaped() {
        let mut c = change(1, Action::Delete);
        c.address = Address::keyed("service", "a`b</summary><script>");
        c.attributes[0].before = Some(json!("```\n</details>\n````"));
        let md = render(&plan(vec![c]), Compared::Live);
        let structure = parse(&md);
        assert_eq!((structure.details, structure.code_blocks), (1, 1));
        assert!(md.contains("<code>- service[a`b&lt;/summary&gt;&lt;script&gt;]</code>"), "{md}");
        assert!(md.contains("> - `` service[a`b</summary><script>] `` will be destroyed"));
        assert!(structure.prose.contains("service[a`b</summary><script>]"));
        assert!(md.contains("\n`````diff\n"), "{md}");
    }

    #[test]
    fn a_2000_resource_plan_fits_a_github_comment() {
        let changes: Vec<ResourceChange> = (0..2000)
            .map(|i| {
                change(
                    i,
                    [Action::Create, Action::Update, Action::Replace, Action::Delete, Action::NoOp]
                        [i % 5],
                )
            })
            .collect();
        let md = render(&plan(changes.clone()), Compared::Live);
        assert!(md.len() <= MAX_LEN, "{} bytes", md.len());
        assert!(md.chars().count() < 65_536);
        let structure = parse(&md);
        assert!(structure.details > 20, "the most important details are kept");
        assert!(
            md.contains("more resources, details elided to fit a comment (see the full plan with `ecsops diff acc --format text`)"),
            "{md}"
        );
        // A pull request's plan names the same comparison.
        let mut review = plan(changes.clone());
        review.base_revision = Some("origin/main".to_owned());
        let md = render_within(&review, MAX_LEN, Compared::Recorded);
        assert!(
            md.contains(
                "(see the full plan with `ecsops diff acc --rev origin/main --format text`)"
            ),
            "{md}"
        );
        // Destructive details are kept longest: no create section survives while one is elided.
        assert!(!md.contains("<code>+ "), "creates are elided first");
        assert!(md.contains("<code>- service[svc-0003]</code>"));
        assert!(md.trim_end().ends_with("more"), "the list of elided resources is bounded");
        assert!(md.contains("> - … and "), "the callout is bounded too");
    }

    #[test]
    fn one_huge_value_is_shortened_inside_its_fence() {
        let mut c = change(1, Action::Create);
        let script = (0..5000).fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "echo {i}");
            s
        });
        c.attributes[0].after = Some(Value::from(script));
        c.attributes.push(AttributeChange {
            name: "policy".to_owned(),
            before: None,
            after: Some(json!("p".repeat(5000))),
            after_unknown: false,
            forces_replacement: false,
            names: None,
        });
        let mut other = change(2, Action::Create);
        other.attributes[0].after = Some(json!("#!/bin/bash"));
        let md = render(&plan(vec![c, other]), Compared::Live);
        assert!(md.len() < SECTION_BUDGET + 2_000, "{} bytes", md.len());
        assert!(md.contains("more lines (see the full plan with --format text)"));
        assert_eq!(parse(&md).details, 2, "the other resource still has its details");
    }

    #[test]
    fn long_lines_are_cut_with_a_count() {
        let mut c = change(1, Action::Create);
        c.attributes[0].name = "policy".to_owned();
        c.attributes[0].after = Some(json!("p".repeat(5000)));
        let md = render(&plan(vec![c]), Compared::Live);
        assert!(md.contains(" … (4013 more characters)"), "{md}");
        parse(&md);
    }

    #[test]
    fn no_changes_is_short() {
        let mut c = change(1, Action::NoOp);
        c.attributes.clear();
        let md = render(&plan(vec![c]), Compared::Live);
        assert_eq!(
            md,
            "### ecsops plan: `acc`\n\n**No changes.** The infrastructure matches the manifest.\n\n\
             Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.\n"
        );
    }

    #[test]
    fn a_replacement_without_attributes_still_has_a_section() {
        let mut c = change(1, Action::Replace);
        c.attributes.clear();
        c.replace_because = vec!["kind".to_owned()];
        let md = render(&plan(vec![c]), Compared::Live);
        assert!(md.contains("No attribute changes.\n\n</details>"), "{md}");
        assert_eq!(parse(&md).details, 1);
    }

    #[test]
    fn a_roll_in_progress_is_a_note_saying_how_to_finish_it() {
        let mut p = Plan::for_tests(Vec::new(), 1);
        p.rolls.insert(Address::from("autoscaling_group[default]"), crate::roll::example());
        let md = render(&p, Compared::Live);
        assert!(
            md.contains("> `autoscaling_group[default]` is being rolled: apply leaves its desired capacity and max size to the roll, which restores desired 2 and max 4; finish it with `ecsops roll acc`"),
            "{md}"
        );
    }

    #[test]
    fn drift_is_a_warning_naming_the_changed_attributes_even_without_changes() {
        let mut p = plan(vec![]);
        p.drift = vec![
            crate::plan::Drift {
                address: Address::keyed("autoscaling_group", "default"),
                kind: Kind::AutoscalingGroup,
                deleted: false,
                attributes: vec![AttributeChange {
                    name: "max_size".to_owned(),
                    before: Some(json!(4)),
                    after: Some(json!(9)),
                    after_unknown: false,
                    forces_replacement: false,
                    names: None,
                }],
            },
            crate::plan::Drift {
                address: Address::keyed("route.private_default", "eu-west-1b"),
                kind: Kind::Route,
                deleted: true,
                attributes: vec![],
            },
        ];
        let md = render(&p, Compared::Live);
        assert!(md.contains("> [!WARNING]"), "{md}");
        assert!(md.contains("> - `autoscaling_group[default]` changed: `max_size`"), "{md}");
        assert!(md.contains("> - `route.private_default[eu-west-1b]` deleted"), "{md}");
        assert!(md.contains("**No changes.**"), "{md}");
    }
}
