//! JSON documents of the commands that report (`validate`, `state list`, `state show`,
//! `state history`, `lock`, `output`, `history`), for machines, in the versioned format
//! documented in `docs/json-output.md`. Each document is one pretty-printed object ending in a newline and
//! starts with `format_version` and `ecsops_version`, as the plan JSON does. The tests keep the
//! documentation and the serialized fields in step.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::graph::{Address, Kind};
use crate::ops::history::History;
use crate::source::Sources;
use crate::state::{HistoryEntry, LockInfo, ResourceState, State};

/// `"MAJOR.MINOR"` of every document here; the rules are those of the plan JSON.
pub const REPORT_FORMAT_VERSION: &str = "1.4";

#[derive(Serialize)]
struct Document<T> {
    format_version: &'static str,
    ecsops_version: &'static str,
    #[serde(flatten)]
    body: T,
}

pub(super) fn render<T: Serialize>(body: T) -> String {
    versioned(body, serde_json::to_string_pretty)
}

/// `body` as one line of JSON Lines, versioned like a document (`events --follow`).
pub(super) fn render_line<T: Serialize>(body: T) -> String {
    versioned(body, serde_json::to_string)
}

/// `body` with the version fields first, written by `write` and ended by a newline.
fn versioned<T: Serialize>(
    body: T,
    write: fn(&Document<T>) -> serde_json::Result<String>,
) -> String {
    let document = Document {
        format_version: REPORT_FORMAT_VERSION,
        ecsops_version: env!("CARGO_PKG_VERSION"),
        body,
    };
    // Serializing cannot fail: every map here has string keys.
    let mut s = write(&document).expect("a report serializes to JSON");
    s.push('\n');
    s
}

#[derive(Serialize)]
struct Validation<'a> {
    valid: bool,
    environments: &'a [String],
    errors: usize,
    warnings: usize,
    diagnostics: Vec<Finding<'a>>,
}

#[derive(Serialize)]
struct Finding<'a> {
    severity: Severity,
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

impl<'a> Finding<'a> {
    fn of(d: &'a Diagnostic, sources: &Sources) -> Self {
        let at = d.site.as_ref().map(|site| {
            let file = sources.get(site.file);
            let (line, column) = file.line_col(site.span.start);
            (file.display.display().to_string(), line, column)
        });
        let (file, line, column) = match at {
            Some((f, l, c)) => (Some(f), Some(l), Some(c)),
            None => (None, None, None),
        };
        Self {
            severity: d.severity,
            code: d.code,
            message: &d.message,
            file,
            line,
            column,
            label: d.label.as_deref(),
            help: d.help.as_deref(),
        }
    }
}

/// `validate --format json`: every diagnostic with where it points. Snippets are left out, so
/// a sensitive site's text is never in the document.
pub fn validation(environments: &[String], sources: &Sources, diagnostics: &Diagnostics) -> String {
    let errors = diagnostics.error_count();
    render(Validation {
        valid: errors == 0,
        environments,
        errors,
        warnings: diagnostics.iter().count() - errors,
        diagnostics: diagnostics.iter().map(|d| Finding::of(d, sources)).collect(),
    })
}

#[derive(Serialize)]
struct Recorded<'a, T> {
    environment: &'a str,
    location: &'a str,
    /// `None` when the environment has no state yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lineage: Option<&'a str>,
    #[serde(flatten)]
    body: T,
}

impl<'a, T> Recorded<'a, T> {
    fn of(environment: &'a str, location: &'a str, state: Option<&'a State>, body: T) -> Self {
        Self {
            environment,
            location,
            serial: state.map(|s| s.serial),
            lineage: state.map(|s| s.lineage.as_str()),
            body,
        }
    }
}

#[derive(Serialize)]
struct Listing<'a> {
    resources: Vec<Listed<'a>>,
}

#[derive(Serialize)]
struct Listed<'a> {
    address: &'a Address,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

/// `state list --format json`: the recorded resources in address order (none without state).
pub fn state_list(environment: &str, location: &str, state: Option<&State>) -> String {
    let resources = state
        .into_iter()
        .flat_map(|s| &s.resources)
        .map(|(address, r)| Listed { address, kind: r.kind, id: r.id.as_deref() })
        .collect();
    render(Recorded::of(environment, location, state, Listing { resources }))
}

#[derive(Serialize)]
struct Shown<'a> {
    address: &'a Address,
    resource: &'a ResourceState,
}

/// `state show --format json`: one recorded resource as the state document holds it.
pub fn state_show(
    environment: &str,
    location: &str,
    state: &State,
    address: &Address,
    resource: &ResourceState,
) -> String {
    render(Recorded::of(environment, location, Some(state), Shown { address, resource }))
}

#[derive(Serialize)]
struct StateHistory<'a> {
    environment: &'a str,
    location: &'a str,
    versions: Vec<Kept<'a>>,
    omitted: usize,
}

#[derive(Serialize)]
struct Kept<'a> {
    serial: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    when: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    who: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    version: &'a str,
}

/// `state history --format json`: the newest `limit` kept versions, newest first.
pub fn state_history(
    environment: &str,
    location: &str,
    entries: &[HistoryEntry],
    limit: usize,
) -> String {
    render(StateHistory {
        environment,
        location,
        versions: entries
            .iter()
            .take(limit)
            .map(|h| Kept {
                serial: h.serial,
                when: h.when.as_deref(),
                who: h.who.as_deref(),
                summary: h.summary.as_deref(),
                version: &h.version,
            })
            .collect(),
        omitted: entries.len().saturating_sub(limit),
    })
}

/// `history --format json`: the applied revisions, newest applied first, cross-checked with
/// the state.
pub fn history(history: &History) -> String {
    render(history)
}

#[derive(Serialize)]
struct Lock<'a> {
    environment: &'a str,
    location: &'a str,
    locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    holder: Option<&'a LockInfo>,
}

/// `lock --format json`: whether the lock is held, and by whom.
pub fn lock(environment: &str, location: &str, holder: Option<&LockInfo>) -> String {
    render(Lock { environment, location, locked: holder.is_some(), holder })
}

#[derive(Serialize)]
struct Outputs<'a> {
    outputs: &'a BTreeMap<String, Value>,
}

/// `output --format json`: every output of the recorded state, by name.
pub fn outputs(
    environment: &str,
    location: &str,
    state: Option<&State>,
    outputs: &BTreeMap<String, Value>,
) -> String {
    render(Recorded::of(environment, location, state, Outputs { outputs }))
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::render::format_docs;
    use crate::source::Site;

    fn state() -> State {
        serde_json::from_value(json!({
            "version": 2, "lineage": "l-1", "serial": 7, "environment": "acc",
            "resources": {
                "load_balancer[default]": {"kind": "load_balancer", "id": "arn:lb",
                    "attributes": {"name": "acc-default"},
                    "outputs": {"dns_name": "acc-default-1.elb.amazonaws.com"}},
                "route.public_internet": {"kind": "route"}
            }
        }))
        .expect("state")
    }

    pub(in crate::render) fn holder() -> LockInfo {
        LockInfo {
            id: "id-1".to_owned(),
            operation: "apply".to_owned(),
            who: "me@host".to_owned(),
            when: "2026-01-01T00:00:00Z".to_owned(),
            version: "0.1.0".to_owned(),
            commit: Some("abc".to_owned()),
            account: Some("123456789012".to_owned()),
            caller: Some(
                "arn:aws:sts::123456789012:assumed-role/deployer/ecsops-acc-me".to_owned(),
            ),
        }
    }

    /// One document of each command, every optional field present, by its section title in
    /// the documentation.
    fn documents() -> Vec<(&'static str, Value)> {
        let mut sources = Sources::default();
        let file = sources.add("environments/acc.toml", "[network]\ncidr = 1\n".to_owned());
        let mut diagnostics = Diagnostics::default();
        diagnostics.push(
            Diagnostic::error("wrong-type", "`cidr` must be a string")
                .at(Some(Site { file, span: 17..18 }))
                .label("a number")
                .help("write `cidr = \"10.0.0.0/16\"`"),
        );
        // A real code: the e2e suite checks that every code in the sources has a fixture.
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error("wrong-type", "about the workspace")
        });
        let state = state();
        let (address, resource) = state.resources.iter().next().expect("a resource");
        let entries = vec![
            HistoryEntry {
                serial: 7,
                when: Some("2026-01-01T00:00:00Z".to_owned()),
                who: Some("me@host".to_owned()),
                summary: Some("apply ecsops/acc/7 (applied)".to_owned()),
                version: "v7".to_owned(),
            },
            HistoryEntry {
                serial: 6,
                when: None,
                who: None,
                summary: None,
                version: "v6".to_owned(),
            },
        ];
        let named = crate::state::outputs::named(&state);
        let parse = |s: String| serde_json::from_str::<Value>(&s).expect("JSON");
        vec![
            ("validate", parse(validation(&["acc".to_owned()], &sources, &diagnostics))),
            ("state list", parse(state_list("acc", "here", Some(&state)))),
            ("state show", parse(state_show("acc", "here", &state, address, resource))),
            ("state history", parse(state_history("acc", "here", &entries, 1))),
            ("lock", parse(lock("acc", "here", Some(&holder())))),
            ("output", parse(outputs("acc", "here", Some(&state), &named))),
            ("status", parse(crate::render::status::json(&crate::render::status::example()))),
            (
                "apply",
                parse(crate::render::apply_report::json(
                    "acc",
                    crate::state::Operation::Apply,
                    crate::render::apply_report::Ended::Done(
                        &crate::render::apply_report::example(),
                    ),
                )),
            ),
            (
                "events",
                parse(crate::render::events::json("acc", &crate::render::events::example())),
            ),
            ("roll", parse(crate::render::roll::json(&crate::render::roll::example()))),
            ("history", parse(history(&applied()))),
        ]
    }

    /// A history in which every optional field is present.
    fn applied() -> History {
        use crate::ops::history::{AppliedRevision, RollbackOf};
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let revision = AppliedRevision {
            serial: 14,
            tag: Some("ecsops/acc/14".to_owned()),
            commit: commit.to_owned(),
            short_commit: "0123456".to_owned(),
            subject: Some("Lower capacity".to_owned()),
            author: Some("Dana Reviewer".to_owned()),
            operation: Some(crate::state::Operation::Rollback),
            lineage: Some("l-1".to_owned()),
            applied_by: Some("me@host".to_owned()),
            applied_at: Some("2026-01-01T00:00:00Z".to_owned()),
            summary: Some("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.".to_owned()),
            account: Some("123456789012".to_owned()),
            rolled_back_to: Some(RollbackOf {
                tag: Some("ecsops/acc/3".to_owned()),
                commit: commit.to_owned(),
            }),
            current: true,
            notes: vec![
                "from another state lineage (l-0): the state was replaced since".to_owned(),
            ],
        };
        History {
            environment: "acc".to_owned(),
            revisions: vec![revision],
            warnings: vec!["the state could not be read (denied): not cross-checked".to_owned()],
        }
    }

    #[test]
    fn history_leaves_out_what_a_revision_does_not_know() {
        let mut known = applied();
        let r = &mut known.revisions[0];
        (r.tag, r.subject, r.author, r.operation, r.lineage) = (None, None, None, None, None);
        (r.applied_by, r.applied_at, r.summary, r.account) = (None, None, None, None);
        r.rolled_back_to = None;
        let value: Value = serde_json::from_str(&history(&known)).expect("JSON");
        let fields: BTreeSet<&str> = value["revisions"][0]
            .as_object()
            .expect("a revision")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from(["serial", "commit", "short_commit", "current", "notes"])
        );
    }

    /// A resource and the outputs by name are user data, not format fields.
    const USER_DATA: &[&str] = &["resource", "outputs"];

    /// The field names in the tables of the section titled `` ## `ecsops <command>` ``.
    fn documented(doc: &str, command: &str) -> BTreeSet<String> {
        let heading = format!("## `ecsops {command}");
        let start = doc.find(&heading).unwrap_or_else(|| panic!("no section {heading}"));
        let section = &doc[start + heading.len()..];
        format_docs::table_fields(&section[..section.find("\n## ").unwrap_or(section.len())])
    }

    #[test]
    fn every_document_is_versioned_and_documented_field_for_field() {
        let doc = format_docs::documentation("json-output.md");
        assert!(doc.contains(&format!("currently `\"{REPORT_FORMAT_VERSION}\"`")));
        for (command, value) in documents() {
            assert_eq!(value["format_version"], REPORT_FORMAT_VERSION, "{command}");
            let mut serialized = BTreeSet::new();
            format_docs::field_names(&value, USER_DATA, &mut serialized);
            assert_eq!(
                documented(&doc, command),
                serialized,
                "docs/json-output.md and `ecsops {command} --format json` disagree"
            );
        }
    }

    #[test]
    fn diagnostics_carry_their_position_and_counts_add_up() {
        let (_, value) = documents().swap_remove(0);
        assert_eq!(value["valid"], false);
        assert_eq!((value["errors"].clone(), value["warnings"].clone()), (json!(1), json!(1)));
        assert_eq!(
            value["diagnostics"][0],
            json!({"severity": "error", "code": "wrong-type", "message": "`cidr` must be a string",
                   "file": "environments/acc.toml", "line": 2, "column": 8,
                   "label": "a number", "help": "write `cidr = \"10.0.0.0/16\"`"})
        );
        assert_eq!(
            value["diagnostics"][1],
            json!({"severity": "warning", "code": "wrong-type", "message": "about the workspace"})
        );
    }

    #[test]
    fn a_missing_state_lists_nothing_and_history_counts_what_the_limit_left_out() {
        let value: Value = serde_json::from_str(&state_list("acc", "here", None)).expect("json");
        assert_eq!(value["resources"], json!([]));
        assert!(value.get("serial").is_none());
        let (_, history) = documents().swap_remove(3);
        assert_eq!(history["versions"].as_array().map(Vec::len), Some(1));
        assert_eq!(history["omitted"], 1);
    }
}
