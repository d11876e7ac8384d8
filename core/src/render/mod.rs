//! Renderers: pure functions from a [`crate::plan::Plan`] to text (terminals), Markdown
//! (pull-request comments) and JSON (machines). Colour is a parameter, never detected here.
//!
//! Text and Markdown share one picture of a change: `value` lays a value out over lines and
//! `attribute` turns an attribute change into marked lines (nested diffs of maps, lists and
//! multi-line strings), so a change reads the same in a terminal and in a pull request. Every
//! piece of user text passes through `printable` first: a plan must not be able to move the
//! terminal cursor or hide a change behind bidirectional-text tricks. [`patch`] shows an edited
//! manifest file as `git diff` does. [`reports`] holds the JSON documents of the commands that
//! report (validate, state, lock, output); [`status`] shows what `status` found and [`events`]
//! what ECS says happened to services (the `events` log, a failed rollout's history);
//! [`apply_report`] is the JSON report of `apply`, `destroy` and `rollback`.

pub mod apply_report;
mod attribute;
pub mod events;
#[cfg(test)]
mod format_docs;
pub mod json;
pub mod markdown;
pub mod patch;
pub mod reports;
pub mod roll;
pub mod status;
pub mod text;
mod value;

use std::borrow::Cow;

use crate::plan::Action;

/// What the plan compared the manifests with, which is all that "no changes" may claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The live resources, read from AWS.
    Live,
    /// Only the recorded state (`--offline`): AWS was not read.
    Recorded,
}

/// The sentence after "No changes.": what was compared, and found to match.
fn unchanged(plan: &crate::plan::Plan, compared: Compared) -> String {
    if plan.destroy {
        return if plan.prior_state.is_none() {
            format!("Nothing to destroy: `{}` has no state.", printable(&plan.environment))
        } else if plan.drift.iter().any(|d| d.deleted) {
            "Nothing left to destroy: the recorded resources were already deleted outside ecsops."
                .to_owned()
        } else {
            "Nothing to destroy: the state records no resources.".to_owned()
        };
    }
    match (&plan.promoted_from, &plan.base_revision, compared) {
        (Some(from), _, _) => {
            format!("Promoting {}'s manifests would change nothing.", printable(from))
        }
        (None, Some(rev), _)
            if plan.notes.iter().any(|n| n.code == crate::plan::SETTING_CHANGED) =>
        {
            format!(
                "No resource differs from revision {}; the settings noted differ.",
                printable(rev)
            )
        }
        (None, Some(rev), _) => format!("The manifests match revision {}.", printable(rev)),
        (None, None, Compared::Live) => "The infrastructure matches the manifest.".to_owned(),
        (None, None, Compared::Recorded) => {
            "The recorded state matches the manifest (AWS was not read: `--offline`).".to_owned()
        }
    }
}

/// The sentence after `# <address>`.
fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "must be replaced",
        Action::Revise => "gets a new revision (the old one stays registered for rollback)",
        Action::Delete => "will be destroyed",
        Action::NoOp => "is unchanged",
    }
}

/// Terraform's action symbols, which readers of plans already know.
fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        // Not Terraform's `+/-`: nothing is destroyed, the old revision stays.
        Action::Revise => "+~",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

/// Characters that would act on a terminal or reorder text instead of being shown.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character written as a JSON-style escape (`\u001b`), so that user data
/// (an address key, a line of user data) shows up as text and never as an effect.
fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char) {
    use std::fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Column width of the attribute names of one resource, so `=` lines up in text and Markdown.
fn name_width(attributes: &[crate::plan::AttributeChange]) -> usize {
    attributes.iter().map(|a| printable(&a.name).chars().count()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::graph::{Address, Kind};
    use crate::plan::{AttributeChange, Plan, ResourceChange};

    #[test]
    fn printable_escapes_what_a_terminal_would_act_on() {
        assert!(matches!(printable("plain [x] <y>"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u001b[31mb");
        assert_eq!(printable("x\u{9b}y\u{7f}"), "x\\u009by\\u007f");
        assert_eq!(printable("abc\u{202e}def"), "abc\\u202edef");
        assert_eq!(printable("a\tb\r\nc"), "a\tb\\r\\nc");
    }

    /// Text with the characters that break renderers: line breaks, backticks, HTML, escapes.
    fn nasty_text() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "([a-z ]|`{1,4}|\n|\r|<|>|&|\\|\"|\u{1b}\\[31m|\u{202e}|é){0,12}",
        )
        .expect("regex")
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            nasty_text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::vec((nasty_text(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn resource_change() -> impl Strategy<Value = ResourceChange> {
        let attribute = (
            nasty_text(),
            proptest::option::of(json_value()),
            proptest::option::of(json_value()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                // A top-level `null` reads back as absent (see docs/plan-json.md).
                |(name, before, after, after_unknown, forces_replacement)| AttributeChange {
                    name,
                    before: before.filter(|v| !v.is_null()),
                    after: after.filter(|v| !v.is_null()),
                    after_unknown,
                    forces_replacement,
                    names: None,
                },
            );
        (
            nasty_text(),
            proptest::option::of(nasty_text()),
            0..5usize,
            prop::collection::vec(attribute, 0..4),
            prop::collection::vec(nasty_text(), 0..2),
        )
            .prop_map(|(key, moved, action, attributes, replace_because)| ResourceChange {
                address: Address::keyed("service", &key),
                kind: Kind::Service,
                action: [
                    Action::NoOp,
                    Action::Create,
                    Action::Update,
                    Action::Replace,
                    Action::Delete,
                ][action],
                moved_from: moved.map(|m| Address::keyed("service", &m)),
                replace_because,
                attributes,
                depends_on: vec![],
            })
    }

    proptest! {
        // Failures print their minimal input; no regression files in the tree.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_plan_renders_safely(changes in prop::collection::vec(resource_change(), 0..6)) {
            let plan = Plan::for_tests(changes, 1);
            let plain = text::render(&plan, false, Compared::Live);
            prop_assert!(!plain.contains('\u{1b}'), "escape in {}", plain);
            prop_assert!(!plain.contains('\u{202e}'), "override in {}", plain);
            let summary = format!("{}\n", plan.summary.line());
            prop_assert!(plain.ends_with(&summary), "{}", plain);
            prop_assert!(text::render(&plan, true, Compared::Live).len() >= plain.len());

            let md = markdown::render(&plan, Compared::Live);
            prop_assert!(md.len() <= markdown::MAX_LEN);
            // Every section closes outside any code block, so no user text escaped its fence.
            let mut depth = 0i64;
            let mut in_code = false;
            for event in pulldown_cmark::Parser::new(&md) {
                match event {
                    pulldown_cmark::Event::Start(pulldown_cmark::Tag::CodeBlock(_)) => in_code = true,
                    pulldown_cmark::Event::End(pulldown_cmark::TagEnd::CodeBlock) => in_code = false,
                    pulldown_cmark::Event::Html(h) | pulldown_cmark::Event::InlineHtml(h) => {
                        prop_assert!(!in_code);
                        depth += i64::try_from(h.matches("<details>").count()).unwrap_or(0);
                        depth -= i64::try_from(h.matches("</details>").count()).unwrap_or(0);
                        prop_assert!(depth >= 0);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(depth, 0);
            let sections = plan.changes.iter().filter(|c| c.action != Action::NoOp).count();
            prop_assert_eq!(md.matches("<details>").count(), sections);

            let back: Plan = serde_json::from_str(&json::render(&plan)).expect("round trip");
            prop_assert_eq!(back, plan);
        }
    }
}
