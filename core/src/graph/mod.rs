//! The desired graph: a manifest expanded into every AWS resource of the layout, each under a
//! stable [`Address`], with typed attributes (literals or references to other resources'
//! outputs, which are unknown until apply) and dependency edges. Building it is pure.

mod address;
pub mod attrs;
mod build;
mod kind;
mod user_data;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use address::Address;
pub use build::{BuildError, build};
pub(crate) use kind::kind_table;
pub use kind::{Family, Kind, Replacement};

/// An attribute value as desired: a literal, a reference to another resource's output (an id,
/// an ARN: known only once that resource exists), or a list/map that may contain references.
///
/// Serialized (in saved plans) with a tag per variant (`{"lit": ...}`, `{"ref": ...}`), so a
/// literal `null` or a literal map never reads back as something else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expr {
    Lit(Value),
    Ref(Reference),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
}

/// `address.output`, for example `vpc.id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    pub address: Address,
    pub output: String,
}

impl Expr {
    pub fn str(s: impl Into<String>) -> Self {
        Self::Lit(Value::String(s.into()))
    }

    pub fn reference(address: &Address, output: &str) -> Self {
        Self::Ref(Reference { address: address.clone(), output: output.to_owned() })
    }

    /// Every reference inside this expression.
    pub fn references(&self, out: &mut BTreeSet<Address>) {
        match self {
            Self::Lit(_) => {}
            Self::Ref(r) => {
                out.insert(r.address.clone());
            }
            Self::List(items) => items.iter().for_each(|e| e.references(out)),
            Self::Map(m) => m.values().for_each(|e| e.references(out)),
        }
    }

    /// The value, with references looked up by `lookup`; `None` when any reference is unknown.
    pub fn resolve(&self, lookup: &dyn Fn(&Reference) -> Option<Value>) -> Option<Value> {
        match self {
            Self::Lit(v) => Some(v.clone()),
            Self::Ref(r) => lookup(r),
            Self::List(items) => items
                .iter()
                .map(|e| e.resolve(lookup))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Self::Map(m) => m
                .iter()
                .map(|(k, e)| e.resolve(lookup).map(|v| (k.clone(), v)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Value::Object),
        }
    }
}

impl From<Value> for Expr {
    fn from(v: Value) -> Self {
        Self::Lit(v)
    }
}
impl From<&str> for Expr {
    fn from(v: &str) -> Self {
        Self::str(v)
    }
}
impl From<String> for Expr {
    fn from(v: String) -> Self {
        Self::str(v)
    }
}
impl From<bool> for Expr {
    fn from(v: bool) -> Self {
        Self::Lit(Value::Bool(v))
    }
}
impl From<u32> for Expr {
    fn from(v: u32) -> Self {
        Self::Lit(Value::from(v))
    }
}
impl From<u16> for Expr {
    fn from(v: u16) -> Self {
        Self::Lit(Value::from(v))
    }
}

/// One desired resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub address: Address,
    pub kind: Kind,
    /// The attributes ecsops manages, by name.
    pub attributes: BTreeMap<String, Expr>,
    /// Resources that must exist first: every referenced resource plus explicit ordering
    /// edges (for example the group waits for the private routes so instances boot online).
    pub depends_on: BTreeSet<Address>,
}

/// Every desired resource of one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graph {
    pub resources: BTreeMap<Address, Resource>,
}

impl Graph {
    /// Addresses in dependency order (dependencies first; ties by address, so the order is
    /// stable). Edges to addresses outside the graph are ignored.
    pub fn topological_order(&self) -> Vec<Address> {
        topological(self.resources.iter().map(|(a, r)| (a.clone(), r.depends_on.clone())))
    }
}

/// Kahn's algorithm over `(node, dependencies)`; a cycle's members come last in address order
/// (the builder never makes cycles; this keeps a bug from looping forever).
pub fn topological(nodes: impl IntoIterator<Item = (Address, BTreeSet<Address>)>) -> Vec<Address> {
    let nodes: BTreeMap<Address, BTreeSet<Address>> = nodes.into_iter().collect();
    let mut pending: BTreeMap<&Address, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for (a, deps) in &nodes {
        let deps: Vec<&Address> = deps.iter().filter(|d| nodes.contains_key(*d)).collect();
        pending.insert(a, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(a);
        }
    }
    let mut ready: BTreeSet<&Address> =
        pending.iter().filter(|(_, n)| **n == 0).map(|(a, _)| *a).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(a) = ready.pop_first() {
        order.push(a.clone());
        for d in dependents.get(a).into_iter().flatten() {
            if let Some(n) = pending.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    if order.len() < nodes.len() {
        let placed: BTreeSet<Address> = order.iter().cloned().collect();
        order.extend(nodes.keys().filter(|a| !placed.contains(*a)).cloned());
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        Address::from(s)
    }

    #[test]
    fn topological_puts_dependencies_first_and_is_stable() {
        let order = topological([
            (a("subnet.public[b]"), BTreeSet::from([a("vpc")])),
            (a("subnet.public[a]"), BTreeSet::from([a("vpc")])),
            (a("vpc"), BTreeSet::new()),
            (a("nat"), BTreeSet::from([a("subnet.public[a]"), a("missing")])),
        ]);
        assert_eq!(order, vec![a("vpc"), a("subnet.public[a]"), a("nat"), a("subnet.public[b]")]);
    }

    #[test]
    fn topological_terminates_on_cycles() {
        let order =
            topological([(a("x"), BTreeSet::from([a("y")])), (a("y"), BTreeSet::from([a("x")]))]);
        assert_eq!(order.len(), 2);
    }

    #[test]
    fn resolve_is_unknown_when_any_reference_is() {
        let e = Expr::List(vec![Expr::str("x"), Expr::reference(&a("vpc"), "id")]);
        assert_eq!(e.resolve(&|_| None), None);
        assert_eq!(
            e.resolve(&|_| Some(Value::from("vpc-1"))),
            Some(serde_json::json!(["x", "vpc-1"]))
        );
    }
}
