//! Ctrl-C during the walk: the running steps finish and are saved, nothing else starts.

use super::*;

#[tokio::test]
async fn an_interrupt_before_the_first_step_starts_nothing() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let run = run_apply(&provider, &backend, &graph(), ApplyOptions::default(), async {}).await;
    assert!(run.outcome.interrupted);
    assert!(run.outcome.done.is_empty(), "{:?}", run.outcome.done);
    assert_eq!(run.outcome.not_started.len(), 5);
    assert!(!run.events.iter().any(|e| matches!(e, Event::Started { .. })), "{:?}", run.events);
}

/// Ctrl-C while a finished step's result is saved (seconds, on S3): the steps that step made
/// ready do not start.
#[tokio::test]
async fn an_interrupt_during_a_save_starts_nothing_after_it() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let mut saves = 0;
    let run = run_apply_watched(
        &provider,
        &backend,
        &graph(),
        ApplyOptions::default(),
        async move {
            let _ = rx.await;
        },
        move |e| {
            // The first save fixes the lineage; the second records the VPC.
            if matches!(e, Event::Saved { .. }) {
                saves += 1;
                if saves == 2
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
            }
        },
    )
    .await;
    assert!(run.outcome.interrupted);
    assert_eq!(run.outcome.done, vec![(Address::from("vpc"), Action::Create)]);
    assert_eq!(run.outcome.not_started.len(), 4);
}

#[tokio::test]
async fn an_interrupt_lets_the_running_step_finish_and_starts_nothing_else() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::new());
    let options = ApplyOptions { parallelism: 1, continue_on_error: false };
    // Ctrl-C while the VPC is being created.
    let interrupt = interrupt_while(&provider, "vpc");
    let run = run_apply(&provider, &backend, &graph(), options, interrupt).await;
    assert!(run.outcome.interrupted);
    assert_eq!(run.outcome.done, vec![(Address::from("vpc"), Action::Create)]);
    assert_eq!(run.outcome.not_started.len(), 4);
    assert!(run.events.contains(&Event::Interrupted));
    let saved = backend.read().await.expect("reads").expect("a state");
    assert_eq!(saved.state.resources.len(), 1);
}

#[tokio::test]
async fn an_interrupt_while_several_steps_run_lets_all_of_them_finish() {
    let (_dir, backend) = local();
    let provider = Arc::new(FakeProvider::with_latency(std::time::Duration::from_millis(20)));
    // Ctrl-C arrives while subnet.a, subnet.b and sg are all running.
    let interrupt = interrupt_while(&provider, "subnet.a");
    let run = run_apply(&provider, &backend, &graph(), ApplyOptions::default(), interrupt).await;
    assert!(run.outcome.interrupted);
    assert_eq!(provider.most_in_flight(), 3);
    let done: BTreeSet<&str> = addresses(&run.outcome.done);
    assert_eq!(done, BTreeSet::from(["vpc", "subnet.a", "subnet.b", "sg"]));
    let not_started: Vec<&str> = addresses(&run.outcome.not_started);
    assert_eq!(not_started, ["nat"]);
    let saved = backend.read().await.expect("reads").expect("a state");
    assert_eq!(saved.state.resources.len(), 4, "every finished step is saved");
}

/// An interrupt that comes while the step of `address` runs (Ctrl-C mid-call).
fn interrupt_while(provider: &FakeProvider, address: &str) -> impl Future<Output = ()> + Send {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    provider.on_next(&Address::from(address), move || {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(());
        }
    });
    async move {
        let _ = rx.await;
    }
}
