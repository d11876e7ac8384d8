//! Listener rule priorities changing hands. AWS keeps the priorities of a listener's rules
//! unique at every moment (`CreateRule` and `SetRulePriorities` fail with `PriorityInUse`), so
//! a rule can take a priority only once the rule holding it has let go of it: deleted,
//! destroyed by its replacement, or moved to its own new priority. [`handoffs`] finds in a
//! plan which rule takes the priority which other rule gives up; the planner lists the giver
//! in the taker's `depends_on`, and the apply starts the taker's step after the giver's.
//!
//! Following the handoffs from a rule ends at a free priority, or back at the rule when rules
//! trade priorities in a circle (two rules swapping theirs). One rule of each circle is then
//! parked first: moved to the highest priority no rule of the listener holds or wants (the
//! bottom of the listener, where the AWS Load Balancer Controller also pushes the rules it is
//! about to reorder), which opens the circle into a chain. AWS would also take a circle in one
//! `SetRulePriorities` call, but moto checks each pair of such a call against the priorities
//! before it, and one rule per call keeps one step per resource: an apply stopped halfway has
//! recorded where every rule is, and the next plan finishes the moves from there.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Action, ResourceChange};
use crate::graph::{Address, Kind};
use crate::state::ResourceState;

/// The highest priority AWS gives a listener rule; a parked rule goes as close to it as it can.
const LOWEST_PRECEDENCE: u32 = 50_000;

/// Where a rule sits: its listener's ARN and its priority there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    listener: String,
    priority: u32,
}

impl Place {
    /// The place named by `listener_arn` and `priority` values, when both are known.
    fn of(listener: Option<&Value>, priority: Option<&Value>) -> Option<Self> {
        Some(Self {
            listener: listener?.as_str()?.to_owned(),
            priority: u32::try_from(priority?.as_u64()?).ok()?,
        })
    }
}

/// Who waits for whom when a plan moves listener rules between priorities.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Handoffs {
    /// A rule whose create, replacement or update takes a priority → the rule giving it up
    /// (by its delete, its replacement's destroy, its update, or its parking).
    pub givers: BTreeMap<Address, Address>,
    /// Rules moved to a free priority before their update (to this priority), each opening a
    /// circle of rules trading priorities.
    pub parked: BTreeMap<Address, u32>,
}

/// The handoffs of the listener rules among `changes`, whose recorded resources (after the
/// plan's moves) `recorded` returns.
pub fn handoffs<'a>(
    changes: &[ResourceChange],
    recorded: impl Fn(&Address) -> Option<&'a ResourceState>,
) -> Handoffs {
    // The rule letting go of each place, what each rule takes, and every priority of each
    // listener that a rule holds or wants (a parked rule must find none of them).
    let mut gives: BTreeMap<Place, &Address> = BTreeMap::new();
    let mut takes: Vec<(&Address, Place)> = Vec::new();
    let mut used: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut updates: BTreeMap<&Address, String> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.kind == Kind::ListenerRule) {
        let prior = recorded(&c.address).filter(|_| c.action != Action::Create);
        let before = prior.and_then(|p| {
            Place::of(p.attributes.get("listener_arn"), p.attributes.get("priority"))
        });
        let after = (c.action != Action::Delete)
            .then(|| {
                // A changed attribute's new value (none while unknown), else the recorded one.
                let value = |name: &str| match c.attributes.iter().find(|a| a.name == name) {
                    Some(a) => a.after.as_ref(),
                    None => prior?.attributes.get(name),
                };
                Place::of(value("listener_arn"), value("priority"))
            })
            .flatten();
        for place in [&before, &after].into_iter().flatten() {
            used.entry(place.listener.clone()).or_default().insert(place.priority);
        }
        if before == after {
            continue;
        }
        if c.action == Action::Update
            && let Some(place) = &after
        {
            updates.insert(&c.address, place.listener.clone());
        }
        if let Some(place) = before {
            gives.insert(place, &c.address);
        }
        if let Some(place) = after {
            takes.push((&c.address, place));
        }
    }

    let mut out = Handoffs::default();
    for (taker, place) in takes {
        if let Some(&giver) = gives.get(&place)
            && giver != taker
        {
            out.givers.insert(taker.clone(), giver.clone());
        }
    }
    // A place has one holder and one taker, so the handoffs are chains and circles; only
    // updates both give and take, so only they close a circle. Its first rule (by address) is
    // parked, on the listener every rule of the circle is on.
    let mut circled: BTreeSet<&Address> = BTreeSet::new();
    for (&first, listener) in &updates {
        if circled.contains(first) {
            continue;
        }
        let mut circle = vec![first];
        let mut at = first;
        let closed = loop {
            match out.givers.get(at) {
                Some(giver) if giver == first => break true,
                Some(giver) if updates.contains_key(giver) && !circle.contains(&giver) => {
                    circle.push(giver);
                    at = giver;
                }
                _ => break false,
            }
        };
        if !closed {
            continue;
        }
        circled.extend(circle);
        let taken = used.entry(listener.clone()).or_default();
        if let Some(free) = (1..=LOWEST_PRECEDENCE).rev().find(|p| !taken.contains(p)) {
            taken.insert(free);
            out.parked.insert(first.clone(), free);
        }
    }
    out
}

/// The attributes a rule recorded as `prior` has once parked at `priority`: only the priority
/// moves.
pub fn parked(prior: &ResourceState, priority: u32) -> BTreeMap<String, Value> {
    let mut attributes = prior.attributes.clone();
    attributes.insert("priority".to_owned(), Value::from(priority));
    attributes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::AttributeChange;

    fn a(s: &str) -> Address {
        Address::from(s)
    }

    /// A rule recorded on `listener` at `priority`.
    fn rule(listener: &str, priority: u32) -> ResourceState {
        ResourceState {
            kind: Kind::ListenerRule,
            id: Some(format!("arn:rule/{listener}/{priority}")),
            attributes: serde_json::from_value(json!({
                "listener_arn": listener, "priority": priority, "forward_to": "arn:tg",
            }))
            .expect("attributes"),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        }
    }

    /// A change of `address` with `after` values of the attributes that change (`None`:
    /// unknown until applied).
    fn change(address: &str, action: Action, after: &[(&str, Option<Value>)]) -> ResourceChange {
        ResourceChange {
            address: a(address),
            kind: Kind::ListenerRule,
            action,
            moved_from: None,
            replace_because: Vec::new(),
            attributes: after
                .iter()
                .map(|(name, v)| AttributeChange {
                    name: (*name).to_owned(),
                    before: None,
                    after: v.clone(),
                    after_unknown: v.is_none(),
                    forces_replacement: false,
                    names: None,
                })
                .collect(),
            depends_on: Vec::new(),
        }
    }

    fn to(priority: u32) -> Vec<(&'static str, Option<Value>)> {
        vec![("priority", Some(json!(priority)))]
    }

    fn of(changes: &[ResourceChange], recorded: &BTreeMap<Address, ResourceState>) -> Handoffs {
        handoffs(changes, |address| recorded.get(address))
    }

    fn givers(pairs: &[(&str, &str)]) -> BTreeMap<Address, Address> {
        pairs.iter().map(|(t, g)| (a(t), a(g))).collect()
    }

    #[test]
    fn a_rule_moving_into_a_deleted_rules_priority_waits_for_the_delete() {
        let recorded = BTreeMap::from([
            (a("listener_rule[api]"), rule("L", 1000)),
            (a("listener_rule[web]"), rule("L", 1010)),
        ]);
        let changes = [
            change("listener_rule[api]", Action::Delete, &[]),
            change("listener_rule[web]", Action::Update, &to(1000)),
        ];
        let h = of(&changes, &recorded);
        assert_eq!(h.givers, givers(&[("listener_rule[web]", "listener_rule[api]")]));
        assert!(h.parked.is_empty());
    }

    #[test]
    fn a_new_rule_waits_for_the_rule_moving_out_of_its_priority() {
        let recorded = BTreeMap::from([(a("listener_rule[web]"), rule("L", 1000))]);
        let changes = [
            change(
                "listener_rule[api]",
                Action::Create,
                &[("listener_arn", Some(json!("L"))), ("priority", Some(json!(1000)))],
            ),
            change("listener_rule[web]", Action::Update, &to(1010)),
        ];
        assert_eq!(
            of(&changes, &recorded).givers,
            givers(&[("listener_rule[api]", "listener_rule[web]")])
        );
    }

    #[test]
    fn a_shift_is_a_chain_and_other_listeners_and_unknown_ones_are_apart() {
        let recorded = BTreeMap::from([
            (a("listener_rule[a]"), rule("L", 1000)),
            (a("listener_rule[b]"), rule("L", 1010)),
            (a("listener_rule[c]"), rule("L", 1020)),
            (a("listener_rule[d]"), rule("M", 1000)),
            (a("listener_rule[e]"), rule("L", 5)),
        ]);
        let changes = [
            change("listener_rule[a]", Action::Delete, &[]),
            change("listener_rule[b]", Action::Update, &to(1000)),
            change("listener_rule[c]", Action::Update, &to(1010)),
            // On another listener: 1010 there is another place.
            change("listener_rule[d]", Action::Update, &to(1010)),
            // Onto a listener made by this apply: nothing recorded can be there.
            change(
                "listener_rule[e]",
                Action::Replace,
                &[("listener_arn", None), ("priority", Some(json!(1020)))],
            ),
        ];
        let h = of(&changes, &recorded);
        assert_eq!(
            h.givers,
            givers(&[
                ("listener_rule[b]", "listener_rule[a]"),
                ("listener_rule[c]", "listener_rule[b]"),
            ])
        );
        assert!(h.parked.is_empty());
    }

    #[test]
    fn a_replacement_lets_go_with_its_destroy_and_takes_with_its_create() {
        let recorded = BTreeMap::from([
            (a("listener_rule[api]"), rule("L", 10)),
            (a("listener_rule[web]"), rule("L", 100)),
        ]);
        let changes = [
            change(
                "listener_rule[api]",
                Action::Replace,
                &[("forward_to", None), ("priority", Some(json!(100)))],
            ),
            change("listener_rule[web]", Action::Update, &to(10)),
        ];
        let h = of(&changes, &recorded);
        assert_eq!(
            h.givers,
            givers(&[
                ("listener_rule[api]", "listener_rule[web]"),
                ("listener_rule[web]", "listener_rule[api]"),
            ])
        );
        assert!(h.parked.is_empty(), "the destroy opens the circle");
    }

    #[test]
    fn rules_trading_priorities_park_one_of_each_circle_at_the_bottom() {
        let recorded = BTreeMap::from([
            (a("listener_rule[a]"), rule("L", 10)),
            (a("listener_rule[b]"), rule("L", 20)),
            (a("listener_rule[c]"), rule("L", 30)),
            (a("listener_rule[x]"), rule("L", 50_000)),
            (a("listener_rule[y]"), rule("L", 40)),
            (a("listener_rule[z]"), rule("L", 49_999)),
        ]);
        let changes = [
            // a → b → c → a: a circle of three.
            change("listener_rule[a]", Action::Update, &to(20)),
            change("listener_rule[b]", Action::Update, &to(30)),
            change("listener_rule[c]", Action::Update, &to(10)),
            // x ↔ y, z staying where the first free priorities would be.
            change("listener_rule[x]", Action::Update, &to(40)),
            change("listener_rule[y]", Action::Update, &to(50_000)),
            change("listener_rule[z]", Action::NoOp, &[]),
        ];
        let h = of(&changes, &recorded);
        assert_eq!(
            h.givers,
            givers(&[
                ("listener_rule[a]", "listener_rule[b]"),
                ("listener_rule[b]", "listener_rule[c]"),
                ("listener_rule[c]", "listener_rule[a]"),
                ("listener_rule[x]", "listener_rule[y]"),
                ("listener_rule[y]", "listener_rule[x]"),
            ])
        );
        assert_eq!(
            h.parked,
            BTreeMap::from([(a("listener_rule[a]"), 49_998), (a("listener_rule[x]"), 49_997)])
        );
    }

    #[test]
    fn parking_moves_only_the_priority() {
        let prior = rule("L", 10);
        let attributes = parked(&prior, 50_000);
        assert_eq!(attributes["priority"], json!(50_000));
        assert_eq!(attributes["listener_arn"], json!("L"));
        assert_eq!(attributes["forward_to"], json!("arn:tg"));
    }
}
