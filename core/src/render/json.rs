//! Plan as JSON for machines: the [`Plan`] serialized as is, in the versioned format documented
//! in `docs/plan-json.md` (the tests keep the two in step).

use crate::plan::Plan;

/// Renders `plan` as pretty JSON in the versioned plan format.
pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::graph::{Address, Kind};
    use crate::plan::{
        Action, AttributeChange, PLAN_FORMAT_VERSION, PriorState, ResourceChange, Summary,
    };

    /// A plan in which every optional field is present.
    fn full_plan() -> Plan {
        let changes = vec![ResourceChange {
            address: Address::from("vpc.main"),
            kind: Kind::Vpc,
            action: Action::Replace,
            moved_from: Some(Address::from("vpc")),
            replace_because: vec!["cidr_block".to_owned()],
            attributes: vec![AttributeChange {
                name: "cidr_block".to_owned(),
                before: Some(json!("10.0.0.0/16")),
                after: Some(json!("10.1.0.0/16")),
                after_unknown: true,
                forces_replacement: true,
            }],
            depends_on: vec![Address::from("x")],
        }];
        Plan {
            format_version: PLAN_FORMAT_VERSION.to_owned(),
            ecsops_version: "0".to_owned(),
            environment: "acc".to_owned(),
            manifest_digest: "d".to_owned(),
            prior_state: Some(PriorState {
                lineage: "l".to_owned(),
                serial: 1,
            }),
            summary: Summary::of(&changes),
            changes,
        }
    }

    #[test]
    fn renders_parsable_versioned_json_that_round_trips() {
        let plan = full_plan();
        let text = render(&plan);
        let value: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["format_version"], PLAN_FORMAT_VERSION);
        let back: Plan = serde_json::from_str(&text).expect("round trip");
        assert_eq!(back, plan);
    }

    fn field_names(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    // Attribute values are user data, not format fields.
                    if k != "before" && k != "after" {
                        field_names(v, out);
                    }
                    out.insert(k.clone());
                }
            }
            Value::Array(items) => items.iter().for_each(|i| field_names(i, out)),
            _ => {}
        }
    }

    #[test]
    fn the_documentation_lists_exactly_the_serialized_fields() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plan-json.md"),
        )
        .expect("docs/plan-json.md");
        let documented: BTreeSet<String> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect();
        let mut serialized = BTreeSet::new();
        field_names(
            &serde_json::to_value(full_plan()).expect("json"),
            &mut serialized,
        );
        assert_eq!(
            documented, serialized,
            "docs/plan-json.md and the Plan type disagree"
        );
        assert!(doc.contains(&format!("currently `\"{PLAN_FORMAT_VERSION}\"`")));
    }
}
