//! The apply's wait for the rollouts of the services it changed, what it does once they
//! completed (retire old revisions, walk the changes held until then), and why the failed
//! ones failed.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Interaction, Locked, keep};
use crate::apply::{self, Event, Failure, Outcome, Recorder};
use crate::graph::{Address, Graph, Kind};
use crate::ops::OpsError;
use crate::plan::{Action, Plan};
use crate::provider::aws::{AwsProvider, Wanted};
use crate::rollout::{self, RolloutResult, Watched};
use crate::state::State;

impl Locked<'_> {
    /// After a walk that succeeded: waits for the rollout of every service it created or
    /// changed, or of every recorded service when it held changes or changed nothing while
    /// `unsettled` (the walk's flag: after an apply that did not finish), unless `--no-wait`;
    /// then retires the old revisions no rollout still needs.
    /// Failures of the wait's reads and of the retirements join the walk's.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn roll_out(
        &self,
        provider: &Arc<AwsProvider>,
        unsettled: bool,
        graph: &Graph,
        outcome: &mut Outcome,
        state: &State,
        ui: &mut dyn Interaction,
        interrupt: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Vec<RolloutResult> {
        let retirements = std::mem::take(&mut outcome.retirements);
        let Some(options) = self.request.wait else {
            return Vec::new();
        };
        if !outcome.succeeded() {
            return Vec::new();
        }
        let mut changed: BTreeSet<Address> = outcome
            .done
            .iter()
            .filter(|(_, a)| matches!(a, Action::Create | Action::Update | Action::Replace))
            .map(|(a, _)| a.clone())
            .collect();
        // After an apply that did not finish (or a service's drift to another revision), ECS
        // may still be rolling any service out (or back) to a revision that uses what the walk
        // held: the held changes wait for all. So does a run that finishes that apply with
        // nothing left to change: the rollouts it did not see complete are all there is.
        if unsettled && (!outcome.after_rollout.is_empty() || outcome.done.is_empty()) {
            changed.extend(state.resources.keys().cloned());
        }
        let watched = match AwsProvider::watched(&state.resources, &changed) {
            Ok(w) => w,
            Err(error) => {
                outcome.failed.push(Failure {
                    address: Address::new(Kind::Service.as_str()),
                    action: Action::Update,
                    error,
                });
                return Vec::new();
            }
        };
        let mut rollouts = rollout::wait(
            watched.clone(),
            options,
            |w| {
                let p = Arc::clone(provider);
                async move { p.observe(&w).await.map_err(|e| e.to_string()) }
            },
            interrupt,
            &mut |t| ui.event(Event::Rollout(t)),
        )
        .await;
        explain(provider, state, &watched, &mut rollouts).await;
        // A revision is retired only when every service moving to it has rolled out: a
        // rollback (by ECS or by `ecsops rollback`) needs the old ones.
        let rolled_out = |user: &Address| {
            rollouts.iter().find(|r| r.address == *user).is_none_or(RolloutResult::completed)
        };
        let retire: Vec<Address> = retirements
            .into_iter()
            .filter(|td| {
                graph
                    .resources
                    .values()
                    .filter(|r| r.depends_on.contains(td))
                    .all(|r| rolled_out(&r.address))
            })
            .collect();
        let keep = self.desired.manifest.cluster.keep_task_revisions;
        let failed = apply::retire(Arc::clone(provider), &retire, state, keep, &mut |e| {
            ui.event(e);
        })
        .await;
        outcome.failed.extend(failed);
        rollouts
    }

    /// The deletes and narrowings the walk held back until the services moved off the old
    /// revisions that use them ([`apply::Part::AfterRollout`]), walked once the rollouts
    /// completed. Without a wait
    /// (`--no-wait`) nothing is known of the rollouts: they go at once, as the walk would have
    /// done. After a failure they stay recorded (and reported), for the next apply.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn after_rollout(
        &self,
        provider: &Arc<AwsProvider>,
        plan: &Plan,
        graph: &Graph,
        recorder: &mut Recorder<'_>,
        outcome: &mut Outcome,
        rollouts: &[RolloutResult],
        ui: &mut dyn Interaction,
        interrupt: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Result<(), OpsError> {
        let moved_off = outcome.succeeded() && rollouts.iter().all(RolloutResult::completed);
        if !moved_off || outcome.after_rollout.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut outcome.after_rollout);
        let rest = plan.only(held.iter().map(|(address, _)| address));
        let walked = apply::apply(
            Arc::clone(provider),
            &rest,
            graph,
            recorder,
            self.request.options,
            false,
            interrupt,
            &mut |e| ui.event(e),
        )
        .await;
        match walked {
            Ok(later) => {
                outcome.absorb(later);
                Ok(())
            }
            Err(mut e) => {
                let mut all = std::mem::replace(outcome, Outcome::new(recorder.state.clone()));
                all.absorb(*e.outcome);
                e.kept_at = keep(self.ws.root(), &all.state);
                e.outcome = Box::new(all);
                Err(OpsError::SaveFailed(Box::new(e)))
            }
        }
    }
}

/// Reads, in one go, the last events and the new revision's stopped tasks of each service
/// whose rollout failed, was rolled back or timed out. A failed read is noted on those rollouts
/// and hides nothing: they failed all the same.
async fn explain(
    provider: &AwsProvider,
    state: &State,
    watched: &[Watched],
    rollouts: &mut [RolloutResult],
) {
    let wanted: Vec<Wanted> = rollouts
        .iter()
        .filter(|r| r.explainable())
        .filter_map(|r| {
            let w = watched.iter().find(|w| w.address == r.address)?;
            Some(Wanted {
                service: r.service.clone(),
                task_definition: Some(w.task_definition.clone()),
            })
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    match provider.service_histories(&state.resources, &wanted).await {
        Ok(histories) => rollout::explain(rollouts, histories),
        Err(e) => rollout::unexplained(rollouts, &e.to_string()),
    }
}
