//! A file change as `git diff` shows it (unified, three lines of context, `a/` and `b/` paths),
//! for commands that edit manifests. Ranges that may hold a secret are masked on both sides
//! first, the same ranges snippets mask, so a diff never shows one.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::printable;
use crate::manifest::sensitive;

/// The unified diff of `path` from `before` to `after`; empty when they are equal.
pub fn unified(path: &str, before: &str, after: &str, color: bool) -> String {
    let (before, after) = (masked(before), masked(after));
    let diff = TextDiff::from_lines(&before, &after);
    let mut out = String::new();
    let paint = |style: Style, text: &str| {
        if color { format!("{style}{text}{style:#}") } else { text.to_owned() }
    };
    let bold = Style::new().bold();
    let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let path = printable(path);
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        if out.is_empty() {
            _ = writeln!(out, "{}", paint(bold, &format!("--- a/{path}")));
            _ = writeln!(out, "{}", paint(bold, &format!("+++ b/{path}")));
        }
        _ = writeln!(out, "{}", paint(cyan, &hunk.header().to_string()));
        for change in hunk.iter_changes() {
            let text = change.value();
            let line = printable(text.strip_suffix('\n').unwrap_or(text));
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', Some(red)),
                ChangeTag::Insert => ('+', Some(green)),
                ChangeTag::Equal => (' ', None),
            };
            let line = format!("{sign}{line}");
            match style {
                Some(s) => _ = writeln!(out, "{}", paint(s, &line)),
                None => _ = writeln!(out, "{line}"),
            }
            if !text.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

fn masked(text: &str) -> String {
    crate::source::mask(text, &sensitive::every(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_git_diff_and_masks_secrets() {
        let before = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\nh = 8\n";
        let after = before.replace("e = 5", "e = 6");
        assert_eq!(
            unified("environments/x.toml", before, &after, false),
            "--- a/environments/x.toml\n+++ b/environments/x.toml\n@@ -2,7 +2,7 @@\n b = 2\n c = 3\n d = 4\n-e = 5\n+e = 6\n f = 6\n g = 7\n h = 8\n"
        );
        assert_eq!(unified("x", before, before, false), "");
        let secret = "[services.api]\nenvironment = { DB_PASSWORD = \"hunter2\" }\nimage = \"a\"\n";
        let shown = unified("x", secret, &secret.replace("\"a\"", "\"b\""), false);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("+image = \"b\""), "{shown}");
    }
}
