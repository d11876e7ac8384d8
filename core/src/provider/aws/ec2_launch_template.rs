//! Launch templates on EC2: the instance configuration an auto scaling group launches from.
//!
//! The `image` attribute is an AMI id or `ssm:<parameter>`; the parameter is resolved on create
//! and on every update (AWS publishes a new recommended AMI there), and the AMI used is the
//! `image_id` output. Refresh reports `image` as the recorded `ssm:` string while the live AMI
//! is the recorded `image_id`, so a resolved parameter is no drift.
//!
//! A template's data is immutable per version: an update creates a version with the full data
//! (a version does not inherit from its source version in moto, and sending everything makes
//! the new version independent of what the old one held) and makes it the default;
//! `latest_version` is what auto scaling groups reference. User data is sent BASE64-encoded and
//! read back decoded, so the attribute holds the plain script.
//!
//! Refresh is one `DescribeLaunchTemplates` filtered by the environment tag plus one
//! account-wide `DescribeLaunchTemplateVersions` for `$Latest` (no template id), matched to the
//! templates by id: two calls however many templates there are.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplate, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDevice, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, LaunchTemplateVersion, LaunchTemplatesMonitoringRequest,
    RequestLaunchTemplateData, ResourceType, ResponseLaunchTemplateData, VolumeType,
};
use serde_json::{Value, json};

use super::ec2::{
    Tagged, create_tags, environment_filter, settle, sync_spec_tags as sync_tags, tag_map,
    tag_specification, to_tags,
};
use super::ecs::iam_profile_not_visible;
use super::live::missing;
use super::once::send_once;
use super::ownership::{adopt, claim};
use super::{AwsResultExt, Cx, Prior, retry_when, tolerate};
use crate::graph::{Address, Kind};
use crate::provider::{Applied, ProviderError, Refresh, ResourceSpec};
use crate::state::ResourceState;

const SSM_PREFIX: &str = "ssm:";

pub(crate) async fn create(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    token_seed: u64,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let name = spec.str("name")?;
    let found = describe(
        cx,
        a,
        vec![
            Filter::builder()
                .name("launch-template-name")
                .values(name)
                .build(),
        ],
    )
    .await?;
    if let Some(t) = found.first() {
        let id = t
            .launch_template_id()
            .ok_or_else(|| missing(a, "DescribeLaunchTemplates", "LaunchTemplateId"))?;
        claim(cx.own, a, id, &tag_map(t.tags()))?;
        tracing::info!(address = %a, id, "adopting an existing launch template");
        let versions = latest_versions(cx, a, Some(id)).await?;
        let ami = resolve_image(cx, spec).await?;
        let live = template_live(t, versions.get(id), Some((spec.str("image")?, &ami)))
            .ok_or_else(|| missing(a, "DescribeLaunchTemplateVersions", "LaunchTemplateData"))?;
        return adopt(spec, &live.live, |prior| Box::pin(update(cx, spec, prior))).await;
    }
    let ami = resolve_image(cx, spec).await?;
    let data = template_data(spec, &ami)?;
    let tags = create_tags(cx.own, spec)?;
    let token = spec.client_token(&cx.own.lineage, token_seed);
    // The instance profile is created moments before by another step; IAM is eventually
    // consistent, and a failed create made nothing, so retrying cannot duplicate.
    let out = retry_when(
        cx.waits,
        cx.waits.consistency,
        iam_profile_not_visible,
        || async {
            send_once!(
                aws_sdk_ec2,
                cx.aws
                    .ec2
                    .create_launch_template()
                    .launch_template_name(name)
                    .client_token(&token)
                    .tag_specifications(tag_specification(ResourceType::LaunchTemplate, &tags))
                    .launch_template_data(data.clone())
            )
            .await
            .at(a, "CreateLaunchTemplate")
        },
    )
    .await?;
    let t = out
        .launch_template()
        .ok_or_else(|| missing(a, "CreateLaunchTemplate", "LaunchTemplate"))?;
    let id = t
        .launch_template_id()
        .ok_or_else(|| missing(a, "CreateLaunchTemplate", "LaunchTemplateId"))?;
    let version = t
        .latest_version_number()
        .ok_or_else(|| missing(a, "CreateLaunchTemplate", "LatestVersionNumber"))?;
    Ok(applied(spec, id, version, &ami))
}

fn applied(spec: &ResourceSpec, id: &str, version: i64, ami: &str) -> Applied {
    Applied {
        id: id.to_owned(),
        attributes: spec.attributes.clone(),
        outputs: outputs(id, version, ami),
        adopted: false,
    }
}

fn outputs(id: &str, version: i64, ami: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("id".to_owned(), Value::from(id)),
        ("latest_version".to_owned(), Value::from(version)),
        ("image_id".to_owned(), Value::from(ami)),
    ])
}

/// A new default version with the full data when any attribute differs (tags too: instances
/// and volumes get them from the data), and the template's own tags brought to the spec.
pub(crate) async fn update(
    cx: Cx<'_>,
    spec: &ResourceSpec,
    prior: Prior<'_>,
) -> Result<Applied, ProviderError> {
    let a = &spec.address;
    let recorded_ami = prior.outputs.get("image_id").and_then(Value::as_str);
    let recorded_version = prior.outputs.get("latest_version").and_then(Value::as_i64);
    let ami = resolve_image(cx, spec).await?;
    let unchanged = spec.attributes == *prior.attributes && recorded_ami == Some(ami.as_str());
    let version = match recorded_version {
        Some(v) if unchanged => v,
        _ => {
            let data = template_data(spec, &ami)?;
            let out = retry_when(
                cx.waits,
                cx.waits.consistency,
                iam_profile_not_visible,
                || async {
                    cx.aws
                        .ec2
                        .create_launch_template_version()
                        .launch_template_id(prior.id)
                        .launch_template_data(data.clone())
                        .send()
                        .await
                        .at(a, "CreateLaunchTemplateVersion")
                },
            )
            .await?;
            let v = out
                .launch_template_version()
                .and_then(LaunchTemplateVersion::version_number)
                .ok_or_else(|| missing(a, "CreateLaunchTemplateVersion", "VersionNumber"))?;
            cx.aws
                .ec2
                .modify_launch_template()
                .launch_template_id(prior.id)
                .default_version(v.to_string())
                .send()
                .await
                .at(a, "ModifyLaunchTemplate")?;
            v
        }
    };
    sync_tags(cx, spec, prior.id, prior.attributes.get("tags")).await?;
    Ok(applied(spec, prior.id, version, &ami))
}

pub(crate) async fn delete(
    cx: Cx<'_>,
    address: &Address,
    _kind: Kind,
    prior: Prior<'_>,
) -> Result<(), ProviderError> {
    let r = cx
        .aws
        .ec2
        .delete_launch_template()
        .launch_template_id(prior.id)
        .send()
        .await
        .at(address, "DeleteLaunchTemplate")
        .map(drop);
    tolerate(
        r,
        &[
            "InvalidLaunchTemplateId.NotFound",
            "InvalidLaunchTemplateName.NotFoundException",
        ],
    )
}

pub(crate) async fn refresh(
    cx: Cx<'_>,
    resources: &BTreeMap<Address, ResourceState>,
    out: &mut Refresh,
) -> Result<(), ProviderError> {
    if !resources.values().any(|r| r.kind == Kind::LaunchTemplate) {
        return Ok(());
    }
    let recorded: BTreeMap<&str, &ResourceState> = resources
        .values()
        .filter(|r| r.kind == Kind::LaunchTemplate)
        .filter_map(|r| Some((r.id.as_deref()?, r)))
        .collect();
    let a = Address::new(Kind::LaunchTemplate.as_str());
    let templates = describe(cx, &a, vec![environment_filter(cx.own)]).await?;
    let versions = if templates.is_empty() {
        BTreeMap::new()
    } else {
        latest_versions(cx, &a, None).await?
    };
    let found = templates
        .iter()
        .filter_map(|t| {
            let id = t.launch_template_id()?;
            let known = recorded.get(id).and_then(|r| {
                let image = r.attributes.get("image").and_then(Value::as_str)?;
                Some((image, r.outputs.get("image_id").and_then(Value::as_str)?))
            });
            template_live(t, versions.get(id), known)
        })
        .collect();
    settle(cx.own, resources, &[Kind::LaunchTemplate], found, out);
    Ok(())
}

async fn describe(
    cx: Cx<'_>,
    a: &Address,
    filters: Vec<Filter>,
) -> Result<Vec<LaunchTemplate>, ProviderError> {
    cx.aws
        .ec2
        .describe_launch_templates()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeLaunchTemplates")
}

/// The `$Latest` version of one template, or (no id) of every template in the account: the
/// form AWS offers to read many templates' data in one request.
async fn latest_versions(
    cx: Cx<'_>,
    a: &Address,
    id: Option<&str>,
) -> Result<BTreeMap<String, LaunchTemplateVersion>, ProviderError> {
    let versions = cx
        .aws
        .ec2
        .describe_launch_template_versions()
        .set_launch_template_id(id.map(str::to_owned))
        .versions("$Latest")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .at(a, "DescribeLaunchTemplateVersions")?;
    Ok(versions
        .into_iter()
        .filter_map(|v| Some((v.launch_template_id()?.to_owned(), v)))
        .collect())
}

/// The image the spec asks for: the AMI itself, or the one its SSM parameter names now.
async fn resolve_image(cx: Cx<'_>, spec: &ResourceSpec) -> Result<String, ProviderError> {
    let image = spec.str("image")?;
    let Some(parameter) = image.strip_prefix(SSM_PREFIX) else {
        return Ok(image.to_owned());
    };
    let out = cx
        .aws
        .ssm
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .at(&spec.address, "GetParameter")?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| missing(&spec.address, "GetParameter", "Parameter.Value"))
}

fn object<'s>(
    spec: &'s ResourceSpec,
    name: &str,
) -> Result<&'s serde_json::Map<String, Value>, ProviderError> {
    spec.attributes
        .get(name)
        .and_then(Value::as_object)
        .ok_or_else(|| spec.invalid(name, "is missing or not a table"))
}

/// The full launch template data of the spec, with `ami` as the image.
fn template_data(
    spec: &ResourceSpec,
    ami: &str,
) -> Result<RequestLaunchTemplateData, ProviderError> {
    let meta = object(spec, "metadata_options")?;
    let root = object(spec, "root_volume")?;
    let field = |m: &serde_json::Map<String, Value>, attr: &str, key: &str| {
        m.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| spec.invalid(attr, &format!("has no string `{key}`")))
    };
    let hop_limit = meta
        .get("http_put_response_hop_limit")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok());
    let size = root
        .get("size")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| spec.invalid("root_volume", "has no integer `size`"))?;
    let security_groups = spec
        .attributes
        .get("security_group_ids")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    let desired = spec.tags()?;
    let instance_tags = |kind: ResourceType| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(kind)
            .set_tags(Some(to_tags(&desired)))
            .build()
    };
    let mut data = RequestLaunchTemplateData::builder()
        .image_id(ami)
        .instance_type(InstanceType::from(spec.str("instance_type")?))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .arn(spec.str("iam_instance_profile_arn")?)
                .build(),
        )
        .set_security_group_ids(security_groups)
        .user_data(base64_encode(spec.str("user_data")?.as_bytes()))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                    field(meta, "metadata_options", "http_endpoint")?.as_str(),
                ))
                .http_tokens(LaunchTemplateHttpTokensState::from(
                    field(meta, "metadata_options", "http_tokens")?.as_str(),
                ))
                .set_http_put_response_hop_limit(hop_limit)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(field(root, "root_volume", "device_name")?)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(size)
                        .volume_type(VolumeType::from(
                            field(root, "root_volume", "type")?.as_str(),
                        ))
                        .set_encrypted(root.get("encrypted").and_then(Value::as_bool))
                        .set_delete_on_termination(
                            root.get("delete_on_termination").and_then(Value::as_bool),
                        )
                        .build(),
                )
                .build(),
        )
        .monitoring(
            LaunchTemplatesMonitoringRequest::builder()
                .enabled(spec.bool_or("monitoring", false)?)
                .build(),
        )
        .set_key_name(spec.opt_str("key_name").map(str::to_owned));
    if !desired.is_empty() {
        data = data
            .tag_specifications(instance_tags(ResourceType::Instance))
            .tag_specifications(instance_tags(ResourceType::Volume));
    }
    Ok(data.build())
}

/// A described template in the desired shape. `known` is an `image` attribute with the AMI it
/// stands for (recorded, or just resolved): the attribute reads as that while the live AMI is
/// that one, so a resolved `ssm:` parameter is no drift.
fn template_live(
    t: &LaunchTemplate,
    version: Option<&LaunchTemplateVersion>,
    known: Option<(&str, &str)>,
) -> Option<Tagged> {
    let id = t.launch_template_id()?;
    let version = version?;
    let data = version.launch_template_data()?;
    let ami = data.image_id().unwrap_or_default();
    let image = match known {
        Some((image, known_ami)) if known_ami == ami => image,
        _ => ami,
    };
    let mut attributes = data_attributes(data);
    attributes.insert("name".to_owned(), Value::from(t.launch_template_name()?));
    attributes.insert("image".to_owned(), Value::from(image));
    let mut tagged = Tagged::new(Kind::LaunchTemplate, id, tag_map(t.tags()), attributes);
    let number = version.version_number()?;
    tagged.live.outputs = outputs(id, number, ami);
    Some(tagged)
}

/// Everything of the version data the spec sets, but the name and image.
fn data_attributes(data: &ResponseLaunchTemplateData) -> BTreeMap<String, Value> {
    let mut attributes = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        attributes.insert(k.to_owned(), v);
    };
    if let Some(t) = data.instance_type() {
        put("instance_type", Value::from(t.as_str()));
    }
    if let Some(arn) = data.iam_instance_profile().and_then(|p| p.arn()) {
        put("iam_instance_profile_arn", Value::from(arn));
    }
    put("security_group_ids", json!(data.security_group_ids()));
    if let Some(u) = data.user_data() {
        let plain = base64_decode(u)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| u.to_owned());
        put("user_data", Value::from(plain));
    }
    if let Some(m) = data.metadata_options() {
        put(
            "metadata_options",
            json!({
                "http_endpoint": m.http_endpoint().map(LaunchTemplateInstanceMetadataEndpointState::as_str),
                "http_tokens": m.http_tokens().map(LaunchTemplateHttpTokensState::as_str),
                "http_put_response_hop_limit": m.http_put_response_hop_limit(),
            }),
        );
    }
    if let Some(root) = data.block_device_mappings().first() {
        let ebs = root.ebs();
        put(
            "root_volume",
            json!({
                "device_name": root.device_name(),
                "size": ebs.and_then(LaunchTemplateEbsBlockDevice::volume_size),
                "type": ebs.and_then(|e| e.volume_type()).map(VolumeType::as_str),
                "encrypted": ebs.and_then(LaunchTemplateEbsBlockDevice::encrypted),
                "delete_on_termination": ebs.and_then(LaunchTemplateEbsBlockDevice::delete_on_termination),
            }),
        );
    }
    if let Some(m) = data.monitoring() {
        put("monitoring", Value::from(m.enabled().unwrap_or(false)));
    }
    if let Some(k) = data.key_name() {
        put("key_name", Value::from(k));
    }
    attributes
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard BASE64 with padding, as EC2 wants user data (no crate for 20 lines).
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of standard BASE64 (padding and line breaks allowed); `None` when it is not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut n, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = BASE64.iter().position(|b| *b == c)?;
        n = (n << 6) | u32::try_from(v).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((n >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{
        LaunchTemplateBlockDeviceMapping, LaunchTemplateIamInstanceProfileSpecification,
        LaunchTemplateInstanceMetadataOptions, LaunchTemplatesMonitoring, Tag,
    };

    #[test]
    fn base64_round_trips() {
        for s in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "#!/bin/bash\necho ok\n",
        ] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(
                base64_decode(&e).as_deref(),
                Some(s.as_bytes()),
                "{s:?} {e}"
            );
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn a_described_version_reads_like_the_desired_template() {
        let t = LaunchTemplate::builder()
            .launch_template_id("lt-1")
            .launch_template_name("acc-default-default")
            .tags(Tag::builder().key("Name").value("n").build())
            .tags(Tag::builder().key("ecsops:lineage").value("L").build())
            .build();
        let data = ResponseLaunchTemplateData::builder()
            .image_id("ami-1")
            .instance_type(InstanceType::from("t3.medium"))
            .iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecification::builder()
                    .arn("arn:aws:iam::1:instance-profile/p")
                    .build(),
            )
            .security_group_ids("sg-1")
            .user_data(base64_encode(b"#!/bin/bash\n"))
            .metadata_options(
                LaunchTemplateInstanceMetadataOptions::builder()
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                    .http_tokens(LaunchTemplateHttpTokensState::Required)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .block_device_mappings(
                LaunchTemplateBlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        LaunchTemplateEbsBlockDevice::builder()
                            .volume_size(30)
                            .volume_type(VolumeType::Gp3)
                            .encrypted(true)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .monitoring(LaunchTemplatesMonitoring::builder().enabled(true).build())
            .build();
        let v = LaunchTemplateVersion::builder()
            .launch_template_id("lt-1")
            .version_number(3)
            .launch_template_data(data)
            .build();
        let live = template_live(&t, Some(&v), None).expect("live").live;
        assert_eq!(
            serde_json::to_value(&live.attributes).expect("json"),
            json!({
                "name": "acc-default-default",
                "image": "ami-1",
                "instance_type": "t3.medium",
                "iam_instance_profile_arn": "arn:aws:iam::1:instance-profile/p",
                "security_group_ids": ["sg-1"],
                "user_data": "#!/bin/bash\n",
                "metadata_options": {"http_endpoint": "enabled", "http_tokens": "required",
                                     "http_put_response_hop_limit": 2},
                "root_volume": {"device_name": "/dev/xvda", "size": 30, "type": "gp3",
                                "encrypted": true, "delete_on_termination": true},
                "monitoring": true,
                "tags": {"Name": "n"}
            })
        );
        assert_eq!(live.outputs["latest_version"], json!(3));
    }
}
