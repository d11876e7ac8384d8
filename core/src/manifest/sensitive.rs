//! Where a manifest's text may hold a secret value: every value in a `secrets` table, every
//! environment variable or log driver option whose name looks like a secret, the registry
//! credentials and the external id. Found lexically, line by line, so it works on a file that
//! does not parse as well: a syntax or schema error next to a secret must not print the secret
//! in its snippet; and, for a file that parses, from the parser's reading too ([`parsed`]),
//! which decodes escaped keys and spans multi-line strings whole. Spans cover a string's
//! contents, not its quotes.

use std::ops::Range;

use super::sites::SiteMap;

/// Words that make an environment variable name look like a secret.
pub const SECRET_WORDS: &[&str] =
    &["PASSWORD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY"];

/// Whether a variable (or a log option: `api-key`) named `key` looks like it holds a secret.
pub fn looks_secret(key: &str) -> bool {
    let upper = key.to_ascii_uppercase().replace('-', "_");
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Byte ranges of `text` that may hold secret values.
pub fn spans(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut table: Vec<String> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = strip_comment(line);
        let trimmed = body.trim_start();
        if trimmed.starts_with('[') {
            table = keys(trimmed.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace()));
            continue;
        }
        let Some(eq) = find_unquoted(body, '=') else {
            continue;
        };
        let mut path = table.clone();
        path.extend(keys(&body[..eq]));
        let value_at = start + eq + 1;
        let value = &body[eq + 1..];
        let (secret, inline_owner) = classify(&path);
        if secret {
            let literals = strings(value);
            if literals.is_empty() {
                // Not a string (a number, bare words, an array of them): the schema refuses
                // it, and its snippet must not show any of it.
                out.extend(bare(value, 0, false).map(|r| shift(r, value_at)));
            }
            out.extend(literals.into_iter().map(|(r, _)| shift(r, value_at)));
        } else if let Some(kind) = inline_owner {
            out.extend(inline(value, kind).into_iter().map(|r| shift(r, value_at)));
        }
    }
    out
}

/// Which members of an inline table are secret: all of them (`secrets`, `secret_options`), or
/// those named like one (`environment`, a log driver's `options`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Secrets,
    Named,
}

/// Every span of `text` that may hold a secret: [`spans`], and [`parsed`] when it parses.
pub fn every(text: &str) -> Vec<Range<usize>> {
    let mut out = spans(text);
    let file = crate::source::Sources::default().add("", String::new());
    if let Ok(located) = super::sites::parse(file, text) {
        out.extend(parsed(text, &located.sites));
    }
    out
}

/// The secret values of `text`, a file that parsed into `sites`: every value whose path
/// [`is_secret`], as the parser read its keys and where it says the value is written.
pub fn parsed(text: &str, sites: &SiteMap) -> Vec<Range<usize>> {
    sites
        .iter()
        .filter(|(pointer, _)| {
            let path: Vec<String> = pointer
                .split('/')
                .skip(1)
                .map(|k| k.replace("~1", "/").replace("~0", "~"))
                .collect();
            is_secret(&path)
        })
        .map(|(_, origin)| {
            let span = origin.value.span.clone();
            let written = text.get(span.clone()).unwrap_or_default();
            let quotes = ["\"\"\"", "'''", "\"", "'"]
                .into_iter()
                .find(|q| {
                    written.len() >= 2 * q.len() && written.starts_with(q) && written.ends_with(q)
                })
                .map_or(0, str::len);
            span.start + quotes..span.end - quotes
        })
        .collect()
}

/// Whether the value at `path` (its keys from the document's root) is a secret value.
pub fn is_secret<S: AsRef<str>>(path: &[S]) -> bool {
    classify(path).0
}

/// Whether the value at `path` is a secret, or an inline table whose members may be.
fn classify<S: AsRef<str>>(path: &[S]) -> (bool, Option<Owner>) {
    let n = path.len();
    let at = |i: usize| n.checked_sub(i).and_then(|j| path.get(j)).map(AsRef::as_ref);
    match (at(2), at(1)) {
        // A log driver's secret options are references like secrets, and as much a secret
        // when a value is written there by mistake.
        (Some("secrets" | "secret_options"), Some(_)) => (true, None),
        (Some("environment"), Some(key)) if looks_secret(key) => (true, None),
        // Meant to be references, but a value written there by mistake is the secret itself.
        (_, Some("registry_credentials" | "external_id")) => (true, None),
        (Some("options"), Some(key)) if at(3) == Some("logging") && looks_secret(key) => {
            (true, None)
        }
        (_, Some("secrets" | "secret_options")) => (false, Some(Owner::Secrets)),
        (_, Some("environment")) => (false, Some(Owner::Named)),
        (Some("logging"), Some("options")) => (false, Some(Owner::Named)),
        _ => (false, None),
    }
}

/// Secret values inside an inline table `{ KEY = "value", ... }`.
fn inline(value: &str, owner: Owner) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut last_key = "";
    let literals = strings(value);
    let mut i = 0;
    let bytes = value.as_bytes();
    let secret = |key: &str| owner == Owner::Secrets || looks_secret(key);
    while i < bytes.len() {
        if let Some((r, end)) = literals.iter().find(|(r, _)| r.start == i + 1) {
            let is_key = value[*end..].trim_start().starts_with('=');
            if is_key {
                last_key = &value[r.clone()];
            } else if secret(last_key) {
                out.push(r.clone());
            }
            i = *end;
            continue;
        }
        let c = bytes[i];
        if c == b'=' {
            // A value that is not a string literal: a number, bare words, an array of them.
            let after = i + 1;
            let starts_literal = literals
                .iter()
                .any(|(r, _)| r.start > after && value[after..r.start - 1].trim().is_empty());
            if !starts_literal
                && secret(last_key)
                && let Some(r) = bare(value, after, true)
            {
                i = r.end;
                out.push(r);
                continue;
            }
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            let end = value[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'))
                .map_or(value.len(), |e| i + e);
            last_key = &value[i..end];
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// The unquoted value that starts at `from` in `s` (after white space): the rest of `s`, or in
/// an inline table up to the `,` or `}` that ends it (those inside brackets are its own).
fn bare(s: &str, from: usize, inline: bool) -> Option<Range<usize>> {
    let rest = &s[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let mut depth = 0usize;
    let end = s[start..]
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            inline && depth == 0 && (c == ',' || c == '}')
        })
        .map_or(s.len(), |(e, _)| start + e);
    let end = start + s[start..end].trim_end().len();
    (end > start).then_some(start..end)
}

/// Every string literal in `s`: the range of its contents and the offset just past its closing
/// quote. Unterminated strings run to the end of the line.
fn strings(s: &str) -> Vec<(Range<usize>, usize)> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let quote = bytes[i];
        if quote != b'"' && quote != b'\'' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < bytes.len() && bytes[j] != quote && bytes[j] != b'\n' {
            if quote == b'"' && bytes[j] == b'\\' {
                j += 1;
            }
            j += 1;
        }
        let end = j.min(bytes.len());
        out.push((start..end, (end + 1).min(bytes.len())));
        i = end + 1;
    }
    out
}

/// The line without a trailing `# comment` (a `#` inside a string is not one).
fn strip_comment(line: &str) -> &str {
    find_unquoted(line, '#').map_or(line, |i| &line[..i])
}

fn find_unquoted(s: &str, wanted: char) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == wanted => return Some(i),
            None => {}
        }
    }
    None
}

/// A dotted key (`services.api`, `"a.b".c`) as its parts.
fn keys(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in s.trim().chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '.' => parts.push(std::mem::take(&mut current).trim().to_owned()),
            None => current.push(c),
        }
    }
    parts.push(current.trim().to_owned());
    parts.retain(|p| !p.is_empty());
    parts
}

fn shift(r: Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> Vec<&str> {
        spans(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn every_way_to_write_a_secret_is_found() {
        let text = r#"
[services.api]
secrets = { DB = "hunter2", "API" = 'k3y' } # comment "not this"
environment = { LOG_LEVEL = "info", API_TOKEN = "t0ken" }
secrets.OTHER = "dotted"
unknown_key = "not a secret"

[services.api.secrets]
PLAIN = "in-a-table"

[services.web.environment]
DB_PASSWORD = "pw"
COLOR = "blue"
[system_containers.x]
secrets = { BROKEN = "unterminated
"#;
        assert_eq!(
            masked(text),
            ["hunter2", "k3y", "t0ken", "dotted", "in-a-table", "pw", "unterminated"]
        );
    }

    /// The schema refuses these, and the snippet of its error must not show them.
    #[test]
    fn secrets_that_are_not_strings_are_found_too() {
        let text = "[services.api]\nsecrets = { DB = 987654321, API = \"k\" }\n\
                    environment = { API_TOKEN = t0ken, LEVEL = 3 }\n\
                    [services.api.secrets]\nPW = hunter2pw # comment\nN = 1.5e3\n\
                    WORDS = correct horse battery\nLIST = [hunter2, pw]\n\
                    [services.web]\nsecrets = { A = [x, y], B = one two }\n";
        assert_eq!(
            masked(text),
            [
                "987654321",
                "k",
                "t0ken",
                "hunter2pw",
                "1.5e3",
                "correct horse battery",
                "[hunter2, pw]",
                "[x, y]",
                "one two"
            ]
        );
    }

    /// A log driver's secret options are references, so a value written there is the secret
    /// itself; a plain option named like a credential (`api-key`) is masked too.
    #[test]
    fn log_secret_options_and_credential_options_are_found() {
        let text = r#"
[services.api.logging]
driver = "splunk"
options = { splunk-url = "https://splunk:8088", api-key = "k3y" }
secret_options = { splunk-token = "plain-token" }
[services.web.logging.secret_options]
splunk-token = "in-a-table"
[services.web.logging.options]
private-key = "pk"
"#;
        assert_eq!(masked(text), ["k3y", "plain-token", "in-a-table", "pk"]);
        assert!(looks_secret("api-key") && looks_secret("splunk-token"));
        assert!(!looks_secret("splunk-url"));
    }

    #[test]
    fn nothing_else_is_masked() {
        let text = "[environment]\nname = \"secrets\"\n[services.web]\nimage = \"x\"\n";
        assert!(spans(text).is_empty());
    }

    /// The KMS keys next to the secrets name keys, not secret values: diffs and snippets show
    /// them.
    #[test]
    fn kms_keys_of_secrets_are_shown() {
        let text = r#"
[services.api]
secrets = { DB = "ssm:/db" }
secrets_kms_keys = ["arn:aws:kms:eu-west-1:123456789012:key/k"]
[system_containers.x]
secrets_kms_keys = ['arn:aws:kms:eu-west-1:123456789012:key/k']
[services.web]
secrets.DB = "ssm:/web"
"#;
        assert_eq!(masked(text), ["ssm:/db", "ssm:/web"]);
    }
}
