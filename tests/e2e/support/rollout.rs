//! AWS-shaped `DescribeServices` answers for what moto lacks: its `UpdateService` sets the
//! service's task definition but starts no deployment, so its PRIMARY deployment still names
//! the revision the service was created with. Through a [`Proxy`] with one of these rules, a
//! service whose task definition differs from its PRIMARY deployment's (one moto updated)
//! is answered as AWS answers once the update's deployment ended; any other answer passes
//! as moto wrote it. Each test using them says which ending it stands for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::env::Env;
use super::proxy::{DropResponse, Fault, Proxy};

/// The circuit breaker's reason, as ECS writes it on the failed deployment.
pub const BREAKER_REASON: &str = "ECS deployment circuit breaker: tasks failed to start. Rolling back to the last completed deployment.";

/// AWS once an update's rollout completed: one PRIMARY deployment, of the new revision,
/// COMPLETED, running what the service wants.
pub fn completing() -> DropResponse {
    describe_services(completed)
}

/// AWS after the deployment circuit breaker rolled an update back: the service and a new
/// PRIMARY deployment on the revision it ran before, and the update's deployment FAILED with
/// the breaker's reason.
pub fn rolled_back() -> DropResponse {
    describe_services(rolled_back_to_old)
}

/// AWS while an update's deployment is still going: a PRIMARY deployment of the new revision
/// IN_PROGRESS, beside the ACTIVE one of the revision the service ran before.
pub fn in_progress() -> DropResponse {
    describe_services(|service, moto_deployment| {
        let new = service["taskDefinition"].clone();
        let old = moto_deployment["taskDefinition"].clone();
        service["deployments"] = json!([
            deployment(
                moto_deployment,
                "PRIMARY",
                &new,
                "IN_PROGRESS",
                "ECS deployment ecs-svc/2 in progress.",
            ),
            deployment(
                moto_deployment,
                "ACTIVE",
                &old,
                "COMPLETED",
                "ECS deployment ecs-svc/1 completed.",
            ),
        ]);
    })
}

/// AWS after a circuit breaker rollback ([`rolled_back`]) until the next `UpdateService`, and
/// once that update's rollout completed ([`completing`]) after it.
pub fn rolled_back_until_updated() -> [DropResponse; 2] {
    let updated = Arc::new(AtomicBool::new(false));
    let seen = updated.clone();
    [
        DropResponse {
            contains: vec!["AmazonEC2ContainerServiceV20141113.UpdateService"],
            times: usize::MAX,
            fault: Fault::rewrite(move |_, body| {
                seen.store(true, Ordering::SeqCst);
                body.to_owned()
            }),
        },
        describe_services(move |service, moto_deployment| {
            if updated.load(Ordering::SeqCst) {
                completed(service, moto_deployment);
            } else {
                rolled_back_to_old(service, moto_deployment);
            }
        }),
    ]
}

fn completed(service: &mut Value, moto_deployment: &Value) {
    let td = service["taskDefinition"].clone();
    let desired = service["desiredCount"].clone();
    service["runningCount"] = desired.clone();
    service["pendingCount"] = json!(0);
    service["deployments"] = json!([deployment(
        moto_deployment,
        "PRIMARY",
        &td,
        "COMPLETED",
        "ECS deployment ecs-svc/2 completed.",
    )]);
}

fn rolled_back_to_old(service: &mut Value, moto_deployment: &Value) {
    let new = service["taskDefinition"].clone();
    let old = moto_deployment["taskDefinition"].clone();
    service["taskDefinition"] = old.clone();
    service["deployments"] = json!([
        deployment(
            moto_deployment,
            "PRIMARY",
            &old,
            "IN_PROGRESS",
            "ECS deployment ecs-svc/3 in progress.",
        ),
        deployment(moto_deployment, "ACTIVE", &new, "FAILED", BREAKER_REASON),
    ]);
}

fn deployment(moto: &Value, status: &str, td: &Value, state: &str, reason: &str) -> Value {
    let mut d = moto.clone();
    d["status"] = json!(status);
    d["taskDefinition"] = td.clone();
    d["rolloutState"] = json!(state);
    d["rolloutStateReason"] = json!(reason);
    d["failedTasks"] = json!(if state == "FAILED" { 3 } else { 0 });
    d
}

/// Every `DescribeServices` answer, with `edit` applied to each service moto updated.
fn describe_services(edit: impl Fn(&mut Value, &Value) + Send + Sync + 'static) -> DropResponse {
    DropResponse {
        contains: vec!["AmazonEC2ContainerServiceV20141113.DescribeServices"],
        times: usize::MAX,
        fault: Fault::rewrite(move |_, body| {
            let Ok(mut v) = serde_json::from_str::<Value>(body) else {
                return body.to_owned();
            };
            if let Some(services) = v["services"].as_array_mut() {
                for s in services {
                    let primary = s["deployments"]
                        .as_array()
                        .and_then(|d| d.iter().find(|d| d["status"] == "PRIMARY"))
                        .cloned();
                    if let Some(primary) = primary
                        && primary["taskDefinition"] != s["taskDefinition"]
                    {
                        edit(s, &primary);
                    }
                }
            }
            v.to_string()
        }),
    }
}

impl Env {
    /// A proxy in front of this test's emulator applying `rule`.
    pub fn proxy_with(&self, rule: DropResponse) -> Proxy {
        Proxy::start(self.moto.server.port(), vec![rule])
    }
}
