//! Listener rules handing priorities over: a rule that takes a freed priority waits for the
//! rule giving it up, and rules trading priorities park one of them.

use super::*;

/// A listener with a rule per `(service, priority, target group)` and a service using each
/// rule, as the graph builder makes them: a changed target group replaces the rule, and a
/// rule goes only after its service.
fn routed(rules: &[(&str, u32, &str)]) -> Graph {
    let listener = Address::from("listener");
    let mut resources = BTreeMap::from([resource("listener", Kind::Listener, &[])]);
    for &(service, priority, target) in rules {
        let address = Address::keyed("listener_rule", service);
        let rule = Resource {
            address: address.clone(),
            kind: Kind::ListenerRule,
            attributes: BTreeMap::from([
                ("listener_arn".to_owned(), Expr::reference(&listener, "arn")),
                ("priority".to_owned(), priority.into()),
                ("forward_to".to_owned(), Expr::str(target)),
            ]),
            depends_on: BTreeSet::from([listener.clone()]),
        };
        resources.insert(address.clone(), rule);
        let (a, r) = resource(&format!("service[{service}]"), Kind::Service, &[address.as_str()]);
        resources.insert(a, r);
    }
    Graph { resources }
}

/// The priority of each rule the provider holds, by address.
fn live_priorities(provider: &FakeProvider) -> BTreeMap<String, serde_json::Value> {
    provider
        .resources()
        .into_iter()
        .filter(|(_, live)| live.kind == Kind::ListenerRule)
        .map(|(a, live)| (a.to_string(), live.attributes["priority"].clone()))
        .collect()
}

/// Applies `graph` to what `provider` and `backend` hold; the run, and the calls it made.
async fn apply_rules(
    provider: &Arc<FakeProvider>,
    backend: &Backend,
    graph: &Graph,
) -> (Run, Vec<String>) {
    let before = provider.calls().len();
    let options = ApplyOptions::default();
    let run = run_apply(provider, backend, graph, options, std::future::pending()).await;
    (run, provider.calls()[before..].to_vec())
}

#[tokio::test]
async fn a_rule_takes_a_removed_rules_priority_once_it_is_gone_and_gives_it_back_first() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let both = routed(&[("api", 1000, "tg-api"), ("web", 1010, "tg-web")]);
    let (first, _) = apply_rules(&provider, &backend, &both).await;
    assert!(first.outcome.succeeded(), "{:?}", first.outcome);

    // Without api, web moves up to 1000, which api's rule holds until its service is gone.
    let web = routed(&[("web", 1000, "tg-web")]);
    let (second, calls) = apply_rules(&provider, &backend, &web).await;
    assert!(second.outcome.succeeded(), "{:?}", second.outcome);
    assert!(
        position(&calls, "delete listener_rule[api]")
            < position(&calls, "update listener_rule[web]"),
        "{calls:?}"
    );
    assert_eq!(
        live_priorities(&provider),
        BTreeMap::from([("listener_rule[web]".to_owned(), 1000.into())])
    );

    // And back: web makes room before api's new rule takes 1000.
    let (third, calls) = apply_rules(&provider, &backend, &both).await;
    assert!(third.outcome.succeeded(), "{:?}", third.outcome);
    assert!(
        position(&calls, "update listener_rule[web]")
            < position(&calls, "create listener_rule[api]"),
        "{calls:?}"
    );
    let saved = backend.read().await.expect("reads").expect("a state");
    assert!(!plan_for(&both, &saved.state).has_changes());
}

#[tokio::test]
async fn rules_trading_priorities_park_one_of_them_and_count_once() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let before = routed(&[("api", 10, "tg-api"), ("web", 100, "tg-web")]);
    let (first, _) = apply_rules(&provider, &backend, &before).await;
    assert!(first.outcome.succeeded(), "{:?}", first.outcome);

    let traded = routed(&[("api", 100, "tg-api"), ("web", 10, "tg-web")]);
    let state = backend.read().await.expect("reads").expect("a state").state;
    let plan = plan_for(&traded, &state);
    let steps = schedule(&plan, &traded, &state.resources, false);
    let parks: Vec<(&str, Part)> = steps
        .iter()
        .filter(|s| matches!(s.part, Part::Park { .. }))
        .map(|s| (s.address.as_str(), s.part))
        .collect();
    assert_eq!(parks, [("listener_rule[api]", Part::Park { priority: 50_000 })]);
    assert_eq!(preview(&plan, &traded, &state, false).steps, 3);

    let (second, calls) = apply_rules(&provider, &backend, &traded).await;
    assert!(second.outcome.succeeded(), "{:?}", second.outcome);
    let updates: Vec<&str> =
        calls.iter().filter(|c| c.contains("listener_rule")).map(String::as_str).collect();
    assert_eq!(
        updates,
        ["update listener_rule[api]", "update listener_rule[web]", "update listener_rule[api]"]
    );
    assert_eq!(
        addresses::<Vec<_>>(&second.outcome.done),
        ["listener_rule[web]", "listener_rule[api]"]
    );
    assert_eq!(
        live_priorities(&provider),
        BTreeMap::from([
            ("listener_rule[api]".to_owned(), 100.into()),
            ("listener_rule[web]".to_owned(), 10.into())
        ])
    );
    let saved = backend.read().await.expect("reads").expect("a state");
    assert!(!plan_for(&traded, &saved.state).has_changes());
}

mod any_edit {
    use proptest::prelude::*;

    use super::*;

    /// Rules of services `a`..`e`: each absent, or at a priority of 1..=6 (so that they
    /// collide often) forwarding to one of two target groups. A priority already taken drops
    /// the later rule, as validation refuses duplicates.
    fn manifest() -> impl Strategy<Value = Vec<(String, u32, String)>> {
        prop::collection::vec(prop::option::of((1..=6_u32, any::<bool>())), 5).prop_map(|rules| {
            let mut taken = BTreeSet::new();
            rules
                .into_iter()
                .zip(["a", "b", "c", "d", "e"])
                .filter_map(|(rule, service)| {
                    let (priority, other) = rule?;
                    let target = if other { "tg-2" } else { "tg-1" };
                    taken
                        .insert(priority)
                        .then(|| (service.to_owned(), priority, target.to_owned()))
                })
                .collect()
        })
    }

    fn graph_of(rules: &[(String, u32, String)]) -> Graph {
        let rules: Vec<(&str, u32, &str)> =
            rules.iter().map(|(s, p, t)| (s.as_str(), *p, t.as_str())).collect();
        routed(&rules)
    }

    proptest! {
        // Failures print their minimal input; no regression files in the tree.
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever a manifest edit does to the priorities (rules removed, added, replaced,
        /// moved, trading places), one apply gets there without ever asking AWS for a
        /// priority another rule holds, and leaves nothing to do.
        #[test]
        fn any_priority_edit_converges_in_one_apply(from in manifest(), to in manifest()) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let (from, to) = (graph_of(&from), graph_of(&to));
            runtime.block_on(async {
                let (_dir, backend) = local();
                let provider = Arc::new(FakeProvider::new());
                let (first, _) = apply_rules(&provider, &backend, &from).await;
                prop_assert!(first.outcome.succeeded(), "{:?}", first.outcome);
                let (second, calls) = apply_rules(&provider, &backend, &to).await;
                prop_assert!(second.outcome.succeeded(), "{:?}\n{:?}", second.outcome, calls);
                let saved = backend.read().await.expect("reads").expect("a state");
                prop_assert!(!plan_for(&to, &saved.state).has_changes());
                Ok(())
            })?;
        }
    }
}
