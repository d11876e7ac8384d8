//! A state as if a graph had been applied, for planning one revision of the manifests against
//! another without AWS or a state (`diff --rev`): every value AWS would assign (an id, an ARN)
//! becomes a stable placeholder `${address.output}`, so a reference that does not change
//! compares equal and one to a resource being replaced shows as unknown, as in a real plan.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::graph::{Address, Graph, Reference};
use crate::state::{ResourceState, State};

/// `graph` as the state it would leave behind, labelled with `lineage` (the revision).
pub fn applied(graph: &Graph, environment: &str, lineage: &str) -> State {
    let mut state = State::new(environment, lineage.to_owned());
    let placeholder = |r: &Reference| Value::String(format!("${{{}.{}}}", r.address, r.output));
    let mut resolved: BTreeMap<Address, ResourceState> = BTreeMap::new();
    for address in graph.topological_order() {
        let Some(resource) = graph.resources.get(&address) else {
            continue;
        };
        let lookup = |r: &Reference| -> Option<Value> {
            let target = resolved.get(&r.address)?;
            target
                .outputs
                .get(&r.output)
                .or_else(|| target.attributes.get(&r.output))
                .cloned()
                .or_else(|| Some(placeholder(r)))
        };
        let attributes = resource
            .attributes
            .iter()
            .filter_map(|(name, expr)| Some((name.clone(), expr.resolve(&lookup)?)))
            .collect();
        let outputs: BTreeMap<String, Value> = resource
            .kind
            .outputs()
            .iter()
            .map(|o| {
                let r = Reference { address: address.clone(), output: (*o).to_owned() };
                ((*o).to_owned(), placeholder(&r))
            })
            .collect();
        let id = outputs
            .get("id")
            .or_else(|| outputs.get("arn"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        resolved.insert(
            address.clone(),
            ResourceState {
                kind: resource.kind,
                id,
                attributes,
                outputs,
                dependencies: resource.depends_on.clone(),
            },
        );
    }
    state.resources = resolved;
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Expr, Kind, Resource};
    use crate::plan::{Action, PlanInput, diff};

    fn network(cidr: &str, subnet: &str) -> Graph {
        let vpc = Address::from("vpc");
        let sub = Address::from("subnet.a");
        Graph {
            resources: BTreeMap::from([
                (
                    vpc.clone(),
                    Resource {
                        address: vpc.clone(),
                        kind: Kind::Vpc,
                        attributes: BTreeMap::from([("cidr_block".to_owned(), Expr::str(cidr))]),
                        depends_on: std::collections::BTreeSet::new(),
                    },
                ),
                (
                    sub.clone(),
                    Resource {
                        address: sub,
                        kind: Kind::Subnet,
                        attributes: BTreeMap::from([
                            ("cidr_block".to_owned(), Expr::str(subnet)),
                            ("vpc_id".to_owned(), Expr::reference(&vpc, "id")),
                        ]),
                        depends_on: [vpc].into(),
                    },
                ),
            ]),
        }
    }

    fn plan(base: &Graph, head: &Graph) -> crate::plan::Plan {
        let state = applied(base, "acc", "1a2b3c4");
        diff(PlanInput {
            environment: "acc",
            graph: head,
            state: Some(&state),
            moved: &[],
            manifest_digest: "d",
        })
    }

    #[test]
    fn the_same_manifests_plan_no_changes() {
        let g = network("10.0.0.0/16", "10.0.0.0/24");
        assert!(!plan(&g, &g).has_changes());
        assert_eq!(
            applied(&g, "acc", "x").resources[&Address::from("subnet.a")].attributes["vpc_id"],
            "${vpc.id}"
        );
    }

    #[test]
    fn a_replaced_dependency_makes_its_references_unknown() {
        let p =
            plan(&network("10.0.0.0/16", "10.0.0.0/24"), &network("10.1.0.0/16", "10.0.0.0/24"));
        let action = |a: &str| p.changes.iter().find(|c| c.address.as_str() == a).map(|c| c.action);
        assert_eq!(action("vpc"), Some(Action::Replace));
        assert_eq!(action("subnet.a"), Some(Action::Replace));
    }
}
