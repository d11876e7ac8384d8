//! Plan as JSON for machines: the [`Plan`] serialized as is, pretty-printed, in the versioned
//! format documented in `docs/plan-json.md`. The tests keep the two in step: every documented
//! field is serialized and every serialized field documented, the action names match, and the
//! document's example is a valid plan.

use crate::plan::Plan;

/// Renders `plan` as pretty JSON in the versioned plan format.
pub fn render(plan: &Plan) -> String {
    // Serializing cannot fail: every map in a plan has string keys.
    let mut s = serde_json::to_string_pretty(plan).expect("a plan serializes to JSON");
    s.push('\n');
    s
}

/// Several plans (`diff --rev` without an environment) as a JSON array of plan documents.
pub fn render_many(plans: &[Plan]) -> String {
    let mut s = serde_json::to_string_pretty(plans).expect("plans serialize to JSON");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::account::Caller;
    use crate::graph::{Address, Kind};
    use crate::plan::{
        Action, AttributeChange, Drift, Names, Note, PLAN_FORMAT_VERSION, PriorState,
        ResourceChange, Summary,
    };
    use crate::render::format_docs;

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
                names: Some(Names {
                    before: Some("al2023-ami-ecs-hvm-2023.0.20260714-kernel-6.1-x86_64".to_owned()),
                    after: Some("al2023-ami-ecs-hvm-2023.0.20260922-kernel-6.1-x86_64".to_owned()),
                }),
            }],
            depends_on: vec![Address::from("x")],
        }];
        Plan {
            format_version: PLAN_FORMAT_VERSION.to_owned(),
            ecsops_version: "0".to_owned(),
            environment: "acc".to_owned(),
            manifest_digest: "d".to_owned(),
            prior_state: Some(PriorState { lineage: "l".to_owned(), serial: 1 }),
            caller: Some(Caller {
                account: "123456789012".to_owned(),
                arn: "arn:aws:sts::123456789012:assumed-role/deployer/ecsops-acc-ci".to_owned(),
            }),
            summary: Summary::of(&changes),
            changes,
            drift: vec![
                Drift {
                    address: Address::from("route.x"),
                    kind: Kind::Route,
                    deleted: true,
                    attributes: vec![],
                },
                Drift {
                    address: Address::from("vpc.main"),
                    kind: Kind::Vpc,
                    deleted: false,
                    attributes: vec![AttributeChange {
                        name: "tags".to_owned(),
                        before: Some(json!({})),
                        after: Some(json!({"Owner": "someone"})),
                        after_unknown: false,
                        forces_replacement: false,
                        names: None,
                    }],
                },
            ],
            base_revision: Some("1a2b3c4".to_owned()),
            promoted_from: Some("acceptance".to_owned()),
            notes: vec![Note {
                code: "ami-not-checked".to_owned(),
                address: Address::from("launch_template[default]"),
                message: "the recommended AMI was not checked (offline)".to_owned(),
            }],
            rolls: std::collections::BTreeMap::from([(
                Address::from("autoscaling_group[default]"),
                crate::roll::example(),
            )]),
            destroy: false,
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

    /// Attribute values are user data, not format fields; so are the addresses keying
    /// `rolls` (its fields are described in its row).
    const USER_DATA: &[&str] = &["before", "after", "rolls"];

    fn documentation() -> String {
        format_docs::documentation("plan-json.md")
    }

    #[test]
    fn the_documentation_lists_exactly_the_serialized_fields() {
        let doc = documentation();
        let documented = format_docs::table_fields(&doc);
        let mut serialized = BTreeSet::new();
        format_docs::field_names(
            &serde_json::to_value(full_plan()).expect("json"),
            USER_DATA,
            &mut serialized,
        );
        assert_eq!(documented, serialized, "docs/plan-json.md and the Plan type disagree");
        assert!(doc.contains(&format!("currently `\"{PLAN_FORMAT_VERSION}\"`")));
    }

    #[test]
    fn the_documentation_names_every_action() {
        let doc = documentation();
        let row = doc.lines().find(|l| l.starts_with("| `action`")).expect("action row");
        let documented: BTreeSet<&str> =
            row.split('`').skip(3).step_by(2).filter(|w| !w.is_empty()).collect();
        let actual: BTreeSet<String> = [
            Action::NoOp,
            Action::Create,
            Action::Update,
            Action::Replace,
            Action::Revise,
            Action::Delete,
        ]
        .into_iter()
        .map(|a| serde_json::to_value(a).expect("json").as_str().expect("name").to_owned())
        .collect();
        assert_eq!(documented, actual.iter().map(String::as_str).collect(), "{row}");
    }

    #[test]
    fn the_documented_example_is_a_valid_plan() {
        let doc = documentation();
        let start = doc.find("```json\n").expect("example") + "```json\n".len();
        let end = start + doc[start..].find("```").expect("example end");
        let example: Plan = serde_json::from_str(&doc[start..end]).expect("the example parses");
        assert_eq!(example.format_version, PLAN_FORMAT_VERSION);
        let addresses: Vec<&str> = example.changes.iter().map(|c| c.address.as_str()).collect();
        assert!(addresses.is_sorted(), "in address order: {addresses:?}");
        let mut listed = Summary::of(&example.changes);
        listed.no_op = example.summary.no_op;
        assert_eq!(listed, example.summary, "the example's counts add up");
        assert_eq!(render(&example), doc[start..end], "the example is exactly what ecsops prints");
    }

    #[test]
    fn a_plan_without_state_or_optional_fields() {
        let plan = Plan {
            prior_state: None,
            changes: vec![ResourceChange {
                address: Address::from("vpc"),
                kind: Kind::Vpc,
                action: Action::NoOp,
                moved_from: None,
                replace_because: vec![],
                attributes: vec![],
                depends_on: vec![],
            }],
            base_revision: None,
            promoted_from: None,
            notes: Vec::new(),
            rolls: std::collections::BTreeMap::new(),
            caller: None,
            ..full_plan()
        };
        let value: Value = serde_json::from_str(&render(&plan)).expect("json");
        assert_eq!(value["prior_state"], Value::Null);
        assert_eq!(
            value["changes"][0],
            json!({"address": "vpc", "kind": "vpc", "action": "no_op"})
        );
    }
}
