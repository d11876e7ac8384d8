//! IAM: the instance role and profile, the task execution role, scoped customer-managed
//! policies, and where secret references point.

use super::Builder;
use crate::graph::Address;
use crate::graph::Expr;
use crate::graph::Kind;
use serde_json::Value;
use serde_json::json;
use std::collections::BTreeSet;

pub(super) struct Iam {
    pub(super) instance_profile: Address,
    pub(super) task_execution: Option<Address>,
}

pub(super) fn trust(service: &str) -> Expr {
    Expr::Lit(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    }))
}

/// The ARN a secret reference grants read access to (`ssm:/x` → the parameter ARN pattern).
pub(super) fn secret_resource(region: &str, reference: &str) -> String {
    match reference.strip_prefix("ssm:") {
        Some(path) => format!("arn:aws:ssm:{region}:*:parameter{path}"),
        None => reference.to_owned(),
    }
}

/// What ECS puts in a container's `valueFrom`: an SSM parameter name (same region) or the ARN.
pub(super) fn secret_value_from(reference: &str) -> String {
    reference
        .strip_prefix("ssm:")
        .unwrap_or(reference)
        .to_owned()
}

pub(super) fn iam(b: &mut Builder<'_>) -> Iam {
    let m = b.manifest;
    let name = format!("{}-instance", b.prefix);
    let mut statements = vec![json!({
        "Sid": "ShipHostAndContainerLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": format!("arn:aws:logs:{}:*:log-group:{}/*", b.region, b.log_prefix)
    })];
    let auth_objects: BTreeSet<String> = m
        .instance_groups
        .values()
        .filter_map(|g| g.docker_auth.as_deref())
        .filter_map(|u| u.strip_prefix("s3://"))
        .map(|path| format!("arn:aws:s3:::{path}"))
        .collect();
    if !auth_objects.is_empty() {
        statements.push(json!({
            "Sid": "ReadDockerAuth",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": auth_objects.into_iter().collect::<Vec<_>>()
        }));
    }
    let policy = iam_policy(b, "iam_policy.instance", &name, statements);
    let role = b.add_untyped(
        Address::new("iam_role.instance"),
        Kind::IamRole,
        vec![
            ("name", Expr::str(name.clone())),
            ("path", "/ecsops/".into()),
            ("assume_role_policy", trust("ec2.amazonaws.com")),
            (
                "policy_arns",
                Expr::List(vec![
                    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
                        .into(),
                    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore".into(),
                    Builder::r(&policy, "arn"),
                ]),
            ),
            ("tags", b.tags(None)),
        ],
        [],
    );
    let instance_profile = b.add_untyped(
        Address::new("instance_profile"),
        Kind::InstanceProfile,
        vec![
            ("name", Expr::str(name)),
            ("path", "/ecsops/".into()),
            ("role", Expr::str(format!("{}-instance", b.prefix))),
            ("tags", b.tags(None)),
        ],
        [role],
    );

    let secrets: BTreeSet<String> = m
        .services
        .values()
        .flat_map(|s| s.secrets.values())
        .chain(
            m.system_containers
                .values()
                .flat_map(|s| s.secrets.values()),
        )
        .map(|r| secret_resource(b.region, r))
        .collect();
    // Every task gets an execution role: it lets the agent write the awslogs streams and pull
    // from private ECR, and read the referenced secrets (and nothing else) when there are any.
    let exec_name = format!("{}-task-execution", b.prefix);
    let mut policy_arns = vec![Expr::str(
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    )];
    if !secrets.is_empty() {
        let (ssm, other): (Vec<String>, Vec<String>) =
            secrets.into_iter().partition(|s| s.contains(":ssm:"));
        let mut statements = Vec::new();
        if !ssm.is_empty() {
            statements.push(json!({
                "Sid": "ReadParameters", "Effect": "Allow",
                "Action": "ssm:GetParameters", "Resource": ssm
            }));
        }
        if !other.is_empty() {
            statements.push(json!({
                "Sid": "ReadSecrets", "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue", "Resource": other
            }));
        }
        let policy = iam_policy(b, "iam_policy.task_execution", &exec_name, statements);
        policy_arns.push(Builder::r(&policy, "arn"));
    }
    let task_execution = (!m.services.is_empty() || !m.system_containers.is_empty()).then(|| {
        b.add_untyped(
            Address::new("iam_role.task_execution"),
            Kind::IamRole,
            vec![
                ("name", Expr::str(exec_name)),
                ("path", "/ecsops/".into()),
                ("assume_role_policy", trust("ecs-tasks.amazonaws.com")),
                ("policy_arns", Expr::List(policy_arns)),
                ("tags", b.tags(None)),
            ],
            [],
        )
    });
    Iam {
        instance_profile,
        task_execution,
    }
}

/// A customer-managed policy under the `/ecsops/` path.
pub(super) fn iam_policy(
    b: &mut Builder<'_>,
    address: &str,
    name: &str,
    statements: Vec<Value>,
) -> Address {
    let document = serde_json::Map::from_iter([
        ("Version".to_owned(), Value::from("2012-10-17")),
        ("Statement".to_owned(), Value::Array(statements)),
    ]);
    b.add_untyped(
        Address::new(address),
        Kind::IamPolicy,
        vec![
            ("name", Expr::str(name)),
            ("path", "/ecsops/".into()),
            ("document", Expr::Lit(Value::Object(document))),
            ("tags", b.tags(None)),
        ],
        [],
    )
}
