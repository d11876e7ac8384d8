//! `ecsops diff`: validate one environment, expand it into the desired graph, read its recorded
//! state and plan. Offline: needs no credentials and no network.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostics;
use crate::graph::{self, Address};
use crate::plan::{self, Plan, PlanInput};
use crate::source::Sources;
use crate::workspace::Workspace;

use super::validate::{check_environment, neighbours};
use super::{Invalid, OpsError};

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// `--state-url`: overrides the manifest's `[state]`.
    pub state_url: Option<String>,
}

#[derive(Debug)]
pub struct DiffOutcome {
    pub plan: Plan,
    /// Warnings found while validating (errors stop the diff instead).
    pub sources: Sources,
    pub warnings: Diagnostics,
}

pub async fn diff(
    ws: &Workspace,
    environment: &str,
    options: &DiffOptions,
) -> Result<DiffOutcome, OpsError> {
    ws.require_environment(environment)?;
    let catalog = ws.catalog()?;
    let neighbours = neighbours(ws, &catalog.environments);
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    let loaded = check_environment(ws, environment, &neighbours, &mut sources, &mut diagnostics);
    let Some((loaded, manifest)) = loaded.and_then(|l| {
        let m = l.manifest.clone()?;
        Some((l, m))
    }) else {
        diagnostics.sort();
        return Err(OpsError::Invalid(Box::new(Invalid {
            sources,
            diagnostics,
        })));
    };
    let graph = graph::build(&manifest, environment)?;
    let target = super::state::target(ws, environment, options.state_url.as_deref()).await?;
    let state = target.backend.read().await?.map(|s| s.state);
    let moved: Vec<(Address, Address)> = manifest
        .moved
        .iter()
        .map(|m| (Address::from(m.from.as_str()), Address::from(m.to.as_str())))
        .collect();
    let digest = digest(&loaded.value);
    let plan = plan::diff(PlanInput {
        environment,
        graph: &graph,
        state: state.as_ref(),
        moved: &moved,
        manifest_digest: &digest,
    });
    Ok(DiffOutcome {
        plan,
        sources,
        warnings: diagnostics,
    })
}

/// SHA-256 of the merged manifest as compact JSON (key order is stable: maps are ordered).
fn digest(value: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}
