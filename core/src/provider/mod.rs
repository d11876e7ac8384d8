//! The provider layer: the only part of ecsops that changes cloud resources. A resolved resource
//! (a [`ResourceSpec`]: attributes as JSON with every reference already replaced by the id it
//! names) goes in; the provider creates, updates in place, deletes, refreshes (reads the live
//! resources of an environment, one batched describe per kind) and adopts (finds a resource that
//! carries this state's ownership tags but never reached the state, after a crash between create
//! and state write, instead of creating a twin).
//!
//! Contract every implementation keeps:
//! - live attributes come back in the shape of the desired attributes, so the planner diffs them
//!   with plain JSON equality (tags without the ownership tags, rule sets in the applied order
//!   when they are equal as sets);
//! - create is idempotent per `(lineage, address, attributes, token_seed)`: a retry adopts or
//!   reuses the client token, never duplicates;
//! - delete of something already gone succeeds;
//! - attributes are read only through the kind's typed struct ([`ResourceSpec::decode`]): one
//!   that is missing or of the wrong type is a typed [`ProviderError::InvalidAttribute`] naming
//!   it, never a panic.
//!
//! [`aws`] is the AWS implementation; [`Provider`] lets the apply engine run against
//! [`fake`], an in-memory one with failure injection.

pub mod aws;
pub mod fake;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::future::Future;

use serde::Serialize;
use serde::de::{DeserializeOwned, value::MapDeserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::graph::attrs::Attributes;
use crate::graph::{Address, Expr, Kind, Reference, Resource};
use crate::state::ResourceState;

/// Tag: the environment, in the reference layout's own convention.
pub const TAG_ENVIRONMENT: &str = "Environment";
/// Tag: the environment, in ecsops' namespace (the refresh filter).
pub const TAG_ECSOPS_ENVIRONMENT: &str = "ecsops:environment";
/// Tag: the resource's address, so a resource missing from state can be found and adopted.
pub const TAG_ECSOPS_ADDRESS: &str = "ecsops:address";
/// Tag: the state lineage that created the resource; adoption refuses a foreign lineage.
pub const TAG_ECSOPS_LINEAGE: &str = "ecsops:lineage";

/// Which state history owns the resources a provider touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub environment: String,
    pub lineage: String,
}

impl Ownership {
    /// The tags every created resource carries besides its desired `tags`.
    pub fn tags(&self, address: &Address) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_ENVIRONMENT.to_owned(), self.environment.clone()),
            (TAG_ECSOPS_ENVIRONMENT.to_owned(), self.environment.clone()),
            (TAG_ECSOPS_ADDRESS.to_owned(), address.to_string()),
            (TAG_ECSOPS_LINEAGE.to_owned(), self.lineage.clone()),
        ])
    }
}

/// Whether a tag key is bookkeeping (ours or AWS's) rather than a desired tag: such keys are
/// left out of live `tags` so they never show as drift.
pub fn is_bookkeeping_tag(key: &str) -> bool {
    key.starts_with("ecsops:") || key.starts_with("aws:")
}

/// One resource as the provider must make it: references already resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    pub address: Address,
    pub kind: Kind,
    pub attributes: BTreeMap<String, Value>,
}

impl ResourceSpec {
    /// The spec of a desired resource, its references looked up in the recorded resources (an
    /// output, else an attribute, else the cloud id for `id`: what the planner looks up too).
    /// Fails on the first reference to something not recorded yet: the apply walk creates
    /// dependencies first, so that is a bug in the order, never a reason to guess.
    pub fn resolve(
        resource: &Resource,
        recorded: &BTreeMap<Address, ResourceState>,
    ) -> Result<Self, ProviderError> {
        let lookup = |r: &Reference| -> Option<Value> {
            let s = recorded.get(&r.address)?;
            s.outputs
                .get(&r.output)
                .or_else(|| s.attributes.get(&r.output))
                .cloned()
                .or_else(|| (r.output == "id").then(|| s.id.clone().map(Value::String))?)
        };
        let mut attributes = BTreeMap::new();
        for (name, expr) in &resource.attributes {
            let value = expr.resolve(&lookup).ok_or_else(|| {
                let mut missing = Vec::new();
                unresolved(expr, &lookup, &mut missing);
                ProviderError::Unresolved {
                    address: resource.address.clone(),
                    attribute: name.clone(),
                    references: missing,
                }
            })?;
            attributes.insert(name.clone(), value);
        }
        Ok(Self { address: resource.address.clone(), kind: resource.kind, attributes })
    }

    /// The attributes as the kind's typed struct.
    pub fn decode<A: Attributes>(&self) -> Result<A, ProviderError> {
        decode(&self.address, None, &self.attributes)
    }

    pub fn invalid(&self, attribute: &str, reason: &str) -> ProviderError {
        ProviderError::InvalidAttribute {
            address: self.address.clone(),
            attribute: attribute.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// The value of `attribute`, optional in its attributes struct because only a resource
    /// read back may lack it (every desired one sets it); a spec without it is refused.
    pub fn required<'v>(
        &self,
        attribute: &str,
        value: Option<&'v String>,
    ) -> Result<&'v str, ProviderError> {
        value
            .map(String::as_str)
            .ok_or_else(|| self.invalid(attribute, "is missing or not a string"))
    }

    /// A deterministic idempotency token (64 hex characters, the longest EC2 accepts): the same
    /// create retried after a lost response or a crash reuses it, while a replacement (new
    /// attributes or a later `token_seed`) gets a fresh one.
    pub fn client_token(&self, lineage: &str, token_seed: u64) -> String {
        let mut h = Sha256::new();
        for part in [lineage, self.address.as_str(), self.kind.as_str()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(serde_json::to_vec(&self.attributes).unwrap_or_default());
        h.update(token_seed.to_be_bytes());
        h.finalize().iter().fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }
}

/// `map` (attributes or outputs of the resource at `address`) as the typed struct `T`; what
/// does not fit is an [`ProviderError::InvalidAttribute`] naming the attribute (its path, for a
/// nested value) and, for recorded values, `context`.
pub(crate) fn decode<T: DeserializeOwned>(
    address: &Address,
    context: Option<&str>,
    map: &BTreeMap<String, Value>,
) -> Result<T, ProviderError> {
    let fields = map.iter().map(|(k, v)| (k.as_str(), v));
    serde_path_to_error::deserialize(MapDeserializer::<_, serde_json::Error>::new(fields)).map_err(
        |e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let within = |field: &str| match path.as_str() {
                "." | "" => field.to_owned(),
                parent => format!("{parent}.{field}"),
            };
            let (attribute, reason) =
                match message.strip_prefix("missing field `").and_then(|rest| rest.split_once('`'))
                {
                    Some((field, _)) => (within(field), "is missing".to_owned()),
                    None => (path, message),
                };
            ProviderError::InvalidAttribute {
                address: address.clone(),
                attribute,
                reason: match context {
                    Some(context) => format!("{reason} ({context})"),
                    None => reason,
                },
            }
        },
    )
}

/// What a create or update leaves behind: the state entry's id, attributes and outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The cloud identifier (id, ARN or name: whichever the API addresses the resource by).
    pub id: String,
    /// The attributes as applied (the spec's).
    pub attributes: BTreeMap<String, Value>,
    /// Values AWS assigned, by the output names of the kind (`id`, `public_ip`, ...).
    pub outputs: BTreeMap<String, Value>,
    /// Whether an existing resource carrying this address's tags was taken over.
    pub adopted: bool,
}

impl Applied {
    /// `spec` applied as `id`, with the outputs AWS assigned.
    pub fn new<O: Serialize>(spec: &ResourceSpec, id: impl Into<String>, outputs: &O) -> Self {
        Self {
            id: id.into(),
            attributes: spec.attributes.clone(),
            outputs: to_map(outputs),
            adopted: false,
        }
    }

    /// The state entry recording this resource.
    pub fn into_state(self, kind: Kind, dependencies: BTreeSet<Address>) -> ResourceState {
        ResourceState {
            kind,
            id: Some(self.id),
            attributes: self.attributes,
            outputs: self.outputs,
            dependencies,
        }
    }
}

/// One resource as it exists in the cloud now.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub kind: Kind,
    pub id: String,
    /// In the shape of the desired attributes (see the module contract).
    pub attributes: BTreeMap<String, Value>,
    pub outputs: BTreeMap<String, Value>,
}

impl Live {
    /// A resource read from AWS, its attributes and outputs in the kind's typed structs.
    pub fn new<A: Attributes>(id: impl Into<String>, attributes: &A, outputs: &A::Outputs) -> Self {
        Self {
            kind: A::KIND,
            id: id.into(),
            attributes: to_map(attributes),
            outputs: to_map(outputs),
        }
    }
}

/// A typed struct's fields as a JSON map.
pub(crate) fn to_map<T: Serialize>(value: &T) -> BTreeMap<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m.into_iter().collect(),
        // Attributes and outputs are structs of plain data: they always serialise to a map.
        _ => BTreeMap::new(),
    }
}

/// The result of a refresh of the resources a state records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refresh {
    /// Recorded resources that exist, with their live attributes.
    pub live: BTreeMap<Address, Live>,
    /// Recorded resources that no longer exist (deleted outside ecsops): plan a re-create.
    pub missing: BTreeSet<Address>,
    /// Recorded resources of kinds this provider cannot read yet: keep the recorded values.
    pub unsupported: BTreeSet<Address>,
    /// Resources carrying this environment's and lineage's tags that the state does not record
    /// (a crash between create and state write): create adopts them.
    pub untracked: BTreeMap<Address, Live>,
    /// Instance groups carrying roll tags: `ecsops roll` owns their capacity until it finishes,
    /// and their live desired capacity and max size read as the tags record them.
    pub rolls: BTreeMap<Address, crate::roll::Recorded>,
    /// Recorded resources found by their recorded ids without the tags that claim them
    /// (removed or changed outside ecsops), with those ids: neither live nor missing, they stop the
    /// refresh ([`ProviderError::Untagged`]), all named at once.
    pub untagged: BTreeMap<Address, String>,
}

impl Refresh {
    /// Adds what another read found (reads of different resources never overlap).
    pub fn absorb(&mut self, other: Refresh) {
        self.live.extend(other.live);
        self.missing.extend(other.missing);
        self.unsupported.extend(other.unsupported);
        self.untracked.extend(other.untracked);
        self.rolls.extend(other.rolls);
        self.untagged.extend(other.untagged);
    }

    /// The recorded resources with live values in place of the applied ones and the missing
    /// ones removed, so the planner shows drift as changes and plans re-creates.
    pub fn apply_to(
        &self,
        resources: &BTreeMap<Address, ResourceState>,
    ) -> BTreeMap<Address, ResourceState> {
        resources
            .iter()
            .filter(|(a, _)| !self.missing.contains(*a))
            .map(|(a, r)| {
                let mut r = r.clone();
                if let Some(live) = self.live.get(a) {
                    r.id = Some(live.id.clone());
                    r.attributes = live.attributes.clone();
                    r.outputs = live.outputs.clone();
                }
                (a.clone(), r)
            })
            .collect()
    }
}

/// The references in `expr` that `lookup` cannot answer, as `address.output`.
fn unresolved(expr: &Expr, lookup: &dyn Fn(&Reference) -> Option<Value>, out: &mut Vec<String>) {
    match expr {
        Expr::Lit(_) => {}
        Expr::Ref(r) => {
            if lookup(r).is_none() {
                out.push(format!("{}.{}", r.address, r.output));
            }
        }
        Expr::List(items) => items.iter().for_each(|e| unresolved(e, lookup, out)),
        Expr::Map(m) => m.values().for_each(|e| unresolved(e, lookup, out)),
    }
}

/// Provider failures. Each names the resource; AWS failures keep AWS's code and message so the
/// report can say exactly what AWS refused.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("`{address}`: {operation} failed: {code}: {message}")]
    Aws { address: Address, operation: &'static str, code: String, message: String },
    #[error(
        "`{address}`: attribute `{attribute}` refers to values that do not exist yet ({}); plan again", references.join(", ")
    )]
    Unresolved { address: Address, attribute: String, references: Vec<String> },
    #[error("`{address}`: attribute `{attribute}` {reason}")]
    InvalidAttribute { address: Address, attribute: String, reason: String },
    #[error(
        "`{address}`: changing `{attribute}` needs a replacement, not an update in place; plan again"
    )]
    RequiresReplacement { address: Address, attribute: String },
    #[error("`{address}`: timed out after {seconds} s waiting for {what}")]
    Timeout { address: Address, what: String, seconds: u64 },
    #[error("`{address}`: {what}")]
    Failed { address: Address, what: String },
    #[error(
        "`{address}`: `{id}` carries this address's tags but belongs to state lineage `{found}`, not `{expected}`: another state manages it. If that is this environment's lost state, put it back with `ecsops state push` (a kept version is under `.ecsops/state/history/` or in the bucket's versions); otherwise remove the resource or its `ecsops:` tags"
    )]
    ForeignLineage { address: Address, id: String, found: String, expected: String },
    /// A resource of another environment under this one's name or key.
    #[error(
        "`{address}`: `{id}` belongs to environment `{environment}` (its `ecsops:environment` tag) and is never adopted or changed from here; give this environment's resource another name"
    )]
    OtherEnvironment { address: Address, id: String, environment: String },
    /// Recorded resources (address, id) whose ownership tags were removed or changed outside ecsops: a
    /// line each, with the tags that put it back.
    #[error("{}", untagged_text(.resources, .environment, .lineage))]
    Untagged { resources: BTreeMap<Address, String>, environment: String, lineage: String },
    #[error(
        "`{address}`: several resources carry this address's tags ({}); delete the extra ones", ids.join(", ")
    )]
    Ambiguous { address: Address, ids: Vec<String> },
    #[error("`{address}`: AWS returned no `{field}` in the {operation} response")]
    MissingField { address: Address, operation: &'static str, field: &'static str },
}

fn untagged_text(
    resources: &BTreeMap<Address, String>,
    environment: &str,
    lineage: &str,
) -> String {
    let lines: Vec<String> = resources
        .iter()
        .map(|(address, id)| {
            format!(
                "`{address}`: `{id}` is the resource the state records, but its `ecsops:` tags were removed or changed outside ecsops, so ecsops cannot tell it is still its own; \
                 put them back (`{TAG_ECSOPS_ADDRESS}` = `{address}`, `{TAG_ECSOPS_ENVIRONMENT}` = `{environment}`, `{TAG_ECSOPS_LINEAGE}` = `{lineage}`) and run again; \
                 if it is not the recorded resource (one made by hand under its name), delete or rename it"
            )
        })
        .collect();
    lines.join("\n")
}

impl ProviderError {
    /// The AWS error code, when AWS refused the request.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Self::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What the apply engine needs from a cloud. Implementations are shared across the parallel
/// walk, so every method takes `&self` and returns a `Send` future.
pub trait Provider: Send + Sync {
    /// Creates the resource, or adopts the one carrying its ownership tags and brings it to the
    /// spec. `token_seed` is the state serial the apply started from: a re-run after a crash
    /// uses the same one (same client token), a later replacement a new one.
    fn create(
        &self,
        spec: &ResourceSpec,
        token_seed: u64,
    ) -> impl Future<Output = Result<Applied, ProviderError>> + Send;

    /// Brings an existing resource from `prior` (its recorded or refreshed state) to the spec,
    /// in place. An attribute that forces replacement is an error: the planner decides that.
    fn update(
        &self,
        spec: &ResourceSpec,
        prior: &ResourceState,
    ) -> impl Future<Output = Result<Applied, ProviderError>> + Send;

    /// Deletes the resource; success when it is already gone. Waits until dependents of the
    /// deletion (an Elastic IP after its NAT gateway) may proceed.
    fn delete(
        &self,
        address: &Address,
        prior: &ResourceState,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Retires the oldest revisions of a versioned resource (a task definition family) whose
    /// `current` revision is recorded: keeps the newest `keep` (the current one always),
    /// deregisters older ones that are ours. Nothing to do for other kinds.
    fn retire(
        &self,
        address: &Address,
        current: &ResourceState,
        keep: u32,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Reads every recorded resource (one batched, paginated describe per kind, filtered by the
    /// environment's ownership tag) plus the untracked ones carrying this lineage's tags.
    fn refresh(
        &self,
        resources: &BTreeMap<Address, ResourceState>,
    ) -> impl Future<Output = Result<Refresh, ProviderError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::attrs;
    use serde_json::json;

    fn spec(attributes: Value) -> ResourceSpec {
        let Value::Object(m) = attributes else { panic!("an object") };
        ResourceSpec {
            address: Address::new("vpc"),
            kind: Kind::Vpc,
            attributes: m.into_iter().collect(),
        }
    }

    #[test]
    fn client_tokens_are_stable_and_change_with_attributes_and_seed() {
        let a = spec(json!({"cidr_block": "10.0.0.0/16"}));
        let b = spec(json!({"cidr_block": "10.1.0.0/16"}));
        let t = a.client_token("l", 1);
        assert_eq!(t.len(), 64);
        assert_eq!(t, a.client_token("l", 1));
        assert_ne!(t, a.client_token("l", 2));
        assert_ne!(t, a.client_token("m", 1));
        assert_ne!(t, b.client_token("l", 1));
    }

    #[test]
    fn specs_resolve_references_from_recorded_outputs() {
        use crate::graph::Expr;
        let subnet = Resource {
            address: Address::keyed("subnet.public", "a"),
            kind: Kind::Subnet,
            attributes: BTreeMap::from([
                ("vpc_id".to_owned(), Expr::reference(&Address::new("vpc"), "id")),
                ("cidr_block".to_owned(), Expr::str("10.0.0.0/24")),
            ]),
            depends_on: BTreeSet::from([Address::new("vpc")]),
        };
        let err = ResourceSpec::resolve(&subnet, &BTreeMap::new()).expect_err("vpc not recorded");
        assert!(err.to_string().contains("do not exist yet (vpc.id)"), "{err}");
        let vpc = ResourceState {
            kind: Kind::Vpc,
            id: Some("vpc-1".to_owned()),
            attributes: BTreeMap::new(),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        };
        let recorded = BTreeMap::from([(Address::new("vpc"), vpc)]);
        let spec = ResourceSpec::resolve(&subnet, &recorded).expect("resolves");
        assert_eq!(spec.attributes["vpc_id"], json!("vpc-1"));
        assert_eq!(spec.attributes["cidr_block"], json!("10.0.0.0/24"));
    }

    #[test]
    fn attributes_decode_into_the_kinds_struct_or_fail_typed() {
        let group = |tags: Value| ResourceSpec {
            address: Address::new("log_group.x"),
            kind: Kind::LogGroup,
            attributes: BTreeMap::from([
                ("name".to_owned(), json!("/x")),
                ("retention_in_days".to_owned(), json!(30)),
                ("tags".to_owned(), tags),
            ]),
        };
        let ok: attrs::LogGroup = group(json!({"Name": "x"})).decode().expect("decodes");
        assert_eq!(ok.tags["Name"], "x");
        assert_eq!(ok.retention_in_days, Some(30));
        let err = group(json!({"Name": 1}))
            .decode::<attrs::LogGroup>()
            .expect_err("a tag that is not a string");
        assert!(
            matches!(&err, ProviderError::InvalidAttribute { attribute, .. } if attribute == "tags.Name"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("`log_group.x`: attribute `tags.Name` invalid type"),
            "{err}"
        );
        let mut missing = group(json!({}));
        missing.attributes.remove("name");
        let err = missing.decode::<attrs::LogGroup>().expect_err("no name");
        assert_eq!(err.to_string(), "`log_group.x`: attribute `name` is missing");
    }

    #[test]
    fn ownership_tags_name_environment_address_and_lineage() {
        let own = Ownership { environment: "acceptance".to_owned(), lineage: "lin".to_owned() };
        let tags = own.tags(&Address::keyed("subnet.public", "eu-west-1a"));
        assert_eq!(tags["Environment"], "acceptance");
        assert_eq!(tags["ecsops:environment"], "acceptance");
        assert_eq!(tags["ecsops:address"], "subnet.public[eu-west-1a]");
        assert_eq!(tags["ecsops:lineage"], "lin");
        assert!(is_bookkeeping_tag("ecsops:lineage") && is_bookkeeping_tag("aws:cloudformation"));
        assert!(!is_bookkeeping_tag("Environment"));
    }

    #[test]
    fn refresh_replaces_attributes_and_drops_missing() {
        let rs = |id: &str| ResourceState {
            kind: Kind::Vpc,
            id: Some(id.to_owned()),
            attributes: BTreeMap::from([("cidr_block".to_owned(), json!("10.0.0.0/16"))]),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        };
        let recorded = BTreeMap::from([(Address::new("a"), rs("1")), (Address::new("b"), rs("2"))]);
        let refresh = Refresh {
            live: BTreeMap::from([(
                Address::new("a"),
                Live {
                    kind: Kind::Vpc,
                    id: "1".to_owned(),
                    attributes: BTreeMap::from([("cidr_block".to_owned(), json!("10.9.0.0/16"))]),
                    outputs: BTreeMap::new(),
                },
            )]),
            missing: BTreeSet::from([Address::new("b")]),
            ..Refresh::default()
        };
        let out = refresh.apply_to(&recorded);
        assert_eq!(out.len(), 1);
        assert_eq!(out[&Address::new("a")].attributes["cidr_block"], json!("10.9.0.0/16"));
    }
}
