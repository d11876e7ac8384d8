//! What refuses an apply before it changes anything: a saved plan that is stale (another
//! environment, other manifests or commit, another account, an edited file; under the lock,
//! another apply) and a protected environment applied from anything but its committed,
//! reviewed manifests, as published, and no older than the revision last applied.

use std::path::PathBuf;
use std::sync::Arc;

use crate::diagnostic::Diagnostics;
use crate::gitops::guard::{self, Protection, Provenance};
use crate::gitops::revision::RevisionTree;
use crate::gitops::{Repo, short};
use crate::graph::Address;
use crate::manifest::load_environment;
use crate::plan::saved::SavedPlan;
use crate::source::Sources;
use crate::state::State;
use crate::workspace::Workspace;

use super::super::OpsError;
use super::super::diff::Desired;
use super::super::session::Session;
use super::Mode;

/// What makes a saved plan stale that can be seen without the state: another environment, other
/// manifests (or a plan they do not make: an edited file), another commit, another account.
pub(super) fn stale_before_lock(
    environment: &str,
    saved: &SavedPlan,
    desired: &Desired,
    provenance: Option<&Provenance>,
    session: &Session,
    changed_since: &dyn Fn(&str) -> Vec<String>,
) -> Result<(), OpsError> {
    let mut reasons = Vec::new();
    if saved.environment != environment {
        // Another environment's manifests, commit and account say nothing about this one's.
        return stale(
            environment,
            vec![format!("it is a plan of `{}`, not of `{environment}`", saved.environment)],
        );
    }
    if saved.manifest_digest == desired.digest {
        let edited = saved.edited(&desired.graph, &desired.manifest, &desired.moved);
        if !edited.is_empty() {
            reasons.push(format!(
                "its plan of {} is not what the manifests make (the file was edited after it was saved)",
                listed(&edited)
            ));
        }
    } else {
        // A plan made from a clean tree read its commit's files: those that differ now.
        let files = match &saved.commit {
            Some(commit) if !saved.dirty => changed_since(commit),
            _ => Vec::new(),
        };
        reasons.push(if files.is_empty() {
            "the manifests changed since it was saved".to_owned()
        } else {
            format!("the manifests changed since it was saved ({})", files.join(", "))
        });
    }
    let now = provenance.map(|p| p.commit.as_str());
    if saved.commit.as_deref() != now {
        let name =
            |c: Option<&str>| c.map_or_else(|| "no commit".to_owned(), |c| short(c).to_owned());
        reasons.push(format!(
            "it was made at commit {} and HEAD is {}",
            name(saved.commit.as_deref()),
            name(now)
        ));
    }
    if let Some(account) = &saved.account
        && *account != session.caller.account
    {
        reasons.push(format!(
            "it was made in account {account} and the credentials now act in account {}",
            session.caller.account
        ));
    }
    stale(environment, reasons)
}

/// The files among `files` whose text is not what commit `commit` holds (absent there
/// included), as the workspace shows them; empty when git cannot say.
pub(super) fn changed_since(
    ws: &Workspace,
    repo: Option<&Repo>,
    commit: &str,
    files: &[PathBuf],
) -> Vec<String> {
    let Some(tree_repo) = repo.and_then(|_| Repo::discover(ws.root()).ok().flatten()) else {
        return Vec::new();
    };
    let Ok(tree) = RevisionTree::new(tree_repo, commit, String::new()) else {
        return Vec::new();
    };
    let at = ws.with_tree(Arc::new(tree));
    files
        .iter()
        .filter(|f| at.read(f).ok() != ws.read(f).ok())
        .map(|f| format!("`{}`", ws.display_path(f).display()))
        .collect()
}

/// What makes a saved plan stale that only the stored state shows, read under the lock:
/// another apply ran, or the plan's prior is not the state it was read from (an edited file).
pub(super) fn stale_under_lock(
    environment: &str,
    saved: &SavedPlan,
    stored: Option<&State>,
) -> Result<(), OpsError> {
    let mut reasons = Vec::new();
    let serial = stored.map(|s| s.serial);
    if serial != saved.serial {
        let at =
            |s: Option<u64>| s.map_or_else(|| "no state".to_owned(), |s| format!("serial {s}"));
        reasons.push(format!(
            "the state moved from {} to {} (another apply ran)",
            at(saved.serial),
            at(serial)
        ));
    }
    if let Some(s) = stored
        && s.lineage != saved.lineage
    {
        reasons.push(format!("the state's lineage is {}, the plan's {}", s.lineage, saved.lineage));
    }
    if let Some(s) = stored.filter(|_| reasons.is_empty()) {
        let edited = saved.prior_edited(s);
        if !edited.is_empty() {
            reasons.push(format!(
                "its prior state of {} is not the state's (the file was edited after it was saved)",
                listed(&edited)
            ));
        }
    }
    stale(environment, reasons)
}

/// Under the lock, for a protected environment's apply: HEAD must not be older than the
/// revision the stored state was last applied from (a rollback goes back on purpose, and a
/// destroy leaves nothing of any revision).
pub(super) fn older_than_applied(
    environment: &str,
    repo: Option<&Repo>,
    provenance: Option<&Provenance>,
    stored: Option<&State>,
) -> Result<(), OpsError> {
    let applied = stored.and_then(|s| s.revision.as_ref()?.in_git());
    let (Some(repo), Some(head), Some((commit, tag))) = (repo, provenance, applied) else {
        return Ok(());
    };
    guard::check_order(repo, environment, &head.commit, commit, tag)
        .map_err(|e| OpsError::Protected(Box::new(e)))
}

/// `addresses` for a sentence: `a`, `b`.
fn listed(addresses: &[Address]) -> String {
    let quoted: Vec<String> = addresses.iter().map(|a| format!("`{a}`")).collect();
    quoted.join(", ")
}

fn stale(environment: &str, reasons: Vec<String>) -> Result<(), OpsError> {
    if reasons.is_empty() {
        return Ok(());
    }
    Err(OpsError::StalePlan { environment: environment.to_owned(), reasons })
}

/// Today's manifest of a rollback's environment, when it still loads (its files and settings
/// still decide protection: the operator changes the environment from this work tree).
fn today(ws: &Workspace, environment: &str) -> Option<crate::manifest::Loaded> {
    let mut sources = Sources::default();
    load_environment(ws, environment, &mut sources, &mut Diagnostics::default())
}

/// Whether the environment's manifests as HEAD has them say `protected = true` (read from the
/// merged document, so a HEAD whose manifest no longer validates still counts).
fn protected_at_head(ws: &Workspace, environment: &str, repo: Option<&Repo>) -> bool {
    let Some(head) = repo.filter(|r| r.has_commits()).and_then(|r| r.head().ok()) else {
        return false;
    };
    let Ok(Some(tree_repo)) = Repo::discover(ws.root()) else {
        return false;
    };
    let Ok(tree) = RevisionTree::new(tree_repo, &head.commit, short(&head.commit).to_owned())
    else {
        return false;
    };
    let at = ws.with_tree(Arc::new(tree));
    let mut sources = Sources::default();
    load_environment(&at, environment, &mut sources, &mut Diagnostics::default()).is_some_and(|l| {
        l.value.pointer("/environment/protected") == Some(&serde_json::Value::Bool(true))
    })
}

/// The git conditions of a protected environment, checked before the lock: where the apply
/// comes from, and whether the environment is protected (by its manifests as HEAD has them too;
/// a rollback's, also by today's manifest: it is changed from this work tree).
pub(super) fn check_protection(
    ws: &Workspace,
    environment: &str,
    repo: Option<&Repo>,
    desired: &Desired,
    mode: &Mode,
) -> Result<(Option<Provenance>, bool), OpsError> {
    let env = &desired.manifest.environment;
    let rollback = matches!(mode, Mode::Rollback { .. });
    let now = if rollback { today(ws, environment) } else { None };
    let now_env = now.as_ref().and_then(|l| l.manifest.as_ref()).map(|m| &m.environment);
    // Protected by the committed manifests too: a protection taken out in the work tree alone
    // would otherwise let that very change be applied uncommitted.
    let protected = env.protected
        || now_env.is_some_and(|e| e.protected)
        || protected_at_head(ws, environment, repo);
    let (files, release_branch) = if rollback {
        let files =
            now.as_ref().map_or_else(|| vec![ws.manifest_path(environment)], |l| l.paths.clone());
        let branch = now_env
            .and_then(|e| e.release_branch.clone())
            .unwrap_or_else(|| env.release_branch().to_owned());
        (files, branch)
    } else {
        (desired.files.clone(), env.release_branch().to_owned())
    };
    let provenance = guard::check(
        repo,
        ws.root(),
        &Protection { environment, protected, release_branch: &release_branch, files: &files },
    )
    .map_err(|e| OpsError::Protected(Box::new(e)))?;
    // What a rollback applies comes from git objects, whatever the work tree holds.
    let provenance = provenance.map(|p| Provenance { dirty: p.dirty && !rollback, ..p });
    Ok((provenance, protected))
}
