//! `ecsops diff`: validate one environment, expand it into the desired graph, read its recorded
//! state, refresh it from AWS (unless offline or nothing is recorded yet) and plan.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::gitops::guard::{self, Lacking, Protection, Provenance};
use crate::gitops::{Repo, short};
use crate::graph::{self, Address, Expr, Graph, Kind};
use crate::manifest::Manifest;
use crate::plan::saved::SavedPlan;
use crate::plan::{self, Plan, PlanInput, ami, cidrs};
use crate::provider::Provider;
use crate::provider::aws::AwsProvider;
use crate::provider::aws::ec2_launch_template::Image;
use crate::source::Sources;
use crate::state::{Revision, State};
use crate::workspace::Workspace;

use super::session;
use super::validate::{check_environment, neighbours};
use super::{Invalid, OpsError};

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// `--state-url`: overrides the manifest's `[state]`.
    pub state_url: Option<String>,
    /// `--offline`: plan against the recorded state without reading AWS.
    pub offline: bool,
    /// `--out`: also make the saved plan an apply can run as it is.
    pub save: bool,
}

#[derive(Debug)]
pub struct DiffOutcome {
    pub plan: Plan,
    /// Warnings found while validating (errors stop the diff instead).
    pub sources: Sources,
    pub warnings: Diagnostics,
    /// Requests sent to AWS by the refresh.
    pub aws_requests: usize,
    /// With [`DiffOptions::save`].
    pub saved: Option<Box<SavedPlan>>,
}

/// A valid environment, expanded.
#[derive(Debug)]
pub(crate) struct Desired {
    pub manifest: Manifest,
    pub graph: Graph,
    pub digest: String,
    pub moved: Vec<(Address, Address)>,
    /// The files the environment was read from (its `extends` chain), absolute.
    pub files: Vec<PathBuf>,
    pub sources: Sources,
    pub warnings: Diagnostics,
}

/// Validates `environment` and builds its desired graph; manifest errors stop here.
pub(crate) fn desired(ws: &Workspace, environment: &str) -> Result<Desired, OpsError> {
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
        return Err(OpsError::Invalid(Box::new(Invalid { sources, diagnostics })));
    };
    let graph = graph::build(&manifest, environment)?;
    let moved = manifest
        .moved
        .iter()
        .map(|m| (Address::from(m.from.as_str()), Address::from(m.to.as_str())))
        .collect();
    Ok(Desired {
        digest: digest(&loaded.value),
        files: loaded.paths.clone(),
        manifest,
        graph,
        moved,
        sources,
        warnings: diagnostics,
    })
}

/// A plan and what an apply of it starts from.
#[derive(Debug)]
pub(crate) struct Planning {
    pub plan: Plan,
    /// The state as refreshed, when AWS was read: an update brings the live values, not the
    /// recorded ones, to the desired.
    pub refreshed: Option<State>,
    /// The desired graph with each launch template's AMI pinned (`plan::ami`): what the apply
    /// makes, so it launches the planned AMI, not one published since.
    pub graph: Graph,
}

/// The plan of `desired` against `state`, refreshed from AWS through `provider` when given:
/// live values replace the recorded ones (drift is listed apart), resources deleted outside
/// ecsops are planned again, and the recommended AMIs are asked of SSM (one request, beside
/// the refresh) so a newly published one is a change.
pub(crate) async fn plan(
    environment: &str,
    desired: &Desired,
    state: Option<&State>,
    provider: Option<&AwsProvider>,
) -> Result<Planning, OpsError> {
    let mut graph = desired.graph.clone();
    let recorded = state.filter(|s| !s.resources.is_empty());
    let parameters = ami::parameters(&graph);
    let (refresh, amis) = match provider {
        Some(p) => {
            let refresh = async {
                match recorded {
                    Some(s) => p.refresh(&s.resources).await.map(Some),
                    None => Ok(None),
                }
            };
            let amis = async {
                if parameters.is_empty() { Ok(None) } else { p.amis(&parameters).await.map(Some) }
            };
            tokio::try_join!(refresh, amis)?
        }
        None => (None, None),
    };
    let mut refreshed = None;
    let mut drift = Vec::new();
    let mut rolls = std::collections::BTreeMap::new();
    if let (Some(state), Some(refresh)) = (recorded, refresh) {
        drift = plan::drift(&state.resources, &refresh);
        rolls.clone_from(&refresh.rolls);
        let mut s = state.clone();
        s.resources = refresh.apply_to(&state.resources);
        refreshed = Some(s);
    }
    let resolved = match amis {
        Some((found, unknown)) => {
            if let Some(parameter) = unknown.into_iter().next() {
                return Err(unknown_parameter(desired, &graph, parameter));
            }
            Some(found)
        }
        None => None,
    };
    cidrs::hold(&mut graph, &desired.manifest, refreshed.as_ref().or(state));
    let notes = ami::pin(&mut graph, refreshed.as_ref().or(state), resolved.as_ref());
    let mut plan = plan::diff(PlanInput {
        environment,
        graph: &graph,
        state: refreshed.as_ref().or(state),
        moved: &desired.moved,
        manifest_digest: &desired.digest,
    });
    plan.drift = drift;
    plan.notes = notes;
    plan.rolls = rolls;
    let changed = ami::changed_ids(&plan);
    if let Some(p) = provider
        && !changed.is_empty()
    {
        let images = p.images(&changed).await?;
        architectures(&graph, &plan, &images)?;
        let names = images.into_iter().filter_map(|(id, image)| Some((id, image.name?))).collect();
        ami::name(&mut plan, &names);
    }
    Ok(Planning { plan, refreshed, graph })
}

/// Every AMI a launch template is about to launch fits its instance type's architecture. The
/// manifest alone cannot tell for an explicit AMI id; EC2 refuses the image only when the
/// group launches an instance, after the apply.
fn architectures(
    graph: &Graph,
    plan: &Plan,
    images: &BTreeMap<String, Image>,
) -> Result<(), OpsError> {
    for change in plan.changes.iter().filter(|c| c.kind == Kind::LaunchTemplate) {
        let ami = change
            .attributes
            .iter()
            .filter(|a| a.name == ami::IMAGE_ID)
            .find_map(|a| a.after.as_ref()?.as_str());
        let instance_type = graph.resources.get(&change.address).and_then(|r| {
            match r.attributes.get("instance_type") {
                Some(Expr::Lit(serde_json::Value::String(t))) => Some(t.as_str()),
                _ => None,
            }
        });
        let (Some(ami), Some(instance_type)) = (ami, instance_type) else {
            continue;
        };
        let Some(architecture) = images.get(ami).and_then(|i| i.architecture.as_deref()) else {
            continue;
        };
        let wanted = match crate::validate::is_arm64(instance_type) {
            Some(true) => "arm64",
            Some(false) => "x86_64",
            None => continue,
        };
        if architecture != wanted {
            return Err(OpsError::AmiArchitecture {
                place: ami::manifest_place(&change.address),
                ami: ami.to_owned(),
                architecture: architecture.to_owned(),
                instance_type: instance_type.to_owned(),
                wanted: wanted.to_owned(),
            });
        }
    }
    Ok(())
}

/// SSM has no `parameter`: named at the first instance group that asks for it.
fn unknown_parameter(desired: &Desired, graph: &Graph, parameter: String) -> OpsError {
    let place = ami::from_ssm(graph)
        .into_iter()
        .find(|(_, p)| *p == parameter)
        .map_or_else(String::new, |(a, _)| ami::manifest_place(a));
    OpsError::AmiParameter {
        place,
        parameter,
        region: desired.manifest.environment.region.clone().unwrap_or_default(),
    }
}

pub async fn diff(
    ws: &Workspace,
    environment: &str,
    options: &DiffOptions,
) -> Result<DiffOutcome, OpsError> {
    let desired = desired(ws, environment)?;
    let session = if options.offline {
        None
    } else {
        session::open_if_bound(environment, &desired.manifest).await?
    };
    let target = super::state::target(ws, environment, options.state_url.as_deref()).await?;
    let state = target.backend.read().await?.map(|s| s.state);
    let repo = Repo::discover(ws.root()).ok().flatten();
    let stale = stale_warning(repo.as_ref(), environment, &desired, state.as_ref());
    let refresh = state.as_ref().filter(|s| !options.offline && !s.resources.is_empty());
    let session = session::for_state(
        session,
        environment,
        &desired.manifest,
        state.as_ref(),
        refresh.is_some(),
    )
    .await?;
    let provider = refresh.zip(session.as_ref()).map(|(s, session)| session.provider(s));
    let Planning { mut plan, refreshed, graph } =
        plan(environment, &desired, state.as_ref(), provider.as_ref()).await?;
    plan.caller = session.map(|s| s.caller);
    let saved = if options.save {
        let serial = state.as_ref().map(|s| s.serial);
        let prior = refreshed
            .or(state)
            .unwrap_or_else(|| State::new(environment, uuid::Uuid::new_v4().to_string()));
        let provenance = provenance(ws, environment, &desired)?;
        Some(Box::new(SavedPlan::new(
            plan.clone(),
            graph,
            prior,
            serial,
            provenance.as_ref().map(|p| p.commit.clone()),
            provenance.is_some_and(|p| p.dirty),
        )))
    } else {
        None
    };
    let mut warnings = desired.warnings;
    if let Some(w) = stale {
        warnings.push(w);
    }
    Ok(DiffOutcome {
        plan,
        aws_requests: provider.map_or(0, |p| p.calls().total()),
        sources: desired.sources,
        warnings,
        saved,
    })
}

/// The commit the environment's files come from and whether they differ from it (`None`
/// outside git).
pub(crate) fn provenance(
    ws: &Workspace,
    environment: &str,
    desired: &Desired,
) -> Result<Option<Provenance>, OpsError> {
    let repo = Repo::discover(ws.root())?;
    guard::check(
        repo.as_ref(),
        ws.root(),
        &Protection {
            environment,
            protected: false,
            release_branch: desired.manifest.environment.release_branch(),
            files: &desired.files,
        },
    )
    .map_err(|e| OpsError::Protected(Box::new(e)))
}

/// What a plan from this HEAD would undo. For a protected environment, why its apply would be
/// refused as stale (behind or ahead of `origin/main`, older than or lacking the revision last
/// applied); for another, the revision last applied when HEAD lacks some of it (a colleague's
/// branch or a merge this clone has not pulled).
pub(crate) fn stale_warning(
    repo: Option<&Repo>,
    environment: &str,
    desired: &Desired,
    state: Option<&State>,
) -> Option<Diagnostic> {
    let env = &desired.manifest.environment;
    let repo = repo?;
    let last = state.and_then(|s| s.revision.as_ref());
    if env.protected {
        let applied = last.and_then(Revision::in_git);
        let refusal = guard::stale(repo, environment, env.release_branch(), applied)?;
        return Some(
            Diagnostic::warning(
                "stale-head",
                format!("`ecsops apply {environment}` would refuse: {refusal}"),
            )
            .help(refusal.help()),
        );
    }
    let (commit, tag) = last?.in_git()?;
    let head = repo.head().ok()?;
    let lacking = guard::lacking(repo, &head.commit, commit)?;
    let tag = tag.map(|t| format!(" (`{t}`)")).unwrap_or_default();
    let what = match lacking {
        Lacking::Newer(n) | Lacking::Diverged(n) => format!(
            "which has {} that HEAD lacks: this plan undoes what they changed",
            guard::commits(n)
        ),
        Lacking::Revision => {
            "which this clone does not have: this plan may undo what it changed".to_owned()
        }
    };
    Some(
        Diagnostic::warning(
            "undoes-applied",
            format!(
                "`{environment}` was last applied from commit {}{tag}, {what}",
                short(commit)
            ),
        )
        .help("bring HEAD up to date first (`git pull`, or merge that revision), unless undoing it is the point"),
    )
}

/// SHA-256 of the merged manifest as compact JSON (key order is stable: maps are ordered).
pub(super) fn digest(value: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Sha256::digest(&bytes).iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}
