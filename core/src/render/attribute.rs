//! One attribute change as marked lines, the picture text and Markdown both draw: which lines
//! are added, removed, changed or context, and how deep each sits. For an update of a long map
//! or list, or of a multi-line string, the lines are a nested diff (like `terraform plan`) so a
//! one-line change inside a task definition or user data script reads as one line, not as two
//! copies of the whole value.

use std::convert::Infallible;

use serde_json::{Map, Value};
use similar::algorithms::{DiffHook, lcs};

use super::printable;
use super::value::{
    INLINE_WIDTH, STEP, UNKNOWN, heredoc_close, heredoc_lines, heredoc_open, inline, key,
    key_width, lines,
};
use crate::plan::{Action, AttributeChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Add,
    Remove,
    Change,
    Same,
}

/// One line of an attribute change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Columns before the mark, relative to the attribute's own mark.
    pub indent: usize,
    pub mark: Mark,
    /// Whether text output prints the mark. Continuation lines of a value carry the mark of the
    /// value (so a Markdown diff colours them) but a terminal shows it only where it means
    /// something, as Terraform does.
    pub shown: bool,
    /// Two columns after the mark: `name = value`, or a continuation with its own indentation.
    pub text: String,
}

impl Line {
    fn new(indent: usize, mark: Mark, shown: bool, text: impl Into<String>) -> Self {
        Self { indent, mark, shown, text: text.into() }
    }
}

/// The lines of attribute `a` of a resource whose action is `action`; names are padded to
/// `width` so that the `=` of a resource's attributes line up.
pub fn attribute(action: Action, a: &AttributeChange, width: usize) -> Vec<Line> {
    let name = format!("{:width$}", printable(&a.name));
    let prefix = format!("{name} = ");
    let mut out = Vec::new();
    match (action, &a.before, &a.after) {
        (Action::Delete, before, _) => {
            block(&mut out, 0, Mark::Remove, &prefix, before.as_ref().unwrap_or(&Value::Null));
        }
        (_, None, after) => match after {
            Some(v) if !a.after_unknown => block(&mut out, 0, Mark::Add, &prefix, v),
            _ => out.push(Line::new(0, Mark::Add, true, format!("{prefix}{UNKNOWN}"))),
        },
        (_, Some(before), None) if !a.after_unknown => {
            block(&mut out, 0, Mark::Remove, &prefix, before);
            append(&mut out, " -> null");
        }
        (_, Some(before), after) => match after {
            Some(after) if !a.after_unknown => change(&mut out, 0, &prefix, before, after),
            _ => joined(&mut out, 0, &prefix, &lines(before), &[UNKNOWN.to_owned()]),
        },
    }
    if a.forces_replacement {
        out[0].text.push_str(" # forces replacement");
    }
    if let Some(names) = &a.names {
        let name =
            |n: &Option<String>| n.as_deref().map_or("?".to_owned(), |n| printable(n).into_owned());
        let text = match (a.before.is_some(), a.after.is_some()) {
            (true, true) => format!("{} -> {}", name(&names.before), name(&names.after)),
            (true, false) => name(&names.before),
            _ => name(&names.after),
        };
        out[0].text.push_str(" # ");
        out[0].text.push_str(&text);
    }
    out
}

/// `prefix` + `value`: the first line carries the shown mark, the rest carry it silently.
fn block(out: &mut Vec<Line>, indent: usize, mark: Mark, prefix: &str, value: &Value) {
    for (i, l) in lines(value).into_iter().enumerate() {
        if i == 0 {
            out.push(Line::new(indent, mark, true, format!("{prefix}{l}")));
        } else {
            out.push(Line::new(indent, mark, false, l));
        }
    }
}

fn append(out: &mut [Line], text: &str) {
    if let Some(last) = out.last_mut() {
        last.text.push_str(text);
    }
}

/// An update from `before` to `after` (which differ), as compact as reads well.
fn change(out: &mut Vec<Line>, indent: usize, prefix: &str, before: &Value, after: &Value) {
    if let (Some(b), Some(a)) = (inline(before), inline(after)) {
        let containers = before.is_object() || before.is_array();
        if !containers || b.len() + a.len() + 4 <= INLINE_WIDTH {
            out.push(Line::new(indent, Mark::Change, true, format!("{prefix}{b} -> {a}")));
            return;
        }
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => object_diff(out, indent, prefix, b, a),
        (Value::Array(b), Value::Array(a)) => array_diff(out, indent, prefix, b, a),
        (Value::String(b), Value::String(a)) => string_diff(out, indent, prefix, b, a),
        _ => joined(out, indent, prefix, &lines(before), &lines(after)),
    }
}

/// `old -> new` where either spans lines: the old lines, then the new ones, joined on one line.
fn joined(out: &mut Vec<Line>, indent: usize, prefix: &str, old: &[String], new: &[String]) {
    let last = old.len() - 1;
    for (i, l) in old.iter().enumerate() {
        let mut text = if i == 0 { format!("{prefix}{l}") } else { l.clone() };
        if i == last {
            text = format!("{text} -> {}", new[0]);
        }
        // The first line says what changes; the old value's body is what goes away.
        let mark = if i == 0 || i == last { Mark::Change } else { Mark::Remove };
        out.push(Line::new(indent, mark, i == 0, text));
    }
    for l in &new[1..] {
        out.push(Line::new(indent, Mark::Add, false, l.clone()));
    }
}

/// Unchanged entries that would take several lines collapse into one counting comment, kept in
/// place so that list positions stay readable.
struct Hidden<'a> {
    count: usize,
    noun: &'a str,
}

impl Hidden<'_> {
    fn flush(&mut self, out: &mut Vec<Line>, indent: usize) {
        if self.count > 0 {
            let plural = if self.count == 1 { "" } else { "s" };
            out.push(Line::new(
                indent,
                Mark::Same,
                false,
                format!("# ({} unchanged {}{plural} hidden)", self.count, self.noun),
            ));
            self.count = 0;
        }
    }

    /// Shows `text` as context when it is one line, else counts it.
    fn same(&mut self, out: &mut Vec<Line>, indent: usize, prefix: &str, value: &Value) {
        match inline(value) {
            Some(v) => {
                self.flush(out, indent);
                out.push(Line::new(indent, Mark::Same, false, format!("{prefix}{v}")));
            }
            None => self.count += 1,
        }
    }
}

fn object_diff(
    out: &mut Vec<Line>,
    indent: usize,
    prefix: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) {
    out.push(Line::new(indent, Mark::Change, true, format!("{prefix}{{")));
    let inner = indent + STEP;
    let mut hidden = Hidden { count: 0, noun: "key" };
    let width = key_width(after.keys().chain(before.keys()));
    for (k, a) in after {
        let entry = format!("{:width$} = ", key(k));
        match before.get(k) {
            Some(b) if b == a => hidden.same(out, inner, &entry, a),
            Some(b) => {
                hidden.flush(out, inner);
                change(out, inner, &entry, b, a);
            }
            None => {
                hidden.flush(out, inner);
                block(out, inner, Mark::Add, &entry, a);
            }
        }
    }
    hidden.flush(out, inner);
    for (k, b) in before.iter().filter(|(k, _)| !after.contains_key(*k)) {
        block(out, inner, Mark::Remove, &format!("{:width$} = ", key(k)), b);
        append(out, " -> null");
    }
    out.push(Line::new(indent, Mark::Same, false, "}"));
}

fn array_diff(out: &mut Vec<Line>, indent: usize, prefix: &str, before: &[Value], after: &[Value]) {
    out.push(Line::new(indent, Mark::Change, true, format!("{prefix}[")));
    let inner = indent + STEP;
    let mut hidden = Hidden { count: 0, noun: "element" };
    let ops = edit_script(before, after);
    let mut i = 0;
    while i < ops.len() {
        if let Edit::Keep(b, _) = ops[i] {
            hidden.same(out, inner, "", &before[b]);
            i += 1;
            continue;
        }
        hidden.flush(out, inner);
        // A run of removals and insertions: pair them up as changes of one element, which is
        // what editing one container definition in a list looks like.
        let end = ops[i..]
            .iter()
            .position(|op| matches!(op, Edit::Keep(..)))
            .map_or(ops.len(), |n| i + n);
        let removed: Vec<usize> = ops[i..end]
            .iter()
            .filter_map(|op| match op {
                Edit::Remove(b) => Some(*b),
                _ => None,
            })
            .collect();
        let inserted: Vec<usize> = ops[i..end]
            .iter()
            .filter_map(|op| match op {
                Edit::Insert(a) => Some(*a),
                _ => None,
            })
            .collect();
        let paired = removed.len().min(inserted.len());
        for (b, a) in removed.iter().zip(&inserted) {
            change(out, inner, "", &before[*b], &after[*a]);
        }
        for b in &removed[paired..] {
            block(out, inner, Mark::Remove, "", &before[*b]);
        }
        for a in &inserted[paired..] {
            block(out, inner, Mark::Add, "", &after[*a]);
        }
        i = end;
    }
    hidden.flush(out, inner);
    out.push(Line::new(indent, Mark::Same, false, "]"));
}

/// A multi-line string change as a heredoc with a line diff inside: user data scripts change a
/// line at a time.
fn string_diff(out: &mut Vec<Line>, indent: usize, prefix: &str, before: &str, after: &str) {
    let old = heredoc_lines(before);
    let new = heredoc_lines(after);
    out.push(Line::new(indent, Mark::Change, true, format!("{prefix}{}", heredoc_open())));
    let inner = indent + STEP;
    for op in edit_script(&old, &new) {
        out.push(match op {
            Edit::Keep(b, _) => Line::new(inner, Mark::Same, false, old[b].clone()),
            Edit::Remove(b) => Line::new(inner, Mark::Remove, true, old[b].clone()),
            Edit::Insert(a) => Line::new(inner, Mark::Add, true, new[a].clone()),
        });
    }
    if old == new {
        // The strings differ only where a heredoc cannot show it.
        out.push(Line::new(inner, Mark::Change, true, "# (only line endings changed)"));
    }
    out.push(Line::new(indent, Mark::Same, false, heredoc_close()));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Keep(usize, usize),
    Remove(usize),
    Insert(usize),
}

/// Largest middle part (after the common head and tail) diffed exactly; beyond it the middle is
/// shown as removed then inserted, which is correct, only less precise, and keeps the table small.
/// A size, not `similar`'s deadline, so that the same plan always renders the same way.
const MAX_DIFF_CELLS: usize = 1_000_000;

/// A shortest edit script from `old` to `new` (longest common subsequence), in order.
///
/// `similar`'s classic LCS table, raw (without the shared heuristics, which may give up on
/// near-disjoint ranges): of the scripts of equal length it removes before it inserts, so a
/// changed line reads `-` then `+`, and it asks only `PartialEq` of JSON values.
fn edit_script<T: PartialEq>(old: &[T], new: &[T]) -> Vec<Edit> {
    let mut script = Script(Vec::new());
    let head = old.iter().zip(new).take_while(|(x, y)| x == y).count();
    let tail =
        old[head..].iter().rev().zip(new[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (removed, inserted) = (old.len() - head - tail, new.len() - head - tail);
    if removed.saturating_mul(inserted) > MAX_DIFF_CELLS {
        script.keep(0, 0, head);
        script.remove(head, removed);
        script.add(head, inserted);
        script.keep(head + removed, head + inserted, tail);
    } else {
        let Ok(()) =
            lcs::diff_deadline_raw(&mut script, old, 0..old.len(), new, 0..new.len(), None);
    }
    script.0
}

/// Collects `similar`'s runs as one edit per element, the unit the renderers walk.
struct Script(Vec<Edit>);

impl Script {
    fn keep(&mut self, old: usize, new: usize, len: usize) {
        self.0.extend((0..len).map(|k| Edit::Keep(old + k, new + k)));
    }

    fn remove(&mut self, old: usize, len: usize) {
        self.0.extend((old..old + len).map(Edit::Remove));
    }

    fn add(&mut self, new: usize, len: usize) {
        self.0.extend((new..new + len).map(Edit::Insert));
    }
}

impl DiffHook for Script {
    type Error = Infallible;

    fn equal(&mut self, old: usize, new: usize, len: usize) -> Result<(), Infallible> {
        self.keep(old, new, len);
        Ok(())
    }

    fn delete(&mut self, old: usize, len: usize, _new: usize) -> Result<(), Infallible> {
        self.remove(old, len);
        Ok(())
    }

    fn insert(&mut self, _old: usize, new: usize, len: usize) -> Result<(), Infallible> {
        self.add(new, len);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attr(before: Option<Value>, after: Option<Value>) -> AttributeChange {
        AttributeChange {
            name: "x".to_owned(),
            before,
            after,
            after_unknown: false,
            forces_replacement: false,
            names: None,
        }
    }

    /// Lines as a terminal would indent them, with the mark only where shown.
    fn show(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let mark = match (l.shown, l.mark) {
                    (false, _) | (_, Mark::Same) => ' ',
                    (true, Mark::Add) => '+',
                    (true, Mark::Remove) => '-',
                    (true, Mark::Change) => '~',
                };
                format!("{}{mark} {}", " ".repeat(l.indent), l.text).trim_end().to_owned()
            })
            .collect()
    }

    #[test]
    fn scalar_changes_are_one_line() {
        let got = attribute(Action::Update, &attr(Some(json!(2)), Some(json!(3))), 0);
        assert_eq!(show(&got), ["~ x = 2 -> 3"]);
        let got = attribute(Action::Update, &attr(Some(json!("a")), None), 3);
        assert_eq!(show(&got), ["- x   = \"a\" -> null"]);
        let mut unknown = attr(Some(json!("vpc-1")), None);
        unknown.after_unknown = true;
        unknown.forces_replacement = true;
        let got = attribute(Action::Replace, &unknown, 0);
        assert_eq!(show(&got), ["~ x = \"vpc-1\" -> (known after apply) # forces replacement"]);
    }

    #[test]
    fn names_follow_the_values_they_name() {
        let mut a = attr(Some(json!("ami-1")), Some(json!("ami-2")));
        a.names = Some(crate::plan::Names { before: None, after: Some("al2023-new".to_owned()) });
        let got = attribute(Action::Update, &a, 0);
        assert_eq!(show(&got), [r#"~ x = "ami-1" -> "ami-2" # ? -> al2023-new"#]);
    }

    #[test]
    fn long_maps_diff_per_key_with_unchanged_context() {
        let before = json!({"image": "web:1", "cpu": 256, "env": {"A": "1".repeat(80)}, "old": 1});
        let after =
            json!({"image": "web:2", "cpu": 256, "env": {"A": "1".repeat(80)}, "new": true});
        let got = attribute(Action::Update, &attr(Some(before), Some(after)), 0);
        assert_eq!(
            show(&got),
            [
                "~ x = {",
                "    ~ image = \"web:1\" -> \"web:2\"",
                "      cpu   = 256",
                "      # (1 unchanged key hidden)",
                "    + new   = true",
                "    - old   = 1 -> null",
                "  }",
            ]
        );
        assert_eq!(got[0].mark, Mark::Change);
        assert_eq!(got[3].mark, Mark::Same);
    }

    #[test]
    fn lists_diff_per_element_and_pair_edited_elements() {
        let def = |image: &str| json!({"name": "web", "image": image, "essential": true, "cpu": 256, "memory": 512});
        let before = json!([def("web:1"), "kept", "dropped"]);
        let after = json!([def("web:2"), "kept", "added"]);
        let got = attribute(Action::Update, &attr(Some(before), Some(after)), 0);
        assert_eq!(
            show(&got),
            [
                "~ x = [",
                "    ~ {",
                "          name      = \"web\"",
                "        ~ image     = \"web:1\" -> \"web:2\"",
                "          essential = true",
                "          cpu       = 256",
                "          memory    = 512",
                "      }",
                "      \"kept\"",
                "    ~ \"dropped\" -> \"added\"",
                "  ]",
            ]
        );
    }

    #[test]
    fn multi_line_strings_diff_per_line() {
        let got = attribute(
            Action::Update,
            &attr(
                Some(json!("#!/bin/bash\necho old\nexit 0\n")),
                Some(json!("#!/bin/bash\necho new\nexit 0\n")),
            ),
            0,
        );
        assert_eq!(
            show(&got),
            [
                "~ x = <<EOT",
                "      #!/bin/bash",
                "    - echo old",
                "    + echo new",
                "      exit 0",
                "  EOT",
            ]
        );
        let got = attribute(Action::Update, &attr(Some(json!("a\nb\n")), Some(json!("a\nb"))), 0);
        assert!(show(&got).contains(&"    ~ # (only line endings changed)".to_owned()));
    }

    #[test]
    fn created_and_destroyed_blocks_carry_their_mark_on_every_line() {
        let got = attribute(Action::Create, &attr(None, Some(json!("#!/bin/bash\necho hi"))), 0);
        assert_eq!(show(&got), ["+ x = <<EOT", "      #!/bin/bash", "      echo hi", "  EOT"]);
        assert!(got.iter().all(|l| l.mark == Mark::Add));
        let got = attribute(Action::Delete, &attr(Some(json!("a\nb")), None), 0);
        assert!(got.iter().all(|l| l.mark == Mark::Remove));
        assert_eq!(show(&got)[0], "- x = <<EOT");
    }

    #[test]
    fn a_change_of_shape_shows_old_then_new() {
        let got = attribute(
            Action::Update,
            &attr(Some(json!("a\nb")), Some(json!(["c".repeat(50), "d".repeat(50)]))),
            0,
        );
        assert_eq!(
            show(&got),
            [
                "~ x = <<EOT".to_owned(),
                "      a".to_owned(),
                "      b".to_owned(),
                "  EOT -> [".to_owned(),
                format!("      \"{}\"", "c".repeat(50)),
                format!("      \"{}\"", "d".repeat(50)),
                "  ]".to_owned(),
            ]
        );
    }

    #[test]
    fn edit_scripts_are_minimal_and_ordered() {
        let a = ["a", "b", "c", "d"];
        let b = ["a", "x", "c", "d", "e"];
        assert_eq!(
            edit_script(&a, &b),
            [
                Edit::Keep(0, 0),
                Edit::Remove(1),
                Edit::Insert(1),
                Edit::Keep(2, 2),
                Edit::Keep(3, 3),
                Edit::Insert(4),
            ]
        );
        assert_eq!(edit_script::<u8>(&[], &[]), []);
        let big: Vec<u32> = (0..2000).collect();
        let other: Vec<u32> = (1..2001).rev().collect();
        let ops = edit_script(&big, &other);
        assert_eq!(
            ops.iter().filter(|o| matches!(o, Edit::Remove(_))).count()
                + ops.iter().filter(|o| matches!(o, Edit::Keep(..))).count(),
            2000
        );
    }
}
