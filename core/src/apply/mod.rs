//! The apply engine: walks a plan's steps with bounded parallelism, calls the provider for each,
//! and saves the state (compare-and-swap) after every finished resource, so an apply that stops
//! for any reason (an AWS error, Ctrl-C, a crash) has recorded everything it made.
//!
//! On a failure or an interrupt it starts nothing new, lets the running steps finish and
//! records them; with `continue_on_error` only the dependents of a failed step are skipped.
//! What it did, what failed (with AWS's code and message) and what it left is in the
//! [`Outcome`]; a re-run plans what is left and converges.
//!
//! A new revision's retirement of old revisions is not run by the walk: it waits for the
//! rollout of the services moving to the new revision (`ops::apply`), then [`retire`] runs it.
//! Nor are the deletes and narrowings of what the old revisions use ([`Part::AfterRollout`]):
//! the caller walks them once the rollouts completed.

mod schedule;
mod widen;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::graph::{Address, Graph, Kind, Replacement};
use crate::plan::{Action, Plan, priorities};
use crate::provider::{Applied, Provider, ProviderError, ResourceSpec};
use crate::state::{Backend, ResourceState, State, StateError, Version};

pub use schedule::{Part, Step, schedule, unsettled};

/// How to walk the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Steps running at once (at least 1).
    pub parallelism: usize,
    /// After a failure, go on with the steps that do not depend on the failed one.
    pub continue_on_error: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { parallelism: 10, continue_on_error: false }
    }
}

/// Progress, reported as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        address: Address,
        action: Action,
        /// Which part of the change the step does (a replacement's destroy, a retirement).
        part: Part,
    },
    Finished {
        address: Address,
        action: Action,
        part: Part,
        elapsed: Duration,
        /// A resource carrying this address's tags was found and taken over.
        adopted: bool,
    },
    Failed {
        address: Address,
        action: Action,
        part: Part,
        error: String,
    },
    /// The state was saved at `serial`.
    Saved {
        serial: u64,
    },
    /// An interrupt arrived: nothing new starts.
    Interrupted,
    /// The state could not be saved: nothing new starts; running steps finish unsaved.
    SaveFailed {
        error: String,
    },
    /// The rollout wait after the walk.
    Rollout(crate::rollout::Tick),
}

/// A step that failed.
#[derive(Debug)]
pub struct Failure {
    pub address: Address,
    pub action: Action,
    pub error: ProviderError,
}

/// What an apply did.
#[derive(Debug)]
pub struct Outcome {
    /// The state as last saved.
    pub state: State,
    pub done: Vec<(Address, Action)>,
    pub failed: Vec<Failure>,
    /// Steps never started (after a failure or an interrupt, or dependents of a failure).
    pub not_started: Vec<(Address, Action)>,
    /// Delete-first replacements whose old resource was destroyed and whose new one was not
    /// made (its create failed, or never started): the resource is missing now and no longer
    /// recorded, so the next apply creates it. Never in `not_started`; one whose create failed
    /// is in `failed` too.
    pub destroyed_not_recreated: Vec<(Address, Action)>,
    pub interrupted: bool,
    /// New revisions whose old revisions are retired once the services using them rolled out.
    pub retirements: Vec<Address>,
    /// Deletes and narrowing updates held back until the services moving off old revisions
    /// rolled out ([`Part::AfterRollout`]): the caller walks them then; otherwise they stay
    /// recorded (a narrowing as its widening) and are reported, for the next apply.
    pub after_rollout: Vec<(Address, Action)>,
}

impl Outcome {
    /// Nothing done yet, starting from `state`.
    pub fn new(state: State) -> Self {
        Self {
            state,
            done: Vec::new(),
            failed: Vec::new(),
            not_started: Vec::new(),
            destroyed_not_recreated: Vec::new(),
            interrupted: false,
            retirements: Vec::new(),
            after_rollout: Vec::new(),
        }
    }

    /// Takes in what a later walk of the same apply did: its steps follow this one's, and its
    /// state is the newer.
    pub fn absorb(&mut self, later: Outcome) {
        self.state = later.state;
        self.done.extend(later.done);
        self.failed.extend(later.failed);
        self.not_started.extend(later.not_started);
        self.destroyed_not_recreated.extend(later.destroyed_not_recreated);
        self.interrupted |= later.interrupted;
        self.retirements.extend(later.retirements);
        self.after_rollout.extend(later.after_rollout);
    }

    pub fn succeeded(&self) -> bool {
        self.failed.is_empty()
            && self.not_started.is_empty()
            && self.destroyed_not_recreated.is_empty()
            && !self.interrupted
    }
}

/// The state failed to save: the apply stopped. `state` is what should have been saved
/// (the caller keeps it somewhere safe, it records resources that exist).
#[derive(Debug, thiserror::Error)]
#[error("saving the state failed after {} finished steps: {source}", outcome.done.len())]
pub struct SaveFailed {
    pub outcome: Box<Outcome>,
    #[source]
    pub source: StateError,
    /// Where the unsaved state was written instead, when that worked.
    pub kept_at: Option<std::path::PathBuf>,
    /// The id of the apply's lock when releasing it failed too (the backend is down): it may
    /// still be held, and then the state cannot be pushed back before it is removed.
    pub lock_left: Option<String>,
}

/// The state, where it is saved, and the version last written.
#[derive(Debug)]
pub struct Recorder<'a> {
    pub backend: &'a Backend,
    pub state: State,
    pub version: Option<Version>,
}

impl Recorder<'_> {
    /// Writes the state as the next serial (compare-and-swap on the version last written): a
    /// step of the apply.
    pub async fn save(&mut self) -> Result<u64, StateError> {
        self.write(false).await
    }

    /// The apply's last save, which the history keeps.
    pub async fn save_kept(&mut self) -> Result<u64, StateError> {
        self.write(true).await
    }

    /// A write that fails leaves the serial at the last one written, which is what reports
    /// name.
    async fn write(&mut self, kept: bool) -> Result<u64, StateError> {
        self.state.serial += 1;
        let expected = self.version.as_ref();
        let written = if kept {
            self.backend.write(&self.state, expected).await
        } else {
            self.backend.write_step(&self.state, expected).await
        };
        match written {
            Ok(version) => {
                self.version = Some(version);
                Ok(self.state.serial)
            }
            Err(e) => {
                self.state.serial -= 1;
                Err(e)
            }
        }
    }
}

/// What a finished step changes in the state.
#[derive(Debug)]
enum Effect {
    Removed,
    Recorded(ResourceState),
}

struct Finished {
    index: usize,
    /// The part it did: a widening that found nothing to keep did the whole update.
    part: Part,
    effects: Vec<Effect>,
    adopted: bool,
    error: Option<ProviderError>,
    elapsed: Duration,
}

/// Applies `plan` (made against `recorder.state`, after moves) to the cloud through `provider`.
/// `interrupt` resolving (Ctrl-C) stops the walk as a failure does. When `unsettled` (ECS may
/// run revisions the state does not record, [`unsettled`]), every delete and narrowing of what
/// tasks use waits for the rollouts ([`schedule`]); the walk of what was held
/// ([`Outcome::after_rollout`]), once every rollout completed, is not unsettled: ECS then runs
/// the revisions the state records.
#[allow(clippy::too_many_arguments)]
pub async fn apply<P: Provider + 'static>(
    provider: Arc<P>,
    plan: &Plan,
    graph: &Graph,
    recorder: &mut Recorder<'_>,
    options: ApplyOptions,
    unsettled: bool,
    interrupt: impl Future<Output = ()> + Send,
    events: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, SaveFailed> {
    let token_seed = recorder.state.serial;
    let moved = moves(plan);
    let mut outcome = Outcome::new(recorder.state.clone());
    // The first save fixes the lineage before anything exists, so the ownership tags of the
    // very first resource already name a lineage that a re-run after a crash will read back.
    if !moved.is_empty() || recorder.version.is_none() {
        for (from, to) in moved {
            if let Some(r) = recorder.state.resources.remove(&from) {
                recorder.state.resources.insert(to, r);
            }
        }
        match recorder.save().await {
            Ok(serial) => events(Event::Saved { serial }),
            // Nothing has run yet: the state to keep is the one read.
            Err(source) => {
                outcome.state = recorder.state.clone();
                return Err(SaveFailed {
                    outcome: Box::new(outcome),
                    source,
                    kept_at: None,
                    lock_left: None,
                });
            }
        }
    }

    let steps = schedule(plan, graph, &recorder.state.resources, unsettled);
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.after.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for &d in &s.after {
            dependents[d].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..steps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut skipped: BTreeSet<usize> = BTreeSet::new();
    let mut settled = vec![false; steps.len()];
    // Held back whole, with all that waits for them (only other held deletes: `schedule`
    // defers nothing a change needs).
    for (i, step) in steps.iter().enumerate() {
        if step.part == Part::AfterRollout {
            outcome.after_rollout.push((step.address.clone(), step.action));
            settled[i] = true;
            skipped.insert(i);
        }
    }
    let mut succeeded = vec![false; steps.len()];
    // The widenings that kept old grants: their narrowing is still to come.
    let mut widened = vec![false; steps.len()];
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut stop = false;
    // The first save that failed: nothing new starts, the running steps still finish and are
    // reported, and the caller keeps the state that records them.
    let mut unsaved: Option<StateError> = None;
    let parallelism = options.parallelism.max(1);
    let mut interrupt = std::pin::pin!(interrupt);

    // No `?` in this loop: returning would drop `running` and abort the steps in flight.
    loop {
        // An interrupt that came while a finished step was saved (seconds, on S3) is seen
        // before anything else starts.
        if !outcome.interrupted {
            tokio::select! {
                biased;
                () = &mut interrupt => interrupted(&mut outcome, &mut stop, events),
                () = std::future::ready(()) => {}
            }
        }
        // A step that cannot even be prepared fails like any other: it goes through the same
        // completion below, before anything else starts.
        let mut unprepared = None;
        while !stop && running.len() < parallelism {
            let Some(i) = ready.pop_front() else { break };
            if skipped.contains(&i) {
                continue;
            }
            let step = &steps[i];
            if step.part == Part::Retire {
                // Everything it waited for succeeded; the rollout wait decides the rest.
                outcome.retirements.push(step.address.clone());
                settled[i] = true;
                continue;
            }
            let prepared = prepare(step, graph, &recorder.state.resources);
            events(Event::Started {
                address: step.address.clone(),
                action: step.shown(),
                part: prepared.as_ref().map_or(step.part, |w| w.part),
            });
            match prepared {
                Ok(work) => {
                    widened[i] = work.part == Part::Widen;
                    let provider = Arc::clone(&provider);
                    running.spawn(run(provider, i, work, token_seed));
                }
                Err(error) => {
                    unprepared = Some(Finished {
                        index: i,
                        part: step.part,
                        effects: Vec::new(),
                        adopted: false,
                        error: Some(error),
                        elapsed: Duration::ZERO,
                    });
                    break;
                }
            }
        }
        let finished = if let Some(finished) = unprepared {
            finished
        } else {
            if running.is_empty() {
                break;
            }
            // An interrupt is seen before any further completion: the completion it races
            // could otherwise make a dependent ready and start it after Ctrl-C.
            let joined = tokio::select! {
                biased;
                () = &mut interrupt, if !outcome.interrupted => {
                    interrupted(&mut outcome, &mut stop, events);
                    continue;
                }
                joined = running.join_next() => joined,
            };
            let Some(joined) = joined else { break };
            match joined {
                Ok(f) => f,
                // A panicking step is a bug; the others still finish and are recorded.
                Err(e) => {
                    tracing::error!(error = %e, "an apply step panicked");
                    stop = true;
                    continue;
                }
            }
        };
        let i = finished.index;
        let failed = finished.error.is_some();
        stop |=
            settle(finished, &steps, recorder, &mut outcome, &mut unsaved, options, events).await;
        settled[i] = true;
        succeeded[i] = !failed;
        if failed {
            skip_dependents(i, &dependents, &mut skipped);
        } else {
            for &d in &dependents[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push_back(d);
                }
            }
        }
    }
    // A replacement not finished is reported once, by its create: as not started while the
    // old resource stands, as destroyed and not re-created once it is gone. A new revision is
    // reported by its registration, whose retirement only tidies up; a parked rule by its
    // update.
    let destroyed: BTreeSet<&Address> = steps
        .iter()
        .zip(&succeeded)
        .filter(|(s, ok)| s.part == Part::Destroy && **ok)
        .map(|(s, _)| &s.address)
        .collect();
    for (i, s) in steps.iter().enumerate() {
        let entry = (s.address.clone(), s.action);
        if s.part == Part::Create && !succeeded[i] && destroyed.contains(&s.address) {
            outcome.destroyed_not_recreated.push(entry);
        } else if !settled[i] && !matches!(s.part, Part::Destroy | Part::Retire | Part::Park { .. })
        {
            outcome.not_started.push(entry);
        }
    }
    // A narrowing is held only behind a widening that kept something: one that failed, never
    // ran or found nothing to keep leaves the update to the walk's own report.
    outcome.after_rollout.retain(|(address, action)| {
        *action != Action::Update
            || (steps.iter().enumerate()).any(|(i, s)| {
                s.part == Part::Widen && &s.address == address && succeeded[i] && widened[i]
            })
    });
    outcome.state = recorder.state.clone();
    match unsaved {
        None => Ok(outcome),
        Some(source) => {
            Err(SaveFailed { outcome: Box::new(outcome), source, kept_at: None, lock_left: None })
        }
    }
}

/// Records an interrupt: the running steps finish, nothing else starts.
fn interrupted(outcome: &mut Outcome, stop: &mut bool, events: &mut (dyn FnMut(Event) + Send)) {
    outcome.interrupted = true;
    *stop = true;
    events(Event::Interrupted);
}

/// The plan's `[[moved]]` renames, `(from, to)`.
fn moves(plan: &Plan) -> Vec<(Address, Address)> {
    plan.changes.iter().filter_map(|c| Some((c.moved_from.clone()?, c.address.clone()))).collect()
}

/// The steps applying `plan` to `state` takes, and the recorded resources they start from
/// (after the plan's moves).
fn scheduled(
    plan: &Plan,
    graph: &Graph,
    state: &State,
    unsettled: bool,
) -> (Vec<Step>, BTreeMap<Address, ResourceState>) {
    let mut recorded = state.resources.clone();
    for (from, to) in moves(plan) {
        if let Some(r) = recorded.remove(&from) {
            recorded.insert(to, r);
        }
    }
    (schedule(plan, graph, &recorded, unsettled), recorded)
}

/// What applying a plan will do, told before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// How many steps it takes (a progress total): the length of its schedule, which knows
    /// the steps a change is split into.
    pub steps: usize,
    /// The changes held until the rollouts ([`Part::AfterRollout`]), as the walk will hold
    /// them: a narrowing only where the desired grant, as far as it is known before the walk,
    /// lacks something the recorded one grants.
    pub held: Vec<(Address, Action)>,
}

/// The [`Preview`] of applying `plan` to `state`.
pub fn preview(plan: &Plan, graph: &Graph, state: &State, unsettled: bool) -> Preview {
    let (steps, recorded) = scheduled(plan, graph, state, unsettled);
    let count = steps.len();
    let narrows = |address: &Address| {
        let (Some(desired), Some(prior)) = (graph.resources.get(address), recorded.get(address))
        else {
            return true;
        };
        // What refers to a resource the walk makes first is not known yet: held, as may be.
        ResourceSpec::resolve(desired, &recorded)
            .map_or(true, |spec| widen::widen(&spec, prior).is_some())
    };
    let held = (steps.into_iter())
        .filter(|s| s.part == Part::AfterRollout)
        .filter(|s| s.action != Action::Update || narrows(&s.address))
        .map(|s| (s.address, s.action))
        .collect();
    Preview { steps: count, held }
}

/// Retires the revisions beyond the `keep` newest of each of `addresses` (task definitions
/// recorded in `state`), all at once; the failures, reported like the walk's.
pub async fn retire<P: Provider + 'static>(
    provider: Arc<P>,
    addresses: &[Address],
    state: &State,
    keep: u32,
    events: &mut (dyn FnMut(Event) + Send),
) -> Vec<Failure> {
    let mut running = JoinSet::new();
    for address in addresses {
        let Some(current) = state.resources.get(address).cloned() else {
            continue;
        };
        events(Event::Started {
            address: address.clone(),
            action: Action::Revise,
            part: Part::Retire,
        });
        let provider = Arc::clone(&provider);
        let address = address.clone();
        running.spawn(async move {
            let started = Instant::now();
            let r = provider.retire(&address, &current, keep).await;
            (address, r, started.elapsed())
        });
    }
    let mut failed = Vec::new();
    while let Some(joined) = running.join_next().await {
        let Ok((address, result, elapsed)) = joined else {
            tracing::error!("a retirement panicked");
            continue;
        };
        let (action, part) = (Action::Revise, Part::Retire);
        match result {
            Ok(()) => events(Event::Finished { address, action, part, elapsed, adopted: false }),
            Err(error) => {
                events(Event::Failed {
                    address: address.clone(),
                    action,
                    part,
                    error: error.to_string(),
                });
                failed.push(Failure { address, action, error });
            }
        }
    }
    failed
}

fn skip_dependents(i: usize, dependents: &[Vec<usize>], skipped: &mut BTreeSet<usize>) {
    let mut stack = vec![i];
    while let Some(j) = stack.pop() {
        for &d in &dependents[j] {
            if skipped.insert(d) {
                stack.push(d);
            }
        }
    }
}

/// Records a finished step's effects, saves the state, reports; true when the walk must stop.
/// After a failed save (`unsaved`) steps are still recorded in memory and reported, not saved.
async fn settle(
    finished: Finished,
    steps: &[Step],
    recorder: &mut Recorder<'_>,
    outcome: &mut Outcome,
    unsaved: &mut Option<StateError>,
    options: ApplyOptions,
    events: &mut (dyn FnMut(Event) + Send),
) -> bool {
    let step = &steps[finished.index];
    let part = finished.part;
    let changed = !finished.effects.is_empty();
    for effect in finished.effects {
        match effect {
            Effect::Removed => {
                recorder.state.resources.remove(&step.address);
            }
            Effect::Recorded(r) => {
                recorder.state.resources.insert(step.address.clone(), r);
            }
        }
    }
    let mut stop = false;
    if changed && unsaved.is_none() {
        match recorder.save().await {
            Ok(serial) => events(Event::Saved { serial }),
            Err(e) => {
                events(Event::SaveFailed { error: e.to_string() });
                *unsaved = Some(e);
                stop = true;
            }
        }
    }
    match finished.error {
        None => {
            // A replacement counts once, when its new resource exists, a parked rule's update
            // once, when it is where it belongs, and a widened grant's once it is narrowed.
            // (Retirements never get here: the walk leaves them to `retire`, after the
            // rollouts.)
            if !matches!(part, Part::Destroy | Part::Park { .. } | Part::Widen) {
                outcome.done.push((step.address.clone(), step.action));
            }
            events(Event::Finished {
                address: step.address.clone(),
                action: step.shown(),
                part,
                elapsed: finished.elapsed,
                adopted: finished.adopted,
            });
            stop
        }
        Some(error) => {
            events(Event::Failed {
                address: step.address.clone(),
                action: step.shown(),
                part,
                error: error.to_string(),
            });
            outcome.failed.push(Failure {
                address: step.address.clone(),
                action: step.action,
                error,
            });
            stop || !options.continue_on_error
        }
    }
}

/// A step ready to run: its resolved spec and the recorded resource it changes.
struct Work {
    action: Action,
    part: Part,
    kind: Kind,
    address: Address,
    spec: Option<ResourceSpec>,
    prior: Option<ResourceState>,
    dependencies: BTreeSet<Address>,
}

fn prepare(
    step: &Step,
    graph: &Graph,
    recorded: &BTreeMap<Address, ResourceState>,
) -> Result<Work, ProviderError> {
    let prior = recorded.get(&step.address).cloned();
    let desired = graph.resources.get(&step.address);
    let mut spec = match (step.action, desired, step.part) {
        // Parking is an update of the recorded rule to a free priority, nothing else.
        (_, _, Part::Park { priority }) => prior.as_ref().map(|p| ResourceSpec {
            address: step.address.clone(),
            kind: p.kind,
            attributes: priorities::parked(p, priority),
        }),
        (Action::Delete, _, _) | (_, None, _) | (_, _, Part::Destroy) => None,
        (_, Some(r), _) => Some(ResourceSpec::resolve(r, recorded)?),
    };
    let kind =
        spec.as_ref().map(|s| s.kind).or(prior.as_ref().map(|p| p.kind)).ok_or_else(|| {
            ProviderError::Failed {
                address: step.address.clone(),
                what: "the plan names a resource that is neither desired nor recorded; plan again"
                    .to_owned(),
            }
        })?;
    let mut part = step.part;
    let mut dependencies = desired.map(|r| r.depends_on.clone()).unwrap_or_default();
    if part == Part::Widen {
        let wider = (spec.as_ref().zip(prior.as_ref())).and_then(|(s, p)| widen::widen(s, p));
        match (wider, spec.as_mut()) {
            (Some(wider), Some(spec)) => {
                spec.attributes = wider;
                // It still uses what it used (an attached policy): their deletes wait for its
                // narrowing.
                dependencies.extend(prior.iter().flat_map(|p| p.dependencies.iter().cloned()));
            }
            _ => part = Part::Whole,
        }
    }
    Ok(Work {
        action: step.action,
        part,
        kind,
        address: step.address.clone(),
        spec,
        prior,
        dependencies,
    })
}

async fn run<P: Provider>(provider: Arc<P>, index: usize, work: Work, seed: u64) -> Finished {
    let started = Instant::now();
    let mut effects = Vec::new();
    let mut adopted = false;
    let result = perform(&*provider, &work, seed, &mut effects, &mut adopted).await;
    Finished {
        index,
        part: work.part,
        effects,
        adopted,
        error: result.err(),
        elapsed: started.elapsed(),
    }
}

async fn perform<P: Provider>(
    provider: &P,
    work: &Work,
    seed: u64,
    effects: &mut Vec<Effect>,
    adopted: &mut bool,
) -> Result<(), ProviderError> {
    let record = |applied: Applied, effects: &mut Vec<Effect>| {
        effects.push(Effect::Recorded(applied.into_state(work.kind, work.dependencies.clone())));
    };
    let missing_spec = || ProviderError::Failed {
        address: work.address.clone(),
        what: "the resource is no longer desired; plan again".to_owned(),
    };
    let missing_prior = || ProviderError::Failed {
        address: work.address.clone(),
        what: "the state no longer records this resource; plan again".to_owned(),
    };
    match work.action {
        Action::NoOp => Ok(()),
        Action::Create => {
            let spec = work.spec.as_ref().ok_or_else(missing_spec)?;
            let applied = provider.create(spec, seed).await?;
            *adopted = applied.adopted;
            record(applied, effects);
            Ok(())
        }
        Action::Update => {
            let spec = work.spec.as_ref().ok_or_else(missing_spec)?;
            let prior = work.prior.as_ref().ok_or_else(missing_prior)?;
            record(provider.update(spec, prior).await?, effects);
            Ok(())
        }
        Action::Delete => {
            let prior = work.prior.as_ref().ok_or_else(missing_prior)?;
            provider.delete(&work.address, prior).await?;
            effects.push(Effect::Removed);
            Ok(())
        }
        Action::Revise => {
            let spec = work.spec.as_ref().ok_or_else(missing_spec)?;
            // A later seed than the one the old revision was made with: a fresh client token.
            let applied = provider.create(spec, seed + 1).await?;
            *adopted = applied.adopted;
            record(applied, effects);
            Ok(())
        }
        Action::Replace if work.part == Part::Destroy => {
            let prior = work.prior.as_ref().ok_or_else(missing_prior)?;
            provider.delete(&work.address, prior).await?;
            effects.push(Effect::Removed);
            Ok(())
        }
        Action::Replace if work.part == Part::Create => {
            let spec = work.spec.as_ref().ok_or_else(missing_spec)?;
            // A later seed than the one the old resource was made with: a fresh client token.
            record(provider.create(spec, seed + 1).await?, effects);
            Ok(())
        }
        // What the schedule leaves whole (it splits a delete-first replacement into the two
        // parts above) makes the new resource first. Only a changed kind replaces a versioned
        // resource (any other change is a new revision), and then the old one goes after; an
        // overwrite has nothing left to delete.
        Action::Replace => {
            let spec = work.spec.as_ref().ok_or_else(missing_spec)?;
            let prior = work.prior.as_ref().ok_or_else(missing_prior)?;
            // A later seed than the one the old resource was made with: a fresh client token.
            let applied = provider.create(spec, seed + 1).await?;
            let same = applied.id.as_str() == prior.id.as_deref().unwrap_or_default();
            record(applied, effects);
            if work.kind.replacement() == Replacement::NewRevision && !same {
                provider.delete(&work.address, prior).await?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
