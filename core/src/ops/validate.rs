//! `ecsops validate`: load, schema-check and rule-check environments, collecting every
//! diagnostic of every environment in one run.

use crate::diagnostic::Diagnostics;
use crate::manifest::{Loaded, load_environment};
use crate::source::Sources;
use crate::validate::{self, Neighbour};
use crate::workspace::Workspace;

use super::OpsError;

#[derive(Debug)]
pub struct ValidateReport {
    /// The environments checked, in order.
    pub environments: Vec<String>,
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

impl ValidateReport {
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.has_errors()
    }
}

/// Validates `environments`, or every environment of the workspace when empty.
pub fn validate(ws: &Workspace, environments: &[String]) -> Result<ValidateReport, OpsError> {
    let catalog = ws.catalog()?;
    let environments = if environments.is_empty() {
        catalog.environments.clone()
    } else {
        let mut named: Vec<String> = Vec::new();
        for e in environments {
            ws.require_environment(e)?;
            // Named twice, checked and counted once.
            if !named.contains(e) {
                named.push(e.clone());
            }
        }
        named
    };
    let neighbours = neighbours(ws, &catalog.environments);
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    for env in &environments {
        check_environment(ws, env, &neighbours, &mut sources, &mut diagnostics);
    }
    if let Some(stale) = super::schema::stale_copy(ws) {
        diagnostics.push(stale);
    }
    diagnostics.sort();
    Ok(ValidateReport { environments, sources, diagnostics })
}

/// Loads and checks one environment; the loaded manifest is returned when it has no errors.
pub(super) fn check_environment(
    ws: &Workspace,
    env: &str,
    neighbours: &[Neighbour],
    sources: &mut Sources,
    diagnostics: &mut Diagnostics,
) -> Option<Loaded> {
    let mut own = Diagnostics::default();
    let started = std::time::Instant::now();
    let Some(loaded) = load_environment(ws, env, sources, &mut own) else {
        // Nothing loaded (unreadable file, syntax error, broken `extends`): the reason is in
        // `own` and must reach the user.
        diagnostics.extend(own);
        return None;
    };
    tracing::debug!(environment = env, files = loaded.chain.len(), elapsed = ?started.elapsed(), "loaded manifest");
    let others: Vec<Neighbour> =
        neighbours.iter().filter(|n| n.environment != env).cloned().collect();
    validate::check(&loaded, &others, &mut own);
    if let Some(m) = loaded.manifest.as_ref().filter(|m| !m.moved.is_empty())
        && !own.has_errors()
        && let Ok(graph) = crate::graph::build(m, env)
    {
        let declared = graph.resources.into_keys().collect();
        validate::check_moves(&loaded, &declared, &mut own);
    }
    let ok = !own.has_errors() && loaded.manifest.is_some();
    tracing::info!(environment = env, valid = ok, diagnostics = own.iter().count(), elapsed = ?started.elapsed(), "validated");
    diagnostics.extend(own);
    ok.then_some(loaded)
}

/// The VPC CIDR and log prefix of every environment that loads, for the overlap and collision
/// rules. Environments that do not load are left out: their own validation reports why.
pub(super) fn neighbours(ws: &Workspace, environments: &[String]) -> Vec<Neighbour> {
    let mut scratch = Sources::default();
    environments
        .iter()
        .filter_map(|env| {
            let mut ignored = Diagnostics::default();
            let loaded = load_environment(ws, env, &mut scratch, &mut ignored)?;
            let manifest = loaded.manifest.as_ref()?;
            let network = &manifest.network;
            let cidr = network.cidr.as_deref()?.parse().ok()?;
            Some(Neighbour {
                environment: env.clone(),
                cidr,
                allow_overlap_with: network.allow_overlap_with.clone(),
                log_prefix: manifest.log_prefix(env),
                region: manifest.environment.region.clone(),
                account: validate::account(&manifest.environment),
            })
        })
        .collect()
}
