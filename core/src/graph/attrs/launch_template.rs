//! EC2 launch templates.

use serde::{Deserialize, Serialize};

use super::{Resolved, Stage, Tags};

/// The launch template of an instance group: what its auto scaling group launches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct LaunchTemplate<S: Stage = Resolved> {
    /// The template name, unique in the account and region.
    pub name: S::V<String>,
    /// An AMI id, or `ssm:<parameter>` naming the AMI (AWS publishes each new recommended AMI
    /// there): what the manifest asks for.
    pub image: S::V<String>,
    /// The AMI the template launches: `image` itself, or the AMI its parameter named when the
    /// plan asked SSM (so the plan shows a newly published AMI and the apply launches exactly
    /// the planned one). Absent while nobody asked (a plan without AWS of a new template, or
    /// state written before ecsops recorded it): the apply asks SSM then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<S::V<String>>,
    pub instance_type: S::V<String>,
    pub iam_instance_profile_arn: S::V<String>,
    pub security_group_ids: S::V<Vec<String>>,
    /// The plain script; sent BASE64-encoded.
    pub user_data: S::V<String>,
    pub metadata_options: S::V<MetadataOptions>,
    pub root_volume: S::V<RootVolume>,
    /// Detailed (one-minute) CloudWatch monitoring of the instances.
    pub monitoring: S::V<bool>,
    pub tags: S::V<Tags>,
    /// An EC2 key pair for SSH access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<S::V<String>>,
}

/// The instance metadata service settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataOptions {
    /// `enabled` or `disabled`.
    pub http_endpoint: String,
    /// `required` is IMDSv2 only.
    pub http_tokens: String,
    /// 2 lets containers in bridge mode reach the service too; `null`: AWS's default.
    pub http_put_response_hop_limit: Option<i32>,
}

/// The root EBS volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootVolume {
    pub device_name: String,
    /// GiB.
    pub size: i32,
    /// The EBS volume type (`gp3`, ...).
    #[serde(rename = "type")]
    pub volume_type: String,
    pub encrypted: Option<bool>,
    pub delete_on_termination: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplateOutputs {
    pub id: String,
    /// The version made by the last create or update, which auto scaling groups launch.
    pub latest_version: i64,
    /// The AMI that version launches (`image` resolved).
    pub image_id: String,
}
