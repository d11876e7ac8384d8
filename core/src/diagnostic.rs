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
        Self { severity: Severity::Warning, ..Self::error(code, message) }
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
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
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

/// Suggests the recorded name (a state address, an output) meant by `word`: one it begins
/// (`vpc` for `vpc.id`), else one a typo or two away (`service.web` for `service[web]`). Not
/// [`did_you_mean`]: these names share long prefixes (`load_balancer.default.`), which
/// Jaro-Winkler rewards, so it offers `service[web]` for `service[nope]`.
pub fn closest_name<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let begun = candidates
        .clone()
        .into_iter()
        .filter(|c| !word.is_empty() && c.starts_with(word))
        .min_by_key(|c| c.len());
    begun.or_else(|| {
        candidates
            .into_iter()
            .map(|c| (strsim::normalized_damerau_levenshtein(word, c), c))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_name_prefers_a_name_begun_and_ignores_a_shared_prefix() {
        let outputs = ["load_balancer.default.arn", "load_balancer.default.dns_name", "vpc.id"];
        assert_eq!(
            closest_name("load_balancer.default.dns", outputs),
            Some("load_balancer.default.dns_name")
        );
        assert_eq!(closest_name("vpc", outputs), Some("vpc.id"));
        let addresses = ["service[web]", "service[api]", "vpc"];
        assert_eq!(closest_name("service.web", addresses), Some("service[web]"));
        assert_eq!(closest_name("service[nope]", addresses), None);
    }

    #[test]
    fn did_you_mean_finds_close_words_only() {
        let keys = ["services", "system_containers", "network"];
        assert_eq!(did_you_mean("servcies", keys), Some("services"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
