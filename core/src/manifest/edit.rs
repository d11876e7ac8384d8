//! Format-preserving edits of one manifest file: the change is spliced into the text at spans
//! `toml_edit` reports, so comments, key order, blank lines and quoting of everything else stay
//! byte for byte. Setting an image rewrites the value where the file already sets it; when the
//! file does not (the value is inherited through `extends`), it adds the key to the file's own
//! table of that service, or a new table placed after the file's other tables of the same kind,
//! so the override lands in this file only. The result is parsed again and must hold the image.

use std::fmt::Write as _;
use std::ops::Range;

use toml_edit::{Item, Table, Value};

/// The two tables whose entries run an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    Service,
    SystemContainer,
}

impl Workload {
    /// The manifest table holding this kind.
    pub fn table(self) -> &'static str {
        match self {
            Self::Service => "services",
            Self::SystemContainer => "system_containers",
        }
    }
}

/// Why a file could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the file is not valid TOML: {0}")]
    Syntax(String),
    #[error("`{0}` is not a table in this file")]
    NotATable(String),
    /// The splice did not produce the value (a layout this editor does not handle).
    #[error("cannot place `{0}` in this file's layout")]
    Layout(String),
}

/// The edited text and whether the file already set the image (as opposed to an override
/// added for an inherited value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: String,
    pub replaced: bool,
}

/// Sets `<kind>.<name>.image` in `text`.
pub fn set_image(text: &str, kind: Workload, name: &str, image: &str) -> Result<Edited, EditError> {
    let doc = toml_edit::Document::parse(text)
        .map_err(|e| EditError::Syntax(e.message().trim().to_owned()))?;
    let root = doc.as_table();
    let table_name = kind.table();
    let literal = quote(image);
    let (at, insert, replaced) = match root.get(table_name) {
        None => (
            text.len(),
            format!("{}[{table_name}.{}]\nimage = {literal}\n", separator(text), key(name)),
            false,
        ),
        Some(parent) => {
            let parent_t = parent
                .as_table_like()
                .ok_or_else(|| EditError::NotATable(table_name.to_owned()))?;
            match parent_t.get(name) {
                Some(entry) => {
                    let what = format!("{table_name}.{name}");
                    let entry_t =
                        entry.as_table_like().ok_or_else(|| EditError::NotATable(what.clone()))?;
                    if let Some(old) = entry_t.get("image") {
                        let span = old.span().ok_or_else(|| EditError::Layout(what.clone()))?;
                        return finish(splice(text, span, &literal), kind, name, image, true);
                    }
                    if let Some(inline) = entry.as_inline_table() {
                        let span = inline.span().ok_or_else(|| EditError::Layout(what.clone()))?;
                        let (at, insert) = match last_end(entry) {
                            Some(end) => (end, format!(", image = {literal}")),
                            None => (span.start + 1, format!(" image = {literal} ")),
                        };
                        (at, insert, false)
                    } else {
                        // After the table's last own line, or its header when it has none.
                        let end = match last_end(entry) {
                            Some(end) => end,
                            None => parent_t
                                .key(name)
                                .and_then(toml_edit::Key::span)
                                .filter(|_| entry.as_table().is_some_and(|t| !t.is_implicit()))
                                .map(|s| s.end)
                                .ok_or_else(|| EditError::Layout(what.clone()))?,
                        };
                        (line_end(text, end), format!("image = {literal}\n"), false)
                    }
                }
                None if parent.as_table().is_some_and(|t| t.iter().any(|(_, i)| i.is_value()))
                    || parent.is_value() =>
                {
                    // Entries written inline (`web = { ... }`) get a sibling written the same way.
                    let end =
                        last_end(parent).ok_or_else(|| EditError::Layout(table_name.to_owned()))?;
                    if parent.is_value() {
                        (end, format!(", {} = {{ image = {literal} }}", key(name)), false)
                    } else {
                        (
                            line_end(text, end),
                            format!("{} = {{ image = {literal} }}\n", key(name)),
                            false,
                        )
                    }
                }
                None => {
                    let end = deep_end(parent).map_or(text.len(), |e| line_end(text, e));
                    let sep = if end == text.len() { separator(text) } else { "\n" };
                    (end, format!("{sep}[{table_name}.{}]\nimage = {literal}\n", key(name)), false)
                }
            }
        }
    };
    finish(splice(text, at..at, &insert), kind, name, image, replaced)
}

/// Checks that the edited text parses and holds the image where the manifest reads it.
fn finish(
    text: String,
    kind: Workload,
    name: &str,
    image: &str,
    replaced: bool,
) -> Result<Edited, EditError> {
    let holds = toml_edit::Document::parse(text.as_str()).ok().is_some_and(|doc| {
        doc.as_table()
            .get(kind.table())
            .and_then(|t| t.get(name))
            .and_then(|t| t.get("image"))
            .and_then(Item::as_str)
            == Some(image)
    });
    if holds {
        Ok(Edited { text, replaced })
    } else {
        Err(EditError::Layout(format!("{}.{name}.image", kind.table())))
    }
}

fn splice(text: &str, span: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..span.start]);
    out.push_str(with);
    out.push_str(&text[span.end..]);
    out
}

/// What goes before a table appended at the end: a line break if the file lacks its last one,
/// and a blank line.
fn separator(text: &str) -> &'static str {
    match text {
        "" => "",
        t if t.ends_with("\n\n") => "",
        t if t.ends_with('\n') => "\n",
        _ => "\n\n",
    }
}

/// The offset just past the line holding `offset` (past a trailing comment and the newline).
fn line_end(text: &str, offset: usize) -> usize {
    text[offset..].find('\n').map_or(text.len(), |i| offset + i + 1)
}

/// The end of the last value written in this table itself (its key-value lines, dotted keys
/// included, not its sub-tables with their own headers).
fn last_end(item: &Item) -> Option<usize> {
    match item {
        Item::Value(Value::InlineTable(t)) => {
            t.iter().filter_map(|(_, v)| v.span()).map(|s| s.end).max()
        }
        Item::Table(t) => own_end(t),
        _ => None,
    }
}

fn own_end(t: &Table) -> Option<usize> {
    t.iter()
        .filter_map(|(_, i)| match i {
            Item::Value(v) => v.span().map(|s| s.end),
            Item::Table(d) if d.is_dotted() => own_end(d),
            _ => None,
        })
        .max()
}

/// The end of everything written under this item, sub-tables included.
fn deep_end(item: &Item) -> Option<usize> {
    match item {
        Item::Value(v) => v.span().map(|s| s.end),
        Item::Table(t) => t
            .iter()
            .filter_map(|(k, i)| {
                let key = t.key(k).and_then(toml_edit::Key::span).map(|s| s.end);
                key.max(deep_end(i))
            })
            .max(),
        Item::ArrayOfTables(a) => a.iter().filter_map(|t| deep_end(&Item::Table(t.clone()))).max(),
        Item::None => None,
    }
}

/// A TOML basic string. Image references hold no quotes, backslashes or control characters
/// once parsed, but the quoting does not rely on that.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => _ = write!(out, "\\u{:04X}", u32::from(c)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key as written in a header: bare when it may be, quoted otherwise.
fn key(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_owned()
    } else {
        quote(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, kind: Workload, name: &str, image: &str) -> (String, bool) {
        let edited = set_image(text, kind, name, image).expect("edits");
        (edited.text, edited.replaced)
    }

    #[test]
    fn an_image_the_file_sets_is_replaced_in_place_keeping_comments() {
        let text = "# head\n[services.web]\n# the image\nimage = \"nginx:1.27\"  # pinned\ncpu = 256\n\n[services.api]\nimage = \"httpd:2.4\"\n";
        let (out, existed) = edit(text, Workload::Service, "web", "nginx:1.28");
        assert!(existed);
        assert_eq!(out, text.replace("nginx:1.27", "nginx:1.28"));
    }

    #[test]
    fn an_inherited_image_gets_an_override_in_the_services_own_table() {
        let text = "extends = \"base.toml\"\n\n[network]\n# why\ncidr = \"10.0.0.0/16\"\n\n[services.web]\ndesired_count = 1 # one is enough\n\n[alerts]\nstopped_tasks = false\n";
        let (out, existed) = edit(text, Workload::Service, "web", "nginx:1.28");
        assert!(!existed);
        assert_eq!(
            out,
            text.replace("# one is enough\n", "# one is enough\nimage = \"nginx:1.28\"\n")
        );
    }

    #[test]
    fn without_a_table_the_override_is_a_new_table_after_the_other_services() {
        let text = "extends = \"base.toml\"\n\n[services.web]\ndesired_count = 1\n\n# Alerts: on.\n[alerts]\nstopped_tasks = true\n";
        let (out, _) = edit(text, Workload::Service, "api", "httpd:2.5");
        assert_eq!(
            out,
            "extends = \"base.toml\"\n\n[services.web]\ndesired_count = 1\n\n[services.api]\nimage = \"httpd:2.5\"\n\n# Alerts: on.\n[alerts]\nstopped_tasks = true\n"
        );
    }

    #[test]
    fn without_any_table_of_the_kind_the_override_goes_at_the_end() {
        let text = "extends = \"base.toml\"\n\n[network]\ncidr = \"10.0.0.0/16\" # comment\n";
        let (out, _) = edit(text, Workload::SystemContainer, "cadvisor", "cadvisor:v1");
        assert_eq!(out, format!("{text}\n[system_containers.cadvisor]\nimage = \"cadvisor:v1\"\n"));
    }

    #[test]
    fn inline_tables_are_edited_inline() {
        let text = "[services]\nweb = { desired_count = 1 }\n";
        let (out, existed) = edit(text, Workload::Service, "web", "nginx:2");
        assert!(!existed);
        assert_eq!(out, "[services]\nweb = { desired_count = 1, image = \"nginx:2\" }\n");
    }

    #[test]
    fn a_new_entry_among_inline_entries_is_inline_and_odd_names_are_quoted() {
        let text = "[services]\nweb = { image = \"a\" } # one\n\n[alerts]\n";
        let (out, _) = edit(text, Workload::Service, "my api", "b");
        assert_eq!(
            out,
            "[services]\nweb = { image = \"a\" } # one\n\"my api\" = { image = \"b\" }\n\n[alerts]\n"
        );
    }

    #[test]
    fn dotted_keys_and_sub_tables_count_as_the_services_lines() {
        let text = "[services.web]\nroute.priority = 1\n\n[services.web.environment]\nA = \"1\"\n[alerts]\n";
        let (out, _) = edit(text, Workload::Service, "web", "x");
        assert_eq!(
            out,
            "[services.web]\nroute.priority = 1\nimage = \"x\"\n\n[services.web.environment]\nA = \"1\"\n[alerts]\n"
        );
        let (out, _) = edit(text, Workload::Service, "api", "y");
        assert_eq!(
            out,
            "[services.web]\nroute.priority = 1\n\n[services.web.environment]\nA = \"1\"\n\n[services.api]\nimage = \"y\"\n[alerts]\n"
        );
    }

    #[test]
    fn a_value_that_is_no_table_is_refused() {
        assert_eq!(
            set_image("services = 3\n", Workload::Service, "web", "nginx"),
            Err(EditError::NotATable("services".to_owned()))
        );
    }
}
