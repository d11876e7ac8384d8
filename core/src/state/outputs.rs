//! The values people need after an apply (`ecsops output`), read from the recorded resources so
//! that no AWS call is needed: load balancer DNS names, the cluster's name, the alerts topic.
//!
//! Each output is named `<address>.<field>` with a keyed address's `[key]` written `.key`
//! (`load_balancer.default.dns_name`), so a name is one shell word and says where it comes from.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ResourceState, State};
use crate::graph::Kind;

/// The fields of each kind worth an output, and whether the state keeps them as an attribute
/// (what the manifest set) or an output (what AWS assigned).
fn fields(kind: Kind) -> &'static [(&'static str, From)] {
    match kind {
        Kind::Vpc | Kind::Subnet | Kind::SecurityGroup => &[("id", From::Id)],
        Kind::EcsCluster => &[("name", From::Attribute), ("arn", From::Output)],
        Kind::LoadBalancer => {
            &[("dns_name", From::Output), ("zone_id", From::Output), ("arn", From::Output)]
        }
        Kind::ClassicLoadBalancer => &[("dns_name", From::Output)],
        // The reference's one output: what a service or instance made outside ecsops registers
        // with.
        Kind::TargetGroup => &[("arn", From::Output)],
        Kind::SnsTopic => &[("arn", From::Output)],
        Kind::LogGroup => &[("name", From::Attribute)],
        _ => &[],
    }
}

#[derive(Debug, Clone, Copy)]
enum From {
    Id,
    Attribute,
    Output,
}

/// Every output of `state`, by name.
pub fn named(state: &State) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (address, resource) in &state.resources {
        let prefix = address.as_str().replace('[', ".").replace(']', "");
        for (field, from) in fields(resource.kind) {
            if let Some(value) = value(resource, field, *from) {
                out.insert(format!("{prefix}.{field}"), value);
            }
        }
    }
    out
}

fn value(resource: &ResourceState, field: &str, from: From) -> Option<Value> {
    match from {
        From::Id => resource.id.clone().map(Value::String),
        From::Attribute => resource.attributes.get(field).cloned(),
        From::Output => resource.outputs.get(field).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outputs_come_from_recorded_attributes_outputs_and_ids() {
        let state: State = serde_json::from_value(json!({
            "version": 2, "lineage": "l", "serial": 4, "environment": "acc",
            "resources": {
                "ecs_cluster": {"kind": "ecs_cluster", "id": "acc-default",
                    "attributes": {"name": "acc-default"},
                    "outputs": {"arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/acc-default"}},
                "load_balancer[default]": {"kind": "load_balancer", "id": "arn:lb",
                    "outputs": {"arn": "arn:lb", "dns_name": "acc-default-1.elb.amazonaws.com",
                                "zone_id": "Z2"}},
                "vpc": {"kind": "vpc", "id": "vpc-1"},
                "target_group[web]": {"kind": "target_group", "id": "arn:tg",
                    "attributes": {"name": "acc-web"}, "outputs": {"arn": "arn:tg"}},
                "route_table.public": {"kind": "route_table", "id": "rtb-1"}
            }
        }))
        .expect("state");
        let named = named(&state);
        assert_eq!(
            named.get("load_balancer.default.dns_name"),
            Some(&json!("acc-default-1.elb.amazonaws.com"))
        );
        assert_eq!(named.get("ecs_cluster.name"), Some(&json!("acc-default")));
        assert_eq!(named.get("vpc.id"), Some(&json!("vpc-1")));
        assert!(!named.keys().any(|k| k.starts_with("route_table")));
        assert_eq!(named.get("target_group.web.arn"), Some(&json!("arn:tg")));
        assert_eq!(named.len(), 7, "{named:?}");
    }
}
