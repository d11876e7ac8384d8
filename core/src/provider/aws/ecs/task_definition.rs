//! Task definition revisions: registered, adopted when a crashed run registered the same
//! content, deregistered; refreshed by one listing of the ACTIVE revisions.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HostVolumeProperties, KeyValuePair, LogConfiguration,
    LogDriver, MountPoint, NetworkMode, PortMapping, Secret, TaskDefinition, TaskDefinitionField,
    TaskDefinitionStatus, TransportProtocol, Volume,
};
use serde_json::{Map, Value};

use super::super::ec2::{other_environment, owner, visible};
use super::super::live::{all, missing, recorded, report};
use super::super::once::send_once;
use super::super::ownership::owned_tags;
use super::super::{AwsResultExt, Cx, Done, Manage, Prior, Recorded, remove_request};
use super::{ecs_tags, is_gone, tag_map, unless_gone};
use crate::graph::attrs::{self, Resolved, Tags};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};

const ATTR: &str = "container_definitions";

impl Manage for attrs::TaskDefinition {
    /// Registers a revision, or adopts the family's latest one when it is ours with the spec's
    /// content (see [`adoptable_revision`]).
    async fn create(cx: Cx<'_>, spec: &ResourceSpec, want: Self, _token_seed: u64) -> Done {
        let a = &spec.address;
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
                    .host(
                        HostVolumeProperties::builder()
                            .source_path(&v.host.source_path)
                            .build(),
                    )
                    .build()
            })
            .collect();
        let compatibilities = want
            .requires_compatibilities
            .iter()
            .map(|c| Compatibility::from(c.as_str()))
            .collect();
        let out = send_once!(
            aws_sdk_ecs,
            cx.aws
                .ecs
                .register_task_definition()
                .family(&want.family)
                .network_mode(NetworkMode::from(want.network_mode.as_str()))
                .set_requires_compatibilities(Some(compatibilities))
                .set_execution_role_arn(want.execution_role_arn.clone())
                .set_container_definitions(Some(containers))
                .set_volumes((!volumes.is_empty()).then_some(volumes))
                .set_tags(Some(ecs_tags(&owned_tags(cx.own, a, &want.tags))))
        )
        .await
        .at(a, "RegisterTaskDefinition")?;
        let outputs = out
            .task_definition()
            .and_then(outputs_of)
            .ok_or_else(|| missing(a, "RegisterTaskDefinition", "taskDefinitionArn"))?;
        Ok(Applied::new(spec, outputs.arn.clone(), &outputs))
    }

    /// Revisions are immutable (every attribute forces a new one): nothing to send.
    async fn update(_cx: Cx<'_>, spec: &ResourceSpec, _want: Self, prior: Prior<'_>) -> Done {
        let outputs = prior.outputs::<attrs::TaskDefinition>()?;
        Ok(Applied::new(spec, prior.id, &outputs))
    }

    /// Deregisters the revision; one that no longer exists is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        let r = remove_request(
            cx,
            prior.address,
            &[],
            &[],
            "DeregisterTaskDefinition",
            || {
                cx.aws
                    .ecs
                    .deregister_task_definition()
                    .task_definition(prior.id)
                    .send()
            },
        )
        .await;
        unless_gone(r)
    }
}

/// A container definition as ECS takes it.
fn container(
    spec: &ResourceSpec,
    c: &attrs::ContainerDefinition,
) -> Result<ContainerDefinition, ProviderError> {
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
        d = d.environment(
            KeyValuePair::builder()
                .name(&e.name)
                .value(&e.value)
                .build(),
        );
    }
    for e in &c.secrets {
        d = d.secrets(
            Secret::builder()
                .name(&e.name)
                .value_from(&e.value_from)
                .build()
                .map_err(|err| spec.invalid(ATTR, &err.to_string()))?,
        );
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
    if let Some(l) = &c.log_configuration {
        let options: HashMap<String, String> = l
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        d = d.log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::from(l.log_driver.as_str()))
                .set_options(Some(options))
                .build()
                .map_err(|err| spec.invalid(ATTR, &err.to_string()))?,
        );
    }
    Ok(d.build())
}

/// A described container definition in the desired shape, the fields ecsops sets only.
fn container_live(c: &ContainerDefinition) -> attrs::ContainerDefinition {
    let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
    attrs::ContainerDefinition {
        name: text(c.name()),
        image: text(c.image()),
        cpu: c.cpu(),
        memory: c.memory().unwrap_or_default(),
        essential: c.essential().unwrap_or_default(),
        privileged: c.privileged(),
        command: Some(c.command().to_vec()),
        environment: c
            .environment()
            .iter()
            .map(|e| attrs::EnvironmentVariable {
                name: text(e.name()),
                value: text(e.value()),
            })
            .collect(),
        secrets: c
            .secrets()
            .iter()
            .map(|s| attrs::ContainerSecret {
                name: s.name().to_owned(),
                value_from: s.value_from().to_owned(),
            })
            .collect(),
        log_configuration: c.log_configuration().map(|l| attrs::LogConfiguration {
            log_driver: l.log_driver().as_str().to_owned(),
            options: l
                .options()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }),
        port_mappings: Some(
            c.port_mappings()
                .iter()
                .map(|p| attrs::PortMapping {
                    container_port: p.container_port().unwrap_or_default(),
                    host_port: p.host_port().unwrap_or_default(),
                    protocol: p
                        .protocol()
                        .map(TransportProtocol::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect(),
        ),
        mount_points: Some(
            c.mount_points()
                .iter()
                .map(|m| attrs::MountPoint {
                    source_volume: text(m.source_volume()),
                    container_path: text(m.container_path()),
                    read_only: m.read_only().unwrap_or_default(),
                })
                .collect(),
        ),
    }
}

/// A described revision in the desired shape (for adoption: content equality).
fn definition_live(td: &TaskDefinition, tags: &Tags) -> attrs::TaskDefinition {
    attrs::TaskDefinition::<Resolved> {
        family: td.family().unwrap_or_default().to_owned(),
        network_mode: td
            .network_mode()
            .map(NetworkMode::as_str)
            .unwrap_or_default()
            .to_owned(),
        requires_compatibilities: td
            .requires_compatibilities()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        container_definitions: td
            .container_definitions()
            .iter()
            .map(container_live)
            .collect(),
        execution_role_arn: td.execution_role_arn().map(str::to_owned),
        volumes: Some(
            td.volumes()
                .iter()
                .map(|v| attrs::Volume {
                    name: v.name().unwrap_or_default().to_owned(),
                    host: attrs::HostVolume {
                        source_path: v
                            .host()
                            .and_then(HostVolumeProperties::source_path)
                            .unwrap_or_default()
                            .to_owned(),
                    },
                })
                .collect(),
        ),
        tags: visible(tags),
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
            let m: Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), pruned(v)?)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        other => Some(other.clone()),
    }
}

fn same_content(want: &attrs::TaskDefinition, live: &attrs::TaskDefinition) -> bool {
    match (serde_json::to_value(want), serde_json::to_value(live)) {
        (Ok(w), Ok(l)) => pruned(&w) == pruned(&l),
        _ => false,
    }
}

fn outputs_of(td: &TaskDefinition) -> Option<attrs::TaskDefinitionOutputs> {
    Some(attrs::TaskDefinitionOutputs {
        arn: td.task_definition_arn()?.to_owned(),
        revision: td.revision(),
    })
}

/// The family's latest ACTIVE revision when it is ours and already holds the spec's content:
/// the registration of a run that crashed before recording it.
async fn adoptable_revision(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    want: &attrs::TaskDefinition,
) -> Result<Option<Applied>, ProviderError> {
    let a = &spec.address;
    let described = cx
        .aws
        .ecs
        .describe_task_definition()
        .task_definition(&want.family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .at(a, "DescribeTaskDefinition");
    let out = match described {
        Err(e) if is_gone(&e) => return Ok(None),
        r => r?,
    };
    let Some(td) = out.task_definition() else {
        return Ok(None);
    };
    if td.status() != Some(&TaskDefinitionStatus::Active) {
        return Ok(None);
    }
    let outputs =
        outputs_of(td).ok_or_else(|| missing(a, "DescribeTaskDefinition", "taskDefinitionArn"))?;
    let tags = tag_map(out.tags());
    // Families are not exclusive: a revision of another address or environment, or one without
    // our tags, is no reason to refuse a new one; another lineage's family is.
    if other_environment(cx.own, &tags).is_some() {
        return Ok(None);
    }
    match owner(&tags) {
        Some((_, lineage)) if lineage != cx.own.lineage => {
            return Err(ProviderError::ForeignLineage {
                address: a.clone(),
                id: outputs.arn,
                found: lineage.to_owned(),
                expected: cx.own.lineage.clone(),
            });
        }
        Some((owner_address, _)) if owner_address == *a => {}
        _ => return Ok(None),
    }
    if !same_content(want, &definition_live(td, &tags)) {
        return Ok(None);
    }
    tracing::info!(address = %a, arn = outputs.arn, "adopting an existing task definition revision");
    let mut done = Applied::new(spec, outputs.arn.clone(), &outputs);
    done.adopted = true;
    Ok(Some(done))
}

/// Revisions are immutable: one `ListTaskDefinitions` of the ACTIVE ones says which recorded
/// revisions still exist; their live attributes are the recorded ones.
pub(super) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let a = Address::new(Kind::TaskDefinition.as_str());
    let active: BTreeSet<String> = all!(
        cx.aws
            .ecs
            .list_task_definitions()
            .status(TaskDefinitionStatus::Active),
        &a,
        "ListTaskDefinitions"
    )?
    .into_iter()
    .collect();
    for (address, r) in recorded(resources, &[Kind::TaskDefinition]) {
        let live = match r.id.as_deref().filter(|id| active.contains(*id)) {
            Some(id) => {
                let prior = Prior::of(address, r)?;
                let was: attrs::TaskDefinition = prior.decode()?;
                Some(Live::new(
                    id,
                    &was,
                    &prior.outputs::<attrs::TaskDefinition>()?,
                ))
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

    #[test]
    fn containers_round_trip_through_the_sdk_shape() {
        let spec = ResourceSpec {
            address: Address::keyed("task_definition", "web"),
            kind: Kind::TaskDefinition,
            attributes: BTreeMap::new(),
        };
        let c = json!({
            "name": "web", "image": "nginx", "cpu": 256, "memory": 256, "essential": true,
            "environment": [{"name": "A", "value": "1"}],
            "secrets": [{"name": "P", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/p"}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
            "command": []
        });
        let typed: attrs::ContainerDefinition =
            serde_json::from_value(c.clone()).expect("a container definition");
        let d = container(&spec, &typed).expect("container");
        let back = serde_json::to_value(container_live(&d)).expect("json");
        assert_eq!(pruned(&back), pruned(&c));
    }
}
