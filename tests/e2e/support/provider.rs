//! What the provider family tests (`provider_*.rs`) share: a freshly reset emulator, a provider
//! owning the acceptance environment under the test's lineage, and the family's part of the
//! acceptance graph created through it in dependency order and recorded as an apply would record
//! it. Each family chooses its graph, its stand-ins for other families and its waits; the rest is
//! here, so that the four files hold only what they check.

use std::collections::BTreeMap;

use ecsops_core::graph::{Address, Graph, Kind};
use ecsops_core::provider::aws::{AwsProvider, Waits};
use ecsops_core::provider::{Provider, ProviderError, ResourceSpec};
use ecsops_core::state::ResourceState;
use serde_json::Value;

use super::aws::ENV;
use super::moto::{self, MotoGuard};

pub struct Fixture {
    pub provider: AwsProvider,
    pub graph: Graph,
    /// What an apply would have recorded: address → state entry.
    pub state: BTreeMap<Address, ResourceState>,
    /// What each resource the provider created was created from.
    pub specs: BTreeMap<Address, ResourceSpec>,
    pub moto: MotoGuard,
    lineage: String,
    waits: Option<Waits>,
}

impl Fixture {
    /// A freshly reset emulator and a provider of the acceptance environment under `lineage`
    /// (with `waits` for families whose resources settle late); nothing of `graph` created yet.
    pub async fn new(lineage: &str, waits: Option<Waits>, graph: Graph) -> Self {
        let moto = moto::moto();
        let provider = provider_at(&moto.server.endpoint, lineage, waits).await;
        Self {
            provider,
            graph,
            state: BTreeMap::new(),
            specs: BTreeMap::new(),
            moto,
            lineage: lineage.to_owned(),
            waits,
        }
    }

    /// Creates through the provider, in dependency order, every resource of the graph not
    /// recorded yet (stand-ins for other families are recorded before), and records each as an
    /// apply would. Then forgets the calls, so that a test counts only its own.
    pub async fn create_graph(&mut self) {
        for address in self.graph.topological_order() {
            if self.state.contains_key(&address) {
                continue;
            }
            let resource = &self.graph.resources[&address];
            let spec =
                ResourceSpec::resolve(resource, &self.state).unwrap_or_else(|e| panic!("{e}"));
            let applied = self
                .provider
                .create(&spec, 1)
                .await
                .unwrap_or_else(|e| panic!("create {address}: {e}"));
            assert!(!applied.adopted, "{address} was adopted from an empty emulator");
            self.state.insert(
                address.clone(),
                applied.into_state(spec.kind, resource.depends_on.clone()),
            );
            self.specs.insert(address, spec);
        }
        self.provider.calls().clear();
    }

    /// Another provider on the same emulator, with the same waits: a rerun under the same
    /// lineage, or another environment's under its own.
    pub async fn provider_as(&self, lineage: &str) -> AwsProvider {
        provider_at(&self.moto.server.endpoint, lineage, self.waits).await
    }

    /// The recorded id of `address`.
    pub fn id(&self, address: &str) -> String {
        self.state[&Address::from(address)].id.clone().expect("an id")
    }

    /// The recorded resources of the kinds `family` holds, so that a refresh counts their calls
    /// alone.
    pub fn recorded(&self, family: impl Fn(Kind) -> bool) -> BTreeMap<Address, ResourceState> {
        self.state
            .iter()
            .filter(|(_, r)| family(r.kind))
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect()
    }

    /// The addresses of the kinds `family` holds, in reverse dependency order (how an apply
    /// deletes).
    pub fn deletion_order(&self, family: impl Fn(Kind) -> bool) -> Vec<Address> {
        let mut order: Vec<Address> = self
            .graph
            .topological_order()
            .into_iter()
            .filter(|a| family(self.graph.resources[a].kind))
            .collect();
        order.reverse();
        order
    }

    /// Deletes the recorded resources at `order`, one after another, failing the test at the
    /// first error.
    pub async fn delete_each(&self, order: &[Address]) {
        for address in order {
            self.provider
                .delete(address, &self.state[address])
                .await
                .unwrap_or_else(|e| panic!("delete {address}: {e}"));
        }
    }

    /// Creates the resources at `order` again through `rerun` (a run that crashed before it
    /// wrote state), asserting that each is adopted with its recorded id and outputs.
    pub async fn assert_created_again_adopts(&self, rerun: &AwsProvider, order: &[Address]) {
        for address in order {
            let applied = rerun
                .create(&self.specs[address], 1)
                .await
                .unwrap_or_else(|e| panic!("create {address} again: {e}"));
            let recorded = &self.state[address];
            assert!(applied.adopted, "{address} adopted");
            assert_eq!(Some(&applied.id), recorded.id.as_ref(), "{address}");
            assert_eq!(applied.outputs, recorded.outputs, "{address}");
        }
    }

    /// Asserts that the provider refuses to update to `spec` because `attribute` can only
    /// change by replacement (the planner must replace).
    pub async fn assert_update_replaces(&self, spec: &ResourceSpec, attribute: &str) {
        let err =
            self.provider.update(spec, &self.state[&spec.address]).await.expect_err("replacement");
        assert!(
            matches!(err, ProviderError::RequiresReplacement { attribute: ref a, .. } if a == attribute),
            "{err}"
        );
    }

    /// The spec `address` was created from, with `changes` merged into its attributes.
    pub fn patched(&self, address: &str, changes: &Value) -> ResourceSpec {
        with_changes(&self.specs[&Address::from(address)], changes)
    }

    /// Asserts that `tags` carry the ownership of `address`: environment, address, lineage.
    pub fn assert_owned(&self, tags: &BTreeMap<String, String>, address: &str) {
        for (k, v) in [
            ("Environment", ENV),
            ("ecsops:environment", ENV),
            ("ecsops:address", address),
            ("ecsops:lineage", self.lineage.as_str()),
        ] {
            assert_eq!(tags.get(k).map(String::as_str), Some(v), "{address} tag {k}");
        }
    }
}

/// The network family: what `provider_network.rs` checks, and what the compute family stands on
/// (created through the provider there too).
pub fn network(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Vpc
            | Kind::InternetGateway
            | Kind::Subnet
            | Kind::RouteTable
            | Kind::RouteTableAssociation
            | Kind::Route
            | Kind::ElasticIp
            | Kind::NatGateway
            | Kind::SecurityGroup
    )
}

/// A provider of the acceptance environment under `lineage` talking to `endpoint`.
pub async fn provider_at(endpoint: &str, lineage: &str, waits: Option<Waits>) -> AwsProvider {
    let provider = super::aws::provider(endpoint, lineage).await;
    match waits {
        Some(waits) => provider.with_waits(waits),
        None => provider,
    }
}

/// `spec` with `changes` (an object) merged into its attributes.
pub fn with_changes(spec: &ResourceSpec, changes: &Value) -> ResourceSpec {
    let mut spec = spec.clone();
    for (k, v) in changes.as_object().expect("object") {
        spec.attributes.insert(k.clone(), v.clone());
    }
    spec
}
