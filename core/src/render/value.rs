//! How one plan value looks: strings quoted with escapes, short lists and maps inline, long ones
//! one entry per line, multi-line strings (user data) as heredoc blocks. The layout is
//! deterministic (map keys in the order the value holds them) and relative: continuation lines
//! are indented from the first column of whatever owns the value (`name = `), so the same lines
//! fit a terminal block and a Markdown diff.

use serde_json::Value;

use super::{printable, push_char};

/// Longest one-line rendering of a list or map before it is broken over several lines.
pub const INLINE_WIDTH: usize = 72;

/// Shown for values that exist only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// How deep each level of a list, map or heredoc is indented.
pub const STEP: usize = 4;

/// The heredoc delimiter. Terraform users read `<<EOT` blocks every day.
const EOT: &str = "EOT";

/// The one-line form of `value` when it has a readable one. Strings without line breaks always
/// have one (however long: breaking them would change what they say); lists and maps only while
/// short.
pub fn inline(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\n') => None,
        Value::String(s) => Some(quote(s)),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(inline).collect();
            Some(format!("[{}]", parts?.join(", "))).filter(|s| s.len() <= INLINE_WIDTH)
        }
        Value::Object(map) if map.is_empty() => Some("{}".to_owned()),
        Value::Object(map) => {
            let parts: Option<Vec<String>> =
                map.iter().map(|(k, v)| inline(v).map(|v| format!("{} = {v}", key(k)))).collect();
            Some(format!("{{ {} }}", parts?.join(", "))).filter(|s| s.len() <= INLINE_WIDTH)
        }
        other => Some(other.to_string()),
    }
}

/// `value` over one or more lines: the first continues its owner's line, the others carry their
/// indentation relative to the owner's first column (entries one [`STEP`] in, closers at 0).
pub fn lines(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    layout(value, 0, &mut out);
    out
}

/// A map key: bare when it is a plain word, quoted otherwise.
pub fn key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_owned()
    } else {
        quote(k)
    }
}

/// The widest of `keys` as [`key`] shows them, to line up the `=` of a map's entries.
pub fn key_width<'a>(keys: impl Iterator<Item = &'a String>) -> usize {
    keys.map(|k| key(k).chars().count()).max().unwrap_or(0)
}

/// `s` in double quotes, with quotes, backslashes and unsafe characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_char(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// The content lines of a multi-line string, as a heredoc shows them: a final line break ends
/// the last line rather than starting an empty one.
pub fn heredoc_lines(s: &str) -> Vec<String> {
    let body = s.strip_suffix('\n').unwrap_or(s);
    body.split('\n').map(|l| printable(l.strip_suffix('\r').unwrap_or(l)).into_owned()).collect()
}

/// The opening and closing of a heredoc.
pub fn heredoc_open() -> String {
    format!("<<{EOT}")
}

pub fn heredoc_close() -> &'static str {
    EOT
}

/// Pushes the lines of `value`, the first unindented, the rest indented by `indent` plus their
/// own depth.
fn layout(value: &Value, indent: usize, out: &mut Vec<String>) {
    if let Some(s) = inline(value) {
        out.push(s);
        return;
    }
    let pad = " ".repeat(indent + STEP);
    let close = " ".repeat(indent);
    match value {
        Value::String(s) => {
            out.push(heredoc_open());
            out.extend(heredoc_lines(s).into_iter().map(|l| indented(&pad, &l)));
            out.push(format!("{close}{EOT}"));
        }
        Value::Array(items) => {
            out.push("[".to_owned());
            for item in items {
                entry(out, &pad, "", item, indent + STEP);
            }
            out.push(format!("{close}]"));
        }
        Value::Object(map) => {
            out.push("{".to_owned());
            let width = key_width(map.keys());
            for (k, v) in map {
                entry(out, &pad, &format!("{:width$} = ", key(k)), v, indent + STEP);
            }
            out.push(format!("{close}}}"));
        }
        // Scalars always have an inline form.
        other => out.push(other.to_string()),
    }
}

fn entry(out: &mut Vec<String>, pad: &str, prefix: &str, value: &Value, indent: usize) {
    let start = out.len();
    layout(value, indent, out);
    out[start] = format!("{pad}{prefix}{}", out[start]);
}

/// `line` after `pad`, without trailing blanks when the line is empty.
fn indented(pad: &str, line: &str) -> String {
    if line.is_empty() { String::new() } else { format!("{pad}{line}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_values_stay_on_one_line() {
        assert_eq!(lines(&json!("x")), ["\"x\""]);
        assert_eq!(lines(&json!([1, 2])), ["[1, 2]"]);
        assert_eq!(lines(&json!({})), ["{}"]);
        assert_eq!(lines(&json!([])), ["[]"]);
        assert_eq!(
            lines(&json!({"a b": true, "c": null, "d-e": 1.5})),
            ["{ \"a b\" = true, c = null, d-e = 1.5 }"]
        );
    }

    #[test]
    fn long_strings_stay_quoted_on_one_line() {
        let long = "x".repeat(200);
        assert_eq!(lines(&json!(long)), [format!("\"{long}\"")]);
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            lines(&json!("say \"hi\" \\ \u{1b}[2J")),
            ["\"say \\\"hi\\\" \\\\ \\u001b[2J\""]
        );
    }

    #[test]
    fn long_and_multiline_values_break_with_relative_indentation() {
        let v = json!({
            "list": ["a".repeat(40), "b".repeat(40)],
            "user_data": "#!/bin/bash\n\necho hi\n",
            "nested": {"deep": {"x": "y".repeat(70)}},
        });
        assert_eq!(
            lines(&v),
            [
                "{".to_owned(),
                "    list      = [".to_owned(),
                format!("        \"{}\"", "a".repeat(40)),
                format!("        \"{}\"", "b".repeat(40)),
                "    ]".to_owned(),
                "    user_data = <<EOT".to_owned(),
                "        #!/bin/bash".to_owned(),
                String::new(),
                "        echo hi".to_owned(),
                "    EOT".to_owned(),
                "    nested    = {".to_owned(),
                "        deep = {".to_owned(),
                format!("            x = \"{}\"", "y".repeat(70)),
                "        }".to_owned(),
                "    }".to_owned(),
                "}".to_owned(),
            ]
        );
    }

    #[test]
    fn heredoc_lines_are_printable_and_keep_inner_blank_lines() {
        assert_eq!(heredoc_lines("a\r\n\nb\u{1b}\n"), ["a", "", "b\\u001b"]);
        assert_eq!(heredoc_lines("a\nb"), ["a", "b"]);
    }
}
