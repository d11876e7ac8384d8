//! The AMI each launch template launches, fixed before planning. `ami = "recommended"` names an
//! SSM parameter that AWS moves to every new ECS-optimized AMI, so the AMI is a fact of the
//! moment, not of the manifest: a plan that reads AWS pins the AMI the parameter names now as
//! the template's `image_id` (one SSM request for every group, made by the caller), so a newly
//! published AMI is a planned change and the apply launches exactly the planned AMI. A plan made
//! without AWS keeps the recorded AMI and notes that it was not checked.
//!
//! Contract: pure; [`parameters`] says what to ask SSM, [`pin`] writes the answers (or the
//! record) into the graph, [`name`] puts the image names AWS gave onto the plan's changes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Names, Note, Plan};
use crate::graph::{Address, Expr, Graph, Kind};
use crate::state::State;

/// What a launch template's `image` starts with when an SSM parameter names its AMI.
pub const SSM_PREFIX: &str = "ssm:";

/// The attribute pinned: the AMI a launch template launches.
pub const IMAGE_ID: &str = "image_id";

/// [`Note::code`] of a launch template whose parameter was not asked for.
pub const NOT_CHECKED: &str = "ami-not-checked";

/// The SSM parameter `image` names, when it names one.
pub fn parameter(image: &str) -> Option<&str> {
    image.strip_prefix(SSM_PREFIX)
}

/// Every launch template of `graph` whose AMI an SSM parameter names, with that parameter.
pub fn from_ssm(graph: &Graph) -> Vec<(&Address, &str)> {
    graph
        .resources
        .values()
        .filter(|r| r.kind == Kind::LaunchTemplate)
        .filter_map(|r| match r.attributes.get("image") {
            Some(Expr::Lit(Value::String(image))) => Some((&r.address, parameter(image)?)),
            _ => None,
        })
        .collect()
}

/// The distinct parameters of `graph`: what one SSM request asks for.
pub fn parameters(graph: &Graph) -> BTreeSet<String> {
    from_ssm(graph).into_iter().map(|(_, p)| p.to_owned()).collect()
}

/// Where the manifest asks for the AMI of the launch template at `address`.
pub fn manifest_place(address: &Address) -> String {
    let group = address.key().map_or(address.as_str(), |(_, key)| key);
    format!("[instance_groups.{group}] ami")
}

/// Sets `image_id` of every launch template whose AMI a parameter names: the AMI `resolved`
/// (parameter → AMI, when SSM was asked) says, else the recorded one while the recorded
/// template asked for the same `image`. A template `state` does not record is left to the
/// apply (its AMI shows as known after apply). Returns a note per recorded template whose
/// parameter was not asked for.
pub fn pin(
    graph: &mut Graph,
    state: Option<&State>,
    resolved: Option<&BTreeMap<String, String>>,
) -> Vec<Note> {
    let mut notes = Vec::new();
    for resource in graph.resources.values_mut() {
        if resource.kind != Kind::LaunchTemplate {
            continue;
        }
        let Some(Expr::Lit(image)) = resource.attributes.get("image") else {
            continue;
        };
        let Some(parameter) = image.as_str().and_then(parameter) else {
            continue;
        };
        if let Some(ami) = resolved.and_then(|r| r.get(parameter)) {
            resource.attributes.insert(IMAGE_ID.to_owned(), Expr::str(ami.clone()));
            continue;
        }
        let Some(prior) = state.and_then(|s| s.resources.get(&resource.address)) else {
            continue;
        };
        let message = format!(
            "the recommended AMI was not checked (offline): AWS was not asked which AMI SSM parameter `{parameter}` names now"
        );
        if prior.attributes.get("image") == Some(image)
            && let Some(recorded) = prior.attributes.get(IMAGE_ID)
        {
            resource.attributes.insert(IMAGE_ID.to_owned(), Expr::Lit(recorded.clone()));
        }
        notes.push(Note {
            code: NOT_CHECKED.to_owned(),
            address: resource.address.clone(),
            message,
        });
    }
    notes
}

/// The AMI ids a launch template's `image_id` changes between in `plan`: what to ask AWS
/// the names of.
pub fn changed_ids(plan: &Plan) -> BTreeSet<String> {
    plan.changes
        .iter()
        .filter(|c| c.kind == Kind::LaunchTemplate)
        .flat_map(|c| &c.attributes)
        .filter(|a| a.name == IMAGE_ID)
        .flat_map(|a| [&a.before, &a.after])
        .filter_map(|v| v.as_ref()?.as_str().map(str::to_owned))
        .collect()
}

/// Puts the image names of `names` (AMI id → name) on the `image_id` changes of `plan`.
pub fn name(plan: &mut Plan, names: &BTreeMap<String, String>) {
    let of = |v: &Option<Value>| names.get(v.as_ref()?.as_str()?).cloned();
    for change in plan.changes.iter_mut().filter(|c| c.kind == Kind::LaunchTemplate) {
        for a in change.attributes.iter_mut().filter(|a| a.name == IMAGE_ID) {
            let (before, after) = (of(&a.before), of(&a.after));
            if before.is_some() || after.is_some() {
                a.names = Some(Names { before, after });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Resource;
    use crate::plan::{Action, plan_for};
    use crate::state::ResourceState;
    use serde_json::json;

    const X86: &str = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";

    fn template(image: &str, instance_type: &str) -> Graph {
        let address = Address::keyed("launch_template", "default");
        let resource = Resource {
            address: address.clone(),
            kind: Kind::LaunchTemplate,
            attributes: BTreeMap::from([
                ("image".to_owned(), Expr::str(image)),
                ("instance_type".to_owned(), Expr::str(instance_type)),
            ]),
            depends_on: BTreeSet::new(),
        };
        Graph { resources: BTreeMap::from([(address, resource)]) }
    }

    fn recorded(image: &str, ami: Option<&str>) -> State {
        let mut attributes = BTreeMap::from([
            ("image".to_owned(), json!(image)),
            ("instance_type".to_owned(), json!("t3.medium")),
        ]);
        if let Some(ami) = ami {
            attributes.insert(IMAGE_ID.to_owned(), json!(ami));
        }
        let mut s = State::new("acc", "L".to_owned());
        s.resources.insert(
            Address::keyed("launch_template", "default"),
            ResourceState {
                kind: Kind::LaunchTemplate,
                id: Some("lt-1".to_owned()),
                attributes,
                outputs: BTreeMap::from([
                    ("id".to_owned(), json!("lt-1")),
                    ("latest_version".to_owned(), json!(1)),
                    ("image_id".to_owned(), json!(ami.unwrap_or("ami-old"))),
                ]),
                dependencies: BTreeSet::new(),
            },
        );
        s
    }

    fn image_id_change(plan: &Plan) -> Option<(Option<Value>, Option<Value>, bool)> {
        let a = plan.changes[0].attributes.iter().find(|a| a.name == IMAGE_ID)?;
        Some((a.before.clone(), a.after.clone(), a.after_unknown))
    }

    #[test]
    fn only_parameters_are_asked_for_once_each() {
        let mut g = template(&format!("ssm:{X86}"), "t3.medium");
        let explicit = template("ami-0123", "t3.medium").resources.into_values();
        g.resources.extend(explicit.map(|mut r| {
            r.address = Address::keyed("launch_template", "explicit");
            (r.address.clone(), r)
        }));
        assert_eq!(parameters(&g), BTreeSet::from([X86.to_owned()]));
        assert_eq!(
            manifest_place(&Address::keyed("launch_template", "gpu")),
            "[instance_groups.gpu] ami"
        );
    }

    #[test]
    fn a_newer_recommended_ami_is_an_update_of_image_id_and_the_only_one() {
        let mut g = template(&format!("ssm:{X86}"), "t3.medium");
        let state = recorded(&format!("ssm:{X86}"), Some("ami-old"));
        let resolved = BTreeMap::from([(X86.to_owned(), "ami-new".to_owned())]);
        let notes = pin(&mut g, Some(&state), Some(&resolved));
        assert!(notes.is_empty(), "{notes:?}");
        let mut plan = plan_for(&g, &state);
        assert_eq!(plan.changes[0].action, Action::Update);
        assert_eq!(plan.changes[0].attributes.len(), 1, "{plan:#?}");
        assert_eq!(
            image_id_change(&plan),
            Some((Some(json!("ami-old")), Some(json!("ami-new")), false))
        );
        assert_eq!(
            changed_ids(&plan),
            BTreeSet::from(["ami-new".to_owned(), "ami-old".to_owned()])
        );
        name(&mut plan, &BTreeMap::from([("ami-new".to_owned(), "al2023-new".to_owned())]));
        assert_eq!(
            plan.changes[0].attributes[0].names,
            Some(Names { before: None, after: Some("al2023-new".to_owned()) })
        );
    }

    #[test]
    fn the_same_ami_is_no_change() {
        let mut g = template(&format!("ssm:{X86}"), "t3.medium");
        let state = recorded(&format!("ssm:{X86}"), Some("ami-old"));
        let resolved = BTreeMap::from([(X86.to_owned(), "ami-old".to_owned())]);
        pin(&mut g, Some(&state), Some(&resolved));
        assert_eq!(plan_for(&g, &state).changes[0].action, Action::NoOp);
    }

    #[test]
    fn offline_keeps_the_recorded_ami_and_says_it_was_not_checked() {
        let mut g = template(&format!("ssm:{X86}"), "t3.large");
        let state = recorded(&format!("ssm:{X86}"), Some("ami-old"));
        let notes = pin(&mut g, Some(&state), None);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].code, NOT_CHECKED);
        assert!(notes[0].message.contains("not checked (offline)"), "{notes:?}");
        let plan = plan_for(&g, &state);
        assert_eq!(image_id_change(&plan), None, "no spurious change: {plan:#?}");
        assert_eq!(plan.changes[0].attributes[0].name, "instance_type");
    }

    #[test]
    fn offline_with_another_parameter_leaves_the_ami_to_the_apply() {
        let mut g = template("ssm:/other", "t3.medium");
        let state = recorded(&format!("ssm:{X86}"), Some("ami-old"));
        assert_eq!(pin(&mut g, Some(&state), None).len(), 1);
        assert_eq!(
            image_id_change(&plan_for(&g, &state)),
            Some((Some(json!("ami-old")), None, true)),
            "unknown until the apply asks SSM, not removed"
        );
    }

    #[test]
    fn a_state_without_a_recorded_ami_and_a_new_template_are_left_alone() {
        let mut g = template(&format!("ssm:{X86}"), "t3.medium");
        let state = recorded(&format!("ssm:{X86}"), None);
        assert_eq!(pin(&mut g, Some(&state), None).len(), 1);
        assert_eq!(plan_for(&g, &state).changes[0].action, Action::NoOp);
        let mut g = template(&format!("ssm:{X86}"), "t3.medium");
        assert!(pin(&mut g, None, None).is_empty(), "a create says it itself");
        assert!(
            !g.resources.values().any(|r| r.attributes.contains_key(IMAGE_ID)),
            "the apply asks SSM"
        );
    }
}
