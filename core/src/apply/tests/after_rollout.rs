//! A task role that a service stops using is deleted after the rollout: the walk holds back
//! its delete (and the deletes waiting for it), which the apply runs once the services moved
//! off the old revision; a task definition that goes altogether takes its role with it.

use serde_json::{Value, json};

use super::*;
use crate::state::{ApplyResult, Operation};

/// `service[web]` ← `task_definition[web]` (its image) ← `iam_role.task[web]` (when `role`)
/// ← `iam_policy.exec[web]`.
fn tasked(image: &str, role: bool) -> Graph {
    let mut resources = BTreeMap::new();
    let mut refs = Vec::new();
    if role {
        resources.extend([
            resource("iam_policy.exec[web]", Kind::IamPolicy, &[]),
            resource("iam_role.task[web]", Kind::IamRole, &["iam_policy.exec[web]"]),
        ]);
        refs.push("iam_role.task[web]");
    }
    served(resources, image, &refs)
}

/// `resources` with `service[web]` ← `task_definition[web]` (running `image`, using `uses`).
fn served(mut resources: BTreeMap<Address, Resource>, image: &str, uses: &[&str]) -> Graph {
    let (td, mut definition) = resource("task_definition[web]", Kind::TaskDefinition, uses);
    definition.attributes.insert("image".to_owned(), Expr::str(image));
    resources.insert(td, definition);
    resources.extend([resource("service[web]", Kind::Service, &["task_definition[web]"])]);
    Graph { resources }
}

/// A walk of `graph` with the default options, which succeeds.
async fn walked(provider: &Arc<FakeProvider>, backend: &Backend, graph: &Graph) -> Run {
    let options = ApplyOptions::default();
    let run = run_apply(provider, backend, graph, options, std::future::pending()).await;
    assert!(run.outcome.succeeded(), "{:?}", run.outcome);
    run
}

fn recorded(backend_state: &State) -> BTreeSet<&str> {
    backend_state.resources.keys().map(Address::as_str).collect()
}

#[tokio::test]
async fn a_role_the_old_revision_uses_is_deleted_after_the_rollout() {
    let (_dir, backend, provider) = applied(&tasked("nginx:1.27", true)).await;
    let before = provider.calls().len();
    let dropped = tasked("nginx:1.28", false);
    let run = walked(&provider, &backend, &dropped).await;
    let calls = provider.calls()[before..].to_vec();
    assert!(
        !calls.iter().any(|c| c.starts_with("delete")),
        "the walk deletes nothing the old revision uses: {calls:?}"
    );
    let held: BTreeSet<&str> =
        run.outcome.after_rollout.iter().map(|(address, _)| address.as_str()).collect();
    assert_eq!(held, BTreeSet::from(["iam_policy.exec[web]", "iam_role.task[web]"]));
    assert!(run.outcome.not_started.is_empty(), "{:?}", run.outcome);
    let state = backend.read().await.expect("reads").expect("a state").state;
    assert!(recorded(&state).contains("iam_role.task[web]"));

    // What the apply does once the rollout completed: the held deletes alone, role first.
    let stored = backend.read().await.expect("reads").expect("a state");
    let plan = plan_for(&dropped, &stored.state);
    let rest = plan.only(run.outcome.after_rollout.iter().map(|(a, _)| a));
    let later = apply_stored(&provider, &backend, &rest, &dropped).await;
    assert!(later.succeeded(), "{later:?}");
    assert!(later.after_rollout.is_empty());
    let calls = provider.calls();
    let role = position(&calls, "delete iam_role.task[web]");
    let policy = position(&calls, "delete iam_policy.exec[web]");
    assert!(role < policy, "{calls:?}");
    let state = backend.read().await.expect("reads").expect("a state").state;
    assert_eq!(recorded(&state), BTreeSet::from(["service[web]", "task_definition[web]"]));
}

#[tokio::test]
async fn a_role_whose_service_goes_too_is_deleted_by_the_walk() {
    let (_dir, backend, provider) = applied(&tasked("nginx:1.27", true)).await;
    let run = walked(&provider, &backend, &Graph::default()).await;
    assert!(run.outcome.after_rollout.is_empty());
    let state = backend.read().await.expect("reads").expect("a state").state;
    assert!(recorded(&state).is_empty(), "{:?}", recorded(&state));
}

const ROLE: &str = "iam_role.task_execution";
const POLICY: &str = "iam_policy.task_execution";
const EXEC: &str = "iam_policy.exec[web]";

/// `service[web]` ← `task_definition[web]` (its image) ← `iam_role.task_execution` (with
/// `iam_policy.exec[web]` attached when `exec`) ← `iam_policy.task_execution`, which lets the
/// tasks read `secrets`.
fn secreted(image: &str, secrets: &[&str], exec: bool) -> Graph {
    let mut resources = BTreeMap::new();
    let policy = Address::from(POLICY);
    let document = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadSecrets", "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue", "Resource": secrets,
    }]});
    let iam = |address: &Address, kind: Kind, attributes: Vec<(&str, Expr)>, deps: &[&Address]| {
        let mut attributes: BTreeMap<String, Expr> =
            (attributes.into_iter()).map(|(k, v)| (k.to_owned(), v)).collect();
        attributes.insert("name".to_owned(), Expr::str(address.to_string()));
        attributes.insert("path".to_owned(), Expr::str("/ecsops/"));
        attributes.insert("tags".to_owned(), Expr::Lit(json!({})));
        Resource {
            address: address.clone(),
            kind,
            attributes,
            depends_on: deps.iter().map(|d| (*d).clone()).collect(),
        }
    };
    resources.insert(
        policy.clone(),
        iam(&policy, Kind::IamPolicy, vec![("document", Expr::Lit(document))], &[]),
    );
    let mut arns = vec![Expr::reference(&policy, "id")];
    let mut deps = vec![&policy];
    let exec_policy = Address::from(EXEC);
    if exec {
        let none = json!({"Version": "2012-10-17", "Statement": []});
        resources.insert(
            exec_policy.clone(),
            iam(&exec_policy, Kind::IamPolicy, vec![("document", Expr::Lit(none))], &[]),
        );
        arns.push(Expr::reference(&exec_policy, "id"));
        deps.push(&exec_policy);
    }
    let role = Address::from(ROLE);
    let trust = json!({"Version": "2012-10-17", "Statement": []});
    resources.insert(
        role.clone(),
        iam(
            &role,
            Kind::IamRole,
            vec![("assume_role_policy", Expr::Lit(trust)), ("policy_arns", Expr::List(arns))],
            &deps,
        ),
    );
    served(resources, image, &[ROLE])
}

/// The live policy's readable secrets, in statement order.
fn readable(provider: &FakeProvider) -> Vec<Value> {
    let live = &provider.resources()[&Address::from(POLICY)];
    let statements = live.attributes["document"]["Statement"].as_array().cloned();
    (statements.unwrap_or_default().iter()).map(|s| s["Resource"].clone()).collect()
}

/// Removing a secret from a service narrows the execution policy only after the rollout:
/// the walk widens it to the old and new grants, so the old revision's tasks (and a rollback
/// to them) still read it.
#[tokio::test]
async fn a_narrowed_grant_the_old_revision_uses_is_widened_then_narrowed_after_the_rollout() {
    let (_dir, backend, provider) = applied(&secreted("nginx:1.27", &["s1", "s2"], false)).await;
    let narrowed = secreted("nginx:1.28", &["s1"], false);
    // What the apply says before it walks.
    let before = backend.read().await.expect("reads").expect("a state").state;
    let planned = plan_for(&narrowed, &before);
    assert_eq!(
        preview(&planned, &narrowed, &before, false).held,
        [(Address::from(POLICY), Action::Update)]
    );
    let run = walked(&provider, &backend, &narrowed).await;
    assert_eq!(readable(&provider), [json!(["s1"]), json!(["s1", "s2"])]);
    assert_eq!(run.outcome.after_rollout, [(Address::from(POLICY), Action::Update)]);
    let done: BTreeSet<&str> = addresses(&run.outcome.done);
    assert!(!done.contains(POLICY), "{done:?}");
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::Finished { address, part: Part::Widen, .. } if address.as_str() == POLICY
    )));
    // The new revision is registered once the policy grants what it needs.
    let calls = provider.calls();
    let revised = calls.iter().rposition(|c| c == "create task_definition[web]");
    assert!(Some(position(&calls, &format!("update {POLICY}"))) < revised, "{calls:?}");
    let stored = backend.read().await.expect("reads").expect("a state");
    let recorded = &stored.state.resources[&Address::from(POLICY)].attributes;
    assert_eq!(recorded["document"]["Statement"].as_array().map(Vec::len), Some(2));

    // Once the rollout completed: the narrowing alone.
    let plan = plan_for(&narrowed, &stored.state);
    let rest = plan.only(run.outcome.after_rollout.iter().map(|(a, _)| a));
    let later = apply_stored(&provider, &backend, &rest, &narrowed).await;
    assert!(later.succeeded(), "{later:?}");
    assert_eq!(later.done, [(Address::from(POLICY), Action::Update)]);
    assert_eq!(readable(&provider), [json!(["s1"])]);
    let stored = backend.read().await.expect("reads").expect("a state");
    assert!(!plan_for(&narrowed, &stored.state).has_changes());
}

#[tokio::test]
async fn a_grant_that_only_grows_is_updated_whole_by_the_walk() {
    let (_dir, backend, provider) = applied(&secreted("nginx:1.27", &["s1"], false)).await;
    let grown = secreted("nginx:1.28", &["s1", "s2"], false);
    let before = backend.read().await.expect("reads").expect("a state").state;
    assert!(preview(&plan_for(&grown, &before), &grown, &before, false).held.is_empty());
    let run = walked(&provider, &backend, &grown).await;
    assert!(run.outcome.after_rollout.is_empty(), "{:?}", run.outcome);
    assert!(addresses::<BTreeSet<_>>(&run.outcome.done).contains(POLICY));
    assert_eq!(readable(&provider), [json!(["s1", "s2"])]);
    assert!(!run.events.iter().any(|e| matches!(
        e,
        Event::Started { part: Part::Widen, .. } | Event::Finished { part: Part::Widen, .. }
    )));
}

/// A policy detached from the execution role stays attached, and is deleted, after the
/// rollout: the role's narrowing and the delete waiting for it are held together.
#[tokio::test]
async fn a_policy_the_old_revision_uses_is_detached_and_deleted_after_the_rollout() {
    let (_dir, backend, provider) = applied(&secreted("nginx:1.27", &["s1"], true)).await;
    let dropped = secreted("nginx:1.28", &["s1"], false);
    let run = walked(&provider, &backend, &dropped).await;
    assert_eq!(
        run.outcome.after_rollout,
        [(Address::from(EXEC), Action::Delete), (Address::from(ROLE), Action::Update)]
    );
    let role = &provider.resources()[&Address::from(ROLE)];
    assert_eq!(role.attributes["policy_arns"].as_array().map(Vec::len), Some(2));
    assert!(provider.resources().contains_key(&Address::from(EXEC)));

    let stored = backend.read().await.expect("reads").expect("a state");
    let plan = plan_for(&dropped, &stored.state);
    let rest = plan.only(run.outcome.after_rollout.iter().map(|(a, _)| a));
    let later = apply_stored(&provider, &backend, &rest, &dropped).await;
    assert!(later.succeeded(), "{later:?}");
    let calls = provider.calls();
    let narrowed = calls.iter().rposition(|c| *c == format!("update {ROLE}"));
    let deleted = position(&calls, &format!("delete {EXEC}"));
    assert!(narrowed < Some(deleted), "{calls:?}");
    let role = &provider.resources()[&Address::from(ROLE)];
    assert_eq!(role.attributes["policy_arns"].as_array().map(Vec::len), Some(1));
}

/// After a failed rollout ECS may run a service's old revision, which the state no longer
/// records: an apply that rolls the service out again holds every delete of a role until its
/// rollout, though no revision in its plan names the role.
#[tokio::test]
async fn after_a_failed_rollout_a_role_is_deleted_after_the_services_rolled_out_again() {
    let with_role = |count: &str, role: bool| {
        let mut g = tasked("nginx:1.27", false);
        if role {
            g.resources.extend([resource("iam_role.task[web]", Kind::IamRole, &[])]);
        }
        let service = g.resources.get_mut(&Address::from("service[web]"));
        if let Some(service) = service {
            let count = Expr::str(count);
            service.attributes.insert("desired_count".to_owned(), count);
        }
        g
    };
    let (_dir, backend, _provider) = applied(&with_role("1", true)).await;
    let state = backend.read().await.expect("reads").expect("a state").state;
    let moved = with_role("2", false);
    let plan = plan_for(&moved, &state);
    assert_role_delete_held_when_unsettled(&plan, &moved, &state);
}

/// The role's delete in `plan` is whole, and held until the rollouts when ECS may run
/// revisions the state does not record.
fn assert_role_delete_held_when_unsettled(plan: &Plan, graph: &Graph, state: &State) {
    let part = |unsettled: bool| {
        let steps = schedule(plan, graph, &state.resources, unsettled);
        let delete = steps.iter().find(|s| s.address.as_str() == "iam_role.task[web]");
        delete.map(|s| s.part)
    };
    assert_eq!(part(false), Some(Part::Whole));
    assert_eq!(part(true), Some(Part::AfterRollout));
}

/// After an apply that did not finish, ECS may still deploy (or roll back to) an old revision
/// that uses a role the state recorded: its delete waits for the rollouts though the plan rolls
/// nothing out (the apply then waits for every recorded service).
#[tokio::test]
async fn after_an_unfinished_apply_a_role_delete_waits_though_nothing_rolls_out() {
    let mut with_role = tasked("nginx:1.27", false);
    with_role.resources.extend([resource("iam_role.task[web]", Kind::IamRole, &[])]);
    let (_dir, backend, _provider) = applied(&with_role).await;
    let state = backend.read().await.expect("reads").expect("a state").state;
    let without = tasked("nginx:1.27", false);
    let plan = plan_for(&without, &state);
    assert!(
        (plan.changes.iter()).all(|c| c.action == Action::NoOp || c.kind == Kind::IamRole),
        "{:?}",
        plan.changes
    );
    assert_role_delete_held_when_unsettled(&plan, &without, &state);
}

/// Unsettled: the last apply's revision records that it did not finish, in git or outside.
#[test]
fn an_apply_that_did_not_finish_leaves_the_state_unsettled() {
    let plan = Plan::for_tests(Vec::new(), 1);
    let mut state = State::new("acc", "L".to_owned());
    assert!(!unsettled(&plan, &state), "no apply recorded");
    for ((result, expected), commit) in [
        (ApplyResult::Applied, false),
        (ApplyResult::RolloutFailed, true),
        (ApplyResult::Failed, true),
        (ApplyResult::Interrupted, true),
    ]
    .into_iter()
    .flat_map(|r| [(r, Some("c0ffee".to_owned())), (r, None)])
    {
        state.revision = Some(crate::state::Revision {
            commit,
            tag: None,
            dirty: false,
            operation: Operation::Apply,
            result,
            rolled_back_to: None,
            applied_at: "2026-12-03T10:00:00Z".to_owned(),
            applied_by: "ci@runner".to_owned(),
        });
        assert_eq!(unsettled(&plan, &state), expected, "{result:?}");
    }
}

/// A replacement's destroy cannot wait for the rollouts: when it waits for a grant's update
/// (the role lets go of the policy being replaced), that update is made whole, in the walk.
#[tokio::test]
async fn a_grant_whose_old_dependency_is_replaced_is_updated_whole() {
    let (_dir, backend, _provider) = applied(&secreted("nginx:1.27", &["s1"], true)).await;
    let state = backend.read().await.expect("reads").expect("a state").state;
    let mut renamed = secreted("nginx:1.28", &["s1"], false);
    let exec = Address::from(EXEC);
    let mut policy = state.resources[&exec].clone();
    policy.attributes.insert("name".to_owned(), json!("renamed"));
    let attributes =
        (policy.attributes.iter()).map(|(k, v)| (k.clone(), Expr::Lit(v.clone()))).collect();
    renamed.resources.insert(
        exec.clone(),
        Resource {
            address: exec.clone(),
            kind: Kind::IamPolicy,
            attributes,
            depends_on: BTreeSet::new(),
        },
    );
    let plan = plan_for(&renamed, &state);
    let steps = schedule(&plan, &renamed, &state.resources, false);
    let parts: Vec<(&str, Part)> = (steps.iter())
        .filter(|s| [ROLE, EXEC].contains(&s.address.as_str()))
        .map(|s| (s.address.as_str(), s.part))
        .collect();
    assert_eq!(parts, [(EXEC, Part::Destroy), (EXEC, Part::Create), (ROLE, Part::Whole)]);
}
