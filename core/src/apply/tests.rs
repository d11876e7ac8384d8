//! The walk against the in-memory provider and a local state file: order, saves after every
//! resource, failures, `continue_on_error`, interrupts and convergence on a re-run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::*;
use crate::graph::{Expr, Resource};
use crate::plan::{PlanInput, diff, plan_for};
use crate::provider::fake::FakeProvider;
use crate::state::local::LocalBackend;

fn resource(address: &str, kind: Kind, refs: &[&str]) -> (Address, Resource) {
    let address = Address::from(address);
    let mut attributes = BTreeMap::from([("name".to_owned(), Expr::str(address.to_string()))]);
    let mut depends_on = BTreeSet::new();
    for (i, r) in refs.iter().enumerate() {
        let target = Address::from(*r);
        attributes.insert(format!("ref{i}"), Expr::reference(&target, "id"));
        depends_on.insert(target);
    }
    (address.clone(), Resource { address, kind, attributes, depends_on })
}

/// vpc ← subnet.a, subnet.b ← nat (on a); sg independent of the subnets.
fn graph() -> Graph {
    Graph {
        resources: BTreeMap::from([
            resource("vpc", Kind::Vpc, &[]),
            resource("subnet.a", Kind::Subnet, &["vpc"]),
            resource("subnet.b", Kind::Subnet, &["vpc"]),
            resource("nat", Kind::NatGateway, &["subnet.a"]),
            resource("sg", Kind::SecurityGroup, &["vpc"]),
        ]),
    }
}

struct Run {
    outcome: Outcome,
    events: Vec<Event>,
}

async fn run_apply(
    provider: &Arc<FakeProvider>,
    backend: &Backend,
    graph: &Graph,
    options: ApplyOptions,
    interrupt: impl Future<Output = ()> + Send,
) -> Run {
    run_apply_watched(provider, backend, graph, options, interrupt, |_| {}).await
}

/// [`run_apply`], with `watch` seeing each event as it happens.
async fn run_apply_watched(
    provider: &Arc<FakeProvider>,
    backend: &Backend,
    graph: &Graph,
    options: ApplyOptions,
    interrupt: impl Future<Output = ()> + Send,
    mut watch: impl FnMut(&Event) + Send,
) -> Run {
    let stored = backend.read().await.expect("state reads");
    let (state, version) = match stored {
        Some(s) => (s.state, Some(s.version)),
        None => (State::new("acc", "lineage".to_owned()), None),
    };
    let plan = plan_for(graph, &state);
    let unsettled = unsettled(&plan, &state);
    let mut recorder = Recorder { backend, state, version };
    let mut events = Vec::new();
    let outcome = apply(
        Arc::clone(provider),
        &plan,
        graph,
        &mut recorder,
        options,
        unsettled,
        interrupt,
        &mut |e| {
            watch(&e);
            events.push(e);
        },
    )
    .await
    .expect("state saves");
    Run { outcome, events }
}

/// Applies `plan`, made against the stored state, as the apply does (default options).
async fn apply_stored(
    provider: &Arc<FakeProvider>,
    backend: &Backend,
    plan: &Plan,
    graph: &Graph,
) -> Outcome {
    let stored = backend.read().await.expect("reads").expect("a state");
    let unsettled = unsettled(plan, &stored.state);
    let mut recorder = Recorder { backend, state: stored.state, version: Some(stored.version) };
    apply(
        Arc::clone(provider),
        plan,
        graph,
        &mut recorder,
        ApplyOptions::default(),
        unsettled,
        std::future::pending(),
        &mut |_| {},
    )
    .await
    .expect("state saves")
}

fn local() -> (tempfile::TempDir, Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = Backend::Local(LocalBackend::new(dir.path().to_owned(), "acc"));
    (dir, backend)
}

/// The addresses of an outcome's list (`done`, `not_started`), collected as the test compares.
fn addresses<'a, C: FromIterator<&'a str>>(list: &'a [(Address, Action)]) -> C {
    list.iter().map(|(a, _)| a.as_str()).collect()
}

fn position(calls: &[String], call: &str) -> usize {
    calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no `{call}` in {calls:?}"))
}

#[tokio::test]
async fn creates_dependencies_first_and_saves_after_every_resource() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let run =
        run_apply(&provider, &backend, &graph(), ApplyOptions::default(), std::future::pending())
            .await;
    assert!(run.outcome.succeeded(), "{:?}", run.outcome.failed);
    let calls = provider.calls();
    assert!(position(&calls, "create vpc") < position(&calls, "create subnet.a"));
    assert!(position(&calls, "create subnet.a") < position(&calls, "create nat"));
    let saved = backend.read().await.expect("reads").expect("a state");
    assert_eq!(saved.state.resources.len(), 5);
    // One save fixing the lineage, then one per resource.
    assert_eq!(saved.state.serial, 6);
    let saves = run.events.iter().filter(|e| matches!(e, Event::Saved { .. })).count();
    assert_eq!(saves, 6);
    // The subnet's reference was resolved from the recorded VPC.
    assert_eq!(
        saved.state.resources[&Address::from("subnet.a")].attributes["ref0"],
        serde_json::json!("vpc-1")
    );
}

#[tokio::test]
async fn a_failure_starts_nothing_new_records_what_was_done_and_a_rerun_converges() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    provider.fail_next(&Address::from("subnet.a"), "InvalidSubnet.Conflict");
    let options = ApplyOptions { parallelism: 1, continue_on_error: false };
    let first = run_apply(&provider, &backend, &graph(), options, std::future::pending()).await;
    assert!(!first.outcome.succeeded());
    assert_eq!(first.outcome.failed.len(), 1);
    assert_eq!(first.outcome.failed[0].error.aws_code(), Some("InvalidSubnet.Conflict"));
    assert!(first.outcome.not_started.iter().any(|(a, _)| a.as_str() == "nat"));
    let saved = backend.read().await.expect("reads").expect("a state");
    let recorded: BTreeSet<String> =
        saved.state.resources.keys().map(ToString::to_string).collect();
    let existing: BTreeSet<String> = provider.resources().keys().map(ToString::to_string).collect();
    assert_eq!(recorded, existing, "the state records exactly what exists");
    assert!(!existing.contains("nat"));

    let second = run_apply(&provider, &backend, &graph(), options, std::future::pending()).await;
    assert!(second.outcome.succeeded(), "{:?}", second.outcome.failed);
    assert_eq!(provider.resources().len(), 5);
    let again = backend.read().await.expect("reads").expect("a state");
    assert!(!plan_for(&graph(), &again.state).has_changes());
}

#[tokio::test]
async fn a_failed_save_lets_the_running_steps_finish_and_reports_them() {
    let (dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    // The backend breaks while the subnets and the security group run together: their saves
    // fail, and all three must still be reported and kept, with the NAT gateway never started.
    let state_file = dir.path().join("acc.json");
    provider.on_next(&Address::from("subnet.a"), move || {
        std::fs::write(&state_file, "not a state").expect("break the state file");
    });
    let stored = backend.read().await.expect("state reads");
    assert!(stored.is_none());
    let graph = graph();
    let state = State::new("acc", "lineage".to_owned());
    let plan = plan_for(&graph, &state);
    let mut recorder = Recorder { backend: &backend, state, version: None };
    let mut events = Vec::new();
    let failed = apply(
        Arc::clone(&provider),
        &plan,
        &graph,
        &mut recorder,
        ApplyOptions::default(),
        false,
        std::future::pending(),
        &mut |e| events.push(e),
    )
    .await
    .expect_err("the save fails");
    assert!(matches!(failed.source, StateError::Corrupt { .. }), "{:?}", failed.source);
    let done: BTreeSet<&str> = addresses(&failed.outcome.done);
    assert_eq!(done, BTreeSet::from(["vpc", "subnet.a", "subnet.b", "sg"]));
    let not_started: Vec<&str> = addresses(&failed.outcome.not_started);
    assert_eq!(not_started, ["nat"]);
    let kept: BTreeSet<&str> = failed.outcome.state.resources.keys().map(Address::as_str).collect();
    assert_eq!(kept, done, "the unsaved state records every finished step");
    let last_saved = events.iter().filter_map(|e| match e {
        Event::Saved { serial } => Some(*serial),
        _ => None,
    });
    assert_eq!(
        Some(failed.outcome.state.serial),
        last_saved.max(),
        "the serial is the last one written"
    );
    let finished = events.iter().filter(|e| matches!(e, Event::Finished { .. })).count();
    assert_eq!(finished, 4);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::SaveFailed { .. })).count(), 1);
    assert!(!provider.calls().contains(&"create nat".to_owned()));
}

#[tokio::test]
async fn continue_on_error_applies_what_does_not_depend_on_the_failure() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    provider.fail_next(&Address::from("subnet.a"), "Boom");
    let options = ApplyOptions { parallelism: 1, continue_on_error: true };
    let run = run_apply(&provider, &backend, &graph(), options, std::future::pending()).await;
    let created: BTreeSet<String> = provider.resources().keys().map(ToString::to_string).collect();
    assert_eq!(created, BTreeSet::from(["sg", "subnet.b", "vpc"].map(str::to_owned)));
    assert_eq!(run.outcome.not_started, vec![(Address::from("nat"), Action::Create)]);
}

#[tokio::test]
async fn destroy_deletes_dependents_first() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let options = ApplyOptions::default();
    run_apply(&provider, &backend, &graph(), options, std::future::pending()).await;
    let run =
        run_apply(&provider, &backend, &Graph::default(), options, std::future::pending()).await;
    assert!(run.outcome.succeeded());
    assert!(provider.resources().is_empty());
    let calls = provider.calls();
    assert!(position(&calls, "delete nat") < position(&calls, "delete subnet.a"));
    assert!(position(&calls, "delete subnet.a") < position(&calls, "delete vpc"));
    assert!(position(&calls, "delete sg") < position(&calls, "delete vpc"));
    let saved = backend.read().await.expect("reads").expect("a state");
    assert!(saved.state.resources.is_empty());
}

#[test]
fn a_delete_waits_for_the_update_that_drops_its_reference() {
    // `list` referenced `a` and `b`; now only `a`: `b` is deleted after `list` is updated.
    let g = Graph {
        resources: BTreeMap::from([
            resource("a", Kind::Vpc, &[]),
            resource("list", Kind::Subnet, &["a"]),
        ]),
    };
    let rs = |deps: &[&str]| ResourceState {
        kind: Kind::Subnet,
        id: Some("x".to_owned()),
        attributes: BTreeMap::new(),
        outputs: BTreeMap::new(),
        dependencies: deps.iter().map(|d| Address::from(*d)).collect(),
    };
    let recorded = BTreeMap::from([
        (Address::from("a"), rs(&[])),
        (Address::from("b"), rs(&[])),
        (Address::from("list"), rs(&["a", "b"])),
    ]);
    let mut state = State::new("acc", "l".to_owned());
    state.resources = recorded.clone();
    let plan = plan_for(&g, &state);
    let steps = schedule(&plan, &g, &recorded, false);
    let at = |a: &str| {
        steps
            .iter()
            .position(|s| s.address.as_str() == a)
            .unwrap_or_else(|| panic!("no step for {a}: {steps:?}"))
    };
    assert!(steps[at("b")].after.contains(&at("list")), "{steps:?}");
}

#[tokio::test]
async fn a_move_alone_renames_the_recorded_resource_and_calls_nothing() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let before = Graph { resources: BTreeMap::from([resource("vpc", Kind::Vpc, &[])]) };
    run_apply(&provider, &backend, &before, ApplyOptions::default(), std::future::pending()).await;
    let calls = provider.calls().len();
    let after = Graph {
        resources: BTreeMap::from([{
            let (_, mut r) = resource("vpc", Kind::Vpc, &[]);
            r.address = Address::from("vpc.main");
            (r.address.clone(), r)
        }]),
    };
    let stored = backend.read().await.expect("reads").expect("a state");
    let plan = diff(PlanInput {
        environment: "acc",
        graph: &after,
        state: Some(&stored.state),
        moved: &[(Address::from("vpc"), Address::from("vpc.main"))],
        manifest_digest: "d",
    });
    assert!(plan.has_changes());
    let outcome = apply_stored(&provider, &backend, &plan, &after).await;
    assert!(outcome.succeeded());
    assert_eq!(provider.calls().len(), calls, "nothing sent to the cloud");
    let saved = backend.read().await.expect("reads").expect("a state");
    let keys: Vec<String> = saved.state.resources.keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["vpc.main"]);
}

/// The graph with the VPC's CIDR (which forces its replacement) set to `cidr`, and references
/// under the attribute names that force their holders' replacement too.
fn graph_with_cidr(cidr: &str) -> Graph {
    let mut g = graph();
    for r in g.resources.values_mut() {
        let forcing = match r.kind {
            Kind::Vpc => {
                r.attributes.insert("cidr_block".to_owned(), Expr::str(cidr));
                continue;
            }
            Kind::NatGateway => "subnet_id",
            _ => "vpc_id",
        };
        if let Some(reference) = r.attributes.remove("ref0") {
            r.attributes.insert(forcing.to_owned(), reference);
        }
    }
    g
}

#[tokio::test]
async fn a_delete_first_replacement_goes_after_its_dependents_and_comes_back_before_them() {
    let (_dir, backend, provider) = applied_network().await;
    let options = ApplyOptions::default();
    let before = provider.calls().len();
    let second = run_apply(
        &provider,
        &backend,
        &graph_with_cidr("10.9.0.0/16"),
        options,
        std::future::pending(),
    )
    .await;
    assert!(second.outcome.succeeded(), "{:?}", second.outcome);
    let calls = provider.calls()[before..].to_vec();
    // Everything under the VPC is replaced: the old ones go first, dependents before the VPC;
    // the new VPC comes before the new subnets and the NAT after its subnet.
    for dependent in ["subnet.a", "subnet.b", "sg"] {
        assert!(
            position(&calls, &format!("delete {dependent}")) < position(&calls, "delete vpc"),
            "{calls:?}"
        );
        assert!(
            position(&calls, "create vpc") < position(&calls, &format!("create {dependent}")),
            "{calls:?}"
        );
    }
    assert!(position(&calls, "delete nat") < position(&calls, "delete subnet.a"));
    assert!(position(&calls, "create subnet.a") < position(&calls, "create nat"));
    // Each replacement counts once in what was done.
    assert_eq!(second.outcome.done.len(), 5, "{:?}", second.outcome.done);
    assert!(second.outcome.done.iter().all(|(_, a)| *a == Action::Replace));
    let saved = backend.read().await.expect("reads").expect("a state");
    assert_eq!(saved.state.resources.len(), 5);
    assert!(!plan_for(&graph_with_cidr("10.9.0.0/16"), &saved.state).has_changes());
}

/// A local state and a fake provider after applying `graph`.
async fn applied(graph: &Graph) -> (tempfile::TempDir, Backend, Arc<FakeProvider>) {
    let (dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let first =
        run_apply(&provider, &backend, graph, ApplyOptions::default(), std::future::pending())
            .await;
    assert!(first.outcome.succeeded(), "{:?}", first.outcome);
    (dir, backend, provider)
}

/// The network of [`graph_with_cidr`] applied, and a provider that holds it.
async fn applied_network() -> (tempfile::TempDir, Backend, Arc<FakeProvider>) {
    applied(&graph_with_cidr("10.0.0.0/16")).await
}

#[tokio::test]
async fn a_replacement_whose_create_never_starts_is_reported_destroyed_not_started() {
    let (_dir, backend, provider) = applied_network().await;
    // At parallelism 1 the destroys of the NAT gateway and the security group (nothing
    // depends on them) run first, then subnet.b's fails: their creates never start.
    provider.fail_next(&Address::from("subnet.b"), "DependencyViolation");
    let options = ApplyOptions { parallelism: 1, continue_on_error: false };
    let cidr = graph_with_cidr("10.9.0.0/16");
    let run = run_apply(&provider, &backend, &cidr, options, std::future::pending()).await;
    assert!(!run.outcome.succeeded());
    assert_eq!(
        run.outcome.destroyed_not_recreated,
        [(Address::from("nat"), Action::Replace), (Address::from("sg"), Action::Replace)]
    );
    let not_started: BTreeSet<&str> = addresses(&run.outcome.not_started);
    assert!(!not_started.contains("nat") && !not_started.contains("sg"));
    assert!(not_started.contains("vpc"), "{not_started:?}");
    assert!(run.outcome.done.is_empty(), "{:?}", run.outcome.done);
    // Gone, and no longer recorded: the next apply creates them.
    let saved = backend.read().await.expect("reads").expect("a state");
    let recorded: BTreeSet<&str> = saved.state.resources.keys().map(Address::as_str).collect();
    assert_eq!(recorded, BTreeSet::from(["subnet.a", "subnet.b", "vpc"]));
    assert!(!provider.resources().contains_key(&Address::from("nat")));

    let again = run_apply(&provider, &backend, &cidr, options, std::future::pending()).await;
    assert!(again.outcome.succeeded(), "{:?}", again.outcome);
    let creates: BTreeSet<&str> = again
        .outcome
        .done
        .iter()
        .filter(|(_, a)| *a == Action::Create)
        .map(|(a, _)| a.as_str())
        .collect();
    assert_eq!(creates, BTreeSet::from(["nat", "sg"]));
}

#[tokio::test]
async fn a_replacement_whose_create_fails_is_reported_failed_and_destroyed() {
    let (_dir, backend, provider) = applied_network().await;
    provider.fail_next_op("create", &Address::from("vpc"), "VpcLimitExceeded");
    let options = ApplyOptions { parallelism: 1, continue_on_error: false };
    let run = run_apply(
        &provider,
        &backend,
        &graph_with_cidr("10.9.0.0/16"),
        options,
        std::future::pending(),
    )
    .await;
    // Every old resource went; the new VPC failed, so nothing was made again.
    let failed: Vec<&str> = run.outcome.failed.iter().map(|f| f.address.as_str()).collect();
    assert_eq!(failed, ["vpc"]);
    let gone: BTreeSet<&str> = addresses(&run.outcome.destroyed_not_recreated);
    assert_eq!(gone, BTreeSet::from(["nat", "sg", "subnet.a", "subnet.b", "vpc"]));
    assert!(run.outcome.not_started.is_empty(), "{:?}", run.outcome);
    let saved = backend.read().await.expect("reads").expect("a state");
    assert!(saved.state.resources.is_empty());
    assert!(provider.resources().is_empty());
}

#[tokio::test]
async fn a_step_that_panics_stops_the_walk_and_the_others_are_recorded() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    provider.on_next(&Address::from("subnet.a"), || panic!("a bug in a provider step"));
    let run =
        run_apply(&provider, &backend, &graph(), ApplyOptions::default(), std::future::pending())
            .await;
    assert!(!run.outcome.succeeded());
    let not_started: BTreeSet<&str> = addresses(&run.outcome.not_started);
    // The panicked step and what needs it are not done; its siblings finished and are saved.
    assert!(not_started.contains("subnet.a"), "{not_started:?}");
    assert!(not_started.contains("nat"), "{not_started:?}");
    let saved = backend.read().await.expect("reads").expect("a state");
    let recorded: BTreeSet<&str> = saved.state.resources.keys().map(Address::as_str).collect();
    assert!(recorded.contains("vpc") && recorded.contains("subnet.b") && recorded.contains("sg"));
    assert!(!recorded.contains("subnet.a") && !recorded.contains("nat"));
}

#[tokio::test]
async fn never_more_steps_at_once_than_the_parallelism() {
    // vpc, then subnet.a, subnet.b and sg are ready together; nat after subnet.a.
    for (parallelism, most) in [(1, 1), (2, 2), (10, 3)] {
        let (_dir, backend) = local();
        let provider = Arc::new(FakeProvider::with_latency(std::time::Duration::from_millis(20)));
        let run = run_apply(
            &provider,
            &backend,
            &graph(),
            ApplyOptions { parallelism, continue_on_error: false },
            std::future::pending(),
        )
        .await;
        assert!(run.outcome.succeeded());
        assert_eq!(provider.most_in_flight(), most, "parallelism {parallelism}");
    }
}

#[tokio::test]
async fn a_step_that_cannot_be_prepared_fails_like_any_other() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    // subnet.b refers to an output the VPC never has: its spec cannot be resolved.
    let mut g = graph();
    if let Some(subnet) = g.resources.get_mut(&Address::from("subnet.b")) {
        subnet
            .attributes
            .insert("ref0".to_owned(), Expr::reference(&Address::from("vpc"), "no_such_output"));
    }
    let run = run_apply(
        &provider,
        &backend,
        &g,
        ApplyOptions { parallelism: 10, continue_on_error: true },
        std::future::pending(),
    )
    .await;
    assert_eq!(run.outcome.failed.len(), 1, "{:?}", run.outcome.failed);
    assert_eq!(run.outcome.failed[0].address.as_str(), "subnet.b");
    assert!(
        run.outcome.failed[0].error.to_string().contains("no_such_output"),
        "{}",
        run.outcome.failed[0].error
    );
    assert!(!provider.calls().contains(&"create subnet.b".to_owned()));
    let saved = backend.read().await.expect("reads").expect("a state");
    assert_eq!(saved.state.resources.len(), 4, "the others are built and saved");
}

/// task_definition[web] (its image) ← service[web] (its revision's ARN).
fn revisioned(image: &str) -> Graph {
    let td = Address::from("task_definition[web]");
    let service = Resource {
        address: Address::from("service[web]"),
        kind: Kind::Service,
        attributes: BTreeMap::from([
            ("name".to_owned(), Expr::str("web")),
            ("task_definition".to_owned(), Expr::reference(&td, "arn")),
        ]),
        depends_on: BTreeSet::from([td.clone()]),
    };
    let definition = Resource {
        address: td.clone(),
        kind: Kind::TaskDefinition,
        attributes: BTreeMap::from([("image".to_owned(), Expr::str(image))]),
        depends_on: BTreeSet::new(),
    };
    Graph { resources: BTreeMap::from([(td, definition), (service.address.clone(), service)]) }
}

/// A local state and a fake provider after applying `revisioned("nginx:1.27")`.
async fn applied_revision() -> (tempfile::TempDir, Backend, Arc<FakeProvider>) {
    applied(&revisioned("nginx:1.27")).await
}

/// Applies the image change to `nginx:1.28`: the run and the provider calls it made.
async fn revise(provider: &Arc<FakeProvider>, backend: &Backend) -> (Run, Vec<String>) {
    let before = provider.calls().len();
    let run = run_apply(
        provider,
        backend,
        &revisioned("nginx:1.28"),
        ApplyOptions::default(),
        std::future::pending(),
    )
    .await;
    let calls = provider.calls()[before..].to_vec();
    (run, calls)
}

#[tokio::test]
async fn a_new_revision_keeps_the_old_one_and_retires_only_after_the_service_moved() {
    let (_dir, backend, provider) = applied_revision().await;
    let stored = backend.read().await.expect("reads").expect("a state");
    let plan = plan_for(&revisioned("nginx:1.28"), &stored.state);
    let action = |a: &str| plan.changes.iter().find(|c| c.address.as_str() == a).map(|c| c.action);
    assert_eq!(action("task_definition[web]"), Some(Action::Revise));
    assert_eq!(action("service[web]"), Some(Action::Update));
    assert!(!plan.changes.iter().any(|c| c.action.is_destructive()));

    let (second, calls) = revise(&provider, &backend).await;
    assert!(second.outcome.succeeded(), "{:?}", second.outcome);
    assert!(
        !calls.iter().any(|c| c.starts_with("delete") || c.starts_with("retire")),
        "the walk neither deletes nor retires the old revision: {calls:?}"
    );
    let created = position(&calls, "create task_definition[web]");
    let updated = position(&calls, "update service[web]");
    assert!(created < updated, "{calls:?}");
    // The retirement waits for the rollout; once it completed (as the apply's wait says):
    assert_eq!(second.outcome.retirements, [Address::from("task_definition[web]")]);
    let state = backend.read().await.expect("reads").expect("a state").state;
    let mut events = Vec::new();
    let failed = retire(Arc::clone(&provider), &second.outcome.retirements, &state, 3, &mut |e| {
        events.push(e);
    })
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(provider.calls().last().map(String::as_str), Some("retire task_definition[web]"));
    // The revision counts once in what was done; its retirement is not a change of its own.
    assert_eq!(
        addresses::<BTreeSet<_>>(&second.outcome.done),
        BTreeSet::from(["service[web]", "task_definition[web]"])
    );
    assert_eq!(second.outcome.done.len(), 2);
}

#[tokio::test]
async fn a_failed_service_update_leaves_the_old_revisions_alone() {
    let (_dir, backend, provider) = applied_revision().await;
    provider.fail_next(&Address::from("service[web]"), "ServiceNotActiveException");
    let (second, calls) = revise(&provider, &backend).await;
    assert!(!second.outcome.succeeded());
    assert!(
        !calls.iter().any(|c| c.starts_with("retire")),
        "nothing is retired while the service has not moved: {calls:?}"
    );
    assert!(second.outcome.retirements.is_empty());
    // The registration is done; what is left is the service, not the revision.
    assert_eq!(addresses::<Vec<_>>(&second.outcome.not_started), Vec::<&str>::new());
}

mod after_rollout;
mod interrupts;
mod priorities;
