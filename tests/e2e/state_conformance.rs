//! One conformance suite for every state backend: the same test bodies run against the local
//! backend (a temp directory) and the S3 backend (moto). Locks are exclusive, writes are
//! compare-and-swap, lineage is enforced, a document of another environment is never written, a
//! retried lock write finds its own lock, the history lists every kept version and no step of
//! an apply, and a stored document that does not parse is only replaced by a write naming its
//! version.

use std::path::Path;
use std::sync::Arc;

use ecsops_core::state::local::LocalBackend;
use ecsops_core::state::s3::S3Backend;
use ecsops_core::state::{Backend, LockInfo, State, StateError};

use crate::support::moto::moto;

const ENV: &str = "acc";

/// Makes independent backends (each with its own client) on one store.
trait Store {
    fn backend(&self) -> Backend;
}

struct Local(tempfile::TempDir);

impl Store for Local {
    fn backend(&self) -> Backend {
        Backend::Local(LocalBackend::new(self.0.path().join(".ecsops/state"), ENV))
    }
}

struct S3 {
    client_factory: Arc<dyn Fn() -> aws_sdk_s3::Client + Send + Sync>,
    prefix: &'static str,
}

impl S3 {
    /// The same bucket under another prefix: a store of its own.
    fn at(&self, prefix: &'static str) -> Self {
        Self { client_factory: self.client_factory.clone(), prefix }
    }
}

impl Store for S3 {
    fn backend(&self) -> Backend {
        in_bucket((self.client_factory)(), self.prefix)
    }
}

fn local() -> Local {
    Local(tempfile::tempdir().expect("temp dir"))
}

async fn s3(server: &'static crate::support::moto::Moto) -> S3 {
    server.create_bucket("ecsops-state").await;
    let client = server.s3();
    client
        .put_bucket_versioning()
        .bucket("ecsops-state")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");
    S3 { client_factory: Arc::new(move || server.s3()), prefix: "teams/platform" }
}

/// The S3 backend of `acc` under `prefix` in the conformance bucket, reached through `client`.
fn in_bucket(client: aws_sdk_s3::Client, prefix: &str) -> Backend {
    Backend::S3(S3Backend::with_client(client, "ecsops-state", prefix, ENV))
}

fn info(n: usize) -> LockInfo {
    let mut i = LockInfo::new("test", Path::new("/nonexistent"));
    i.operation = format!("contender {n}");
    i
}

fn state(serial: u64, lineage: &str, marker: &str) -> State {
    let mut s = State::new(ENV, lineage.to_owned());
    s.serial = serial;
    s.outputs.insert("writer".to_owned(), serde_json::Value::from(marker));
    s
}

async fn contention(store: Arc<dyn Store + Send + Sync>) {
    for round in 0..20 {
        let contenders: Vec<_> = (0..8)
            .map(|n| {
                let backend = store.backend();
                tokio::spawn(async move {
                    let me = info(n);
                    (me.clone(), backend.lock(&me).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut holders = Vec::new();
        for c in contenders {
            let (me, result) = c.await.expect("task");
            match result {
                Ok(()) => winners.push(me),
                Err(StateError::LockHeld { holder, .. }) => holders.push(*holder),
                Err(e) => panic!("round {round}: unexpected {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} holders", winners.len());
        let winner = &winners[0];
        assert!(holders.iter().all(|h| h == winner), "round {round}: losers must see the winner");
        store.backend().unlock(&winner.id).await.expect("unlock");
    }
}

async fn compare_and_swap(store: &dyn Store) {
    let (a, b) = (store.backend(), store.backend());
    a.write(&state(1, "L", "first"), None).await.expect("first write");
    assert!(
        matches!(b.write(&state(1, "L", "twin"), None).await, Err(StateError::Conflict { .. })),
        "a first write must not overwrite an existing state"
    );
    let read_a = a.read().await.expect("read").expect("state");
    let read_b = b.read().await.expect("read").expect("state");
    a.write(&state(2, "L", "A"), Some(&read_a.version)).await.expect("A wins");
    let lost = b.write(&state(2, "L", "B"), Some(&read_b.version)).await;
    assert!(matches!(lost, Err(StateError::Conflict { current_serial: 2, .. })), "{lost:?}");
    let stored = a.read().await.expect("read").expect("state").state;
    assert_eq!(stored, state(2, "L", "A"), "the stored state is A's, intact");

    let current = a.read().await.expect("read").expect("state");
    let foreign = a.write(&state(3, "OTHER", "x"), Some(&current.version)).await;
    assert!(matches!(foreign, Err(StateError::LineageMismatch { .. })), "{foreign:?}");
    let stale = a.write(&state(2, "L", "x"), Some(&current.version)).await;
    assert!(matches!(stale, Err(StateError::StaleSerial { .. })), "{stale:?}");
    assert_eq!(a.read().await.expect("read").expect("state").state.serial, 2);
}

async fn locks(store: &dyn Store) {
    let backend = store.backend();
    let holder = info(1);
    backend.lock(&holder).await.expect("lock");
    // What an SDK retry of a lock write whose first attempt succeeded sends: the same lock
    // again. It must count as taken, not as held by someone else.
    backend.lock(&holder).await.expect("a retried lock write finds its own lock");
    assert!(matches!(store.backend().lock(&info(2)).await, Err(StateError::LockHeld { .. })));
    assert_eq!(backend.read_lock().await.expect("read lock"), Some(holder.clone()));
    let wrong = backend.unlock("not-the-id").await;
    assert!(matches!(wrong, Err(StateError::WrongLockId { .. })), "{wrong:?}");
    assert!(backend.read_lock().await.expect("read").is_some(), "a wrong id removes nothing");
    backend.unlock(&holder.id).await.expect("unlock");
    assert_eq!(backend.read_lock().await.expect("read"), None);
    assert!(matches!(backend.unlock(&holder.id).await, Err(StateError::NotLocked { .. })));
}

/// After the stored document was truncated: reads fail with `Corrupt`, a write that does not name
/// the unparsable document's version is refused, and one that does (a forced push) replaces it.
async fn unparsable(store: &dyn Store) {
    let backend = store.backend();
    let read = backend.read().await;
    assert!(matches!(read, Err(StateError::Corrupt { .. })), "{read:?}");
    let blind = backend.write(&state(9, "L", "blind"), None).await;
    assert!(matches!(blind, Err(StateError::Corrupt { .. })), "{blind:?}");
    let version = backend.raw_version().await.expect("raw read");
    assert!(version.is_some(), "the unparsable document has a version");
    backend
        .write(&state(9, "L", "restored"), version.as_ref())
        .await
        .expect("a write naming the version replaces it");
    let stored = backend.read().await.expect("read").expect("state").state;
    assert_eq!(stored, state(9, "L", "restored"));
}

/// A document of another environment is never written, with no state yet or over one (a stored
/// one, left by an ecsops without this check, reads as not valid: `parse`'s unit tests).
async fn another_environment(store: &dyn Store) {
    let backend = store.backend();
    let mut foreign = State::new("prod", "L".to_owned());
    foreign.serial = 1;
    let refused = backend.write(&foreign, None).await;
    assert!(
        matches!(&refused, Err(StateError::WrongEnvironment { given, .. }) if given == "prod"),
        "{refused:?}"
    );
    assert!(backend.read().await.expect("read").is_none(), "nothing written");
    backend.write(&state(1, "L", "own"), None).await.expect("a document of this environment");
    let current = backend.read().await.expect("read").expect("state");
    foreign.serial = 2;
    let refused = backend.write(&foreign, Some(&current.version)).await;
    assert!(matches!(refused, Err(StateError::WrongEnvironment { .. })), "{refused:?}");
    assert_eq!(backend.read().await.expect("read").expect("state").state, state(1, "L", "own"));
}

/// The history keeps the newest applies and pushes, never a step of an apply (which a
/// versioned bucket keeps all the same).
async fn kept_versions(store: &dyn Store) {
    const STEPS: u64 = 5;
    let backend = store.backend().keeping(Some(3));
    let write = async |serial: u64, kind: &str| {
        let read = backend.read().await.expect("read");
        let expected = read.as_ref().map(|s| &s.version);
        let document = state(serial, "L", kind);
        match kind {
            "step" => backend.write_step(&document, expected).await,
            "push" => backend.push(&document, expected, false).await,
            _ => backend.write(&document, expected).await,
        }
        .expect("write");
    };
    write(1, "apply").await;
    write(2, "apply").await;
    for serial in 3..=STEPS {
        write(serial, "step").await;
    }
    write(STEPS + 1, "apply").await;
    write(STEPS + 2, "push").await;
    assert_eq!(kept_serials(&backend).await, vec![STEPS + 2, STEPS + 1, 2]);
}

/// The serials the history lists, newest first.
async fn kept_serials(backend: &Backend) -> Vec<u64> {
    let history = backend.history().await.expect("history");
    history.iter().map(|h| h.serial).collect()
}

const TRUNCATED: &[u8] = b"{\"version\": 2, \"lineage\": \"L\", \"ser";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_backend_conformance() {
    contention(Arc::new(local())).await;
    let store = local();
    compare_and_swap(&store).await;
    locks(&local()).await;
    assert_eq!(kept_serials(&store.backend()).await, vec![2, 1]);
    kept_versions(&local()).await;
    std::fs::write(store.0.path().join(".ecsops/state/acc.json"), TRUNCATED).expect("truncate");
    unparsable(&store).await;
    another_environment(&local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_backend_conformance() {
    let guard = moto();
    let store = Arc::new(s3(guard.server).await);
    contention(store.clone()).await;
    compare_and_swap(store.as_ref()).await;
    locks(store.as_ref()).await;
    // Versioning keeps every written serial, newest first, with who wrote it.
    let history = store.backend().history().await.expect("history");
    let serials: Vec<u64> = history.iter().map(|h| h.serial).collect();
    assert_eq!(serials, vec![2, 1], "{history:?}");
    assert!(history.iter().all(|h| h.who.as_deref().is_some_and(|w| w.contains('@'))));
    guard
        .server
        .s3()
        .put_object()
        .bucket("ecsops-state")
        .key("teams/platform/acc/state.json")
        .body(TRUNCATED.to_vec().into())
        .send()
        .await
        .expect("truncated upload");
    unparsable(store.as_ref()).await;
    another_environment(&store.at("teams/other")).await;
    kept_versions(&store.at("teams/long")).await;
}

/// The lock write's first attempt reaches S3 and takes the lock, but its response is lost; the
/// SDK retries, the retry gets 412 against our own lock, and that must count as taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_lock_write_that_finds_its_own_lock_holds_it() {
    use crate::support::moto::s3_client;
    use crate::support::proxy::{DropResponse, Fault, Proxy};
    use std::sync::atomic::Ordering;

    let guard = moto();
    let _store = s3(guard.server).await;
    let proxy = Proxy::start(
        guard.server.port(),
        vec![DropResponse {
            contains: vec!["put ", "/lock.json", "if-none-match"],
            times: 1,
            fault: Fault::Drop,
        }],
    );
    let backend = in_bucket(s3_client(&proxy.endpoint), "retry");
    let me = info(1);
    backend.lock(&me).await.expect("the lock is ours");
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1, "the first response was lost");
    assert_eq!(proxy.matched.load(Ordering::SeqCst), 2, "the SDK retried the write once");
    assert_eq!(backend.read_lock().await.expect("read"), Some(me.clone()));
    // Someone else still cannot take it, and we can release it.
    let other = in_bucket(guard.server.s3(), "retry");
    assert!(matches!(other.lock(&info(2)).await, Err(StateError::LockHeld { .. })));
    backend.unlock(&me.id).await.expect("unlock");
}

/// The lock write lands, then the probe that checks the store honours `If-None-Match` gets no
/// answer (every retry too): taking the lock fails, and the lock it wrote is released, not
/// left for `ecsops unlock`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_probe_fails_is_released_not_left_behind() {
    use crate::support::moto::s3_client;
    use crate::support::proxy::{DropResponse, Fault, Proxy};
    use std::sync::atomic::Ordering;

    let guard = moto();
    let _store = s3(guard.server).await;
    let lock_write = || vec!["put ", "/lock.json", "if-none-match"];
    let proxy = Proxy::start(
        guard.server.port(),
        vec![
            DropResponse { contains: lock_write(), times: 1, fault: Fault::Pass },
            DropResponse { contains: lock_write(), times: usize::MAX, fault: Fault::Drop },
        ],
    );
    let backend = in_bucket(s3_client(&proxy.endpoint), "probe");
    let failed = backend.lock(&info(1)).await;
    assert!(matches!(&failed, Err(StateError::Aws { .. })), "the probe's failure: {failed:?}");
    assert!(proxy.dropped.load(Ordering::SeqCst) > 0, "the probe got no answer");
    assert_eq!(
        backend.read_lock().await.expect("read"),
        None,
        "the lock written first is released"
    );
}

/// A store that ignores `If-None-Match` (a proxy strips it here) cannot lock, and is refused
/// rather than trusted: a run through it finds a lock already held and leaves it alone, or,
/// finding none, sees its second conditional write accepted, takes its own lock back and says
/// why. Runs racing through it never both proceed, and leave no lock behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_ignores_if_none_match_is_refused_not_trusted() {
    use crate::support::moto::s3_client;
    use crate::support::proxy::{Fault, Proxy};

    let guard = moto();
    let _store = s3(guard.server).await;
    let proxy = Proxy::always(
        guard.server.port(),
        vec!["put ", "/lock.json"],
        Fault::Strip("If-None-Match"),
    );
    let blind = || in_bucket(s3_client(&proxy.endpoint), "blind");
    let honest = in_bucket(guard.server.s3(), "blind");
    let refused = |r: Result<(), StateError>| match r {
        Err(StateError::Unconditional { location, .. }) => {
            assert_eq!(location, "s3://ecsops-state/blind/acc/lock.json");
            true
        }
        _ => false,
    };
    assert!(refused(blind().lock(&info(1)).await));
    assert_eq!(honest.read_lock().await.expect("read"), None, "nothing left");

    let holder = info(2);
    honest.lock(&holder).await.expect("an honest store locks");
    match blind().lock(&info(3)).await {
        Err(StateError::LockHeld { holder: h, .. }) => assert_eq!(h.id, holder.id),
        other => panic!("expected the lock to be held, got {other:?}"),
    }
    assert_eq!(
        honest.read_lock().await.expect("read"),
        Some(holder.clone()),
        "the holder's lock is untouched"
    );
    honest.unlock(&holder.id).await.expect("unlock");

    for round in 0..10 {
        let (one, two) = (blind(), blind());
        let (first, second) = (info(10), info(11));
        let (a, b) = tokio::join!(one.lock(&first), two.lock(&second));
        for r in [a, b] {
            assert!(
                matches!(r, Err(StateError::Unconditional { .. } | StateError::LockHeld { .. })),
                "round {round}: {r:?}"
            );
        }
        assert_eq!(honest.read_lock().await.expect("read"), None, "round {round}");
    }
    // Every lock that writes writes twice (the second write is the probe the stripped condition
    // lets through): the first lock, then in each round at least one of the two; the other may
    // read the first's lock and write nothing, so 42 is only the most.
    assert!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst) >= 2 + 10 * 2);
}
