//! The planner: desired graph vs. recorded state → one [`ResourceChange`] per resource.
//!
//! Resources are visited in dependency order so that a reference to a resource being created or
//! replaced is known to be unknown (and so changes, forcing a replacement where the attribute
//! demands one) before its dependents are compared. The plan lists the changes by address.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Action, AttributeChange, Plan, PriorState, ResourceChange, Summary};
use crate::graph::{Address, Graph, Reference, Replacement, topological};
use crate::state::{ResourceState, State};

/// Everything the planner needs; pure data.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub environment: &'a str,
    pub graph: &'a Graph,
    pub state: Option<&'a State>,
    /// `[[moved]]` renames, `(from, to)`.
    pub moved: &'a [(Address, Address)],
    pub manifest_digest: &'a str,
}

/// The explicit moves, and for each move of a keyed address (`service[web]` →
/// `service[frontend]`) the moves of the resources derived from it under the same key (its
/// log group, target group, rule, task definition): a rename carries what belongs to the
/// renamed thing, so the plan says what happens to each (replaced, with the reason) instead of
/// destroying one and creating another. Only where the new address is desired and free, and no
/// explicit move says otherwise.
fn derived_moves(
    moved: &[(Address, Address)],
    state: Option<&State>,
    graph: &Graph,
) -> Vec<(Address, Address)> {
    let mut all = moved.to_vec();
    let Some(state) = state else {
        return all;
    };
    for (from, to) in moved {
        let (Some((_, old)), Some((_, new))) = (from.key(), to.key()) else {
            continue;
        };
        for recorded in state.resources.keys() {
            let Some((base, key)) = recorded.key() else {
                continue;
            };
            let target = Address::keyed(base, new);
            if key != old
                || recorded == from
                || !graph.resources.contains_key(&target)
                || state.resources.contains_key(&target)
                || all.iter().any(|(f, t)| f == recorded || *t == target)
            {
                continue;
            }
            all.push((recorded.clone(), target));
        }
    }
    all
}

pub fn diff(input: PlanInput<'_>) -> Plan {
    let mut prior: BTreeMap<Address, (&ResourceState, Option<Address>)> = input
        .state
        .map(|s| s.resources.iter().map(|(a, r)| (a.clone(), (r, None))).collect())
        .unwrap_or_default();
    for (from, to) in derived_moves(input.moved, input.state, input.graph) {
        if !prior.contains_key(&to)
            && let Some((r, _)) = prior.remove(&from)
        {
            prior.insert(to.clone(), (r, Some(from.clone())));
        }
    }

    let mut actions: BTreeMap<Address, Action> = BTreeMap::new();
    let mut changes = Vec::with_capacity(input.graph.resources.len());
    for address in input.graph.topological_order() {
        let Some(resource) = input.graph.resources.get(&address) else {
            continue;
        };
        let lookup = |r: &Reference| -> Option<Value> {
            let (p, _) = prior.get(&r.address)?;
            match actions.get(&r.address) {
                Some(Action::Create | Action::Replace | Action::Revise) => return None,
                Some(Action::Update)
                    if p.kind.outputs_changed_by_update().contains(&r.output.as_str()) =>
                {
                    return None;
                }
                _ => {}
            }
            p.outputs
                .get(&r.output)
                .or_else(|| p.attributes.get(&r.output))
                .cloned()
                .or_else(|| (r.output == "id").then(|| p.id.clone().map(Value::String))?)
        };
        let depends_on: Vec<Address> = resource.depends_on.iter().cloned().collect();
        let change = match prior.get(&address) {
            None => {
                let mut attributes: Vec<AttributeChange> = resource
                    .attributes
                    .iter()
                    .map(|(name, expr)| {
                        let after = expr.resolve(&lookup);
                        AttributeChange {
                            name: name.clone(),
                            before: None,
                            after_unknown: after.is_none(),
                            after,
                            forces_replacement: false,
                            names: None,
                        }
                    })
                    .collect();
                for output in resource.kind.outputs() {
                    if !resource.attributes.contains_key(*output) {
                        attributes.push(AttributeChange {
                            name: (*output).to_owned(),
                            before: None,
                            after: None,
                            after_unknown: true,
                            forces_replacement: false,
                            names: None,
                        });
                    }
                }
                ResourceChange {
                    address: address.clone(),
                    kind: resource.kind,
                    action: Action::Create,
                    moved_from: None,
                    replace_because: Vec::new(),
                    attributes,
                    depends_on,
                }
            }
            Some((p, moved_from)) => {
                let names: BTreeSet<&String> =
                    resource.attributes.keys().chain(p.attributes.keys()).collect();
                let mut attributes = Vec::new();
                let mut replace_because = Vec::new();
                let kind_changed = p.kind != resource.kind;
                if kind_changed {
                    replace_because.push("kind".to_owned());
                }
                for name in names {
                    let before = p.attributes.get(name).cloned();
                    let (after, after_unknown) = match resource.attributes.get(name) {
                        Some(expr) => {
                            let v = expr.resolve(&lookup);
                            let unknown = v.is_none();
                            (v, unknown)
                        }
                        // One AWS assigns (an output too) is left to the apply, not removed.
                        None => (None, resource.kind.outputs().contains(&name.as_str())),
                    };
                    if !after_unknown && before == after {
                        continue;
                    }
                    // An attribute the state does not record yet (written before ecsops tracked
                    // it) is recorded in place: nothing says the resource differs.
                    let forces = resource.kind.forces_replacement(name) && before.is_some();
                    if forces {
                        replace_because.push(name.clone());
                    }
                    attributes.push(AttributeChange {
                        name: name.clone(),
                        before,
                        after,
                        after_unknown,
                        forces_replacement: forces,
                        names: None,
                    });
                }
                let action = if !replace_because.is_empty() {
                    Action::Replace
                } else if attributes.is_empty() {
                    Action::NoOp
                } else if resource.kind.replacement() == Replacement::NewRevision {
                    // Immutable, yet nothing is replaced: the old revision stays beside the new.
                    Action::Revise
                } else {
                    Action::Update
                };
                ResourceChange {
                    address: address.clone(),
                    kind: resource.kind,
                    action,
                    moved_from: moved_from.clone(),
                    replace_because,
                    attributes,
                    depends_on,
                }
            }
        };
        actions.insert(address, change.action);
        changes.push(change);
    }

    // Deletes: dependents before their dependencies, i.e. the reverse of dependency order.
    let doomed = prior
        .iter()
        .filter(|(a, _)| !input.graph.resources.contains_key(*a))
        .map(|(a, (r, _))| (a.clone(), r.dependencies.clone()));
    let mut delete_order = topological(doomed);
    delete_order.reverse();
    for address in delete_order {
        let Some((p, moved_from)) = prior.get(&address) else {
            continue;
        };
        changes.push(ResourceChange {
            address: address.clone(),
            kind: p.kind,
            action: Action::Delete,
            moved_from: moved_from.clone(),
            replace_because: Vec::new(),
            attributes: p
                .attributes
                .iter()
                .map(|(name, v)| AttributeChange {
                    name: name.clone(),
                    before: Some(v.clone()),
                    after: None,
                    after_unknown: false,
                    forces_replacement: false,
                    names: None,
                })
                .collect(),
            depends_on: p.dependencies.iter().cloned().collect(),
        });
    }

    // A rule taking the priority another rule gives up depends on that rule: it comes after
    // the rule's delete, replacement or move.
    let handoffs = super::priorities::handoffs(&changes, |a| prior.get(a).map(|(r, _)| *r));
    for c in &mut changes {
        if let Some(giver) = handoffs.givers.get(&c.address)
            && let Err(at) = c.depends_on.binary_search(giver)
        {
            c.depends_on.insert(at, giver.clone());
        }
    }

    // Readers find a resource where they expect it, as in Terraform; the apply schedules by
    // dependencies, not by this order.
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let summary = Summary::of(&changes);
    tracing::info!(environment = input.environment, "{}", summary.line());
    Plan {
        format_version: super::PLAN_FORMAT_VERSION.to_owned(),
        ecsops_version: env!("CARGO_PKG_VERSION").to_owned(),
        environment: input.environment.to_owned(),
        manifest_digest: input.manifest_digest.to_owned(),
        prior_state: input
            .state
            .map(|s| PriorState { lineage: s.lineage.clone(), serial: s.serial }),
        summary,
        drift: Vec::new(),
        base_revision: None,
        promoted_from: None,
        notes: Vec::new(),
        rolls: std::collections::BTreeMap::new(),
        caller: None,
        destroy: false,
        changes,
    }
}

/// The plan of `graph` against `state` for environment `acc`, without moves: the fixture
/// tests of other modules share.
#[cfg(test)]
pub(crate) fn plan_for(graph: &Graph, state: &State) -> Plan {
    diff(PlanInput {
        environment: "acc",
        graph,
        state: Some(state),
        moved: &[],
        manifest_digest: "d",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Expr, Kind, Resource};
    use serde_json::json;

    fn a(s: &str) -> Address {
        Address::from(s)
    }

    fn resource(addr: &str, kind: Kind, attrs: &[(&str, Expr)]) -> Resource {
        let attributes: BTreeMap<String, Expr> =
            attrs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let mut depends_on = BTreeSet::new();
        for e in attributes.values() {
            e.references(&mut depends_on);
        }
        Resource { address: a(addr), kind, attributes, depends_on }
    }

    fn graph(resources: Vec<Resource>) -> Graph {
        Graph { resources: resources.into_iter().map(|r| (r.address.clone(), r)).collect() }
    }

    fn recorded(kind: Kind, id: &str, attrs: Value, deps: &[&str]) -> ResourceState {
        ResourceState {
            kind,
            id: Some(id.to_owned()),
            attributes: serde_json::from_value(attrs).expect("map"),
            outputs: BTreeMap::from([("id".to_owned(), Value::from(id))]),
            dependencies: deps.iter().map(|d| a(d)).collect(),
        }
    }

    fn state(resources: Vec<(&str, ResourceState)>) -> State {
        let mut s = State::new("acc", "lineage-1".to_owned());
        s.serial = 7;
        s.resources = resources.into_iter().map(|(k, v)| (a(k), v)).collect();
        s
    }

    /// vpc ← subnet, the smallest graph with a reference.
    fn network(cidr: &str, subnet_cidr: &str) -> Graph {
        graph(vec![
            resource("vpc", Kind::Vpc, &[("cidr_block", Expr::str(cidr))]),
            resource(
                "subnet.public[a]",
                Kind::Subnet,
                &[
                    ("cidr_block", Expr::str(subnet_cidr)),
                    ("vpc_id", Expr::reference(&a("vpc"), "id")),
                ],
            ),
        ])
    }

    fn plan(g: &Graph, s: Option<&State>, moved: &[(Address, Address)]) -> Plan {
        diff(PlanInput { environment: "acc", graph: g, state: s, moved, manifest_digest: "d" })
    }

    fn action_of(p: &Plan, addr: &str) -> Action {
        p.changes
            .iter()
            .find(|c| c.address.as_str() == addr)
            .map(|c| c.action)
            .expect("change present")
    }

    fn applied_network() -> State {
        state(vec![
            ("vpc", recorded(Kind::Vpc, "vpc-1", json!({"cidr_block": "10.0.0.0/16"}), &[])),
            (
                "subnet.public[a]",
                recorded(
                    Kind::Subnet,
                    "subnet-1",
                    json!({"cidr_block": "10.0.0.0/24", "vpc_id": "vpc-1"}),
                    &["vpc"],
                ),
            ),
        ])
    }

    #[test]
    fn a_forcing_attribute_the_state_does_not_record_yet_is_recorded_in_place() {
        let g = network("10.0.0.0/16", "10.0.0.0/24");
        let mut s = applied_network();
        if let Some(vpc) = s.resources.get_mut(&a("vpc")) {
            vpc.attributes.remove("cidr_block");
        }
        let p = plan(&g, Some(&s), &[]);
        assert_eq!(action_of(&p, "vpc"), Action::Update);
        assert_eq!(action_of(&p, "subnet.public[a]"), Action::NoOp);
    }

    #[test]
    fn everything_is_created_without_state() {
        let g = network("10.0.0.0/16", "10.0.0.0/24");
        let p = plan(&g, None, &[]);
        assert_eq!(p.summary.create, 2);
        let order: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(order, vec!["subnet.public[a]", "vpc"], "by address");
        let subnet = &p.changes[0];
        let vpc_id = subnet.attributes.iter().find(|c| c.name == "vpc_id").expect("attr");
        assert!(vpc_id.after_unknown, "a reference to a new resource is unknown");
        assert!(p.changes[1].attributes.iter().any(|c| c.name == "id" && c.after_unknown));
        assert_eq!(p.prior_state, None);
    }

    #[test]
    fn unchanged_resources_are_no_ops() {
        let g = network("10.0.0.0/16", "10.0.0.0/24");
        let s = applied_network();
        let p = plan(&g, Some(&s), &[]);
        assert!(!p.has_changes(), "{:#?}", p.changes);
        assert_eq!(p.summary.no_op, 2);
        assert_eq!(p.prior_state, Some(PriorState { lineage: "lineage-1".to_owned(), serial: 7 }));
    }

    #[test]
    fn in_place_change_is_an_update_with_old_and_new() {
        let mut g = network("10.0.0.0/16", "10.0.0.0/24");
        if let Some(r) = g.resources.get_mut(&a("vpc")) {
            r.attributes.insert("tags".to_owned(), Expr::Lit(json!({"Team": "x"})));
        }
        let p = plan(&g, Some(&applied_network()), &[]);
        assert_eq!(action_of(&p, "vpc"), Action::Update);
        let c = &p.changes.iter().find(|c| c.address == a("vpc")).expect("vpc").attributes[0];
        assert_eq!((c.before.clone(), c.after.clone()), (None, Some(json!({"Team": "x"}))));
        assert_eq!(action_of(&p, "subnet.public[a]"), Action::NoOp);
    }

    #[test]
    fn replacement_names_the_forcing_attribute_and_cascades_through_references() {
        let g = network("10.1.0.0/16", "10.0.0.0/24");
        let p = plan(&g, Some(&applied_network()), &[]);
        let vpc = p.changes.iter().find(|c| c.address == a("vpc")).expect("vpc");
        assert_eq!(vpc.action, Action::Replace);
        assert_eq!(vpc.replace_because, vec!["cidr_block".to_owned()]);
        let subnet = p.changes.iter().find(|c| c.address == a("subnet.public[a]")).expect("s");
        assert_eq!(subnet.action, Action::Replace, "its vpc_id becomes unknown");
        assert_eq!(subnet.replace_because, vec!["vpc_id".to_owned()]);
    }

    #[test]
    fn removed_resources_are_deleted_dependents_first() {
        let g = graph(vec![]);
        let p = plan(&g, Some(&applied_network()), &[]);
        let order: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(order, vec!["subnet.public[a]", "vpc"]);
        assert!(p.changes.iter().all(|c| c.action == Action::Delete));
        assert_eq!(p.summary.delete, 2);
        assert!(p.changes[0].attributes.iter().all(|c| c.before.is_some() && c.after.is_none()));
    }

    #[test]
    fn removed_attribute_is_an_update() {
        let g =
            graph(vec![resource("vpc", Kind::Vpc, &[("cidr_block", Expr::str("10.0.0.0/16"))])]);
        let s = state(vec![(
            "vpc",
            recorded(
                Kind::Vpc,
                "vpc-1",
                json!({"cidr_block": "10.0.0.0/16", "tags": {"a": "b"}}),
                &[],
            ),
        )]);
        let p = plan(&g, Some(&s), &[]);
        assert_eq!(action_of(&p, "vpc"), Action::Update);
    }

    #[test]
    fn kind_change_forces_replacement() {
        let g = graph(vec![resource("x", Kind::Vpc, &[])]);
        let s = state(vec![("x", recorded(Kind::Subnet, "s", json!({}), &[]))]);
        let p = plan(&g, Some(&s), &[]);
        assert_eq!(action_of(&p, "x"), Action::Replace);
        assert_eq!(p.changes[0].replace_because, vec!["kind".to_owned()]);
    }

    #[test]
    fn moved_resources_keep_their_state() {
        let g = graph(vec![resource(
            "vpc.main",
            Kind::Vpc,
            &[("cidr_block", Expr::str("10.0.0.0/16"))],
        )]);
        let s = state(vec![(
            "vpc",
            recorded(Kind::Vpc, "vpc-1", json!({"cidr_block": "10.0.0.0/16"}), &[]),
        )]);
        let p = plan(&g, Some(&s), &[(a("vpc"), a("vpc.main"))]);
        assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
        assert_eq!(p.changes[0].action, Action::NoOp);
        assert_eq!(p.changes[0].moved_from, Some(a("vpc")));
        assert!(p.has_changes(), "the move itself must be applied to the state");
    }

    #[test]
    fn a_rule_taking_a_deleted_rules_priority_depends_on_it() {
        let listener = || Expr::reference(&a("listener"), "arn");
        let g = graph(vec![
            resource("listener", Kind::Listener, &[]),
            resource(
                "listener_rule[web]",
                Kind::ListenerRule,
                &[("listener_arn", listener()), ("priority", 1000_u32.into())],
            ),
        ]);
        let rule = |priority: u32| {
            recorded(
                Kind::ListenerRule,
                "arn:rule",
                json!({"listener_arn": "arn:listener", "priority": priority}),
                &["listener"],
            )
        };
        let mut s =
            state(vec![("listener_rule[api]", rule(1000)), ("listener_rule[web]", rule(1010))]);
        let mut listener_state = recorded(Kind::Listener, "arn:listener", json!({}), &[]);
        listener_state.outputs.insert("arn".to_owned(), json!("arn:listener"));
        s.resources.insert(a("listener"), listener_state);
        let p = plan(&g, Some(&s), &[]);
        let web = p.changes.iter().find(|c| c.address == a("listener_rule[web]")).expect("web");
        assert_eq!(web.action, Action::Update);
        assert_eq!(
            web.depends_on,
            [a("listener"), a("listener_rule[api]")],
            "after the listener it references and the rule whose priority it takes"
        );
        assert_eq!(action_of(&p, "listener_rule[api]"), Action::Delete);
    }

    #[test]
    fn references_resolve_against_recorded_outputs() {
        let g = network("10.0.0.0/16", "10.0.0.0/24");
        let mut s = applied_network();
        if let Some(sub) = s.resources.get_mut(&a("subnet.public[a]")) {
            sub.attributes.insert("vpc_id".to_owned(), json!("vpc-old"));
        }
        let p = plan(&g, Some(&s), &[]);
        let subnet = p.changes.iter().find(|c| c.address == a("subnet.public[a]")).expect("s");
        assert_eq!(subnet.action, Action::Replace);
        assert_eq!(subnet.attributes[0].after, Some(json!("vpc-1")));
    }
}
