//! CloudWatch Logs: log groups with their retention.
//!
//! A log group is named deterministically and addressed by its name (the state id). Create
//! looks the name up first and adopts a group that carries this lineage's tags; CloudWatch
//! Logs has no client tokens. Refresh is ONE paginated `DescribeLogGroups` whose name prefix is
//! the longest common prefix of the recorded names. That response has no tags, and reading
//! them costs one `ListTagsForResource` per group, so a group's live `tags` are the recorded
//! ones. The `arn` output is the group's ARN without the `:*` that `DescribeLogGroups` appends
//! (the form IAM policies and the tagging API take).

use crate::provider::aws::send;
use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatchlogs::types::LogGroup;

use super::ec2::visible;
use super::live::{all, common_prefix, missing, recorded, report};
use super::ownership::{SdkTags, claim, create_tags, send_tags};
use super::{AwsResultExt, Cx, Done, Manage, New, Prior, Recorded, remove_request};
use crate::graph::attrs::ArnOutputs;
use crate::graph::attrs::{self, Resolved, Tags};
use crate::graph::{Address, Kind};
use crate::provider::aws::once::send_once;
use crate::provider::{Applied, Live, Refresh, ResourceSpec};

const NOT_FOUND: &str = "ResourceNotFoundException";

impl Manage for attrs::LogGroup {
    /// The group of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let Some(group) = find(cx, a, &want.name).await? else {
            return Ok(None);
        };
        let arn = arn_of(&group).ok_or_else(|| missing(a, "DescribeLogGroups", "arn"))?;
        let tags = send!(a, cx.logs.list_tags_for_resource().resource_arn(&arn))?
            .tags
            .unwrap_or_default()
            .into_iter()
            .collect();
        claim(cx.own, a, &want.name, &tags)?;
        Ok(Some(group_live(&group, visible(&tags))))
    }

    /// Creates the log group and sets its retention.
    async fn create(cx: Cx<'_>, New { a, spec, .. }: New<'_>, want: Self) -> Done {
        let name = want.name.as_str();
        send_once!(
            a,
            cx.logs
                .create_log_group()
                .log_group_name(name)
                .set_tags(Some(create_tags(cx, a, &want.tags)?))
        )?;
        set_retention(cx, a, name, want.retention_in_days).await?;
        // CreateLogGroup answers nothing: the ARN comes from reading the group back.
        let arn = find(cx, a, name)
            .await?
            .as_ref()
            .and_then(arn_of)
            .ok_or_else(|| missing(a, "DescribeLogGroups", "arn"))?;
        Ok(Applied::new(spec, name, &ArnOutputs { arn }))
    }

    /// Sets the retention and tags that differ from `prior`.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::LogGroup = prior.decode()?;
        let outputs = prior.outputs::<Self>()?;
        let name = prior.id;
        if want.retention_in_days != was.retention_in_days {
            set_retention(cx, a, name, want.retention_in_days).await?;
        }
        let arn = outputs.arn.as_str();
        send_tags!(
            cx, a, &was.tags, &want.tags,
            untag: cx.logs.untag_resource().resource_arn(arn),
            tag: cx.logs.tag_resource().resource_arn(arn),
        )?;
        Ok(Applied::new(spec, name, &outputs))
    }

    /// Deletes the group with its streams; already gone is success.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(cx, prior.address, &[], &[NOT_FOUND], || {
            cx.logs.delete_log_group().log_group_name(prior.id).send()
        })
        .await
    }
}

/// CloudWatch Logs takes tags as a map.
impl SdkTags for HashMap<String, String> {
    fn of(_: &Address, tags: &Tags) -> Done<Self> {
        Ok(tags.clone().into_iter().collect())
    }
}

/// No retention (`None`) means "never expire", which is the absence of a retention policy.
async fn set_retention(cx: Cx<'_>, a: &Address, name: &str, days: Option<i32>) -> Done<()> {
    match days {
        None => {
            remove_request(cx, a, &[], &[NOT_FOUND], || {
                cx.logs.delete_retention_policy().log_group_name(name).send()
            })
            .await
        }
        Some(days) => {
            send!(a, cx.logs.put_retention_policy().log_group_name(name).retention_in_days(days))
                .map(drop)
        }
    }
}

/// One `DescribeLogGroups` (paginated) for every recorded group; tags stay as recorded.
pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    let ours = recorded(resources, &[Kind::LogGroup]);
    if ours.is_empty() {
        return Ok(());
    }
    let prefix = common_prefix(ours.iter().filter_map(|(_, r)| r.id.as_deref()));
    let groups = describe(cx, &Address::new(Kind::LogGroup.as_str()), &prefix).await?;
    let by_name: BTreeMap<&str, &LogGroup> =
        groups.iter().filter_map(|g| Some((g.log_group_name()?, g))).collect();
    for (address, r) in ours {
        let live = match r.id.as_deref().and_then(|id| by_name.get(id)) {
            Some(g) => {
                let recorded: attrs::LogGroup = Prior::of(address, r)?.decode()?;
                Some(group_live(g, recorded.tags))
            }
            None => None,
        };
        report(out, address, live);
    }
    Ok(())
}

/// The groups whose name starts with `prefix` (every group when it is empty).
async fn describe(cx: Cx<'_>, a: &Address, prefix: &str) -> Done<Vec<LogGroup>> {
    all!(
        cx.logs
            .describe_log_groups()
            .set_log_group_name_prefix((!prefix.is_empty()).then(|| prefix.to_owned())),
        a
    )
}

/// The group named `name` (the prefix listing also answers longer names).
async fn find(cx: Cx<'_>, a: &Address, name: &str) -> Done<Option<LogGroup>> {
    let groups = describe(cx, a, name).await?;
    Ok(groups.into_iter().find(|g| g.log_group_name() == Some(name)))
}

fn arn_of(g: &LogGroup) -> Option<String> {
    g.log_group_arn()
        .or_else(|| g.arn().map(|arn| arn.strip_suffix(":*").unwrap_or(arn)))
        .map(str::to_owned)
}

fn group_live(g: &LogGroup, tags: Tags) -> Live {
    let name = g.log_group_name().unwrap_or_default();
    Live::new(
        name,
        &attrs::LogGroup::<Resolved> {
            name: name.to_owned(),
            retention_in_days: g.retention_in_days(),
            tags,
        },
        &ArnOutputs { arn: arn_of(g).unwrap_or_default() },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_described_group_reads_like_the_desired_one() {
        let g = LogGroup::builder()
            .log_group_name("/ecsops/acceptance/default/docker")
            .retention_in_days(30)
            .arn("arn:aws:logs:eu-west-1:1:log-group:/ecsops/acceptance/default/docker:*")
            .build();
        let tags = Tags::from([("Team".to_owned(), "platform".to_owned())]);
        let live = group_live(&g, tags);
        assert_eq!(live.id, "/ecsops/acceptance/default/docker");
        assert_eq!(
            serde_json::to_value(&live.attributes).ok(),
            Some(json!({
                "name": "/ecsops/acceptance/default/docker",
                "retention_in_days": 30,
                "tags": {"Team": "platform"},
            }))
        );
        assert_eq!(
            live.outputs["arn"],
            json!("arn:aws:logs:eu-west-1:1:log-group:/ecsops/acceptance/default/docker")
        );
    }
}
