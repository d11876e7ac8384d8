//! `ecsops apply` and `ecsops destroy`: take the environment's lock, read the state under it,
//! refresh, plan, and (after the CLI's confirmation) walk the plan with the apply engine. The
//! plan shown is the plan applied: nothing can change the state between the two while the
//! lock is held. The lock is released whatever happens.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{self, ApplyOptions, Event, Outcome, Recorder};
use crate::diagnostic::Diagnostics;
use crate::graph::Graph;
use crate::plan::Plan;
use crate::provider::aws::AwsProvider;
use crate::source::Sources;
use crate::state::{LockInfo, State, Version};
use crate::workspace::Workspace;

use super::OpsError;
use super::diff::{Desired, desired, plan, provider};
use super::state::{Target, acquire, target};

#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    pub state_url: Option<String>,
    /// Plan against the recorded state without reading AWS first.
    pub offline: bool,
    /// Remove every recorded resource instead of building the manifest.
    pub destroy: bool,
    /// How long to wait for another holder's lock.
    pub lock_timeout: Duration,
}

/// A plan made under the lock, ready to apply or to abandon.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    pub sources: Sources,
    pub warnings: Diagnostics,
    pub target: Target,
    root: PathBuf,
    lock: LockInfo,
    graph: Graph,
    state: State,
    version: Option<Version>,
    provider: Arc<AwsProvider>,
}

/// Locks, reads, refreshes and plans. `waiting` is told the holder while another lock blocks.
pub async fn prepare(
    ws: &Workspace,
    environment: &str,
    request: &ApplyRequest,
    waiting: &mut dyn FnMut(&LockInfo, Duration),
) -> Result<Prepared, OpsError> {
    let desired = desired(ws, environment)?;
    let target = target(ws, environment, request.state_url.as_deref()).await?;
    let operation = if request.destroy { "destroy" } else { "apply" };
    let lock = LockInfo::new(operation, ws.root());
    acquire(&target, &lock, request.lock_timeout, waiting).await?;
    match plan_locked(environment, desired, request, &target).await {
        Ok((desired, plan, state, version, provider)) => Ok(Prepared {
            plan,
            sources: desired.sources,
            warnings: desired.warnings,
            target,
            root: ws.root().to_owned(),
            lock,
            graph: desired.graph,
            state,
            version,
            provider: Arc::new(provider),
        }),
        Err(e) => {
            if let Err(unlock) = target.backend.unlock(&lock.id).await {
                tracing::warn!(error = %unlock, "could not release the lock");
            }
            Err(e)
        }
    }
}

async fn plan_locked(
    environment: &str,
    mut desired: Desired,
    request: &ApplyRequest,
    target: &Target,
) -> Result<(Desired, Plan, State, Option<Version>, AwsProvider), OpsError> {
    let stored = target.backend.read().await?;
    let (state, version) = match stored {
        Some(s) => (s.state, Some(s.version)),
        None => (
            State::new(environment, uuid::Uuid::new_v4().to_string()),
            None,
        ),
    };
    if request.destroy {
        desired.graph = Graph::default();
        desired.moved.clear();
    }
    let provider = provider(&desired.manifest, &state).await;
    let refresh = (!request.offline).then_some(&provider);
    let (plan, refreshed) = plan(environment, &desired, Some(&state), refresh).await?;
    Ok((desired, plan, refreshed.unwrap_or(state), version, provider))
}

impl Prepared {
    /// The AWS requests sent so far (refresh included).
    pub fn aws_requests(&self) -> usize {
        self.provider.calls().total()
    }

    /// Applies the plan; releases the lock at the end, whatever happened.
    pub async fn apply(
        self,
        options: ApplyOptions,
        interrupt: impl Future<Output = ()> + Send,
        events: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Outcome, OpsError> {
        let mut recorder = Recorder {
            backend: &self.target.backend,
            state: self.state,
            version: self.version,
        };
        let result = apply::apply(
            Arc::clone(&self.provider),
            &self.plan,
            &self.graph,
            &mut recorder,
            options,
            interrupt,
            events,
        )
        .await;
        let released = self.target.backend.unlock(&self.lock.id).await;
        let outcome = result.map_err(|mut e| {
            e.kept_at = keep(&self.root, &e.outcome.state);
            OpsError::SaveFailed(Box::new(e))
        })?;
        released?;
        Ok(outcome)
    }

    /// Gives up without applying: releases the lock.
    pub async fn abandon(self) -> Result<(), OpsError> {
        Ok(self.target.backend.unlock(&self.lock.id).await?)
    }
}

/// Writes a state the backend refused to `.ecsops/errored/<env>-<serial>.json`, so the record
/// of what exists is never lost (`ecsops state push` puts it back).
fn keep(root: &Path, state: &State) -> Option<PathBuf> {
    let dir = root.join(".ecsops/errored");
    let path = dir.join(format!("{}-{}.json", state.environment, state.serial));
    let text = serde_json::to_string_pretty(state).ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(&path, text).ok()?;
    Some(path)
}
