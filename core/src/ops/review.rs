//! `ecsops diff [ENV] --rev BASE`: what a pull request changes, with no credentials, endpoint
//! or state. The environments' manifests at `BASE` (read from git objects, `extends` chains
//! included) stand in for the state, as if they had been applied; the work tree's are planned
//! against them. Without an environment, every environment whose merged manifest differs is
//! planned, so a change to a shared base file shows for each environment that extends it.
//!
//! `ecsops diff TO --from FROM` (promotion) plans FROM's merged manifest, given TO's identity
//! (its `[environment]`, `[state]`, addresses and `[[moved]]`), against TO's: what promoting
//! one to the other would change, without what necessarily differs between them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::Diagnostics;
use crate::gitops::Repo;
use crate::gitops::revision::RevisionTree;
use crate::graph::Address;
use crate::manifest::{Manifest, load_environment};
use crate::plan::{
    self, BASE_INVALID, ENVIRONMENT_REMOVED, Note, PlanInput, SETTING_CHANGED, ami, baseline, cidrs,
};
use crate::source::Sources;
use crate::workspace::{Workspace, WorkspaceError};

use super::diff::{Desired, desired};
use super::{DiffOutcome, OpsError};

/// Plans `environments` (every environment of either revision when empty, keeping those that
/// change) from revision `rev` to the work tree.
pub fn diff_revision(
    ws: &Workspace,
    environments: &[String],
    rev: &str,
) -> Result<Vec<DiffOutcome>, OpsError> {
    let repo = Repo::require(ws.root())?;
    let commit = repo.commit(rev)?;
    let label = commit.short().to_owned();
    let base = ws.with_tree(Arc::new(RevisionTree::new(repo, &commit.id, label.clone())?));
    let head_envs = ws.catalog()?.environments;
    let base_envs = base.catalog().map(|c| c.environments).unwrap_or_default();
    let all = environments.is_empty();
    let names: Vec<String> = if all {
        let union: BTreeSet<String> = head_envs.iter().chain(&base_envs).cloned().collect();
        union.into_iter().collect()
    } else {
        environments.to_vec()
    };
    let mut outcomes = Vec::new();
    for env in &names {
        let in_head = head_envs.contains(env);
        let in_base = base_envs.contains(env);
        if !in_head && !in_base {
            ws.require_environment(env)?;
            return Err(
                WorkspaceError::UnknownEnvironment { name: env.clone(), known: head_envs }.into()
            );
        }
        let head = in_head.then(|| desired(ws, env)).transpose()?;
        // A base that does not validate still lets a pull request that fixes it be reviewed:
        // its plan compares with nothing, and says so.
        let (was, base_invalid) = match in_base.then(|| desired(&base, env)).transpose() {
            Ok(was) => (was, false),
            Err(OpsError::Invalid(_)) if head.is_some() => (None, true),
            Err(OpsError::Invalid(invalid)) => {
                return Err(OpsError::RevisionInvalid {
                    environment: env.clone(),
                    revision: label.clone(),
                    invalid,
                });
            }
            Err(e) => return Err(e),
        };
        // Another environment can make this one invalid at `BASE` (a VPC range they share):
        // when its own merged manifests did not change, merging changes nothing of it.
        if all
            && base_invalid
            && let Some(head) = &head
            && unchanged_at(&base, env, &head.digest)
        {
            continue;
        }
        // What the environment's file itself says of the comparison.
        let file_note = if base_invalid {
            Some((
                BASE_INVALID,
                format!(
                    "does not validate at revision {label}, so this plan compares with nothing and shows every resource as new; `ecsops diff {env}` compares with the state"
                ),
            ))
        } else if was.is_some() && head.is_none() {
            Some((
                ENVIRONMENT_REMOVED,
                format!(
                    "removed since revision {label}: merging this destroys nothing, and an apply of `{env}` fails without its manifest; run `ecsops destroy {env}` before removing the file"
                ),
            ))
        } else {
            None
        };
        let mut outcome = plan_between(env, was.as_ref(), head, &label);
        if let Some((code, message)) = file_note {
            let file = ws.display_path(&ws.manifest_path(env));
            outcome.plan.notes.push(Note {
                code: code.to_owned(),
                address: Address::from(file.to_string_lossy().as_ref()),
                message,
            });
        }
        let settings = outcome.plan.notes.iter().any(|n| n.code == SETTING_CHANGED);
        if !all || outcome.plan.has_changes() || settings {
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

/// Whether `env`'s merged manifests at `base` are those whose digest is `digest`, whether or
/// not they validate there.
fn unchanged_at(base: &Workspace, env: &str, digest: &str) -> bool {
    let mut sources = Sources::default();
    let mut ignored = Diagnostics::default();
    load_environment(base, env, &mut sources, &mut ignored)
        .is_some_and(|loaded| super::diff::digest(&loaded.value) == digest)
}

/// What promoting `from`'s manifests to `to` would change.
pub fn diff_promotion(ws: &Workspace, from: &str, to: &str) -> Result<DiffOutcome, OpsError> {
    let source = desired(ws, from)?;
    let target = desired(ws, to)?;
    let mut promoted = source.manifest.clone();
    let own = &target.manifest;
    promoted.environment.clone_from(&own.environment);
    promoted.state.clone_from(&own.state);
    promoted.moved.clone_from(&own.moved);
    promoted.network.cidr.clone_from(&own.network.cidr);
    promoted.network.public_subnets.clone_from(&own.network.public_subnets);
    promoted.network.private_subnets.clone_from(&own.network.private_subnets);
    promoted.network.allow_overlap_with.clone_from(&own.network.allow_overlap_with);
    let mut graph = crate::graph::build(&promoted, to)?;
    let state = baseline::applied(&target.graph, to, to);
    cidrs::hold(&mut graph, &promoted, Some(&state));
    let notes = ami::pin(&mut graph, Some(&state), None);
    let mut plan = plan::diff(PlanInput {
        environment: to,
        graph: &graph,
        state: Some(&state),
        moved: &[],
        manifest_digest: &target.digest,
    });
    plan.prior_state = None;
    plan.promoted_from = Some(from.to_owned());
    plan.notes = notes;
    // The warnings of `from` are its own diff's to show; these are the target's.
    Ok(DiffOutcome {
        plan,
        sources: target.sources,
        warnings: target.warnings,
        aws_requests: 0,
        saved: None,
    })
}

fn plan_between(
    env: &str,
    was: Option<&Desired>,
    mut head: Option<Desired>,
    label: &str,
) -> DiffOutcome {
    let state = was.map(|w| baseline::applied(&w.graph, env, label));
    let notes = head
        .as_mut()
        .map(|h| {
            cidrs::hold(&mut h.graph, &h.manifest, state.as_ref());
            ami::pin(&mut h.graph, state.as_ref(), None)
        })
        .unwrap_or_default();
    let empty = crate::graph::Graph::default();
    let mut plan = plan::diff(PlanInput {
        environment: env,
        graph: head.as_ref().map_or(&empty, |h| &h.graph),
        state: state.as_ref(),
        moved: head.as_ref().map_or(&[], |h| &h.moved),
        manifest_digest: head.as_ref().map_or("", |h| &h.digest),
    });
    plan.prior_state = None;
    plan.base_revision = Some(label.to_owned());
    plan.notes = notes;
    if let (Some(was), Some(head)) = (was, &head) {
        plan.notes.extend(setting_notes(&was.manifest, &head.manifest));
    }
    let (sources, warnings) = head.map(|h| (h.sources, h.warnings)).unwrap_or_default();
    DiffOutcome { plan, sources, warnings, aws_requests: 0, saved: None }
}

/// The settings that make no resource but decide where and how the environment is applied, as
/// `[table] key` with their values.
fn settings(m: &Manifest) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let environment = serde_json::to_value(&m.environment).unwrap_or_default();
    for key in [
        "protected",
        "release_branch",
        "account_id",
        "role_arn",
        "external_id",
        "session_name",
        "session_duration",
        "profile",
    ] {
        let value = environment.get(key).cloned().unwrap_or(Value::Null);
        out.insert(format!("[environment] {key}"), value);
    }
    if let Ok(Value::Object(state)) = serde_json::to_value(&m.state) {
        for (key, value) in state {
            out.insert(format!("[state] {key}"), value);
        }
    }
    out
}

/// A note per setting that differs between `was` and `head`.
fn setting_notes(was: &Manifest, head: &Manifest) -> Vec<Note> {
    let (was, head) = (settings(was), settings(head));
    let show = |k: &str, v: Option<&Value>| match v {
        None | Some(Value::Null) => "unset".to_owned(),
        // The external id is the shared secret of the role's trust policy: said to be set,
        // never shown (as `validate` masks it).
        Some(_) if k.ends_with(" external_id") => "a hidden value".to_owned(),
        Some(v) => format!("`{v}`"),
    };
    let keys: BTreeSet<&String> = was.keys().chain(head.keys()).collect();
    keys.into_iter()
        .filter(|k| was.get(*k).unwrap_or(&Value::Null) != head.get(*k).unwrap_or(&Value::Null))
        .map(|k| Note {
            code: SETTING_CHANGED.to_owned(),
            address: Address::from(k.as_str()),
            message: format!(
                "changed from {} to {} (a setting that makes no resource)",
                show(k, was.get(k)),
                show(k, head.get(k))
            ),
        })
        .collect()
}
