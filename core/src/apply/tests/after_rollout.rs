//! A task role that a service stops using is deleted after the rollout: the walk holds back
//! its delete (and the deletes waiting for it), which the apply runs once the services moved
//! off the old revision; a task definition that goes altogether takes its role with it.

use super::*;

/// `service[web]` ← `task_definition[web]` (its image) ← `iam_role.task[web]` (when `role`)
/// ← `iam_policy.exec[web]`.
fn tasked(image: &str, role: bool) -> Graph {
    let mut resources = BTreeMap::new();
    let mut refs = Vec::new();
    if role {
        resources.extend([
            resource("iam_policy.exec[web]", Kind::IamPolicy, &[]),
            resource(
                "iam_role.task[web]",
                Kind::IamRole,
                &["iam_policy.exec[web]"],
            ),
        ]);
        refs.push("iam_role.task[web]");
    }
    let (td, mut definition) = resource("task_definition[web]", Kind::TaskDefinition, &refs);
    definition
        .attributes
        .insert("image".to_owned(), Expr::str(image));
    resources.insert(td, definition);
    resources.extend([resource(
        "service[web]",
        Kind::Service,
        &["task_definition[web]"],
    )]);
    Graph { resources }
}

fn recorded(backend_state: &State) -> BTreeSet<&str> {
    backend_state
        .resources
        .keys()
        .map(Address::as_str)
        .collect()
}

#[tokio::test]
async fn a_role_the_old_revision_uses_is_deleted_after_the_rollout() {
    let (_dir, backend, provider) = applied(&tasked("nginx:1.27", true)).await;
    let before = provider.calls().len();
    let dropped = tasked("nginx:1.28", false);
    let run = run_apply(
        &provider,
        &backend,
        &dropped,
        ApplyOptions::default(),
        std::future::pending(),
    )
    .await;
    assert!(run.outcome.succeeded(), "{:?}", run.outcome);
    let calls = provider.calls()[before..].to_vec();
    assert!(
        !calls.iter().any(|c| c.starts_with("delete")),
        "the walk deletes nothing the old revision uses: {calls:?}"
    );
    let held: BTreeSet<&str> = run
        .outcome
        .after_rollout
        .iter()
        .map(Address::as_str)
        .collect();
    assert_eq!(
        held,
        BTreeSet::from(["iam_policy.exec[web]", "iam_role.task[web]"])
    );
    assert!(run.outcome.not_started.is_empty(), "{:?}", run.outcome);
    let state = backend.read().await.expect("reads").expect("a state").state;
    assert!(recorded(&state).contains("iam_role.task[web]"));

    // What the apply does once the rollout completed: the held deletes alone, role first.
    let stored = backend.read().await.expect("reads").expect("a state");
    let plan = plan_for(&dropped, &stored.state);
    let rest = plan.only(&run.outcome.after_rollout);
    let later = apply_stored(&provider, &backend, &rest, &dropped).await;
    assert!(later.succeeded(), "{later:?}");
    assert!(later.after_rollout.is_empty());
    let calls = provider.calls();
    let role = position(&calls, "delete iam_role.task[web]");
    let policy = position(&calls, "delete iam_policy.exec[web]");
    assert!(role < policy, "{calls:?}");
    let state = backend.read().await.expect("reads").expect("a state").state;
    assert_eq!(
        recorded(&state),
        BTreeSet::from(["service[web]", "task_definition[web]"])
    );
}

#[tokio::test]
async fn a_role_whose_service_goes_too_is_deleted_by_the_walk() {
    let (_dir, backend, provider) = applied(&tasked("nginx:1.27", true)).await;
    let run = run_apply(
        &provider,
        &backend,
        &Graph::default(),
        ApplyOptions::default(),
        std::future::pending(),
    )
    .await;
    assert!(run.outcome.succeeded(), "{:?}", run.outcome);
    assert!(run.outcome.after_rollout.is_empty());
    let state = backend.read().await.expect("reads").expect("a state").state;
    assert!(recorded(&state).is_empty(), "{:?}", recorded(&state));
}
