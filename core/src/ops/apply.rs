//! `ecsops apply`, `destroy` and `rollback`: the whole workflow in one owner, so every way out
//! releases the lock. Git checks (protected environments) and the account guard come first,
//! before the lock; then
//! lock → read state → refresh → plan → confirm (the CLI asks; an interrupt here cancels) →
//! walk (the state saved after every step) → wait for the rollouts of the services it created
//! or changed → read why the failed ones failed (their events and the new revision's stopped
//! tasks) → retire old revisions the completed rollouts no longer need → record the
//! revision → tag → unlock. The plan shown is the plan applied: nothing can change the state
//! between the two while the lock is held, and no other apply starts a rollout on top of one
//! being waited for. A failed or timed-out rollout is recorded as a failed apply: no tag.
//! A plan that changes nothing, made against a state that records resources deleted outside
//! ecsops, is not "no changes": without a walk or a question, the state forgets them (a
//! destroy after everything is gone ends with an empty state, recorded like any destroy).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{self, ApplyOptions, Event, Outcome, Recorder, SaveFailed};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::gitops::guard::Provenance;
use crate::gitops::revision::{self, RevisionTree, Target as RollbackTarget};
use crate::gitops::{GitError, Repo, tag};
use crate::graph::{Address, Graph, Kind};
use crate::plan::saved::SavedPlan;
use crate::plan::{Action, Plan, Summary};
use crate::provider::aws::AwsProvider;
use crate::rollout::{self, RolloutResult, WaitOptions};
use crate::source::Sources;
use crate::state::{ApplyResult, LockInfo, Operation, Revision, RolledBackTo, State, StateError};
use crate::workspace::Workspace;

use super::OpsError;
use super::diff::{Desired, Planning, desired, plan, stale_warning};
use super::session::Session;
use super::state::{Target, acquire, release, target};

mod refusals;
mod rollouts;

use refusals::{
    changed_since, check_protection, older_than_applied, stale_before_lock, stale_under_lock,
};

/// What to do to the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Make AWS match the work tree's manifests.
    #[default]
    Apply,
    /// Remove every recorded resource.
    Destroy,
    /// Make AWS match the manifests at a git revision (a tag, a serial or a commit).
    Rollback { to: String },
}

impl Mode {
    pub fn operation(&self) -> Operation {
        match self {
            Self::Apply => Operation::Apply,
            Self::Destroy => Operation::Destroy,
            Self::Rollback { .. } => Operation::Rollback,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    pub mode: Mode,
    pub state_url: Option<String>,
    /// Plan against the recorded state without reading AWS first.
    pub offline: bool,
    /// How long to wait for another holder's lock.
    pub lock_timeout: Duration,
    /// Apply without asking.
    pub auto_approve: bool,
    pub options: ApplyOptions,
    /// How long to wait for the rollouts; `None` (`--no-wait`): not at all, and no old
    /// revision is retired (nothing says the services moved off it).
    pub wait: Option<WaitOptions>,
    /// `apply --plan FILE`: apply exactly this plan (refused when stale) instead of planning.
    pub saved: Option<Box<SavedPlan>>,
}

/// What the operator must type to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub environment: String,
    pub operation: Operation,
    pub summary: Summary,
    /// `yes`, or the environment's name for a destroy or a protected environment.
    pub answer: String,
    pub protected: bool,
}

/// The plan about to be confirmed, for the CLI to show.
#[derive(Debug)]
pub struct Planned<'a> {
    pub plan: &'a Plan,
    /// The steps applying it takes (a replacement's destroy and create, a retirement and a
    /// listener rule's parking each count): the total of a progress display.
    pub steps: usize,
    /// The changes held until the rollouts complete (what the old revisions' tasks use); none
    /// without a rollout wait.
    pub held: Vec<(Address, Action)>,
    pub sources: &'a Sources,
    pub warnings: &'a Diagnostics,
    /// A rollback's target.
    pub rollback: Option<&'a RollbackTarget>,
}

/// An answer that may take a while (a person at a terminal).
pub type Answer = Pin<Box<dyn Future<Output = Result<bool, String>> + Send>>;

/// The CLI's side of the workflow: where it shows things and asks.
pub trait Interaction: Send {
    /// Another holder has the lock; `left` of the lock timeout remains.
    fn waiting_for_lock(&mut self, holder: &LockInfo, left: Duration);
    /// The plan, before confirmation (also when it has no changes).
    fn planned(&mut self, planned: &Planned<'_>);
    /// Whether the operator typed `confirmation.answer`; `Err` with the reason when nobody
    /// can be asked (no terminal).
    fn confirm(&mut self, confirmation: &Confirmation) -> Answer;
    fn event(&mut self, event: Event);
}

/// How the workflow ended.
#[derive(Debug)]
pub enum ApplyReport {
    NoChanges,
    /// The operator did not confirm.
    Cancelled,
    /// Ctrl-C before anything was changed.
    Interrupted,
    Done(Box<Done>),
}

/// A walk that ran.
#[derive(Debug)]
pub struct Done {
    pub outcome: Outcome,
    /// The rollout of each service the walk created or changed, when the walk succeeded and
    /// the apply waited.
    pub rollouts: Vec<RolloutResult>,
    pub tagging: Tagging,
    /// A rollback's target and the files (as git names them) it restored in AWS but not in
    /// the work tree.
    pub rollback: Option<(RollbackTarget, Vec<String>)>,
    /// After a launch template change: the instance groups whose running instances do not run
    /// what they launch now, with how many (`ecsops roll` replaces them).
    pub outdated: Vec<(String, usize)>,
    /// Recorded resources the refresh found deleted outside ecsops and the plan did not make
    /// again (`Plan::forgotten`): the state no longer records them. When the plan changed
    /// nothing else, they are all the apply did (no walk, nothing asked of AWS).
    pub forgotten: Vec<Address>,
    /// Recorded resources changed outside ecsops to what the manifest asks: when the plan
    /// changed nothing, the apply only recorded their live values (empty after a walk, which
    /// records them with the rest).
    pub recorded: Vec<Address>,
    /// The lock, when releasing it failed after the apply ended: the apply's report stands,
    /// and `ecsops unlock` removes the lock if it is still there.
    pub lock_left: Option<LockLeft>,
}

/// A lock an apply or a roll could not release once it ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LockLeft {
    pub id: String,
    /// Why releasing it failed.
    pub reason: String,
}

impl Done {
    /// The walk and every rollout finished.
    pub fn succeeded(&self) -> bool {
        succeeded(&self.outcome, &self.rollouts)
    }
}

/// Whether the walk and every rollout finished: what tags the revision and exits 0.
fn succeeded(outcome: &Outcome, rollouts: &[RolloutResult]) -> bool {
    outcome.succeeded() && rollouts.iter().all(RolloutResult::completed)
}

/// Whether the applied revision was tagged, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagging {
    Tagged {
        name: String,
        commit: String,
    },
    /// The workspace is not in a git repository (or it has no commit).
    NoRepository,
    /// The environment's files had uncommitted changes.
    Dirty,
    /// The apply failed, was interrupted, or a rollout did not complete.
    Unfinished,
    /// A tag of that name appeared after the apply chose its serial above every tag (made by
    /// hand, or by an apply with another state, meanwhile); it is never moved.
    Exists {
        name: String,
    },
    /// Making the tag failed; the apply itself is saved.
    Failed(String),
}

/// Runs the workflow. `interrupt` resolving (Ctrl-C) cancels before the walk and stops it
/// cleanly during it.
pub async fn run(
    ws: &Workspace,
    environment: &str,
    request: &ApplyRequest,
    ui: &mut dyn Interaction,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<ApplyReport, OpsError> {
    let mut interrupt = std::pin::pin!(interrupt);
    let repo = Repo::discover(ws.root())?;
    let (mut desired, rollback) = match &request.mode {
        Mode::Rollback { to } => {
            let (desired, target) = desired_at(ws, environment, repo.as_ref(), to)?;
            (desired, Some(target))
        }
        Mode::Apply | Mode::Destroy => (desired(ws, environment)?, None),
    };
    let (provenance, protected) =
        check_protection(ws, environment, repo.as_ref(), &desired, &request.mode)?;
    // The account guard, before the lock is taken or the state read; connecting to the
    // backend reads neither, so the two round trips overlap.
    let (session, target) = tokio::try_join!(
        Session::open(environment, &desired.manifest),
        target(ws, environment, request.state_url.as_deref())
    )?;
    if let Some(saved) = &request.saved {
        let changed = |commit: &str| changed_since(ws, repo.as_ref(), commit, &desired.files);
        stale_before_lock(environment, saved, &desired, provenance.as_ref(), &session, &changed)?;
    }
    if request.mode == Mode::Destroy {
        desired.graph = Graph::default();
        desired.moved.clear();
    }
    let lock =
        LockInfo::new(request.mode.operation().as_str(), ws.root()).running_as(&session.caller);
    let mut waiting = |h: &LockInfo, left| ui.waiting_for_lock(h, left);
    let acquired = tokio::select! {
        r = acquire(&target, &lock, request.lock_timeout, &mut waiting) => r,
        () = &mut interrupt => {
            // The lock write may have landed just before: release it if it is ours.
            let _ = target.backend.unlock(&lock.id).await;
            return Ok(ApplyReport::Interrupted);
        }
    };
    acquired?;
    let run = Locked {
        ws,
        environment,
        request,
        target: &target,
        lock: &lock,
        desired,
        session: &session,
        provenance,
        protected,
        rollback,
        repo: repo.as_ref(),
    };
    let result = Box::pin(run.run(ui, interrupt.as_mut())).await;
    // What the apply did stays the news: a lock left behind is said beside it.
    match (result, release(&target, &lock).await) {
        (result, None) => result,
        (Err(OpsError::SaveFailed(mut failed)), Some(left)) => {
            failed.lock_left = Some(left.id);
            Err(OpsError::SaveFailed(failed))
        }
        (Ok(ApplyReport::Done(mut done)), left) => {
            done.lock_left = left;
            Ok(ApplyReport::Done(done))
        }
        (result, Some(left)) => Err(OpsError::LockLeft {
            error: result.err().map(Box::new),
            environment: environment.to_owned(),
            left,
        }),
    }
}

/// The environment as it was at revision `to`, read from git objects, validated by today's rules.
fn desired_at(
    ws: &Workspace,
    environment: &str,
    repo: Option<&Repo>,
    to: &str,
) -> Result<(Desired, RollbackTarget), OpsError> {
    let repo = repo.ok_or_else(|| OpsError::Rollback {
        environment: environment.to_owned(),
        reason: format!("`{}` is not in a git repository", ws.root().display()),
        help: "rollback reads the manifests of an earlier commit from git; run it in the repository that holds them".to_owned(),
    })?;
    let target = revision::resolve(repo, environment, to).map_err(|e| OpsError::Rollback {
        environment: environment.to_owned(),
        help: e.help(environment),
        reason: e.to_string(),
    })?;
    // Its own handle: the tree reads on while `repo` tags HEAD.
    let tree_repo = Repo::discover(ws.root())?.ok_or_else(|| OpsError::Rollback {
        environment: environment.to_owned(),
        reason: "the repository went away".to_owned(),
        help: String::new(),
    })?;
    let tree = RevisionTree::new(tree_repo, &target.commit.id, target.commit.short().to_owned())?;
    let at = ws.with_tree(Arc::new(tree));
    let manifest = ws.manifest_path(environment);
    if at.read(&manifest).is_err() {
        return Err(OpsError::Rollback {
            environment: environment.to_owned(),
            reason: format!("revision {} has no `{}`", target.describe(), repo.display(&manifest)),
            help: format!(
                "`ecsops history {environment}` lists the revisions applied to `{environment}`"
            ),
        });
    }
    match desired(&at, environment) {
        Ok(d) => Ok((d, target)),
        Err(OpsError::Invalid(invalid)) => Err(OpsError::RevisionInvalid {
            environment: environment.to_owned(),
            revision: target.describe(),
            invalid,
        }),
        Err(e) => Err(e),
    }
}

/// Everything that happens under the lock.
struct Locked<'a> {
    ws: &'a Workspace,
    environment: &'a str,
    request: &'a ApplyRequest,
    target: &'a Target,
    lock: &'a LockInfo,
    desired: Desired,
    session: &'a Session,
    provenance: Option<Provenance>,
    protected: bool,
    rollback: Option<RollbackTarget>,
    repo: Option<&'a Repo>,
}

impl Locked<'_> {
    /// The plan to apply and the state it starts from: made now (refresh, plan), or the saved
    /// plan's, when the state is still the one it was made against.
    async fn plan(
        &self,
        stored: Option<crate::state::Stored>,
        interrupt: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Result<Option<(Plan, State, Option<crate::state::Version>, AwsProvider, Graph)>, OpsError>
    {
        let version = stored.as_ref().map(|s| s.version.clone());
        if let Some(saved) = &self.request.saved {
            stale_under_lock(self.environment, saved, stored.as_ref().map(|s| &s.state))?;
            self.session.check_recorded(&saved.prior)?;
            let provider = self.session.provider(&saved.prior);
            return Ok(Some((
                saved.plan.clone(),
                saved.prior.clone(),
                version,
                provider,
                saved.graph.clone(),
            )));
        }
        // A destroy with no state has nothing to destroy and writes none: its plan is made
        // against no state, not against the new one an apply would start.
        let prior = stored.is_some() || self.request.mode != Mode::Destroy;
        let state = match stored {
            Some(s) => s.state,
            None => State::new(self.environment, uuid::Uuid::new_v4().to_string()),
        };
        self.session.check_recorded(&state)?;
        let provider = self.session.provider(&state);
        let refresh = (!self.request.offline).then_some(&provider);
        let planned = tokio::select! {
            r = plan(self.environment, &self.desired, prior.then_some(&state), refresh) => r?,
            () = interrupt => return Ok(None),
        };
        let Planning { mut plan, refreshed, graph } = planned;
        plan.caller = Some(self.session.caller.clone());
        Ok(Some((plan, refreshed.unwrap_or(state), version, provider, graph)))
    }

    async fn run(
        self,
        ui: &mut dyn Interaction,
        mut interrupt: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Result<ApplyReport, OpsError> {
        let stored = self.target.backend.read().await?;
        let mut warnings = self.desired.warnings.clone();
        if self.request.mode == Mode::Apply {
            let stored = stored.as_ref().map(|s| &s.state);
            if self.protected {
                older_than_applied(self.environment, self.repo, self.provenance.as_ref(), stored)?;
            } else if let Some(w) =
                stale_warning(self.repo, self.environment, &self.desired, stored)
            {
                warnings.push(w);
            }
        }
        let Some((mut plan, mut state, version, provider, graph)) =
            self.plan(stored, interrupt.as_mut()).await?
        else {
            return Ok(ApplyReport::Interrupted);
        };
        // The apply's writes are numbered above every tag of the environment, whichever state
        // lineage made it: a new state (a first apply, a state lost or replaced) starts there,
        // and so does a state below tags that came since (`git fetch --tags`). So its tag
        // never collides, and a serial names one applied revision.
        state.serial = state.serial.max(self.highest_tag()?);
        plan.destroy = self.request.mode == Mode::Destroy;
        // Holding what tasks use for ECS's sake needs a wait to release it: a destroy (which
        // stops the services) or `--no-wait` makes those changes in the walk.
        let unsettled =
            self.request.wait.is_some() && !plan.destroy && apply::unsettled(&plan, &state);
        let preview = apply::preview(&plan, &graph, &state, unsettled);
        let finishing = !plan.has_changes() && state.unfinished();
        if finishing {
            let how = if unsettled {
                "waits for every service's rollout, then records and tags the apply"
            } else {
                "records and tags the apply"
            };
            warnings.push(Diagnostic::warning(
                "unfinished-apply",
                format!("the last apply made its changes but did not finish: this one finishes it ({how})"),
            ));
        }
        ui.planned(&Planned {
            plan: &plan,
            steps: preview.steps,
            // Without a wait (`--no-wait`) nothing is held: they follow the walk at once.
            held: match self.request.wait {
                Some(_) => preview.held,
                None => Vec::new(),
            },
            sources: &self.desired.sources,
            warnings: &warnings,
            rollback: self.rollback.as_ref(),
        });
        let forgotten = plan.forgotten();
        // The last apply made every change but did not finish (stopped or timed out while its
        // rollouts ran): this run finishes it, with nothing to walk or confirm. It waits for
        // every service's rollout and records (and tags) the apply, the refreshed state with
        // it. Otherwise drift the plan leaves alone (gone from AWS and from the manifest, or
        // changed to what the manifest now asks) is still to be recorded, or every plan
        // reports it.
        if !plan.has_changes() && !finishing {
            if plan.drift.is_empty() {
                return Ok(ApplyReport::NoChanges);
            }
            return self.forget(state, version, &plan, forgotten).await;
        }
        let operation = self.request.mode.operation();
        if !self.request.auto_approve && plan.has_changes() {
            let answer = if self.protected || operation == Operation::Destroy {
                self.environment.to_owned()
            } else {
                "yes".to_owned()
            };
            let asked = ui.confirm(&Confirmation {
                environment: self.environment.to_owned(),
                operation,
                summary: plan.summary,
                answer,
                protected: self.protected,
            });
            let confirmed = tokio::select! {
                r = asked => r.map_err(|reason| OpsError::NotConfirmed {
                    environment: self.environment.to_owned(),
                    operation: operation.as_str(),
                    reason,
                })?,
                () = &mut interrupt => return Ok(ApplyReport::Interrupted),
            };
            if !confirmed {
                return Ok(ApplyReport::Cancelled);
            }
        }
        let mut recorder = Recorder { backend: &self.target.backend, state, version };
        // Saved with the first step: a walk that never reaches `record` (a killed process, a
        // lost machine, a failed last save) leaves a state that says its apply did not finish.
        recorder.state.revision = Some(self.revision(ApplyResult::Interrupted, None));
        let provider = Arc::new(provider);
        let walked = apply::apply(
            Arc::clone(&provider),
            &plan,
            &graph,
            &mut recorder,
            self.request.options,
            unsettled,
            interrupt.as_mut(),
            &mut |e| ui.event(e),
        )
        .await;
        let mut outcome = match walked {
            Ok(o) => o,
            Err(mut e) => {
                e.kept_at = keep(self.ws.root(), &e.outcome.state);
                return Err(OpsError::SaveFailed(Box::new(e)));
            }
        };
        let rollouts = self
            .roll_out(
                &provider,
                unsettled,
                &graph,
                &mut outcome,
                &recorder.state,
                ui,
                interrupt.as_mut(),
            )
            .await;
        self.after_rollout(
            &provider,
            &plan,
            &graph,
            &mut recorder,
            &mut outcome,
            &rollouts,
            ui,
            interrupt.as_mut(),
        )
        .await?;
        let tagging = match self.record(&mut recorder, &outcome, &rollouts, &plan).await {
            Ok(tagging) => tagging,
            Err(source) => return Err(self.unrecorded(outcome, &recorder, source)),
        };
        let template_changed = plan.changes.iter().any(|c| {
            c.kind == Kind::LaunchTemplate && matches!(c.action, Action::Update | Action::Replace)
        });
        let outdated = if outcome.succeeded() && template_changed {
            outdated_instances(&provider, &recorder.state).await
        } else {
            Vec::new()
        };
        Ok(ApplyReport::Done(Box::new(Done {
            outcome: Outcome { state: recorder.state.clone(), ..outcome },
            rollouts,
            tagging,
            rollback: self.rollback_report(),
            outdated,
            forgotten,
            recorded: Vec::new(),
            lock_left: None,
        })))
    }

    /// A plan that changes nothing while the state still records resources that are gone (a
    /// destroy after everything was deleted outside ecsops) or attributes changed outside
    /// ecsops to what the manifest now asks: nothing to walk and nothing to confirm (AWS is not
    /// touched), but the state must forget them and take the live values (the refreshed
    /// `state`), or it would go on recording them (`output` showing their values, every plan
    /// the drift). A save of its own, then the apply is recorded and tagged like any other.
    async fn forget(
        &self,
        state: State,
        version: Option<crate::state::Version>,
        plan: &Plan,
        forgotten: Vec<Address>,
    ) -> Result<ApplyReport, OpsError> {
        let mut recorder = Recorder { backend: &self.target.backend, state, version };
        recorder.save().await?;
        let outcome = Outcome::new(recorder.state.clone());
        let tagging = match self.record(&mut recorder, &outcome, &[], plan).await {
            Ok(tagging) => tagging,
            Err(source) => return Err(self.unrecorded(outcome, &recorder, source)),
        };
        let recorded = plan.drift.iter().filter(|d| !d.deleted);
        Ok(ApplyReport::Done(Box::new(Done {
            outcome: Outcome::new(recorder.state.clone()),
            rollouts: Vec::new(),
            tagging,
            rollback: self.rollback_report(),
            outdated: Vec::new(),
            forgotten,
            recorded: recorded.map(|d| d.address.clone()).collect(),
            lock_left: None,
        })))
    }

    /// A rollback's target and the files (as git names them) it restored in AWS; `None` when
    /// neither the work tree nor HEAD holds anything else (a roll forward to HEAD's revision):
    /// there is nothing to restore or commit, and the next apply changes nothing.
    fn rollback_report(&self) -> Option<(RollbackTarget, Vec<String>)> {
        let files = &self.desired.files;
        self.rollback
            .clone()
            .filter(|t| {
                // The work tree against the target, then (when they match) HEAD against it.
                [t.commit.id.as_str(), "HEAD"]
                    .iter()
                    .any(|commit| !changed_since(self.ws, self.repo, commit, files).is_empty())
            })
            .map(|t| {
                let files = self
                    .desired
                    .files
                    .iter()
                    .map(|f| self.repo.map_or_else(|| f.display().to_string(), |r| r.pathspec(f)))
                    .collect();
                (t, files)
            })
    }

    /// What the state records of this apply ending with `result`: the revision it came from
    /// (no commit outside git), the tag made of it, and who made it when.
    fn revision(&self, result: ApplyResult, tag: Option<String>) -> Revision {
        Revision {
            commit: self.provenance.as_ref().map(|p| p.commit.clone()),
            tag,
            dirty: self.provenance.as_ref().is_some_and(|p| p.dirty),
            operation: self.request.mode.operation(),
            result,
            rolled_back_to: self
                .rollback
                .as_ref()
                .map(|t| RolledBackTo { commit: t.commit.id.clone(), tag: t.tag.clone() }),
            applied_at: crate::state::lock::now(),
            applied_by: self.lock.who.clone(),
        }
    }

    /// The highest serial of the environment's tags (0 outside a repository).
    fn highest_tag(&self) -> Result<u64, GitError> {
        self.repo.map_or(Ok(0), |r| r.highest_serial(self.environment))
    }

    /// The apply's last save failed: the state in the backend records every step, but still
    /// says the apply was interrupted; the state with its end is kept for `state push`.
    fn unrecorded(
        &self,
        outcome: Outcome,
        recorder: &Recorder<'_>,
        source: StateError,
    ) -> OpsError {
        let mut state = recorder.state.clone();
        // The tag is made only once this save has landed: none was.
        if let Some(r) = state.revision.as_mut() {
            r.tag = None;
        }
        OpsError::SaveFailed(Box::new(SaveFailed {
            kept_at: keep(self.ws.root(), &state),
            outcome: Box::new(Outcome { state, ..outcome }),
            source,
            lock_left: None,
        }))
    }

    /// The last save of the apply: the revision it came from and how it ended; then the tag,
    /// when the apply and its rollouts finished and its files were committed. Only that save
    /// failing is an error: a tag that cannot be made is said in the [`Tagging`].
    async fn record(
        &self,
        recorder: &mut Recorder<'_>,
        outcome: &Outcome,
        rollouts: &[RolloutResult],
        plan: &Plan,
    ) -> Result<Tagging, StateError> {
        let succeeded = succeeded(outcome, rollouts);
        let interrupted = outcome.interrupted
            || rollouts.iter().any(|r| r.result == rollout::Finish::Interrupted);
        let result = if interrupted {
            ApplyResult::Interrupted
        } else if succeeded {
            ApplyResult::Applied
        } else if outcome.succeeded() {
            ApplyResult::RolloutFailed
        } else {
            ApplyResult::Failed
        };
        let serial = recorder.state.serial + 1;
        let name = tag::name(self.environment, serial);
        let tagging = match &self.provenance {
            None => Tagging::NoRepository,
            Some(_) if !succeeded => Tagging::Unfinished,
            Some(p) if p.dirty => Tagging::Dirty,
            Some(_) if self.repo.is_some_and(|r| r.tag_exists(&name)) => {
                Tagging::Exists { name: name.clone() }
            }
            Some(p) => Tagging::Tagged { name: name.clone(), commit: p.commit.clone() },
        };
        let tag = match &tagging {
            Tagging::Tagged { name, .. } => Some(name.clone()),
            _ => None,
        };
        let revision = self.revision(result, tag);
        recorder.state.revision = Some(revision.clone());
        recorder.save_kept().await?;
        let (Tagging::Tagged { commit, .. }, Some(repo)) = (&tagging, self.repo) else {
            return Ok(tagging);
        };
        let record = tag::Record {
            environment: self.environment.to_owned(),
            operation: revision.operation,
            serial,
            lineage: recorder.state.lineage.clone(),
            summary: plan.summary.line(),
            applied_by: revision.applied_by,
            applied_at: revision.applied_at,
            account: Some(self.session.caller.account.clone()),
            rolled_back_to: revision.rolled_back_to.map(|r| (r.tag, r.commit)),
        };
        let Err(e) = repo.create_tag(&name, commit, &record.message()) else {
            return Ok(tagging);
        };
        // The state was saved naming the tag: take the name back, or `history` would send
        // people looking for a tag that was never made.
        if let Some(r) = recorder.state.revision.as_mut() {
            r.tag = None;
        }
        Ok(match recorder.save().await {
            Ok(_) => Tagging::Failed(e.to_string()),
            Err(save) => {
                Tagging::Failed(format!("{e}; and taking its name out of the state failed: {save}"))
            }
        })
    }
}

/// The instance groups with instances that run another launch template version, type or AMI
/// than the group launches now, read like `status` reads them. Only a hint: a failed read
/// gives none.
async fn outdated_instances(provider: &AwsProvider, state: &State) -> Vec<(String, usize)> {
    let groups = state
        .resources
        .iter()
        .filter(|(_, r)| r.kind == Kind::AutoscalingGroup)
        .map(|(a, r)| (a.clone(), r.clone()))
        .collect();
    let Ok(live) = provider.status(&groups).await else {
        return Vec::new();
    };
    live.instance_groups
        .into_iter()
        .map(|g| {
            let n = g
                .instances
                .iter()
                .filter(|i| i.outdated && crate::roll::in_service(&i.state))
                .count();
            (g.name, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Writes a state the backend refused to `.ecsops/errored/<env>-<serial>.json`, so the record
/// of what exists is never lost (`ecsops state push` puts it back). `state` carries the last
/// serial written; the kept one is one past the refused write's: that write may have landed
/// with its response lost (the retry is then refused as a conflict), and the push must move
/// past it without `--force`.
fn keep(root: &Path, state: &State) -> Option<PathBuf> {
    let mut state = state.clone();
    state.serial += 2;
    let state = &state;
    let dir = root.join(".ecsops/errored");
    let path = dir.join(format!("{}-{}.json", state.environment, state.serial));
    let text = serde_json::to_string_pretty(state).ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(&path, text).ok()?;
    Some(path)
}
