//! IAM: the instance role and profile, the task execution role, the task roles of the
//! containers that ask for one, scoped customer-managed policies, and where secret references
//! point.

use std::collections::{BTreeMap, BTreeSet};

use super::Builder;
use crate::account::Arn;
use crate::graph::attrs::{self, Desired, Effect, OneOrMany, PolicyDocument, Principal, Statement};
use crate::graph::{Address, Expr};
use crate::manifest::Container;
use crate::partition::Partition;

pub(super) struct Iam {
    pub(super) instance_profile: Address,
    pub(super) task_execution: Option<Address>,
}

/// The trust policy that lets `service` assume a role.
pub(super) fn trust(service: &str) -> Expr {
    document(vec![Statement {
        principal: Some(Principal::Of(BTreeMap::from([(
            "Service".to_owned(),
            OneOrMany::One(service.to_owned()),
        )]))),
        ..allow(None, OneOrMany::One("sts:AssumeRole".to_owned()), None)
    }])
}

/// A statement allowing `action` on `resource`.
fn allow(sid: Option<&str>, action: OneOrMany, resource: Option<OneOrMany>) -> Statement {
    Statement {
        sid: sid.map(str::to_owned),
        effect: Effect::Allow,
        principal: None,
        action: Some(action),
        resource,
        condition: None,
        other: BTreeMap::new(),
    }
}

/// A policy document of the current policy language holding `statements`.
fn document(statements: Vec<Statement>) -> Expr {
    let document = PolicyDocument {
        version: Some("2012-10-17".to_owned()),
        id: None,
        statement: statements,
        other: BTreeMap::new(),
    };
    Expr::Lit(serde_json::to_value(document).expect("a policy document is plain data"))
}

fn strings(items: &[&str]) -> OneOrMany {
    OneOrMany::Many(items.iter().map(|s| (*s).to_owned()).collect())
}

/// The ARN a secret reference grants read access to (`ssm:/x` → the parameter ARN pattern, in
/// `region`).
pub(super) fn secret_resource(region: &str, reference: &str) -> String {
    match reference.strip_prefix("ssm:") {
        Some(path) => {
            let partition = Partition::of(region).name;
            format!("arn:{partition}:ssm:{region}:*:parameter{path}")
        }
        // A reference to one key of a JSON secret (`…:secret:db-AbCdEf:password::`) names the
        // key, stage and version after the secret's ARN; IAM matches the secret's ARN alone.
        None => reference.splitn(8, ':').take(7).collect::<Vec<_>>().join(":"),
    }
}

/// What ECS puts in a container's `valueFrom`: an SSM parameter name (same region) or the ARN.
pub(super) fn secret_value_from(reference: &str) -> String {
    reference.strip_prefix("ssm:").unwrap_or(reference).to_owned()
}

pub(super) fn iam(b: &mut Builder<'_>) -> Iam {
    let m = b.manifest;
    let name = format!("{}-instance", b.prefix);
    let mut statements = vec![allow(
        Some("ShipHostAndContainerLogs"),
        strings(&["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]),
        Some(OneOrMany::One(format!(
            "arn:{}:logs:{}:*:log-group:{}/*",
            b.partition.name, b.region, b.log_prefix
        ))),
    )];
    let auth_objects: BTreeSet<String> = m
        .instance_groups
        .values()
        .filter_map(|g| g.docker_auth.as_deref())
        .filter_map(|u| u.strip_prefix("s3://"))
        .map(|path| format!("arn:{}:s3:::{path}", b.partition.name))
        .collect();
    if !auth_objects.is_empty() {
        statements.push(allow(
            Some("ReadDockerAuth"),
            OneOrMany::One("s3:GetObject".to_owned()),
            Some(OneOrMany::Many(auth_objects.into_iter().collect())),
        ));
    }
    let policy = iam_policy(b, Address::new("iam_policy.instance"), &name, statements);
    let role = attrs::IamRole::<Desired> {
        name: Expr::str(name.clone()),
        path: "/ecsops/".into(),
        assume_role_policy: trust("ec2.amazonaws.com"),
        policy_arns: Expr::List(vec![
            Expr::str(
                b.partition.managed_policy("service-role/AmazonEC2ContainerServiceforEC2Role"),
            ),
            Expr::str(b.partition.managed_policy("AmazonSSMManagedInstanceCore")),
            Builder::r(&policy, "arn"),
        ]),
        tags: b.tags(None),
        inline_policies: Vec::new(),
    };
    let role = b.add(Address::new("iam_role.instance"), &role, []);
    let profile = attrs::InstanceProfile::<Desired> {
        name: Expr::str(name),
        path: "/ecsops/".into(),
        role: Expr::str(format!("{}-instance", b.prefix)),
        tags: b.tags(None),
    };
    let instance_profile = b.add(Address::new("instance_profile"), &profile, [role]);

    // Registry credentials are read by the same role, with the same action, as secrets.
    let secrets: BTreeSet<String> =
        m.containers().flat_map(|c| c.references()).map(|r| secret_resource(b.region, r)).collect();
    // Every task gets an execution role: it lets the agent write the awslogs streams and pull
    // from private ECR, and read the referenced secrets (and nothing else) when there are any.
    let exec_name = format!("{}-task-execution", b.prefix);
    let mut policy_arns = vec![Expr::str(
        b.partition.managed_policy("service-role/AmazonECSTaskExecutionRolePolicy"),
    )];
    if !secrets.is_empty() {
        let (ssm, other): (Vec<String>, Vec<String>) =
            secrets.into_iter().partition(|s| s.contains(":ssm:"));
        let mut statements = Vec::new();
        if !ssm.is_empty() {
            statements.push(allow(
                Some("ReadParameters"),
                OneOrMany::One("ssm:GetParameters".to_owned()),
                Some(OneOrMany::Many(ssm)),
            ));
        }
        if !other.is_empty() {
            statements.push(allow(
                Some("ReadSecrets"),
                OneOrMany::One("secretsmanager:GetSecretValue".to_owned()),
                Some(OneOrMany::Many(other)),
            ));
        }
        statements.extend(decrypt_secrets(b.region, m.containers()));
        let policy =
            iam_policy(b, Address::new("iam_policy.task_execution"), &exec_name, statements);
        policy_arns.push(Builder::r(&policy, "arn"));
    }
    let task_execution = (!m.services.is_empty() || !m.system_containers.is_empty()).then(|| {
        let role = attrs::IamRole::<Desired> {
            name: Expr::str(exec_name),
            path: "/ecsops/".into(),
            assume_role_policy: trust("ecs-tasks.amazonaws.com"),
            policy_arns: Expr::List(policy_arns),
            tags: b.tags(None),
            inline_policies: Vec::new(),
        };
        b.add(Address::new("iam_role.task_execution"), &role, [])
    });
    Iam { instance_profile, task_execution }
}

/// The statement letting the execution role decrypt with the customer-managed keys containers
/// list (`secrets_kms_keys`), and only through the services their secrets are read from, so the
/// role cannot decrypt anything else with those keys; `None` when no container with something
/// to decrypt lists a key (one without is warned about and ignored).
fn decrypt_secrets<'a>(
    region: &str,
    containers: impl Iterator<Item = Container<'a>>,
) -> Option<Statement> {
    let mut keys = BTreeSet::new();
    let mut via = BTreeSet::new();
    for c in containers.filter(|c| !c.secrets_kms_keys.is_empty()) {
        // The service and region of the ARN IAM grants (`ssm`, `secretsmanager`; a secret
        // may be named by its ARN in another region) name the endpoint that decrypts on the
        // role's behalf.
        let services: Vec<String> = c
            .references()
            .filter_map(|r| {
                let resource = secret_resource(region, r);
                let arn = Arn::parse(&resource)?;
                Some(Partition::endpoint(arn.service, arn.region))
            })
            .collect();
        if !services.is_empty() {
            via.extend(services);
            keys.extend(c.secrets_kms_keys.iter().cloned());
        }
    }
    if keys.is_empty() {
        return None;
    }
    let condition = BTreeMap::from([(
        "StringEquals".to_owned(),
        BTreeMap::from([("kms:ViaService".to_owned(), OneOrMany::Many(via.into_iter().collect()))]),
    )]);
    Some(Statement {
        condition: Some(condition),
        ..allow(
            Some("DecryptSecrets"),
            OneOrMany::One("kms:Decrypt".to_owned()),
            Some(OneOrMany::Many(keys.into_iter().collect())),
        )
    })
}

/// What the SSM agent inside a task needs to open ECS Exec sessions. AWS scopes none of
/// these actions to a resource, hence `*`.
pub(crate) const EXEC_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// The `taskRoleArn` of container `c`'s tasks: the user's own role as written, else the
/// role ecsops makes (`iam_role.task[<name>]`) with the asked policies and, for ECS Exec, a
/// policy of its own; `None` when the container asks for no AWS identity.
pub(super) fn task_role(b: &mut Builder<'_>, c: Container<'_>) -> Option<Expr> {
    let name = c.name;
    if let Some(arn) = c.task_role_arn {
        return Some(Expr::str(arn));
    }
    if !c.owns_role() {
        return None;
    }
    let role_name = format!("{}-{name}-task", b.prefix);
    let mut policy_arns: Vec<Expr> = c.task_policies.iter().map(Expr::str).collect();
    if c.execute_command {
        let exec = iam_policy(
            b,
            Address::keyed("iam_policy.execute_command", name),
            &format!("{}-{name}-exec", b.prefix),
            vec![allow(
                Some("OpenExecSessions"),
                strings(&EXEC_ACTIONS),
                Some(OneOrMany::One("*".to_owned())),
            )],
        );
        policy_arns.push(Builder::r(&exec, "arn"));
    }
    let role = attrs::IamRole::<Desired> {
        name: Expr::str(role_name),
        path: "/ecsops/".into(),
        assume_role_policy: trust("ecs-tasks.amazonaws.com"),
        policy_arns: Expr::List(policy_arns),
        tags: b.tags(None),
        inline_policies: Vec::new(),
    };
    let role = b.add(Address::keyed("iam_role.task", name), &role, []);
    Some(Builder::r(&role, "arn"))
}

/// A customer-managed policy under the `/ecsops/` path.
pub(super) fn iam_policy(
    b: &mut Builder<'_>,
    address: Address,
    name: &str,
    statements: Vec<Statement>,
) -> Address {
    let policy = attrs::IamPolicy::<Desired> {
        name: Expr::str(name),
        path: "/ecsops/".into(),
        document: document(statements),
        tags: b.tags(None),
    };
    b.add(address, &policy, [])
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::build;
    use super::super::tests::{attr, lit, manifest};
    use crate::graph::Expr;
    use crate::manifest::Manifest;

    const KEY_A: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const KEY_B: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef";
    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf";

    /// The base manifest with `extra` merged in, with or without `web`'s one secret
    /// (`ssm:/acc/password`): a merge cannot take a key out.
    fn with(extra: Value, web_secret: bool) -> Manifest {
        let mut m = manifest(extra);
        if !web_secret {
            m.services.values_mut().for_each(|s| s.secrets.clear());
        }
        m
    }

    /// The execution policy's `DecryptSecrets` statement.
    fn decrypt(m: &Manifest) -> Option<Value> {
        let g = build(m, "acc").expect("graph");
        let document = lit(&g, "iam_policy.task_execution", "document");
        let statements = document["Statement"].as_array().expect("statements");
        statements.iter().find(|s| s["Sid"] == "DecryptSecrets").cloned()
    }

    #[test]
    fn no_keys_no_decrypt_statement() {
        assert_eq!(decrypt(&with(json!({}), true)), None);
    }

    #[test]
    fn keys_of_services_and_system_containers_make_one_sorted_deduplicated_statement() {
        let statement = decrypt(&with(
            json!({
                "services": {"web": {"secrets_kms_keys": [KEY_B, KEY_A, KEY_B]}},
                "system_containers": {"cadvisor": {
                    "secrets": {"TOKEN": format!("{SECRET}:token::")},
                    "secrets_kms_keys": [KEY_A]
                }}
            }),
            true,
        ))
        .expect("a DecryptSecrets statement");
        assert_eq!(
            statement,
            json!({
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": [KEY_A, KEY_B],
                "Condition": {"StringEquals": {"kms:ViaService": [
                    "secretsmanager.eu-west-1.amazonaws.com",
                    "ssm.eu-west-1.amazonaws.com"
                ]}}
            })
        );
    }

    /// Decrypting is allowed only through the services the listing containers read from: a
    /// key next to SSM parameters does not open Secrets Manager, whatever other containers use.
    #[test]
    fn via_service_names_only_the_services_the_listing_containers_use() {
        let via = |extra: Value, web_secret: bool| {
            decrypt(&with(extra, web_secret)).expect("a DecryptSecrets statement")["Condition"]
                ["StringEquals"]["kms:ViaService"]
                .clone()
        };
        assert_eq!(
            via(
                json!({
                    "services": {"web": {"secrets_kms_keys": [KEY_A]}},
                    "system_containers": {"cadvisor": {"registry_credentials": SECRET}}
                }),
                true
            ),
            json!(["ssm.eu-west-1.amazonaws.com"])
        );
        assert_eq!(
            via(
                json!({"system_containers": {"cadvisor": {
                    "registry_credentials": SECRET,
                    "secrets_kms_keys": [KEY_A]
                }}}),
                false
            ),
            json!(["secretsmanager.eu-west-1.amazonaws.com"])
        );
        let elsewhere = SECRET.replace("eu-west-1", "us-east-1");
        assert_eq!(
            via(
                json!({"services": {"web": {
                    "secrets": {"DB": elsewhere},
                    "secrets_kms_keys": [KEY_A.replace("eu-west-1", "us-east-1")]
                }}}),
                true
            ),
            json!(["secretsmanager.us-east-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"]),
            "a secret named by its ARN in another region is decrypted there"
        );
    }

    /// Keys on a container with nothing to decrypt are ignored (validation warns), and add no
    /// policy where there are no secrets at all.
    #[test]
    fn keys_without_anything_to_decrypt_grant_nothing() {
        let ignored = json!({"system_containers": {"cadvisor": {"secrets_kms_keys": [KEY_A]}}});
        assert_eq!(decrypt(&with(ignored, true)), None);
        let none = json!({"services": {"web": {"secrets_kms_keys": [KEY_A]}}});
        let g = build(&with(none, false), "acc").expect("graph");
        assert!(
            !g.resources.keys().any(|a| a.to_string() == "iam_policy.task_execution"),
            "no secrets, no execution policy"
        );
    }

    /// In China (and every partition but `aws`) AWS's managed policies, the ARNs IAM grants
    /// and the endpoints `kms:ViaService` names are the partition's: `arn:aws:` policies would
    /// not attach, and `amazonaws.com` endpoints would match no request.
    #[test]
    fn policies_in_another_partition_use_its_arns_and_endpoints() {
        let key = "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let secret = "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf";
        let m = with(
            json!({
                "environment": {"region": "cn-north-1",
                                "availability_zones": ["cn-north-1a", "cn-north-1b"]},
                "instance_groups": {"default": {"docker_auth": "s3://acc-config/ecs.config"}},
                "services": {"web": {"secrets": {"DB": secret}, "secrets_kms_keys": [key],
                                     "execute_command": true}}
            }),
            true,
        );
        let g = build(&m, "acc").expect("graph");
        let arns = |address: &str| match attr(&g, address, "policy_arns") {
            Some(Expr::List(arns)) => arns.clone(),
            other => panic!("{address}.policy_arns is not a list: {other:?}"),
        };
        let managed = |name: &str| Expr::str(format!("arn:aws-cn:iam::aws:policy/{name}"));
        let instance = arns("iam_role.instance");
        assert!(instance.contains(&managed("service-role/AmazonEC2ContainerServiceforEC2Role")));
        assert!(instance.contains(&managed("AmazonSSMManagedInstanceCore")));
        let execution = arns("iam_role.task_execution");
        assert!(execution.contains(&managed("service-role/AmazonECSTaskExecutionRolePolicy")));

        let instance_statements = &lit(&g, "iam_policy.instance", "document")["Statement"];
        assert_eq!(
            instance_statements[0]["Resource"],
            "arn:aws-cn:logs:cn-north-1:*:log-group:/ecsops/acc/default/*"
        );
        assert_eq!(
            instance_statements[1]["Resource"],
            json!(["arn:aws-cn:s3:::acc-config/ecs.config"])
        );
        let statements = &lit(&g, "iam_policy.task_execution", "document")["Statement"];
        assert_eq!(
            statements[0]["Resource"],
            json!(["arn:aws-cn:ssm:cn-north-1:*:parameter/acc/password"])
        );
        assert_eq!(statements[1]["Resource"], json!([secret]));
        assert_eq!(
            statements[2]["Condition"]["StringEquals"]["kms:ViaService"],
            json!([
                "secretsmanager.cn-north-1.amazonaws.com.cn",
                "ssm.cn-north-1.amazonaws.com.cn"
            ])
        );
        let failed = &lit(&g, "event_rule.deployment_failed", "event_pattern")["resources"];
        assert_eq!(
            failed,
            &json!([{"wildcard": "arn:aws-cn:ecs:cn-north-1:*:service/acc-default/*"}])
        );
        // Service principals keep `amazonaws.com` in every partition.
        assert_eq!(
            lit(&g, "iam_role.task[web]", "assume_role_policy")["Statement"][0]["Principal"],
            json!({"Service": "ecs-tasks.amazonaws.com"})
        );
    }
}
