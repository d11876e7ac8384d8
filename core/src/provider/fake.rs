//! An in-memory [`Provider`] for tests of what drives a provider (the apply walk, refresh and
//! drift in `ops`): it keeps resources in a map, assigns ids and every output of the kind,
//! adopts what it already holds, refuses in-place changes that force a replacement, and fails
//! on request with an AWS-shaped error, so failure handling is testable without an emulator.
//! Like AWS, it refuses a listener rule a priority another rule of its listener holds.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use super::{Applied, Live, Provider, ProviderError, Refresh, ResourceSpec};
use crate::graph::{Address, Kind};
use crate::state::ResourceState;

#[derive(Debug, Default)]
struct Inner {
    resources: BTreeMap<Address, Live>,
    next: u64,
    /// Per address: the operation that fails (any when `None`) and AWS's error code.
    failures: BTreeMap<Address, (Option<&'static str>, String)>,
    calls: Vec<String>,
}

/// What runs when an operation on an address starts (a fault elsewhere, mid-walk).
type Hook = Box<dyn FnOnce() + Send>;

/// See the module documentation. Shared by reference across a parallel walk.
#[derive(Default)]
pub struct FakeProvider {
    inner: Mutex<Inner>,
    hooks: Mutex<BTreeMap<Address, Hook>>,
    /// Each create takes this long (a yield to the runtime), so steps overlap as on AWS.
    latency: Option<std::time::Duration>,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl FakeProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider whose creates take `latency` each, counting how many run at once.
    pub fn with_latency(latency: std::time::Duration) -> Self {
        Self { latency: Some(latency), ..Self::default() }
    }

    /// The most creates that ran at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next operation on `address` fails with AWS error `code`.
    pub fn fail_next(&self, address: &Address, code: &str) {
        self.lock().failures.insert(address.clone(), (None, code.to_owned()));
    }

    /// The next `operation` (`create`, `delete`, ...) on `address` fails with AWS error `code`;
    /// other operations on it succeed until then (a replacement whose destroy works).
    pub fn fail_next_op(&self, operation: &'static str, address: &Address, code: &str) {
        self.lock().failures.insert(address.clone(), (Some(operation), code.to_owned()));
    }

    /// Runs `hook` when the next operation on `address` starts.
    pub fn on_next(&self, address: &Address, hook: impl FnOnce() + Send + 'static) {
        self.hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(address.clone(), Box::new(hook));
    }

    /// Deletes `address` behind the provider's back (drift).
    pub fn remove_outside(&self, address: &Address) -> Option<Live> {
        self.lock().resources.remove(address)
    }

    /// What exists now.
    pub fn resources(&self) -> BTreeMap<Address, Live> {
        self.lock().resources.clone()
    }

    /// Every operation so far, as `create vpc`, `delete subnet.public[a]`, `refresh`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Records the call and takes a pending failure for `address`.
    fn enter(
        &self,
        operation: &'static str,
        address: &Address,
    ) -> Result<MutexGuard<'_, Inner>, ProviderError> {
        let hook = self.hooks.lock().unwrap_or_else(PoisonError::into_inner).remove(address);
        if let Some(hook) = hook {
            hook();
        }
        let mut inner = self.lock();
        inner.calls.push(format!("{operation} {address}"));
        let fails =
            inner.failures.get(address).is_some_and(|(op, _)| op.is_none_or(|op| op == operation));
        match fails.then(|| inner.failures.remove(address)).flatten() {
            Some((_, code)) => Err(ProviderError::Aws {
                address: address.clone(),
                operation,
                code,
                message: "injected by the fake provider".to_owned(),
            }),
            None => Ok(inner),
        }
    }
}

/// AWS's `PriorityInUse`: a listener rule other than `address` holds the listener and priority
/// that `attributes` ask for.
fn priority_in_use(
    inner: &Inner,
    address: &Address,
    operation: &'static str,
    kind: Kind,
    attributes: &BTreeMap<String, Value>,
) -> Result<(), ProviderError> {
    let place =
        |a: &BTreeMap<String, Value>| (a.get("listener_arn").cloned(), a.get("priority").cloned());
    let held = kind == Kind::ListenerRule
        && inner.resources.iter().any(|(other, live)| {
            other != address && live.kind == kind && place(&live.attributes) == place(attributes)
        });
    if held {
        return Err(ProviderError::Aws {
            address: address.clone(),
            operation,
            code: "PriorityInUse".to_owned(),
            message: "The specified priority is in use.".to_owned(),
        });
    }
    Ok(())
}

fn applied(live: &Live, adopted: bool) -> Applied {
    Applied {
        id: live.id.clone(),
        attributes: live.attributes.clone(),
        outputs: live.outputs.clone(),
        adopted,
    }
}

impl Provider for FakeProvider {
    async fn create(
        &self,
        spec: &ResourceSpec,
        _token_seed: u64,
    ) -> Result<Applied, ProviderError> {
        if let Some(latency) = self.latency {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.most_in_flight.fetch_max(now, SeqCst);
            tokio::time::sleep(latency).await;
            self.in_flight.fetch_sub(1, SeqCst);
        }
        let mut inner = self.enter("create", &spec.address)?;
        priority_in_use(&inner, &spec.address, "create", spec.kind, &spec.attributes)?;
        if let Some(live) = inner.resources.get_mut(&spec.address) {
            live.attributes.clone_from(&spec.attributes);
            return Ok(applied(live, true));
        }
        inner.next += 1;
        let n = inner.next;
        let id = format!("{}-{n}", spec.kind);
        let outputs = spec
            .kind
            .outputs()
            .iter()
            .map(|o| {
                let v = if *o == "id" { id.clone() } else { format!("{o}-{n}") };
                ((*o).to_owned(), Value::from(v))
            })
            .collect();
        let live = Live { kind: spec.kind, id, attributes: spec.attributes.clone(), outputs };
        let done = applied(&live, false);
        inner.resources.insert(spec.address.clone(), live);
        Ok(done)
    }

    async fn update(
        &self,
        spec: &ResourceSpec,
        prior: &ResourceState,
    ) -> Result<Applied, ProviderError> {
        let mut inner = self.enter("update", &spec.address)?;
        for (name, value) in &spec.attributes {
            if prior.attributes.get(name) != Some(value) && spec.kind.forces_replacement(name) {
                return Err(ProviderError::RequiresReplacement {
                    address: spec.address.clone(),
                    attribute: name.clone(),
                });
            }
        }
        priority_in_use(&inner, &spec.address, "update", spec.kind, &spec.attributes)?;
        let live = inner.resources.get_mut(&spec.address).ok_or_else(|| ProviderError::Aws {
            address: spec.address.clone(),
            operation: "update",
            code: "NotFound".to_owned(),
            message: "the fake provider holds no such resource".to_owned(),
        })?;
        live.attributes.clone_from(&spec.attributes);
        Ok(applied(live, false))
    }

    async fn delete(&self, address: &Address, _prior: &ResourceState) -> Result<(), ProviderError> {
        self.enter("delete", address)?.resources.remove(address);
        Ok(())
    }

    /// Holds one revision per address: records the call only.
    async fn retire(
        &self,
        address: &Address,
        _current: &ResourceState,
        _keep: u32,
    ) -> Result<(), ProviderError> {
        self.enter("retire", address).map(drop)
    }

    async fn refresh(
        &self,
        resources: &BTreeMap<Address, ResourceState>,
    ) -> Result<Refresh, ProviderError> {
        let mut inner = self.lock();
        inner.calls.push("refresh".to_owned());
        let mut out = Refresh::default();
        for address in resources.keys() {
            match inner.resources.get(address) {
                Some(live) => {
                    out.live.insert(address.clone(), live.clone());
                }
                None => {
                    out.missing.insert(address.clone());
                }
            }
        }
        for (address, live) in &inner.resources {
            if !resources.contains_key(address) {
                out.untracked.insert(address.clone(), live.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Kind;
    use std::collections::BTreeSet;

    fn spec(cidr: &str) -> ResourceSpec {
        ResourceSpec {
            address: Address::new("vpc"),
            kind: Kind::Vpc,
            attributes: BTreeMap::from([("cidr_block".to_owned(), Value::from(cidr))]),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
    }

    #[test]
    fn creates_adopts_fails_on_request_and_refreshes() {
        let p = FakeProvider::new();
        let a = Address::new("vpc");
        block_on(async {
            let first = p.create(&spec("10.0.0.0/16"), 1).await.expect("create");
            assert_eq!(first.outputs["id"], Value::from("vpc-1"));
            assert!(!first.adopted);
            assert!(p.create(&spec("10.0.0.0/16"), 1).await.expect("again").adopted);

            let state = first.into_state(Kind::Vpc, BTreeSet::new());
            let err = p.update(&spec("10.1.0.0/16"), &state).await.expect_err("replace");
            assert!(matches!(err, ProviderError::RequiresReplacement { .. }));

            p.fail_next(&a, "Throttling");
            let err = p.delete(&a, &state).await.expect_err("injected");
            assert_eq!(err.aws_code(), Some("Throttling"));

            let recorded = BTreeMap::from([(a.clone(), state.clone())]);
            assert!(p.refresh(&recorded).await.expect("refresh").missing.is_empty());
            p.remove_outside(&a);
            let refresh = p.refresh(&recorded).await.expect("refresh");
            assert_eq!(refresh.missing.into_iter().collect::<Vec<_>>(), vec![a.clone()]);
        });
        assert_eq!(
            p.calls(),
            vec!["create vpc", "create vpc", "update vpc", "delete vpc", "refresh", "refresh"]
        );
    }

    #[test]
    fn a_rule_cannot_take_a_priority_another_rule_of_its_listener_holds() {
        let rule = |address: &str, listener: &str, priority: u32| ResourceSpec {
            address: Address::from(address),
            kind: Kind::ListenerRule,
            attributes: BTreeMap::from([
                ("listener_arn".to_owned(), Value::from(listener)),
                ("priority".to_owned(), Value::from(priority)),
            ]),
        };
        let p = FakeProvider::new();
        block_on(async {
            let api = p.create(&rule("api", "L", 10), 1).await.expect("api");
            let web = p.create(&rule("web", "L", 20), 1).await.expect("web");
            let err = p.create(&rule("new", "L", 10), 1).await.expect_err("held");
            assert_eq!(err.aws_code(), Some("PriorityInUse"));
            p.create(&rule("other", "M", 10), 1).await.expect("another listener");
            let web = web.into_state(Kind::ListenerRule, BTreeSet::new());
            let err = p.update(&rule("web", "L", 10), &web).await.expect_err("held");
            assert_eq!(err.aws_code(), Some("PriorityInUse"));
            let api = api.into_state(Kind::ListenerRule, BTreeSet::new());
            p.update(&rule("api", "L", 30), &api).await.expect("moved");
            p.update(&rule("web", "L", 10), &web).await.expect("free now");
        });
    }
}
