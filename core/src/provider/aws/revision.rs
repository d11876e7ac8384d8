//! What a task definition revision runs, for the reports on running and stopped tasks: each
//! container's image and, for an `awslogs` container, where its output goes. A revision the
//! state records says so itself; any other (a service ECS rolled back, a task of a retired
//! revision) costs one `DescribeTaskDefinition`.

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use super::Done;
use super::live::recorded_by_id;
use super::status::each;
use super::{AwsProvider, Cx};
use crate::events::arn_name;
use crate::graph::attrs;
use crate::graph::{Address, Kind};
use crate::state::ResourceState;

/// One container of a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Container {
    pub name: String,
    pub image: String,
    pub logs: Option<AwsLogs>,
}

/// An `awslogs` log configuration: the group, and the prefix of each task's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AwsLogs {
    pub group: String,
    pub stream_prefix: Option<String>,
}

impl AwsLogs {
    /// Reads a log configuration; `None` unless it is `awslogs` with a group.
    fn of<'a>(driver: &str, option: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        (driver == "awslogs").then_some(())?;
        Some(Self {
            group: option("awslogs-group")?.to_owned(),
            stream_prefix: option("awslogs-stream-prefix").map(str::to_owned),
        })
    }

    /// The stream container `container` of task `task_arn` writes to: the awslogs driver names
    /// it `prefix/container/task-id`. Without a prefix the stream is named after the Docker
    /// container id, which ECS does not report.
    pub fn stream(&self, container: &str, task_arn: &str) -> Option<String> {
        self.stream_prefix.as_ref().map(|p| format!("{p}/{container}/{}", arn_name(task_arn)))
    }
}

/// The containers of the revisions in `arns`, by ARN: the recorded ones from the state, the
/// others read from ECS at once. A revision ECS no longer has is left out.
pub(super) async fn containers(
    provider: &AwsProvider,
    resources: &BTreeMap<Address, ResourceState>,
    arns: BTreeSet<String>,
) -> Done<BTreeMap<String, Vec<Container>>> {
    let mut found = recorded_containers(resources)?;
    found.retain(|arn, _| arns.contains(arn));
    let unrecorded: Vec<String> = arns.into_iter().filter(|arn| !found.contains_key(arn)).collect();
    found.extend(described(provider, unrecorded).await?);
    Ok(found)
}

/// The revisions `arns` as ECS describes them, by ARN, at once.
pub(super) async fn described(
    provider: &AwsProvider,
    arns: Vec<String>,
) -> Done<Vec<(String, Vec<Container>)>> {
    each(provider, arns, |p, arn| async move { describe(p.cx(), &arn).await.map(|c| (arn, c)) })
        .await
}

/// The containers of every recorded task definition revision, by ARN.
pub(super) fn recorded_containers(
    resources: &BTreeMap<Address, ResourceState>,
) -> Done<BTreeMap<String, Vec<Container>>> {
    let revisions: Vec<(&str, attrs::TaskDefinition)> = recorded_by_id(resources)?;
    Ok(revisions
        .into_iter()
        .map(|(arn, td)| {
            let containers = td
                .container_definitions
                .into_iter()
                .map(|c| Container {
                    logs: c.log_configuration.as_ref().and_then(|l| {
                        AwsLogs::of(&l.log_driver, |k| l.options.get(k).map(String::as_str))
                    }),
                    name: c.name,
                    image: c.image,
                })
                .collect();
            (arn.to_owned(), containers)
        })
        .collect())
}

/// The containers of revision `arn`, read from ECS.
async fn describe(cx: Cx<'_>, arn: &str) -> Done<Vec<Container>> {
    let a = Address::new(Kind::TaskDefinition.as_str());
    let out = send!(&a, cx.ecs.describe_task_definition().task_definition(arn))?;
    Ok(out
        .task_definition()
        .map(|td| {
            td.container_definitions()
                .iter()
                .filter_map(|c| {
                    Some(Container {
                        name: c.name()?.to_owned(),
                        image: c.image()?.to_owned(),
                        logs: c.log_configuration().and_then(|l| {
                            let options = l.options();
                            AwsLogs::of(l.log_driver().as_str(), |k| {
                                options.and_then(|o| o.get(k)).map(String::as_str)
                            })
                        }),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_awslogs_stream_is_prefix_container_and_task_id() {
        let options = BTreeMap::from([
            ("awslogs-group", "/ecsops/acc/service/web"),
            ("awslogs-stream-prefix", "web"),
        ]);
        let logs = AwsLogs::of("awslogs", |k| options.get(k).copied()).expect("awslogs");
        assert_eq!(logs.group, "/ecsops/acc/service/web");
        assert_eq!(
            logs.stream("web", "arn:aws:ecs:eu-west-1:123456789012:task/acc/0123456789abcdef")
                .as_deref(),
            Some("web/web/0123456789abcdef")
        );
        let bare =
            AwsLogs::of("awslogs", |k| (k == "awslogs-group").then_some("/g")).expect("awslogs");
        assert_eq!(bare.stream("web", "task/acc/1"), None);
        assert_eq!(AwsLogs::of("fluentd", |k| options.get(k).copied()), None);
    }
}
