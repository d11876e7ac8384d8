//! The closing report of the walk: what was done, what failed and why, what is left, and what
//! to run next.

use ecsops_core::apply::Outcome;
use ecsops_core::graph::Address;
use ecsops_core::plan::Action;
use ecsops_core::provider::ProviderError;
use ecsops_core::state::Operation;

use super::{say, verb};

/// What the walk did: a summary line, failures, and what was not started; and the resources
/// that were already gone and are no longer recorded (`forgotten`) or changed outside ecsops
/// to what the manifest asks and now recorded so (`recorded`), all it did when nothing was
/// walked. `saved`: the state backend holds what the walk finished.
pub(super) fn report_outcome(
    operation: Operation,
    outcome: &Outcome,
    [forgotten, recorded]: [&[Address]; 2],
    rerun: &str,
    json: bool,
    saved: bool,
) {
    let mut untouched = match forgotten.len() {
        0 => Vec::new(),
        1 => vec!["1 resource was already gone and is no longer recorded".to_owned()],
        n => vec![format!("{n} resources were already gone and are no longer recorded")],
    };
    if !recorded.is_empty() {
        let names: Vec<&str> = recorded.iter().map(Address::as_str).collect();
        untouched.push(format!(
            "the changes made outside ecsops to {} match the manifest and are now recorded",
            names.join(", ")
        ));
    }
    let gone_already = (!untouched.is_empty()).then(|| format!("{}.", untouched.join("; ")));
    let walked = !(outcome.done.is_empty()
        && outcome.failed.is_empty()
        && outcome.not_started.is_empty()
        && outcome.destroyed_not_recreated.is_empty()
        && !outcome.interrupted);
    if let (false, Some(gone)) = (walked, &gone_already) {
        let lead = if operation == Operation::Destroy {
            "Nothing left to destroy"
        } else {
            "Nothing to change in AWS"
        };
        say(json, format_args!("\n{lead}: {gone}"));
        return;
    }
    let count = |a: Action| outcome.done.iter().filter(|(_, x)| *x == a).count();
    // Like the plan's summary line: revisions only when there are any.
    let revisions = match count(Action::Revise) {
        0 => String::new(),
        1 => ", 1 new revision".to_owned(),
        n => format!(", {n} new revisions"),
    };
    // Replacements half done, only when there are any: their old resource is gone.
    let gone = match outcome.destroyed_not_recreated.len() {
        0 => String::new(),
        n => format!(", {n} destroyed and not re-created"),
    };
    let done = format!(
        "{} created, {} updated, {} replaced, {} destroyed{revisions}{gone}",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Delete)
    );
    let verb = verb(operation);
    if outcome.succeeded() {
        say(json, format_args!("\n{verb} complete: {done}."));
        if let Some(gone) = &gone_already {
            say(json, gone);
        }
        return;
    }
    let why = if outcome.interrupted { "interrupted" } else { "stopped" };
    anstream::eprintln!("\n{verb} {why}: {done}.");
    if let Some(gone) = &gone_already {
        anstream::eprintln!("{gone}");
    }
    for f in &outcome.failed {
        anstream::eprintln!("error: {}", f.error);
    }
    if !outcome.destroyed_not_recreated.is_empty() {
        anstream::eprintln!(
            "Destroyed and not re-created ({}): missing until `{rerun}` creates them",
            outcome.destroyed_not_recreated.len()
        );
        for (address, action) in &outcome.destroyed_not_recreated {
            anstream::eprintln!("  {address} ({})", action.as_str());
        }
    }
    if !outcome.not_started.is_empty() {
        anstream::eprintln!("Not started ({}):", outcome.not_started.len());
        for (address, action) in &outcome.not_started {
            anstream::eprintln!("  {address} ({})", action.as_str());
        }
    }
    // Resources of this environment that another state lineage owns: running again fails the
    // same way. Almost always the state was lost or replaced, and the way back is the old one.
    if outcome.failed.iter().any(|f| matches!(f.error, ProviderError::ForeignLineage { .. })) {
        anstream::eprintln!(
            "help: resources of this environment belong to another state (lineage above): if its state was lost or replaced, put the last good one back with `ecsops state push {} FILE --force` (`ecsops state history {}` lists the kept versions) instead of applying again",
            outcome.state.environment,
            outcome.state.environment
        );
        return;
    }
    // A failed save has its own help: where the state went instead, and how to put it back.
    // Interrupted with nothing failed: there is no cause to fix, only the rest to run.
    if saved {
        let fix = if outcome.failed.is_empty() { "" } else { "fix the cause and " };
        anstream::eprintln!(
            "help: everything finished is saved in the state (serial {}); {fix}run `{rerun}` again to continue",
            outcome.state.serial
        );
    }
}
