//! Drift: what changed in the cloud outside ecsops since the last apply, found by comparing the
//! recorded attributes with the refreshed (live) ones. Shown apart from the plan, which is
//! made against the live values and so already repairs the drift.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::AttributeChange;
use crate::graph::{Address, Kind};
use crate::provider::Refresh;
use crate::state::ResourceState;

/// One resource changed or deleted outside ecsops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    pub kind: Kind,
    /// Deleted outside ecsops: the plan creates it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// `before` is the recorded value, `after` the live one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
}

/// The drift of every recorded resource, in address order.
pub fn drift(recorded: &BTreeMap<Address, ResourceState>, refresh: &Refresh) -> Vec<Drift> {
    let mut out = Vec::new();
    for (address, r) in recorded {
        if refresh.missing.contains(address) {
            out.push(Drift {
                address: address.clone(),
                kind: r.kind,
                deleted: true,
                attributes: Vec::new(),
            });
            continue;
        }
        let Some(live) = refresh.live.get(address) else {
            continue;
        };
        let names: BTreeSet<&String> = r.attributes.keys().chain(live.attributes.keys()).collect();
        let attributes: Vec<AttributeChange> = names
            .into_iter()
            .filter(|n| r.attributes.get(*n) != live.attributes.get(*n))
            .map(|n| AttributeChange {
                name: n.clone(),
                before: r.attributes.get(n).cloned(),
                after: live.attributes.get(n).cloned(),
                after_unknown: false,
                forces_replacement: false,
                names: None,
            })
            .collect();
        if !attributes.is_empty() {
            out.push(Drift { address: address.clone(), kind: r.kind, deleted: false, attributes });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Live;
    use serde_json::json;

    fn rs(max: i64) -> ResourceState {
        ResourceState {
            kind: Kind::AutoscalingGroup,
            id: Some("g".to_owned()),
            attributes: BTreeMap::from([("max_size".to_owned(), json!(max))]),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        }
    }

    #[test]
    fn changed_attributes_and_deleted_resources_are_drift() {
        let recorded = BTreeMap::from([
            (Address::new("a"), rs(4)),
            (Address::new("b"), rs(4)),
            (Address::new("c"), rs(4)),
        ]);
        let live = |max: i64| Live {
            kind: Kind::AutoscalingGroup,
            id: "g".to_owned(),
            attributes: BTreeMap::from([("max_size".to_owned(), json!(max))]),
            outputs: BTreeMap::new(),
        };
        let refresh = Refresh {
            live: BTreeMap::from([(Address::new("a"), live(4)), (Address::new("b"), live(9))]),
            missing: BTreeSet::from([Address::new("c")]),
            ..Refresh::default()
        };
        let d = drift(&recorded, &refresh);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].address, Address::new("b"));
        assert_eq!(d[0].attributes[0].name, "max_size");
        assert_eq!(d[0].attributes[0].before, Some(json!(4)));
        assert_eq!(d[0].attributes[0].after, Some(json!(9)));
        assert!(d[1].deleted);
    }
}
