//! AWS-shaped answers about what happened to services, for what moto lacks: it writes no
//! service events, runs no tasks (its stopped tasks have exit code 0, no container reason and
//! no `stoppedAt`) and its ListTasks ignores `serviceName`. `events` and the report of a failed
//! rollout read the same calls, so their tests share these; each says what it stands for.

use serde_json::{Value, json};

use super::env::Env;
use super::proxy::{DropResponse, Fault};

/// The reason ECS gives a container it killed for going over its memory.
pub const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";

/// The JSON body of a request the proxy saw.
pub fn body(request: &str) -> Value {
    let body = request.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// A `DescribeServices` answer with `events` (newest first, as ECS lists them) on the service
/// named `service`; the others as they were.
pub fn with_events(upstream: &str, service: &str, events: &[Value]) -> String {
    let mut doc: Value = serde_json::from_str(upstream).expect("DescribeServices JSON");
    for s in doc["services"].as_array_mut().into_iter().flatten() {
        if s["serviceName"] == service {
            s["events"] = Value::Array(events.to_vec());
        }
    }
    doc.to_string()
}

/// How a stopped task's one container ended.
pub struct Stop<'a> {
    /// The task's ARN.
    pub arn: &'a str,
    /// The ARN of the revision it ran.
    pub task_definition: &'a str,
    /// The ECS name of its service.
    pub service: &'a str,
    pub container: &'a str,
    pub exit: i32,
    pub reason: &'a str,
    /// When it stopped, in seconds since the epoch.
    pub at: f64,
}

/// A stopped task as DescribeTasks describes it: its essential container exited.
pub fn stopped_task(s: &Stop<'_>) -> Value {
    json!({
        "taskArn": s.arn, "taskDefinitionArn": s.task_definition,
        "group": format!("service:{}", s.service),
        "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "createdAt": s.at - 120.0, "stoppingAt": s.at - 5.0, "stoppedAt": s.at,
        "containers": [{"containerArn": format!("{}/container", s.arn), "taskArn": s.arn,
                        "name": s.container, "lastStatus": "STOPPED", "exitCode": s.exit,
                        "reason": s.reason}],
    })
}

/// The rules answering ListTasks with every one of `tasks` whichever service it is asked
/// about (as moto does: ecsops must tell them apart by the task's `group`), and DescribeTasks
/// with those of them it asks for.
pub fn stopped_tasks(tasks: Vec<Value>) -> [DropResponse; 2] {
    let arns: Vec<Value> = tasks.iter().map(|t| t["taskArn"].clone()).collect();
    let listed = json!({ "taskArns": arns }).to_string();
    let describe = Fault::rewrite(move |request, _| {
        let asked = body(request)["tasks"].clone();
        let found: Vec<&Value> = tasks
            .iter()
            .filter(|t| asked.as_array().is_some_and(|a| a.contains(&t["taskArn"])))
            .collect();
        json!({"tasks": found, "failures": []}).to_string()
    });
    [
        rule(
            "AmazonEC2ContainerServiceV20141113.ListTasks",
            Fault::rewrite(move |_, _| listed.clone()),
        ),
        rule("AmazonEC2ContainerServiceV20141113.DescribeTasks", describe),
    ]
}

/// Every request of `operation` meets `fault`.
pub fn rule(operation: &'static str, fault: Fault) -> DropResponse {
    DropResponse { contains: vec![operation], times: usize::MAX, fault }
}

impl Env {
    /// The ECS name of a recorded service: the last part of its ARN.
    pub fn ecs_name(&self, address: &str) -> String {
        let arn = self.id(address);
        arn.rsplit('/').next().expect("a name").to_owned()
    }

    /// web's log group, as its task definition's `awslogs` options say.
    pub fn web_log_group(&self) -> String {
        let state = self.state();
        state["resources"]["task_definition[web]"]["attributes"]["container_definitions"][0]
            ["logConfiguration"]["options"]["awslogs-group"]
            .as_str()
            .unwrap_or_else(|| panic!("web's log group in {state:#}"))
            .to_owned()
    }
}
