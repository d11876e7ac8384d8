//! How plan values look in text and Markdown: strings quoted, short lists and maps inline, long
//! ones indented one entry per line, multi-line strings as indented blocks. Shared by both
//! renderers so a value reads the same in a terminal and in a pull request.

use std::fmt::Write as _;

use serde_json::Value;

/// Longest single-line rendering before a list or map is broken over several lines.
const INLINE_WIDTH: usize = 72;

/// Shown for values that exist only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// Lines of `value`, the first without indentation, the others indented by `indent` more.
pub fn lines(value: &Value, indent: usize) -> Vec<String> {
    let mut out = Vec::new();
    write_value(value, indent, &mut out);
    out
}

fn inline(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\n') => None,
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(inline).collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        Value::Object(map) => {
            let parts: Option<Vec<String>> = map
                .iter()
                .map(|(k, v)| inline(v).map(|v| format!("{} = {v}", key(k))))
                .collect();
            Some(format!("{{ {} }}", parts?.join(", ")))
        }
        other => Some(other.to_string()),
    }
    .filter(|s| s.len() <= INLINE_WIDTH)
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_owned()
    } else {
        Value::from(k).to_string()
    }
}

fn write_value(value: &Value, indent: usize, out: &mut Vec<String>) {
    if let Some(s) = inline(value) {
        out.push(s);
        return;
    }
    let pad = " ".repeat(indent + 4);
    let close = " ".repeat(indent);
    match value {
        Value::String(s) => {
            out.push("<<EOT".to_owned());
            out.extend(s.lines().map(|l| format!("{pad}{l}")));
            out.push(format!("{close}EOT"));
        }
        Value::Array(items) => {
            out.push("[".to_owned());
            for item in items {
                let mut sub = Vec::new();
                write_value(item, indent + 4, &mut sub);
                push_entry(out, &pad, "", sub);
            }
            out.push(format!("{close}]"));
        }
        Value::Object(map) => {
            out.push("{".to_owned());
            for (k, v) in map {
                let mut sub = Vec::new();
                write_value(v, indent + 4, &mut sub);
                push_entry(out, &pad, &format!("{} = ", key(k)), sub);
            }
            out.push(format!("{close}}}"));
        }
        other => out.push(other.to_string()),
    }
}

fn push_entry(out: &mut Vec<String>, pad: &str, prefix: &str, sub: Vec<String>) {
    let mut iter = sub.into_iter();
    let first = iter.next().unwrap_or_default();
    let mut line = String::new();
    let _ = write!(line, "{pad}{prefix}{first}");
    out.push(line);
    out.extend(iter);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_values_stay_on_one_line() {
        assert_eq!(lines(&json!("x"), 0), vec!["\"x\""]);
        assert_eq!(lines(&json!([1, 2]), 0), vec!["[1, 2]"]);
        assert_eq!(
            lines(&json!({"a b": true, "c": null}), 0),
            vec!["{ \"a b\" = true, c = null }"]
        );
    }

    #[test]
    fn long_and_multiline_values_break_with_indentation() {
        let v =
            json!({"list": ["a".repeat(40), "b".repeat(40)], "user_data": "#!/bin/bash\necho hi"});
        let got = lines(&v, 2);
        assert_eq!(
            got,
            vec![
                "{".to_owned(),
                "      list = [".to_owned(),
                format!("          \"{}\"", "a".repeat(40)),
                format!("          \"{}\"", "b".repeat(40)),
                "      ]".to_owned(),
                "      user_data = <<EOT".to_owned(),
                "          #!/bin/bash".to_owned(),
                "          echo hi".to_owned(),
                "      EOT".to_owned(),
                "  }".to_owned(),
            ]
        );
    }
}
