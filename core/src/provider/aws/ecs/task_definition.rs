//! Task definition revisions: registered, adopted when one of the family's ACTIVE revisions is
//! ours with the same content (a crashed run's registration, or a kept revision that a
//! rollback asks for again), retired beyond the newest `[cluster] keep_task_revisions`,
//! deregistered; refreshed by one listing of the ACTIVE revisions.
//!
//! Content is compared as ECS's JSON document, normalised ([`normalised`]): AWS fills in
//! defaults on registration and reorders some lists, so a described revision is never equal
//! to the registered request as sent.

use crate::provider::aws::send;
use std::collections::{BTreeSet, HashMap};

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HostVolumeProperties, KeyValuePair, LinuxParameters,
    LogConfiguration, LogDriver, MountPoint, NetworkMode, PortMapping, RepositoryCredentials,
    Secret, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol, Volume,
};
use serde_json::{Map, Value, json};

use super::super::ec2::{other_environment, owner, visible};
use super::super::live::{all, missing, recorded, report};
use super::super::once::send_once;
use super::super::ownership::create_tags;
use super::super::{AwsResultExt, Cx, Done, Manage, New, Prior, Recorded, remove_request};
use super::{is_gone, tag_map, unless_gone};
use crate::graph::attrs::{self, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};

const ATTR: &str = "container_definitions";

impl Manage for attrs::TaskDefinition {
    /// Registers a revision, or adopts the family's latest one when it is ours with the spec's
    /// content (see [`adoptable_revision`]).
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        if let Some(done) = adoptable_revision(cx, spec, &want).await? {
            return Ok(done);
        }
        let containers = want
            .container_definitions
            .iter()
            .map(|c| container(spec, c))
            .collect::<Result<Vec<_>, _>>()?;
        let volumes: Vec<Volume> = want
            .volumes
            .iter()
            .flatten()
            .map(|v| {
                Volume::builder()
                    .name(&v.name)
                    .host(HostVolumeProperties::builder().source_path(&v.host.source_path).build())
                    .build()
            })
            .collect();
        let compatibilities =
            want.requires_compatibilities.iter().map(|c| Compatibility::from(c.as_str())).collect();
        let out = send_once!(
            a,
            cx.ecs
                .register_task_definition()
                .family(&want.family)
                .network_mode(NetworkMode::from(want.network_mode.as_str()))
                .set_requires_compatibilities(Some(compatibilities))
                .set_execution_role_arn(want.execution_role_arn.clone())
                .set_task_role_arn(want.task_role_arn.clone())
                .set_container_definitions(Some(containers))
                .set_volumes((!volumes.is_empty()).then_some(volumes))
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        let outputs = out
            .task_definition()
            .and_then(outputs_of)
            .ok_or_else(|| missing(a, "RegisterTaskDefinition", "taskDefinitionArn"))?;
        Ok(Applied::new(spec, outputs.arn.clone(), &outputs))
    }

    /// Revisions are immutable: a change is planned as a new revision (a create), never an
    /// update, so there is nothing to send.
    async fn update(_cx: Cx<'_>, spec: &ResourceSpec, _want: Self, prior: Prior<'_>) -> Done {
        let outputs = prior.outputs::<attrs::TaskDefinition>()?;
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Deregisters the revision and the ones kept for rollback with it (ours only); one that
    /// no longer exists is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        deregister(cx, prior.address, prior.id).await?;
        match family_and_revision(prior.id) {
            Some((family, _)) => deregister_ours(cx, prior.address, family, 0, i32::MAX).await,
            None => Ok(()),
        }
    }
}

/// A container definition as ECS takes it.
fn container(spec: &ResourceSpec, c: &attrs::ContainerDefinition) -> Done<ContainerDefinition> {
    let mut d = ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .cpu(c.cpu)
        .memory(c.memory)
        .essential(c.essential)
        .set_privileged(c.privileged);
    for arg in c.command.iter().flatten() {
        d = d.command(arg);
    }
    for e in &c.environment {
        d = d.environment(KeyValuePair::builder().name(&e.name).value(&e.value).build());
    }
    for e in &c.secrets {
        d = d.secrets(secret(spec, e)?);
    }
    for p in c.port_mappings.iter().flatten() {
        d = d.port_mappings(
            PortMapping::builder()
                .container_port(p.container_port)
                .host_port(p.host_port)
                .protocol(TransportProtocol::from(p.protocol.as_str()))
                .build(),
        );
    }
    for m in c.mount_points.iter().flatten() {
        d = d.mount_points(
            MountPoint::builder()
                .source_volume(&m.source_volume)
                .container_path(&m.container_path)
                .read_only(m.read_only)
                .build(),
        );
    }
    if let Some(r) = &c.repository_credentials {
        d = d.repository_credentials(
            RepositoryCredentials::builder()
                .credentials_parameter(&r.credentials_parameter)
                .build()
                .map_err(|err| spec.invalid(ATTR, &err.to_string()))?,
        );
    }
    if let Some(l) = &c.linux_parameters {
        d = d.linux_parameters(
            LinuxParameters::builder().init_process_enabled(l.init_process_enabled).build(),
        );
    }
    if let Some(l) = &c.log_configuration {
        let options: HashMap<String, String> =
            l.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let secret_options: Vec<Secret> =
            l.secret_options.iter().flatten().map(|e| secret(spec, e)).collect::<Done<_>>()?;
        d = d.log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::from(l.log_driver.as_str()))
                .set_options(Some(options))
                .set_secret_options((!secret_options.is_empty()).then_some(secret_options))
                .build()
                .map_err(|err| spec.invalid(ATTR, &err.to_string()))?,
        );
    }
    Ok(d.build())
}

fn secret(spec: &ResourceSpec, e: &attrs::ContainerSecret) -> Done<Secret> {
    Secret::builder()
        .name(&e.name)
        .value_from(&e.value_from)
        .build()
        .map_err(|err| spec.invalid(ATTR, &err.to_string()))
}

/// A described container definition as ECS's JSON, the fields ecsops sets; what AWS left out
/// stays out, so [`normalised`] alone decides what a missing value means.
fn container_document(c: &ContainerDefinition) -> Value {
    let mut d = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            d.insert(key.to_owned(), v);
        }
    };
    put("name", c.name().map(Value::from));
    put("image", c.image().map(Value::from));
    put("cpu", Some(c.cpu().into()));
    put("memory", c.memory().map(Value::from));
    put("essential", c.essential().map(Value::from));
    put("privileged", c.privileged().map(Value::from));
    put("command", Some(c.command().into()));
    let pairs = |items: Vec<(Option<&str>, Option<&str>)>, value: &str| -> Value {
        items.into_iter().map(|(n, v)| json!({"name": n, value: v})).collect()
    };
    put(
        "environment",
        Some(pairs(c.environment().iter().map(|e| (e.name(), e.value())).collect(), "value")),
    );
    let secrets = |list: &[Secret]| -> Value {
        pairs(list.iter().map(|e| (Some(e.name()), Some(e.value_from()))).collect(), "valueFrom")
    };
    put("secrets", Some(secrets(c.secrets())));
    put(
        "logConfiguration",
        // A driver without options may come back without the map: the same as an empty one.
        c.log_configuration().map(|l| {
            let options = l.options().cloned().unwrap_or_default();
            json!({"logDriver": l.log_driver().as_str(), "options": options,
                   "secretOptions": secrets(l.secret_options())})
        }),
    );
    put(
        "portMappings",
        Some(
            c.port_mappings()
                .iter()
                .map(|p| {
                    json!({
                        "containerPort": p.container_port(),
                        "hostPort": p.host_port(),
                        "protocol": p.protocol().map(TransportProtocol::as_str),
                    })
                })
                .collect(),
        ),
    );
    put(
        "mountPoints",
        Some(
            c.mount_points()
                .iter()
                .map(|m| {
                    json!({
                        "sourceVolume": m.source_volume(),
                        "containerPath": m.container_path(),
                        "readOnly": m.read_only(),
                    })
                })
                .collect(),
        ),
    );
    put(
        "repositoryCredentials",
        c.repository_credentials()
            .map(|r| json!({"credentialsParameter": r.credentials_parameter()})),
    );
    put(
        "linuxParameters",
        c.linux_parameters().map(|l| json!({"initProcessEnabled": l.init_process_enabled()})),
    );
    Value::Object(d)
}

/// A described revision as ECS's JSON document (the `taskDefinition` of
/// `DescribeTaskDefinition`), the fields ecsops sets.
fn described_document(td: &TaskDefinition) -> Value {
    json!({
        "family": td.family(),
        "networkMode": td.network_mode().map(NetworkMode::as_str),
        "requiresCompatibilities": td
            .requires_compatibilities()
            .iter()
            .map(Compatibility::as_str)
            .collect::<Vec<_>>(),
        "containerDefinitions": td
            .container_definitions()
            .iter()
            .map(container_document)
            .collect::<Vec<_>>(),
        "executionRoleArn": td.execution_role_arn(),
        "taskRoleArn": td.task_role_arn(),
        "volumes": td
            .volumes()
            .iter()
            .map(|v| json!({
                "name": v.name(),
                "host": {"sourcePath": v.host().and_then(HostVolumeProperties::source_path)},
            }))
            .collect::<Vec<_>>(),
    })
}

/// The desired revision as ECS's JSON document: what `RegisterTaskDefinition` is sent.
fn desired_document(want: &attrs::TaskDefinition) -> Value {
    json!({
        "family": want.family,
        "networkMode": want.network_mode,
        "requiresCompatibilities": want.requires_compatibilities,
        "containerDefinitions": want.container_definitions,
        "executionRoleArn": want.execution_role_arn,
        "taskRoleArn": want.task_role_arn,
        "volumes": want.volumes,
    })
}

/// Fields of a task definition document that ecsops sets, and of each container definition.
const DOCUMENT_FIELDS: &[&str] = &[
    "family",
    "networkMode",
    "requiresCompatibilities",
    "containerDefinitions",
    "executionRoleArn",
    "taskRoleArn",
    "volumes",
];
const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "cpu",
    "memory",
    "essential",
    "privileged",
    "command",
    "environment",
    "secrets",
    "logConfiguration",
    "portMappings",
    "mountPoints",
    "repositoryCredentials",
    "linuxParameters",
];

/// A task definition document (ECS's JSON: a registration request or a described revision)
/// reduced to what decides whether two revisions are the same: the fields ecsops sets, with
/// the defaults AWS adds on registration made explicit (`essential: true`, a port mapping's
/// `protocol: tcp`) or dropped (`cpu: 0`, empty lists such as `mountPoints`, `volumesFrom`,
/// `systemControls`, nulls), and the lists whose order means nothing to ECS (and which it
/// may return reordered) sorted: containers, environment, secrets, port mappings, mount
/// points, volumes, compatibilities.
fn normalised(document: &Value) -> Value {
    let mut d = project(document, DOCUMENT_FIELDS);
    if let Some(Value::Array(containers)) = d.get_mut("containerDefinitions") {
        for c in containers.iter_mut() {
            let mut n = project(c, CONTAINER_FIELDS);
            n.entry("essential").or_insert(Value::Bool(true));
            if n.get("cpu") == Some(&json!(0)) {
                n.remove("cpu");
            }
            if let Some(Value::Array(ports)) = n.get_mut("portMappings") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    if p.get("protocol").is_none_or(Value::is_null) {
                        p.insert("protocol".to_owned(), json!("tcp"));
                    }
                }
            }
            for list in ["environment", "secrets", "portMappings", "mountPoints"] {
                sort(&mut n, list);
            }
            if let Some(Value::Object(log)) = n.get_mut("logConfiguration") {
                sort(log, "secretOptions");
            }
            *c = Value::Object(n);
        }
    }
    for list in ["containerDefinitions", "volumes", "requiresCompatibilities"] {
        sort(&mut d, list);
    }
    pruned(&Value::Object(d)).unwrap_or(Value::Null)
}

/// The named fields of an object (none of anything else).
fn project(v: &Value, fields: &[&str]) -> Map<String, Value> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Sorts the list under `key` by its items' JSON text: a canonical order for lists ECS treats
/// as sets.
fn sort(object: &mut Map<String, Value>, key: &str) {
    if let Some(Value::Array(items)) = object.get_mut(key) {
        items.sort_by_cached_key(Value::to_string);
    }
}

/// Without nulls, empty lists and empty tables: AWS leaves out what is empty, so content is
/// compared on what is there.
fn pruned(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Object(m) if m.is_empty() => None,
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(pruned).collect())),
        Value::Object(m) => {
            let m: Map<String, Value> =
                m.iter().filter_map(|(k, v)| Some((k.clone(), pruned(v)?))).collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        other => Some(other.clone()),
    }
}

fn outputs_of(td: &TaskDefinition) -> Option<attrs::TaskDefinitionOutputs> {
    Some(attrs::TaskDefinitionOutputs {
        arn: td.task_definition_arn()?.to_owned(),
        revision: td.revision(),
    })
}

/// Who a revision belongs to, by its tags.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    /// This lineage's, made for this address.
    Ours,
    /// Another lineage's revision of this environment's address: a state that was lost.
    Foreign(String),
    /// Another address's, another environment's, or untagged: not ours to adopt or retire.
    Other,
}

fn claim(cx: Cx<'_>, a: &Address, tags: &Tags) -> Claim {
    if other_environment(cx.own, tags).is_some() {
        return Claim::Other;
    }
    match owner(tags) {
        Some((_, lineage)) if lineage != cx.own.lineage => Claim::Foreign(lineage.to_owned()),
        Some((owner_address, _)) if owner_address == *a => Claim::Ours,
        _ => Claim::Other,
    }
}

/// The family's ACTIVE revisions, newest first, as (revision, ARN). AWS reads `familyPrefix`
/// as a prefix (`web` lists `web-admin` too), so only the family's own are kept.
async fn active_revisions(cx: Cx<'_>, a: &Address, family: &str) -> Done<Vec<(i32, String)>> {
    let arns: Vec<String> = all!(
        cx.ecs.list_task_definitions().family_prefix(family).status(TaskDefinitionStatus::Active),
        a
    )?;
    let mut revisions: Vec<(i32, String)> = arns
        .into_iter()
        .filter_map(|arn| {
            let revision = family_and_revision(&arn).filter(|(f, _)| *f == family)?.1;
            Some((revision, arn))
        })
        .collect();
    revisions.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
    Ok(revisions)
}

/// The family and revision number a revision's ARN names (`...:task-definition/web:7`).
fn family_and_revision(arn: &str) -> Option<(&str, i32)> {
    let (family, revision) = arn.rsplit_once('/')?.1.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

/// One ACTIVE revision with its tags; `None` when it is gone or no longer ACTIVE.
async fn described(cx: Cx<'_>, a: &Address, arn: &str) -> Done<Option<(TaskDefinition, Tags)>> {
    let described = send!(
        a,
        cx.ecs.describe_task_definition().task_definition(arn).include(TaskDefinitionField::Tags)
    );
    let out = match described {
        Err(e) if is_gone(&e) => return Ok(None),
        r => r?,
    };
    Ok(out
        .task_definition()
        .filter(|td| td.status() == Some(&TaskDefinitionStatus::Active))
        .map(|td| (td.clone(), tag_map(out.tags()))))
}

/// An ACTIVE revision of the family that is ours and already holds the spec's content: the
/// registration of a run that crashed before recording it, or a revision kept for rollback
/// that the manifest asks for again. Newest first, so a re-run adopts what it just made.
async fn adoptable_revision(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: &attrs::TaskDefinition,
) -> Done<Option<Applied>> {
    let a = &spec.address;
    let wanted = normalised(&desired_document(want));
    for (_, arn) in active_revisions(cx, a, &want.family).await? {
        let Some((td, tags)) = described(cx, a, &arn).await? else {
            continue;
        };
        // Families are not exclusive: a revision of another address or environment, or one
        // without our tags, is no reason to refuse a new one; another lineage's family is.
        match claim(cx, a, &tags) {
            Claim::Foreign(found) => {
                return Err(ProviderError::ForeignLineage {
                    address: a.clone(),
                    id: arn,
                    found,
                    expected: cx.own.lineage.clone(),
                });
            }
            Claim::Other => continue,
            Claim::Ours => {}
        }
        if want.tags != visible(&tags) || normalised(&described_document(&td)) != wanted {
            continue;
        }
        let outputs = outputs_of(&td)
            .ok_or_else(|| missing(a, "DescribeTaskDefinition", "taskDefinitionArn"))?;
        tracing::info!(address = %a, arn = outputs.arn, "adopting an existing task definition revision");
        let mut done = Applied::new(spec, outputs.arn.clone(), &outputs);
        done.adopted = true;
        return Ok(Some(done));
    }
    Ok(None)
}

/// Deregisters the family's revisions beyond the newest `keep` (at least one) that are ours
/// and older than `current`, the revision the state records; a revision registered after it
/// is not this apply's to judge. Deregistered revisions stay describable (INACTIVE), so tasks
/// still running them are unaffected; only new tasks can no longer start from them.
pub(crate) async fn retire_revisions(cx: Cx<'_>, current: Prior<'_>, keep: u32) -> Done<()> {
    let family = current.decode::<attrs::TaskDefinition>()?.family;
    let newest = current.outputs::<attrs::TaskDefinition>()?.revision;
    let keep = usize::try_from(keep.max(1)).unwrap_or(usize::MAX);
    deregister_ours(cx, current.address, &family, keep, newest).await
}

/// Deregisters the family's ACTIVE revisions that are ours, after the newest `skip` and older
/// than revision `below`.
async fn deregister_ours(
    cx: Cx<'_>,
    a: &Address,
    family: &str,
    skip: usize,
    below: i32,
) -> Done<()> {
    let revisions = active_revisions(cx, a, family).await?;
    for (revision, arn) in revisions.into_iter().skip(skip) {
        if revision >= below {
            continue;
        }
        let Some((_, tags)) = described(cx, a, &arn).await? else {
            continue;
        };
        if claim(cx, a, &tags) == Claim::Ours {
            tracing::info!(address = %a, arn, "deregistering a task definition revision of ours");
            deregister(cx, a, &arn).await?;
        }
    }
    Ok(())
}

/// Deregisters one revision; one that no longer exists is success.
async fn deregister(cx: Cx<'_>, a: &Address, arn: &str) -> Done<()> {
    let r = remove_request(cx, a, &[], &[], || {
        cx.ecs.deregister_task_definition().task_definition(arn).send()
    })
    .await;
    unless_gone(r)
}

/// Revisions are immutable: one `ListTaskDefinitions` of the ACTIVE ones says which recorded
/// revisions still exist; their live attributes are the recorded ones.
pub(super) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let a = Address::new(Kind::TaskDefinition.as_str());
    let active: BTreeSet<String> =
        all!(cx.ecs.list_task_definitions().status(TaskDefinitionStatus::Active), &a)?
            .into_iter()
            .collect();
    for (address, r) in recorded(resources, &[Kind::TaskDefinition]) {
        let live = match r.id.as_deref().filter(|id| active.contains(*id)) {
            Some(id) => {
                let prior = Prior::of(address, r)?;
                let was: attrs::TaskDefinition = prior.decode()?;
                Some(Live::new(id, &was, &prior.outputs::<attrs::TaskDefinition>()?))
            }
            None => None,
        };
        report(out, address, live);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn spec() -> ResourceSpec {
        ResourceSpec {
            address: Address::keyed("task_definition", "web"),
            kind: Kind::TaskDefinition,
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn containers_round_trip_through_the_sdk_shape() {
        let c = json!({
            "name": "web", "image": "nginx", "cpu": 256, "memory": 256, "essential": true,
            "environment": [{"name": "A", "value": "1"}],
            "secrets": [{"name": "P", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/p"}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
            "linuxParameters": {"initProcessEnabled": true},
            "command": []
        });
        let typed: attrs::ContainerDefinition =
            serde_json::from_value(c.clone()).expect("a container definition");
        let d = container(&spec(), &typed).expect("container");
        assert_eq!(pruned(&container_document(&d)), pruned(&c));
    }

    /// The revision ecsops registers for the service of the fixture below.
    fn desired_web(image: &str) -> attrs::TaskDefinition {
        serde_json::from_value(json!({
            "family": "acceptance-default-web",
            "network_mode": "bridge",
            "requires_compatibilities": ["EC2"],
            "execution_role_arn": "arn:aws:iam::123456789012:role/acceptance-default-task-execution",
            "container_definitions": [{
                "name": "web", "image": image, "cpu": 0, "memory": 512, "essential": true,
                "environment": [
                    {"name": "APP_ENV", "value": "acceptance"},
                    {"name": "LOG_LEVEL", "value": "info"}
                ],
                "secrets": [{
                    "name": "DATABASE_URL",
                    "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/acceptance/web/database-url"
                }],
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecsops/acceptance/default/service/web",
                    "awslogs-region": "eu-west-1",
                    "awslogs-stream-prefix": "web"
                }},
                "mountPoints": []
            }],
            "tags": {"Environment": "acceptance"}
        }))
        .expect("a task definition")
    }

    /// Canned, because moto echoes a registration back as it was sent: the fixture is a
    /// `DescribeTaskDefinition` answer shaped as real AWS gives it for the registration of
    /// `desired_web` (defaults filled in: `cpu: 0`, empty `mountPoints`, `volumesFrom`,
    /// `systemControls`, `secretOptions`; the port mapping's `protocol` left out; the
    /// environment reordered; read-only fields such as `revision`, `status`,
    /// `requiresAttributes`, `compatibilities`, `registeredAt`).
    fn aws_described() -> Value {
        let answer: Value = serde_json::from_str(include_str!(
            "../../../../../tests/fixtures/aws/describe-task-definition.json"
        ))
        .expect("the fixture is JSON");
        answer["taskDefinition"].clone()
    }

    #[test]
    fn a_revision_as_aws_describes_it_is_the_registered_content() {
        let want = desired_web("registry.example.com/web:1.4.2");
        assert_eq!(normalised(&aws_described()), normalised(&desired_document(&want)));
        // The defaults are what made them differ before normalising.
        assert_ne!(pruned(&aws_described()), pruned(&desired_document(&want)));
    }

    #[test]
    fn a_changed_image_or_setting_is_another_revision() {
        let described = normalised(&aws_described());
        let other_image = desired_web("registry.example.com/web:1.4.3");
        assert_ne!(described, normalised(&desired_document(&other_image)));
        let mut not_essential = desired_web("registry.example.com/web:1.4.2");
        not_essential.container_definitions[0].essential = false;
        assert_ne!(described, normalised(&desired_document(&not_essential)));
        let mut udp = desired_web("registry.example.com/web:1.4.2");
        if let Some(ports) = &mut udp.container_definitions[0].port_mappings {
            ports[0].protocol = "udp".to_owned();
        }
        assert_ne!(described, normalised(&desired_document(&udp)));
    }

    #[test]
    fn the_sdk_shape_of_a_registration_normalises_like_the_request() {
        let mut want = desired_web("registry.example.com/web:1.4.2");
        want.task_role_arn =
            Some("arn:aws:iam::123456789012:role/ecsops/acceptance-default-web-task".to_owned());
        want.container_definitions[0].linux_parameters =
            Some(attrs::LinuxParameters { init_process_enabled: true });
        let containers = want
            .container_definitions
            .iter()
            .map(|c| container(&spec(), c))
            .collect::<Result<Vec<_>, _>>()
            .expect("containers");
        let td = TaskDefinition::builder()
            .family(&want.family)
            .network_mode(NetworkMode::Bridge)
            .requires_compatibilities(Compatibility::Ec2)
            .set_execution_role_arn(want.execution_role_arn.clone())
            .set_task_role_arn(want.task_role_arn.clone())
            .set_container_definitions(Some(containers))
            .build();
        assert_eq!(normalised(&described_document(&td)), normalised(&desired_document(&want)));
        // A revision of the same containers without the role or the init process is another.
        let described = normalised(&described_document(&td));
        let mut no_role = want.clone();
        no_role.task_role_arn = None;
        assert_ne!(described, normalised(&desired_document(&no_role)));
        let mut no_init = want;
        no_init.container_definitions[0].linux_parameters = None;
        assert_ne!(described, normalised(&desired_document(&no_init)));
    }
}
