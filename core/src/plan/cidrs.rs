//! Subnet ranges that stay with their zone. The layout's convention numbers a zone's subnets
//! by its position in `availability_zones` (public `10.N.<i>.0/24`, private
//! `10.N.<50+i>.0/24`), so removing a zone from the front or middle of the list, or inserting
//! one, would move every later zone's subnets to other ranges: a replacement of each (with
//! everything in it: instances, NAT gateway, load balancer interfaces), into ranges that
//! subnets still being deleted hold (AWS refuses those with `InvalidSubnet.Conflict`).
//!
//! So before planning, [`hold`] gives each zone whose subnet of a tier is recorded in the same
//! VPC at one of the convention's ranges that range again, and each other zone (in list order)
//! the lowest range of the convention no recorded subnet holds or overlaps, even one this plan
//! deletes: a new subnet never waits for another's delete. Without a state (or with the
//! ranges of a state made by position, every state before this) it is the positional layout,
//! so plans of unchanged manifests stay what they were. Explicit `public_subnets` /
//! `private_subnets` lists are the user's own, by position, and left alone; so is a VPC whose
//! range changes (its subnets are all new).

use std::collections::BTreeSet;

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::cidr::{PRIVATE_FIRST, cidrsubnet, newbits_to_24};
use crate::graph::{Address, Expr, Graph, Kind};
use crate::manifest::Manifest;
use crate::state::State;

/// Gives the convention subnets of `graph` the ranges their zones hold in `state` (see the
/// module documentation), and the other zones the lowest free ones.
pub fn hold(graph: &mut Graph, manifest: &Manifest, state: Option<&State>) {
    let Some(state) = state else {
        return;
    };
    let Some(vpc) = manifest.network.cidr.as_deref().and_then(|c| c.parse().ok()) else {
        return;
    };
    let recorded_vpc = state
        .resources
        .get(&Address::new("vpc"))
        .and_then(|r| r.attributes.get("cidr_block"))
        .and_then(Value::as_str)
        .and_then(|c| c.parse::<Ipv4Net>().ok());
    if recorded_vpc != Some(vpc) {
        return;
    }
    let Some(newbits) = newbits_to_24(vpc) else {
        return;
    };
    // Every range a recorded subnet holds: a new subnet must overlap none of them.
    let held: Vec<(&Address, Ipv4Net)> = state
        .resources
        .iter()
        .filter(|(_, r)| r.kind == Kind::Subnet)
        .filter_map(|(a, r)| Some((a, r.attributes.get("cidr_block")?.as_str()?.parse().ok()?)))
        .collect();
    let zones = &manifest.environment.availability_zones;
    let slots = 1u32 << newbits;
    for (tier, explicit, first, last) in [
        ("public", &manifest.network.public_subnets, 0, PRIVATE_FIRST),
        ("private", &manifest.network.private_subnets, PRIVATE_FIRST, slots),
    ] {
        if explicit.is_some() {
            continue;
        }
        let range = |cidr: Ipv4Net| {
            (first..last.min(slots)).find(|&i| cidrsubnet(vpc, newbits, i) == Some(cidr))
        };
        let address = |zone: &str| Address::keyed(&format!("subnet.{tier}"), zone);
        // The zones keeping their range (the first zone to claim one, should two record it).
        let mut assigned: Vec<Option<Ipv4Net>> = Vec::new();
        let mut taken: BTreeSet<u32> = BTreeSet::new();
        for zone in zones {
            let own = address(zone);
            let kept = held
                .iter()
                .find(|(a, _)| **a == own)
                .and_then(|&(_, cidr)| range(cidr).map(|i| (i, cidr)))
                .filter(|(i, _)| !taken.contains(i));
            taken.extend(kept.map(|(i, _)| i));
            assigned.push(kept.map(|(_, cidr)| cidr));
        }
        for (zone, kept) in zones.iter().zip(&assigned) {
            let own = address(zone);
            let cidr = match kept {
                Some(cidr) => Some(*cidr),
                None => (first..last.min(slots))
                    .filter(|i| !taken.contains(i))
                    .filter_map(|i| Some((i, cidrsubnet(vpc, newbits, i)?)))
                    .find(|(_, cidr)| {
                        held.iter()
                            .all(|&(a, h)| *a == own || !(h.contains(cidr) || cidr.contains(&h)))
                    })
                    .map(|(i, cidr)| {
                        taken.insert(i);
                        cidr
                    }),
            };
            if let (Some(cidr), Some(resource)) = (cidr, graph.resources.get_mut(&own))
                && resource.kind == Kind::Subnet
            {
                resource.attributes.insert("cidr_block".to_owned(), Expr::str(cidr.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::plan::{Action, PlanInput, diff};
    use crate::state::ResourceState;

    fn manifest(zones: &[&str], extra: Value) -> Manifest {
        let mut m = json!({
            "environment": {"region": "eu-west-1", "availability_zones": zones},
            "network": {"cidr": "10.0.0.0/16", "nat": "single"},
            "instance_groups": {"default": {"min_size": 1, "max_size": 3, "desired_capacity": 2}},
            "load_balancers": {"default": {}},
            "services": {"web": {"image": "nginx", "container_port": 80,
                                  "route": {"paths": ["/*"]}}},
        });
        if let (Some(network), Value::Object(extra)) = (m["network"].as_object_mut(), extra) {
            network.extend(extra);
        }
        serde_json::from_value(m).expect("manifest")
    }

    /// The state an apply of `m` records: every literal attribute, ids for outputs.
    fn applied(m: &Manifest) -> State {
        let graph = crate::graph::build(m, "acc").expect("graph");
        crate::plan::baseline::applied(&graph, "acc", "test")
    }

    /// The CIDR of each subnet of `graph`, by address.
    fn cidrs(graph: &Graph) -> BTreeMap<String, String> {
        graph
            .resources
            .values()
            .filter(|r| r.kind == Kind::Subnet)
            .filter_map(|r| match r.attributes.get("cidr_block") {
                Some(Expr::Lit(Value::String(c))) => {
                    Some((r.address.as_str().to_owned(), c.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn held(zones: &[&str], state: &State, extra: Value) -> Graph {
        let m = manifest(zones, extra);
        let mut graph = crate::graph::build(&m, "acc").expect("graph");
        hold(&mut graph, &m, Some(state));
        graph
    }

    fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(a, c)| ((*a).to_owned(), (*c).to_owned())).collect()
    }

    #[test]
    fn without_a_state_or_with_a_positional_one_the_layout_is_by_position() {
        let m = manifest(&["eu-west-1a", "eu-west-1b"], json!({}));
        let built = crate::graph::build(&m, "acc").expect("graph");
        let mut graph = built.clone();
        hold(&mut graph, &m, None);
        assert_eq!(graph, built);
        hold(&mut graph, &m, Some(&applied(&m)));
        assert_eq!(graph, built);
        assert_eq!(
            cidrs(&graph),
            expect(&[
                ("subnet.private[eu-west-1a]", "10.0.50.0/24"),
                ("subnet.private[eu-west-1b]", "10.0.51.0/24"),
                ("subnet.public[eu-west-1a]", "10.0.0.0/24"),
                ("subnet.public[eu-west-1b]", "10.0.1.0/24"),
            ])
        );
    }

    #[test]
    fn removing_the_first_zone_leaves_the_others_subnets_alone() {
        let state = applied(&manifest(&["eu-west-1a", "eu-west-1b", "eu-west-1c"], json!({})));
        let graph = held(&["eu-west-1b", "eu-west-1c"], &state, json!({}));
        assert_eq!(
            cidrs(&graph),
            expect(&[
                ("subnet.private[eu-west-1b]", "10.0.51.0/24"),
                ("subnet.private[eu-west-1c]", "10.0.52.0/24"),
                ("subnet.public[eu-west-1b]", "10.0.1.0/24"),
                ("subnet.public[eu-west-1c]", "10.0.2.0/24"),
            ])
        );
        let plan = diff(PlanInput {
            environment: "acc",
            graph: &graph,
            state: Some(&state),
            moved: &[],
            manifest_digest: "",
        });
        let action = |address: &str| {
            plan.changes.iter().find(|c| c.address.as_str() == address).map(|c| c.action)
        };
        for zone in ["eu-west-1b", "eu-west-1c"] {
            for what in ["subnet.public", "subnet.private"] {
                assert_eq!(action(&format!("{what}[{zone}]")), Some(Action::NoOp));
            }
            for what in ["route_table_association.public", "route_table_association.private"] {
                assert_eq!(action(&format!("{what}[{zone}]")), Some(Action::NoOp));
            }
        }
        assert!(
            plan.changes
                .iter()
                .filter(|c| c.kind == Kind::Subnet && c.action != Action::NoOp)
                .all(|c| c.action == Action::Delete && c.address.as_str().ends_with("[eu-west-1a]")),
            "only the removed zone's subnets go"
        );
    }

    #[test]
    fn a_zone_added_anywhere_takes_the_lowest_range_no_subnet_holds() {
        // b and c were left after a was removed; a comes back first, d is new.
        let three = applied(&manifest(&["eu-west-1a", "eu-west-1b", "eu-west-1c"], json!({})));
        let mut state = three.clone();
        state.resources.retain(|a, _| !a.as_str().ends_with("[eu-west-1a]"));
        let graph =
            held(&["eu-west-1a", "eu-west-1b", "eu-west-1d", "eu-west-1c"], &state, json!({}));
        assert_eq!(
            cidrs(&graph),
            expect(&[
                ("subnet.private[eu-west-1a]", "10.0.50.0/24"),
                ("subnet.private[eu-west-1b]", "10.0.51.0/24"),
                ("subnet.private[eu-west-1c]", "10.0.52.0/24"),
                ("subnet.private[eu-west-1d]", "10.0.53.0/24"),
                ("subnet.public[eu-west-1a]", "10.0.0.0/24"),
                ("subnet.public[eu-west-1b]", "10.0.1.0/24"),
                ("subnet.public[eu-west-1c]", "10.0.2.0/24"),
                ("subnet.public[eu-west-1d]", "10.0.3.0/24"),
            ])
        );
        // Swapping a zone for another in one edit: the new one never takes the range of the
        // subnet this apply deletes, so it need not wait for that delete.
        let graph = held(&["eu-west-1d", "eu-west-1b", "eu-west-1c"], &three, json!({}));
        assert_eq!(
            cidrs(&graph)["subnet.public[eu-west-1d]"],
            "10.0.3.0/24",
            "10.0.0.0/24 is still held by eu-west-1a's subnet"
        );
        assert_eq!(cidrs(&graph)["subnet.private[eu-west-1d]"], "10.0.53.0/24");
    }

    #[test]
    fn reordering_zones_moves_no_range() {
        let state = applied(&manifest(&["eu-west-1a", "eu-west-1b"], json!({})));
        let graph = held(&["eu-west-1b", "eu-west-1a"], &state, json!({}));
        assert_eq!(
            cidrs(&graph),
            cidrs(
                &crate::graph::build(&manifest(&["eu-west-1a", "eu-west-1b"], json!({})), "acc")
                    .expect("graph")
            )
        );
    }

    #[test]
    fn explicit_lists_a_new_vpc_range_and_foreign_ranges_follow_the_manifest() {
        let state = applied(&manifest(&["eu-west-1a", "eu-west-1b"], json!({})));
        // Explicit public ranges are the user's, by position; private ones still hold.
        let graph = held(&["eu-west-1b"], &state, json!({"public_subnets": ["10.0.9.0/24"]}));
        assert_eq!(
            cidrs(&graph),
            expect(&[
                ("subnet.private[eu-west-1b]", "10.0.51.0/24"),
                ("subnet.public[eu-west-1b]", "10.0.9.0/24"),
            ])
        );
        // Another VPC range: every subnet is new, by position.
        let graph = held(&["eu-west-1b"], &state, json!({"cidr": "10.4.0.0/16"}));
        assert_eq!(
            cidrs(&graph),
            expect(&[
                ("subnet.private[eu-west-1b]", "10.4.50.0/24"),
                ("subnet.public[eu-west-1b]", "10.4.0.0/24"),
            ])
        );
        // A recorded range outside the convention (made from an explicit list since removed)
        // is not kept; the new one overlaps no other recorded subnet (its own old one is
        // destroyed before it is made).
        let explicit =
            applied(&manifest(&["eu-west-1a"], json!({"public_subnets": ["10.0.0.0/23"]})));
        let graph = held(&["eu-west-1a"], &explicit, json!({}));
        assert_eq!(cidrs(&graph)["subnet.public[eu-west-1a]"], "10.0.0.0/24");
    }

    #[test]
    fn a_resource_state_without_a_range_is_ignored() {
        let m = manifest(&["eu-west-1a"], json!({}));
        let mut state = applied(&m);
        state.resources.insert(
            Address::from("subnet.public[eu-west-1z]"),
            ResourceState {
                kind: Kind::Subnet,
                id: None,
                attributes: BTreeMap::new(),
                outputs: BTreeMap::new(),
                dependencies: BTreeSet::new(),
            },
        );
        let mut graph = crate::graph::build(&m, "acc").expect("graph");
        let built = graph.clone();
        hold(&mut graph, &m, Some(&state));
        assert_eq!(graph, built);
    }
}
