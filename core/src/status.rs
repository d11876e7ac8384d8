//! What `ecsops status` reports about a running environment, as read from AWS: each service's
//! deployment and each instance group's instances, and the rule that says whether an instance
//! runs what its group's launch template says now ([`outdated`], which `roll` is to share).
//! The provider fills these, `ops::status` adds the lock and the revision, `render` shows them.

use serde::Serialize;

use crate::events::ServiceEvent;

/// One service or system container as ECS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// The key of its `service[...]` address.
    pub name: String,
    /// A system container (an ECS daemon on every instance) rather than a service.
    pub system: bool,
    /// ECS no longer knows the recorded service (deleted outside ecsops); nothing else is set.
    pub missing: bool,
    /// `family:revision` of the task definition the service is set to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// The PRIMARY deployment's `rolloutState` (`COMPLETED`, `IN_PROGRESS`, `FAILED`); AWS
    /// reports none for services without the deployment circuit breaker in some regions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_state: Option<String>,
    /// The newest service event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event: Option<ServiceEvent>,
    /// Each container of the task definition with its image; empty when the revision could not
    /// be read.
    pub containers: Vec<ContainerImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    pub name: String,
    pub image: String,
}

/// One instance group (auto scaling group) and its instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupStatus {
    /// The key of its `autoscaling_group[...]` address.
    pub name: String,
    /// Auto Scaling no longer knows the recorded group; nothing else is set.
    pub missing: bool,
    /// What the group launches now: its launch template version, resolved to a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<TemplateVersion>,
    pub instances: Vec<InstanceStatus>,
    /// Its sizes and tags, which `roll` reads and changes; not part of the status report.
    #[serde(skip)]
    pub capacity: Capacity,
}

/// An instance group's sizes and its own tags, as Auto Scaling reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    pub min: i32,
    pub max: i32,
    pub desired: i32,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// One launch template version: what an instance launched from it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateVersion {
    pub id: String,
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    pub id: String,
    /// The EC2 state (`pending`, `running`, ...); the auto scaling lifecycle state when EC2
    /// did not describe the instance.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The launch template version it was launched from (see [`launched_version`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_version: Option<String>,
    /// It differs from its group's current launch template version ([`outdated`]).
    pub outdated: bool,
    /// How it differs; empty when up to date.
    pub outdated_because: Vec<Outdated>,
}

/// One way an instance differs from what its group launches now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Outdated {
    /// Launched from another launch template version.
    Version {
        has: String,
        current: i64,
    },
    InstanceType {
        has: String,
        current: String,
    },
    Image {
        has: String,
        current: String,
    },
}

impl Outdated {
    pub fn describe(&self) -> String {
        match self {
            Self::Version { has, current } => {
                format!("launch template version {has}, now {current}")
            }
            Self::InstanceType { has, current } => format!("type {has}, now {current}"),
            Self::Image { has, current } => format!("AMI {has}, now {current}"),
        }
    }
}

/// The launch template version an instance was launched from: its `aws:ec2launchtemplate:version`
/// tag, which EC2 sets at launch and nobody can change, else what Auto Scaling reports for it.
/// The tag comes first because Auto Scaling's per-instance version is not reliable everywhere:
/// moto reports the template's current default version for every instance, old ones included.
pub fn launched_version(tag: Option<&str>, group_reports: Option<&str>) -> Option<String> {
    tag.or(group_reports).map(str::to_owned)
}

/// The rule `status` marks instances with and `roll` replaces them by: an instance is outdated
/// when it was launched from another version of its group's launch template than the current
/// one, or when its instance type or AMI differ from what the current version says. What is
/// not known (an instance without a version, a version without an AMI) is no difference.
pub fn outdated(
    version: Option<&str>,
    instance_type: Option<&str>,
    image_id: Option<&str>,
    current: &TemplateVersion,
) -> Vec<Outdated> {
    let mut found = Vec::new();
    if let Some(has) = version
        && has.parse::<i64>().ok() != Some(current.version)
    {
        found.push(Outdated::Version { has: has.to_owned(), current: current.version });
    }
    if let (Some(has), Some(now)) = (instance_type, &current.instance_type)
        && has != now
    {
        found.push(Outdated::InstanceType { has: has.to_owned(), current: now.clone() });
    }
    if let (Some(has), Some(now)) = (image_id, &current.image_id)
        && has != now
    {
        found.push(Outdated::Image { has: has.to_owned(), current: now.clone() });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> TemplateVersion {
        TemplateVersion {
            id: "lt-1".to_owned(),
            version: 3,
            image_id: Some("ami-new".to_owned()),
            instance_type: Some("t3.large".to_owned()),
        }
    }

    #[test]
    fn an_instance_of_the_current_version_type_and_ami_is_up_to_date() {
        assert_eq!(outdated(Some("3"), Some("t3.large"), Some("ami-new"), &current()), []);
        assert_eq!(outdated(None, None, None, &current()), [], "unknown is no difference");
    }

    #[test]
    fn each_difference_is_named() {
        assert_eq!(
            outdated(Some("2"), Some("t3.small"), Some("ami-old"), &current()),
            [
                Outdated::Version { has: "2".to_owned(), current: 3 },
                Outdated::InstanceType {
                    has: "t3.small".to_owned(),
                    current: "t3.large".to_owned()
                },
                Outdated::Image { has: "ami-old".to_owned(), current: "ami-new".to_owned() },
            ]
        );
        assert_eq!(
            outdated(Some("$Latest"), None, None, &current()).len(),
            1,
            "a label is not the current number"
        );
    }

    #[test]
    fn the_launch_tag_wins_over_what_auto_scaling_reports() {
        assert_eq!(launched_version(Some("2"), Some("3")).as_deref(), Some("2"));
        assert_eq!(launched_version(None, Some("3")).as_deref(), Some("3"));
        assert_eq!(launched_version(None, None), None);
    }
}
