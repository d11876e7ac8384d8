//! Expand, then contract: a grant that old task definition revisions use is narrowed only once
//! the services moved off them. The walk applies the union of the recorded and the desired
//! grants (the new tasks get what they need, the old ones keep what they had); the desired
//! grants alone follow after the rollouts ([`Part::AfterRollout`](super::Part::AfterRollout)).
//! Without this, removing a secret from a service took the execution role's right to read it
//! in the walk, and a deployment that failed rolled back to tasks that could not start.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::graph::Kind;
use crate::graph::attrs::{Attributes, Document, Effect, IamPolicy, IamRole, OneOrMany, Statement};
use crate::provider::{ResourceSpec, decode, to_map};
use crate::state::ResourceState;

/// IAM's limit on a managed policy document: characters, white space not counted.
const POLICY_SIZE: usize = 6_144;
/// IAM's default limit on the managed policies attached to a role (raised on request: a role
/// already holding more shows the account allows more).
const ROLE_POLICIES: usize = 10;

/// Whether a change of `kind` can keep the old grants beside the new ones.
pub(super) fn widens(kind: Kind) -> bool {
    matches!(kind, Kind::IamRole | Kind::IamPolicy)
}

/// The attributes of `desired` widened by what `recorded` grants and it does not; `None` when
/// it already grants all of that, when either does not read as the kind's attributes, or when
/// the union would break an IAM limit (then the change is made whole, as without widening).
pub(super) fn widen(
    desired: &ResourceSpec,
    recorded: &ResourceState,
) -> Option<BTreeMap<String, Value>> {
    match desired.kind {
        Kind::IamRole => {
            let (was, mut want): (IamRole, IamRole) = typed(desired, recorded)?;
            let kept: Vec<String> = (was.policy_arns.iter())
                .filter(|arn| !want.policy_arns.contains(arn))
                .cloned()
                .collect();
            if kept.is_empty() {
                return None;
            }
            let limit = ROLE_POLICIES.max(was.policy_arns.len()).max(want.policy_arns.len());
            want.policy_arns.extend(kept);
            if want.policy_arns.len() > limit {
                tracing::warn!(
                    policies = want.policy_arns.len(),
                    "the old and new policies together are more than a role holds: detaching now"
                );
                return None;
            }
            Some(to_map(&want))
        }
        Kind::IamPolicy => {
            let (was, mut want): (IamPolicy, IamPolicy) = typed(desired, recorded)?;
            let (Document::Policy(was), Document::Policy(doc)) =
                (&was.document, &mut want.document)
            else {
                return None;
            };
            // Without an old denial an old grant could allow more than either document; with
            // it, a new grant could be denied. A denial that goes is made at once.
            let denials_go = (was.statement.iter())
                .any(|s| s.effect == Effect::Deny && !doc.statement.contains(s));
            if denials_go {
                return None;
            }
            let kept: Vec<Statement> = (was.statement.iter())
                .filter(|s| s.effect == Effect::Allow)
                .filter(|s| !doc.statement.iter().any(|d| covers(d, s)))
                .map(|s| Statement {
                    // Statement ids are unique in a document: the kept ones go without.
                    sid: None,
                    ..s.clone()
                })
                .collect();
            if kept.is_empty() {
                return None;
            }
            doc.statement.extend(kept);
            let size = (want.document.text().unwrap_or_default().chars())
                .filter(|c| !c.is_whitespace())
                .count();
            if size > POLICY_SIZE {
                tracing::warn!(
                    size,
                    "the old and new grants together are more than a policy holds: narrowing now"
                );
                return None;
            }
            Some(to_map(&want))
        }
        _ => None,
    }
}

/// Whether `wide` allows everything `narrow` allows: the same principal, conditions and other
/// elements, and a superset of its actions and resources.
fn covers(wide: &Statement, narrow: &Statement) -> bool {
    wide.effect == narrow.effect
        && wide.principal == narrow.principal
        && wide.condition == narrow.condition
        && wide.other == narrow.other
        && includes(wide.action.as_ref(), narrow.action.as_ref())
        && includes(wide.resource.as_ref(), narrow.resource.as_ref())
}

fn includes(wide: Option<&OneOrMany>, narrow: Option<&OneOrMany>) -> bool {
    let set = |v: Option<&OneOrMany>| -> BTreeSet<String> {
        match v {
            None => BTreeSet::new(),
            Some(OneOrMany::One(s)) => BTreeSet::from([s.clone()]),
            Some(OneOrMany::Many(all)) => all.iter().cloned().collect(),
        }
    };
    let (wide, narrow) = (set(wide), set(narrow));
    wide.contains("*") || narrow.is_subset(&wide)
}

/// The recorded and the desired attributes as the kind's typed struct.
fn typed<A: Attributes>(desired: &ResourceSpec, recorded: &ResourceState) -> Option<(A, A)> {
    let was = decode(&desired.address, None, &recorded.attributes).ok()?;
    Some((was, desired.decode().ok()?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::graph::Address;

    /// An attribute map (shadows the trait of the same name).
    type Attributes = BTreeMap<String, Value>;

    /// [`super::widen`] of a desired `kind` resource over a recorded one, as attribute maps.
    fn widen(kind: Kind, recorded: &Attributes, desired: &Attributes) -> Option<Attributes> {
        let address = Address::from("x");
        let spec = ResourceSpec { address, kind, attributes: desired.clone() };
        let state = ResourceState {
            kind,
            id: None,
            attributes: recorded.clone(),
            outputs: BTreeMap::new(),
            dependencies: BTreeSet::new(),
        };
        super::widen(&spec, &state)
    }

    fn attributes(value: Value) -> Attributes {
        let Value::Object(map) = value else { panic!("an object") };
        map.into_iter().collect()
    }

    fn role(arns: &[&str]) -> Attributes {
        attributes(json!({
            "name": "r", "path": "/ecsops/", "tags": {},
            "assume_role_policy": {"Version": "2012-10-17", "Statement": []},
            "policy_arns": arns,
        }))
    }

    fn policy(statements: &Value) -> Attributes {
        attributes(json!({
            "name": "p", "path": "/ecsops/", "tags": {},
            "document": {"Version": "2012-10-17", "Statement": statements},
        }))
    }

    fn read(resources: &Value) -> Value {
        json!({"Sid": "ReadSecrets", "Effect": "Allow",
               "Action": "secretsmanager:GetSecretValue", "Resource": resources})
    }

    #[test]
    fn a_role_keeps_the_policies_it_loses_until_the_rollouts() {
        let widened = widen(Kind::IamRole, &role(&["a", "b"]), &role(&["c", "a"]));
        assert_eq!(widened, Some(role(&["c", "a", "b"])));
        assert_eq!(widen(Kind::IamRole, &role(&["a"]), &role(&["a", "b"])), None);
    }

    #[test]
    fn a_policy_keeps_the_grants_it_loses_until_the_rollouts() {
        let was = policy(&json!([read(&json!(["s1", "s2"]))]));
        let want = policy(&json!([read(&json!("s1"))]));
        let widened = widen(Kind::IamPolicy, &was, &want).expect("widened");
        let mut kept = read(&json!(["s1", "s2"]));
        kept.as_object_mut().map(|s| s.remove("Sid"));
        assert_eq!(widened, policy(&json!([read(&json!("s1")), kept])));
    }

    #[test]
    fn what_the_new_grants_cover_is_not_kept() {
        let was = policy(&json!([read(&json!("s1"))]));
        let wider = policy(&json!([read(&json!(["s1", "s2"]))]));
        assert_eq!(widen(Kind::IamPolicy, &was, &wider), None);
        let everything = policy(&json!([read(&json!("*"))]));
        assert_eq!(widen(Kind::IamPolicy, &wider, &everything), None);
        // A denial that goes is made at once: kept, it could deny a new grant; dropped, an old
        // grant could allow what it denied.
        let deny = json!({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"});
        let all = json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"});
        let was = policy(&json!([all, deny]));
        assert_eq!(widen(Kind::IamPolicy, &was, &policy(&json!([read(&json!("s1"))]))), None);
        let kept = policy(&json!([deny, read(&json!("s1"))]));
        assert!(widen(Kind::IamPolicy, &was, &kept).is_some());
        // A condition narrows a grant: without it the new statement does not cover the old.
        let conditioned = policy(&json!([{"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}]));
        let other = policy(&json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-2"}}}]));
        assert!(widen(Kind::IamPolicy, &conditioned, &other).is_some());
    }

    #[test]
    fn a_union_over_the_iam_limits_is_not_made() {
        let many: Vec<String> = (0..ROLE_POLICIES).map(|i| format!("arn{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(widen(Kind::IamRole, &role(&["old"]), &role(&many)), None);
        let big: Vec<String> = (0..400).map(|i| format!("arn:aws:secretsmanager:s{i}")).collect();
        let was = policy(&json!([read(&json!(big))]));
        assert_eq!(widen(Kind::IamPolicy, &was, &policy(&json!([read(&json!("x"))]))), None);
    }

    #[test]
    fn other_kinds_and_unreadable_attributes_are_not_widened() {
        assert_eq!(widen(Kind::LogGroup, &role(&["a"]), &role(&[])), None);
        assert_eq!(widen(Kind::IamRole, &Attributes::new(), &role(&[])), None);
        let text = attributes(json!({"name": "p", "path": "/", "tags": {}, "document": "{oops"}));
        assert_eq!(widen(Kind::IamPolicy, &text, &policy(&json!([]))), None);
    }
}
