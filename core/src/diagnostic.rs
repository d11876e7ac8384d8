//! Diagnostics: what is wrong with the user's input, where, and what to do about it. Validation
//! collects every diagnostic of a run instead of stopping at the first; the CLI renders them once,
//! with the offending line and a caret (core never prints).

use std::fmt;

use crate::source::{Site, Sources};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the user's input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier of the rule (`unknown-key`, `cidr-overlap`, ...), for docs and tests.
    pub code: &'static str,
    /// What is wrong, lowercase, literals in backticks.
    pub message: String,
    /// Where; `None` for findings about the workspace as a whole.
    pub site: Option<Site>,
    /// Short text under the caret.
    pub label: Option<String>,
    /// What to do next.
    pub help: Option<String>,
    /// The text at `site` may be a secret: renderers must mask it, in this and every other
    /// diagnostic's snippet.
    pub sensitive: bool,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            site: None,
            label: None,
            help: None,
            sensitive: false,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn at(mut self, site: Option<Site>) -> Self {
        self.site = site;
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks the text at the site as possibly secret.
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// `path:line:column` of the diagnostic, if it has a site.
    pub fn location(&self, sources: &Sources) -> Option<String> {
        let site = self.site.as_ref()?;
        let file = sources.get(site.file);
        let (line, col) = file.line_col(site.span.start);
        Some(format!("{}:{line}:{col}", file.display.display()))
    }
}

/// An ordered, de-duplicated list of diagnostics (a base file shared by two environments must
/// not report the same problem twice).
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if !self.items.contains(&d) {
            self.items.push(d);
        }
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.items {
            self.push(d);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Sorts by file and position so output reads top to bottom.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.site.as_ref().map(|s| (s.file, s.span.start));
            key(a).cmp(&key(b)).then(a.severity.cmp(&b.severity))
        });
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Suggests the closest of `candidates` to a misspelt `word`, for "did you mean" hints.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_close_words_only() {
        let keys = ["services", "system_containers", "network"];
        assert_eq!(did_you_mean("servcies", keys), Some("services"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
