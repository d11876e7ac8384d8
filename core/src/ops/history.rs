//! `ecsops history ENV`: the revisions applied to an environment, newest applied first, read
//! from its `ecsops/<env>/<serial>` tags and cross-checked with the recorded state: the
//! revision the state names as current, an applied revision whose tag this clone lacks, an
//! apply that was not tagged (uncommitted files, a failure), and tags the state does not
//! account for. The order is by when each was applied, not by serial: the tags of an earlier
//! state lineage (the state was lost or replaced) may carry higher serials than newer applies.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::SystemTime;

use serde::Serialize;

use crate::gitops::tag::instant;
use crate::gitops::{Repo, short};
use crate::state::{ApplyResult, Operation, State};
use crate::workspace::Workspace;

use super::OpsError;
use super::state::target;

/// The applied revisions; `render::reports::history` writes them as the versioned JSON
/// document of `docs/json-output.md`, whose optional fields are omitted when unknown.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub environment: String,
    /// Newest applied first.
    pub revisions: Vec<AppliedRevision>,
    /// What could not be read (no repository, no state): the list is partial.
    pub warnings: Vec<String>,
}

/// One applied revision.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedRevision {
    pub serial: u64,
    /// `None` for the state's last apply when it was not tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub commit: String,
    pub short_commit: String,
    /// The commit's subject and author; `None` when this clone lacks the commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// What the tag's message or the state records; `None` for a tag ecsops did not write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// The plan summary line, which only tags record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A rollback's target: tag (when it had one) and commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<RollbackOf>,
    /// The revision the state records as the last apply.
    pub current: bool,
    /// What the cross-check with the state found.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackOf {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub commit: String,
}

impl RollbackOf {
    pub fn describe(&self) -> String {
        match &self.tag {
            Some(t) => format!("{t} ({})", short(&self.commit)),
            None => short(&self.commit).to_owned(),
        }
    }
}

pub async fn history(
    ws: &Workspace,
    environment: &str,
    state_url: Option<&str>,
) -> Result<History, OpsError> {
    ws.require_environment(environment)?;
    let mut warnings = Vec::new();
    let repo = Repo::discover(ws.root())?;
    let tags = if let Some(r) = &repo {
        r.tags(environment)?
    } else {
        warnings.push(format!(
            "`{}` is not in a git repository: there are no tags to read",
            ws.root().display()
        ));
        Vec::new()
    };
    let (state, kept) = match read_state(ws, environment, state_url).await {
        Ok(found) => found,
        Err(e) => {
            warnings.push(format!("the state could not be read ({e}): not cross-checked"));
            (None, BTreeSet::new())
        }
    };
    // Each with when it was applied, for the order.
    let mut revisions: Vec<(SystemTime, AppliedRevision)> = tags
        .into_iter()
        .map(|t| {
            let when = t.when();
            let mut notes = Vec::new();
            let r = t.record.as_ref();
            if r.is_none() {
                notes.push("not an ecsops tag message: made by hand?".to_owned());
            }
            if let (Some(state), Some(r)) = (&state, r) {
                if r.lineage != state.lineage {
                    notes.push(format!(
                        "from another state lineage ({}): the state was replaced since",
                        r.lineage
                    ));
                } else if t.serial > state.serial {
                    notes.push(format!(
                        "newer than the state (serial {}): the state was replaced since",
                        state.serial
                    ));
                } else if !kept.is_empty() && !kept.contains(&t.serial) {
                    notes.push("no longer among the kept state versions".to_owned());
                }
            }
            let revision = AppliedRevision {
                serial: t.serial,
                current: state
                    .as_ref()
                    .and_then(|s| s.revision.as_ref())
                    .and_then(|rev| rev.tag.as_deref())
                    == Some(t.name.as_str()),
                short_commit: t.commit.short().to_owned(),
                tag: Some(t.name),
                subject: Some(t.commit.subject),
                author: Some(t.commit.author).filter(|a| !a.is_empty()),
                commit: t.commit.id,
                operation: r.map(|r| r.operation),
                lineage: r.map(|r| r.lineage.clone()),
                applied_by: r.and_then(|r| known(&r.applied_by)),
                applied_at: r.and_then(|r| known(&r.applied_at)),
                summary: r.and_then(|r| known(&r.summary)),
                account: r.and_then(|r| r.account.clone()),
                rolled_back_to: r
                    .and_then(|r| r.rolled_back_to.clone())
                    .map(|(tag, commit)| RollbackOf { tag, commit }),
                notes,
            };
            (when, revision)
        })
        .collect();
    if let Some(entry) = state.as_ref().and_then(|s| last_apply(s, &revisions, repo.as_ref())) {
        // The state's own record of its last apply; unreadable, it is still the newest.
        let when = entry.applied_at.as_deref().and_then(instant).unwrap_or_else(SystemTime::now);
        revisions.push((when, entry));
    }
    revisions.sort_by_key(|(when, r)| Reverse((*when, r.serial)));
    Ok(History {
        environment: environment.to_owned(),
        revisions: revisions.into_iter().map(|(_, r)| r).collect(),
        warnings,
    })
}

/// The state, and the serials its backend keeps; `None` when never applied.
async fn read_state(
    ws: &Workspace,
    environment: &str,
    state_url: Option<&str>,
) -> Result<(Option<State>, BTreeSet<u64>), OpsError> {
    let target = target(ws, environment, state_url).await?;
    let Some(stored) = target.backend.read().await? else {
        return Ok((None, BTreeSet::new()));
    };
    let kept = target
        .backend
        .history()
        .await
        .map(|h| h.iter().map(|e| e.serial).collect())
        .unwrap_or_default();
    Ok((Some(stored.state), kept))
}

/// The state's last apply when no tag shows it: untagged (uncommitted files, failed,
/// interrupted) or tagged in another clone.
fn last_apply(
    state: &State,
    listed: &[(SystemTime, AppliedRevision)],
    repo: Option<&Repo>,
) -> Option<AppliedRevision> {
    let rev = state.revision.as_ref()?;
    // Outside git there is no revision to show; `state history` lists such applies.
    let applied_from = rev.commit.as_deref()?;
    if let Some(t) = &rev.tag
        && listed.iter().any(|(_, r)| r.tag.as_deref() == Some(t))
    {
        return None;
    }
    let serial =
        rev.tag.as_deref().and_then(|t| t.rsplit('/').next()?.parse().ok()).unwrap_or(state.serial);
    let note = match (&rev.tag, rev.result) {
        (Some(t), _) if repo.is_none() => {
            format!(
                "tag `{t}` is in the repository it was applied from; this workspace is not in a git repository"
            )
        }
        (Some(t), _) => {
            format!("tag `{t}` is not in this repository: `git fetch --tags` brings it")
        }
        (None, ApplyResult::Failed) => "not tagged: the apply failed".to_owned(),
        (None, ApplyResult::RolloutFailed) => {
            "not tagged: every change was made, but a rollout did not complete".to_owned()
        }
        (None, ApplyResult::Interrupted) => "not tagged: the apply was interrupted".to_owned(),
        (None, ApplyResult::Applied) if rev.dirty => {
            "not tagged: applied from uncommitted files".to_owned()
        }
        (None, ApplyResult::Applied) => "not tagged".to_owned(),
    };
    let commit = repo.and_then(|r| r.commit(applied_from).ok());
    Some(AppliedRevision {
        serial,
        tag: rev.tag.clone(),
        short_commit: short(applied_from).to_owned(),
        subject: commit.as_ref().map(|c| c.subject.clone()),
        author: commit.map(|c| c.author).filter(|a| !a.is_empty()),
        commit: applied_from.to_owned(),
        operation: Some(rev.operation),
        lineage: Some(state.lineage.clone()),
        applied_by: Some(rev.applied_by.clone()),
        applied_at: Some(rev.applied_at.clone()),
        summary: None,
        account: state.account(),
        rolled_back_to: rev
            .rolled_back_to
            .as_ref()
            .map(|r| RollbackOf { tag: r.tag.clone(), commit: r.commit.clone() }),
        current: true,
        notes: vec![note],
    })
}

/// A trailer's value, `None` when the tag's message left it out.
fn known(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}
