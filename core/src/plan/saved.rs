//! The saved plan (`ecsops diff ENV --out FILE`): everything an apply needs to run exactly that
//! plan without planning again (the plan, the desired graph, the refreshed state it was made
//! against) and what makes it stale (the state's lineage and serial, the manifests' digest, the
//! commit). A versioned document of its own, apart from the plan JSON that reports changes;
//! documented in `docs/saved-plan.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Plan, PlanInput, ResourceChange, ami, cidrs, diff};
use crate::graph::{Address, Graph};
use crate::manifest::Manifest;
use crate::state::State;

/// Version of the saved-plan document this ecsops writes and reads.
pub const SAVED_PLAN_FORMAT_VERSION: &str = "1";

/// What the `kind` field says, so a plan JSON or a state file is never taken for one.
const KIND: &str = "ecsops-saved-plan";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub kind: String,
    pub format_version: String,
    pub ecsops_version: String,
    pub environment: String,
    /// RFC 3339.
    pub created_at: String,
    /// The commit the manifests were read at; `None` outside a git repository.
    pub commit: Option<String>,
    /// The environment's files differed from `commit`.
    pub dirty: bool,
    /// The AWS account planned in: the caller's when AWS was asked, else the recorded
    /// resources', when known.
    pub account: Option<String>,
    /// SHA-256 of the merged manifest.
    pub manifest_digest: String,
    /// The state the plan was made against: its lineage and serial (`None`: no state yet).
    pub lineage: String,
    pub serial: Option<u64>,
    pub plan: Plan,
    pub graph: Graph,
    /// The state as refreshed when planning: what the apply starts from.
    pub prior: State,
}

/// Why a file is not a saved plan this ecsops can apply.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("not a saved plan ({0}); make one with `ecsops diff ENV --out FILE`")]
    Invalid(String),
    #[error(
        "saved-plan format {found} is not the format {SAVED_PLAN_FORMAT_VERSION} this ecsops reads; plan again with this ecsops"
    )]
    Version { found: String },
    #[error(
        "it was saved by ecsops {found} and this is ecsops {}; plan again with this ecsops (`ecsops diff ENV --out FILE`): a plan is applied by the ecsops that made it",
        env!("CARGO_PKG_VERSION")
    )]
    EcsopsVersion { found: String },
}

impl SavedPlan {
    pub fn new(
        plan: Plan,
        graph: Graph,
        prior: State,
        serial: Option<u64>,
        commit: Option<String>,
        dirty: bool,
    ) -> Self {
        Self {
            kind: KIND.to_owned(),
            format_version: SAVED_PLAN_FORMAT_VERSION.to_owned(),
            ecsops_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: plan.environment.clone(),
            created_at: crate::state::lock::now(),
            commit,
            dirty,
            account: plan.caller.as_ref().map(|c| c.account.clone()).or_else(|| prior.account()),
            manifest_digest: plan.manifest_digest.clone(),
            lineage: prior.lineage.clone(),
            serial,
            plan,
            graph,
            prior,
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a saved plan serializes");
        s.push('\n');
        s
    }

    /// The addresses whose saved resource or change is not what the manifests make now
    /// (`desired`: their graph before planning, `moved`: their renames) planned against the
    /// saved `prior`: the file was edited after it was saved. The manifests' digest alone does
    /// not cover the graph and the plan the apply runs. The AMI a recommended-AMI launch
    /// template launches is SSM's answer at planning time, so it is taken as saved.
    pub fn edited(
        &self,
        desired: &Graph,
        manifest: &Manifest,
        moved: &[(Address, Address)],
    ) -> Vec<Address> {
        let state = self.serial.is_some().then_some(&self.prior);
        let mut graph = desired.clone();
        cidrs::hold(&mut graph, manifest, state);
        let pinned: Vec<Address> =
            ami::from_ssm(&graph).into_iter().map(|(a, _)| a.clone()).collect();
        for address in pinned {
            let saved =
                self.graph.resources.get(&address).and_then(|r| r.attributes.get(ami::IMAGE_ID));
            if let Some(resource) = graph.resources.get_mut(&address) {
                match saved {
                    Some(ami) => resource.attributes.insert(ami::IMAGE_ID.to_owned(), ami.clone()),
                    None => resource.attributes.remove(ami::IMAGE_ID),
                };
            }
        }
        let mut edited: BTreeSet<Address> = graph
            .resources
            .keys()
            .chain(self.graph.resources.keys())
            .filter(|a| graph.resources.get(a) != self.graph.resources.get(a))
            .cloned()
            .collect();
        let replanned = diff(PlanInput {
            environment: &self.environment,
            graph: &self.graph,
            state,
            moved,
            manifest_digest: &self.manifest_digest,
        });
        // Image names are AWS's answer for people, not something the apply acts on.
        let by_address = |changes: &[ResourceChange]| -> BTreeMap<Address, ResourceChange> {
            changes
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    for a in &mut c.attributes {
                        a.names = None;
                    }
                    (c.address.clone(), c)
                })
                .collect()
        };
        let (want, saved) = (by_address(&replanned.changes), by_address(&self.plan.changes));
        edited.extend(
            want.keys().chain(saved.keys()).filter(|a| want.get(a) != saved.get(a)).cloned(),
        );
        edited.into_iter().collect()
    }

    /// The addresses whose saved prior is not the `stored` state's resource it was read from
    /// (another kind or id, or none stored): the file was edited after it was saved. A refresh
    /// only drops what is gone and brings live values, so every prior resource is stored under
    /// the same kind and id.
    pub fn prior_edited(&self, stored: &State) -> Vec<Address> {
        self.prior
            .resources
            .iter()
            .filter(|(a, r)| {
                stored.resources.get(*a).is_none_or(|s| {
                    s.kind != r.kind || matches!((&s.id, &r.id), (Some(x), Some(y)) if x != y)
                })
            })
            .map(|(a, _)| a.clone())
            .collect()
    }

    pub fn parse(text: &str) -> Result<Self, SavedPlanError> {
        #[derive(Deserialize)]
        struct Head {
            kind: Option<String>,
            format_version: Option<String>,
            ecsops_version: Option<String>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| SavedPlanError::Invalid(e.to_string()))?;
        if head.kind.as_deref() != Some(KIND) {
            return Err(SavedPlanError::Invalid(format!("its `kind` is not `{KIND}`")));
        }
        let found = head.format_version.unwrap_or_default();
        if found != SAVED_PLAN_FORMAT_VERSION {
            return Err(SavedPlanError::Version { found });
        }
        let found = head.ecsops_version.unwrap_or_default();
        if found != env!("CARGO_PKG_VERSION") {
            return Err(SavedPlanError::EcsopsVersion { found });
        }
        serde_json::from_str(text).map_err(|e| SavedPlanError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    use super::*;
    use crate::graph::{Address, Expr, Kind, Resource};
    use crate::plan::{PlanInput, diff};

    #[test]
    fn a_saved_plan_reads_back_exactly_nulls_included() {
        let vpc = Address::from("vpc");
        let graph = Graph {
            resources: BTreeMap::from([(
                vpc.clone(),
                Resource {
                    address: vpc.clone(),
                    kind: Kind::Vpc,
                    attributes: BTreeMap::from([
                        ("cidr_block".to_owned(), Expr::str("10.0.0.0/16")),
                        ("nothing".to_owned(), Expr::Lit(Value::Null)),
                        (
                            "nested".to_owned(),
                            Expr::Map(BTreeMap::from([(
                                "ref".to_owned(),
                                Expr::reference(&vpc, "id"),
                            )])),
                        ),
                    ]),
                    depends_on: BTreeSet::new(),
                },
            )]),
        };
        let prior = State::new("acc", "l".to_owned());
        let plan = diff(PlanInput {
            environment: "acc",
            graph: &graph,
            state: Some(&prior),
            moved: &[],
            manifest_digest: "d",
        });
        let null = plan.changes[0]
            .attributes
            .iter()
            .find(|a| a.name == "nothing")
            .expect("the null attribute");
        assert_eq!(null.after, Some(Value::Null));
        let saved = SavedPlan::new(plan, graph, prior, None, Some("abc".to_owned()), false);
        let back = SavedPlan::parse(&saved.to_json()).expect("reads back");
        assert_eq!(back, saved);
    }

    #[test]
    fn other_documents_are_refused() {
        assert!(matches!(
            SavedPlan::parse(r#"{"format_version": "1.2", "changes": []}"#),
            Err(SavedPlanError::Invalid(_))
        ));
        assert!(matches!(
            SavedPlan::parse(r#"{"kind": "ecsops-saved-plan", "format_version": "9"}"#),
            Err(SavedPlanError::Version { .. })
        ));
        assert!(SavedPlan::parse("not json").is_err());
    }

    #[test]
    fn a_plan_saved_by_another_ecsops_is_refused() {
        let plan = diff(PlanInput {
            environment: "acceptance",
            graph: &Graph::default(),
            state: None,
            moved: &[],
            manifest_digest: "d",
        });
        let prior = State::new("acceptance", "l".to_owned());
        let mut saved = SavedPlan::new(plan, Graph::default(), prior, None, None, false);
        saved.ecsops_version = "0.0.1-other".to_owned();
        let err = SavedPlan::parse(&saved.to_json()).expect_err("refused");
        assert!(
            matches!(&err, SavedPlanError::EcsopsVersion { found } if found == "0.0.1-other"),
            "{err}"
        );
        assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")), "{err}");
    }
}
