//! Launch templates on EC2: the instance configuration an auto scaling group launches from.
//!
//! The `image` attribute is an AMI id or `ssm:<parameter>` (what the manifest asks for) and
//! `image_id` the AMI launched: the plan pins it (`plan::ami`, asking SSM through `amis` for
//! every group at once), so create and update launch exactly the planned AMI; only a template
//! planned without AWS asks SSM here. Refresh reports `image` as recorded (AWS knows only the
//! AMI) and `image_id` as the live AMI, so a newer AMI elsewhere is no drift and a changed
//! one is. `images` names AMIs for the plan and tells their architecture.
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

use crate::provider::aws::send;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplate, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDevice, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, LaunchTemplateVersion, LaunchTemplatesMonitoring,
    LaunchTemplatesMonitoringRequest, RequestLaunchTemplateData, ResourceType, VolumeType,
};

use super::ec2::{
    Tagged, describe_by_filters, environment_filter, settle, strays, sync_ec2_tags, tag_map,
    tag_spec, to_tags, visible,
};
use super::ecs::iam_profile_not_visible;
use super::live::{all, decodable_by_id, missing};
use super::ownership::claim;
use super::{AwsResultExt, Cx, Done, Manage, New, Prior, Recorded, remove_request, retry_when};
use crate::graph::attrs::{self, LaunchTemplateOutputs, MetadataOptions, Resolved, RootVolume};
use crate::graph::{Address, Kind};
use crate::plan::ami;
use crate::provider::aws::once::send_once;
use crate::provider::{Applied, Live, ProviderError, Refresh, ResourceSpec};

impl Manage for attrs::LaunchTemplate {
    /// The template of that name, when it carries this lineage's tags.
    async fn existing(cx: Cx<'_>, spec: &ResourceSpec, want: &Self) -> Done<Option<Live>> {
        let a = &spec.address;
        let name = want.name.as_str();
        let found = describe_launch_templates(
            cx,
            a,
            vec![Filter::builder().name("launch-template-name").values(name).build()],
        )
        .await?;
        let Some(t) = found.first() else {
            return Ok(None);
        };
        let id = t
            .launch_template_id()
            .ok_or_else(|| missing(a, "DescribeLaunchTemplates", "LaunchTemplateId"))?;
        claim(cx.own, a, id, &tag_map(t.tags()))?;
        let versions = latest_versions(cx, a, Some(id)).await?;
        let live = template_live(t, versions.get(id), Some(&want.image))
            .ok_or_else(|| missing(a, "DescribeLaunchTemplateVersions", "LaunchTemplateData"))?;
        Ok(Some(live.live))
    }

    /// Creates the template (its data and the first version) with its tags.
    async fn create(cx: Cx<'_>, New { a, spec, token }: New<'_>, want: Self) -> Done {
        let name = want.name.as_str();
        let ami = image_id(cx, a, &want).await?;
        let data = template_data(&want, &ami);
        let out = until_profile_visible(cx, || async {
            send_once!(
                a,
                cx.ec2
                    .create_launch_template()
                    .launch_template_name(name)
                    .client_token(token)
                    .tag_specifications(tag_spec(cx, a, ResourceType::LaunchTemplate, &want.tags))
                    .launch_template_data(data.clone())
            )
        })
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
        Ok(applied(spec, id, version, ami))
    }

    /// A new default version with the full data when any attribute differs (tags too:
    /// instances and volumes get them from the data), and the template's own tags brought to
    /// the spec.
    async fn update(cx: Cx<'_>, spec: &ResourceSpec, want: Self, prior: Prior<'_>) -> Done {
        let a = &spec.address;
        let was: attrs::LaunchTemplate = prior.decode()?;
        // Recorded outputs that are missing (state written by hand) just mean a new version.
        let recorded = prior.outputs::<attrs::LaunchTemplate>().ok();
        let ami = image_id(cx, a, &want).await?;
        // The recorded AMI is the output's (states written before `image_id` was an attribute
        // lack the attribute).
        let unpinned =
            |t: &attrs::LaunchTemplate| attrs::LaunchTemplate { image_id: None, ..t.clone() };
        let version = match recorded {
            Some(r) if unpinned(&want) == unpinned(&was) && r.image_id == ami => r.latest_version,
            _ => {
                let data = template_data(&want, &ami);
                let out = until_profile_visible(cx, || async {
                    send!(
                        a,
                        cx.ec2
                            .create_launch_template_version()
                            .launch_template_id(prior.id)
                            .launch_template_data(data.clone())
                    )
                })
                .await?;
                let v = out
                    .launch_template_version()
                    .and_then(LaunchTemplateVersion::version_number)
                    .ok_or_else(|| missing(a, "CreateLaunchTemplateVersion", "VersionNumber"))?;
                send!(
                    a,
                    cx.ec2
                        .modify_launch_template()
                        .launch_template_id(prior.id)
                        .default_version(v.to_string())
                )?;
                v
            }
        };
        sync_ec2_tags(cx, a, prior.id, &was.tags, &want.tags).await?;
        Ok(applied(spec, prior.id, version, ami))
    }

    /// Deletes the template with all its versions.
    async fn delete(cx: Cx<'_>, prior: Prior<'_>) -> Done<()> {
        remove_request(
            cx,
            prior.address,
            &[],
            &["InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException"],
            || cx.ec2.delete_launch_template().launch_template_id(prior.id).send(),
        )
        .await
    }
}

/// Sends `op` (a request naming the template's instance profile) again while EC2 or Auto
/// Scaling cannot see that profile yet: it is created moments before by another step, IAM is
/// eventually consistent, and a refused request made nothing, so retrying cannot duplicate.
pub(crate) async fn until_profile_visible<T, F, Fut>(cx: Cx<'_>, op: F) -> Done<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Done<T>>,
{
    retry_when(cx.waits, cx.waits.consistency, iam_profile_not_visible, op).await
}

/// `spec` applied as template `id` at `version` launching AMI `launched`, which the record
/// holds as the `image_id` attribute too (a template planned without AWS had none), so the
/// next plan compares the AMI it finds with the one launched.
fn applied(spec: &ResourceSpec, id: &str, version: i64, launched: String) -> Applied {
    let mut applied = Applied::new(spec, id, &outputs(id, version, &launched));
    applied.attributes.insert(ami::IMAGE_ID.to_owned(), serde_json::Value::String(launched));
    applied
}

fn outputs(id: &str, version: i64, ami: &str) -> LaunchTemplateOutputs {
    LaunchTemplateOutputs { id: id.to_owned(), latest_version: version, image_id: ami.to_owned() }
}

pub(crate) async fn refresh(cx: Cx<'_>, resources: &Recorded, out: &mut Refresh) -> Done<()> {
    if !resources.values().any(|r| r.kind == Kind::LaunchTemplate) {
        return Ok(());
    }
    let a = Address::new(Kind::LaunchTemplate.as_str());
    let templates = describe_launch_templates(cx, &a, vec![environment_filter(cx.own)]).await?;
    let versions =
        if templates.is_empty() { BTreeMap::new() } else { latest_versions(cx, &a, None).await? };
    // What each recorded template's manifest asked for; a record that does not decode (state
    // written by hand) reads the image as the live AMI.
    let known: BTreeMap<&str, String> = decodable_by_id::<attrs::LaunchTemplate>(resources)
        .into_iter()
        .map(|(id, t)| (id, t.image))
        .collect();
    let found: Vec<Tagged> = templates
        .iter()
        .filter_map(|t| {
            let id = t.launch_template_id()?;
            template_live(t, versions.get(id), known.get(id).map(String::as_str))
        })
        .collect();
    // No filter reads templates by id (the `LaunchTemplateIds` parameter fails on a deleted
    // one): the account's templates are read instead.
    let strays = strays(
        cx,
        resources,
        Kind::LaunchTemplate,
        &found,
        describe_launch_templates,
        None,
        LaunchTemplate::launch_template_id,
    )
    .await?;
    out.untagged.extend(strays);
    settle(cx.own, resources, &[Kind::LaunchTemplate], found, out);
    Ok(())
}

describe_by_filters!(describe_launch_templates -> LaunchTemplate);

/// The `$Latest` version of one template, or (no id) of every template in the account: the
/// form AWS offers to read many templates' data in one request.
async fn latest_versions(
    cx: Cx<'_>,
    a: &Address,
    id: Option<&str>,
) -> Done<BTreeMap<String, LaunchTemplateVersion>> {
    let versions = all!(
        cx.ec2
            .describe_launch_template_versions()
            .set_launch_template_id(id.map(str::to_owned))
            .versions("$Latest"),
        a
    )?;
    Ok(versions.into_iter().filter_map(|v| Some((v.launch_template_id()?.to_owned(), v))).collect())
}

/// The AMI `want` launches: the planned one, else `image` itself, else the AMI its SSM
/// parameter names now (a template planned without AWS).
async fn image_id(cx: Cx<'_>, a: &Address, want: &attrs::LaunchTemplate) -> Done<String> {
    if let Some(planned) = &want.image_id {
        return Ok(planned.clone());
    }
    let Some(parameter) = ami::parameter(&want.image) else {
        return Ok(want.image.clone());
    };
    let (mut found, unknown) = amis(cx, a, &BTreeSet::from([parameter.to_owned()])).await?;
    found.remove(parameter).ok_or_else(|| ProviderError::Failed {
        address: a.clone(),
        what: format!(
            "SSM has no parameter {} naming the AMI; check `{}`",
            unknown.join(", "),
            ami::manifest_place(a)
        ),
    })
}

/// The AMIs SSM `parameters` name now (parameter → AMI id), one `GetParameters` per ten (the
/// most AWS takes; an environment has at most two), and the parameters SSM does not have.
pub(crate) async fn amis(
    cx: Cx<'_>,
    a: &Address,
    parameters: &BTreeSet<String>,
) -> Done<(BTreeMap<String, String>, Vec<String>)> {
    let (mut found, mut unknown) = (BTreeMap::new(), Vec::new());
    let names: Vec<&String> = parameters.iter().collect();
    for chunk in names.chunks(10) {
        let out = send!(
            a,
            cx.ssm.get_parameters().set_names(Some(chunk.iter().map(|n| (*n).clone()).collect()))
        )?;
        for p in out.parameters() {
            let (Some(name), Some(value)) = (p.name(), p.value()) else {
                return Err(missing(a, "GetParameters", "Parameters.Value"));
            };
            found.insert(name.to_owned(), value.to_owned());
        }
        unknown.extend(out.invalid_parameters().iter().cloned());
    }
    Ok((found, unknown))
}

/// What a plan shows and checks of an AMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: Option<String>,
    /// `x86_64`, `arm64`, ...
    pub architecture: Option<String>,
}

/// The AMIs `ids` (id → image), in one `DescribeImages`; an AMI AWS no longer has
/// (deregistered) is left out. Filtered by id, not asked by id: AWS refuses a request naming
/// an AMI it does not have.
pub(crate) async fn images(
    cx: Cx<'_>,
    a: &Address,
    ids: &BTreeSet<String>,
) -> Done<BTreeMap<String, Image>> {
    let out = send!(
        a,
        cx.ec2.describe_images().filters(
            Filter::builder()
                .name("image-id")
                .set_values(Some(ids.iter().cloned().collect()))
                .build(),
        )
    )?;
    Ok(out
        .images()
        .iter()
        .filter_map(|i| {
            let image = Image {
                name: i.name().map(str::to_owned),
                architecture: i.architecture().map(|a| a.as_str().to_owned()),
            };
            Some((i.image_id()?.to_owned(), image))
        })
        .collect())
}

/// The full launch template data of `want`, with `ami` as the image.
fn template_data(want: &attrs::LaunchTemplate, ami: &str) -> RequestLaunchTemplateData {
    let (meta, root) = (&want.metadata_options, &want.root_volume);
    let instance_tags = |kind: ResourceType| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(kind)
            .set_tags(Some(to_tags(&want.tags)))
            .build()
    };
    let mut data = RequestLaunchTemplateData::builder()
        .image_id(ami)
        .instance_type(InstanceType::from(want.instance_type.as_str()))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .arn(&want.iam_instance_profile_arn)
                .build(),
        )
        .set_security_group_ids(Some(want.security_group_ids.clone()))
        .user_data(base64_encode(want.user_data.as_bytes()))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                    meta.http_endpoint.as_str(),
                ))
                .http_tokens(LaunchTemplateHttpTokensState::from(meta.http_tokens.as_str()))
                .set_http_put_response_hop_limit(meta.http_put_response_hop_limit)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(&root.device_name)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(root.size)
                        .volume_type(VolumeType::from(root.volume_type.as_str()))
                        .set_encrypted(root.encrypted)
                        .set_delete_on_termination(root.delete_on_termination)
                        .build(),
                )
                .build(),
        )
        .monitoring(LaunchTemplatesMonitoringRequest::builder().enabled(want.monitoring).build())
        .set_key_name(want.key_name.clone());
    if !want.tags.is_empty() {
        data = data
            .tag_specifications(instance_tags(ResourceType::Instance))
            .tag_specifications(instance_tags(ResourceType::Volume));
    }
    data.build()
}

/// A described template in the desired shape. `image` is what the manifest asked for when it
/// is known (recorded, or wanted): AWS knows only the AMI, which is `image_id`. Data AWS does
/// not answer reads as empty (and so as drift).
fn template_live(
    t: &LaunchTemplate,
    version: Option<&LaunchTemplateVersion>,
    image: Option<&str>,
) -> Option<Tagged> {
    let id = t.launch_template_id()?;
    let version = version?;
    let data = version.launch_template_data()?;
    let ami = data.image_id().unwrap_or_default();
    let image = image.unwrap_or(ami);
    let tags = tag_map(t.tags());
    let template = attrs::LaunchTemplate::<Resolved> {
        name: t.launch_template_name()?.to_owned(),
        image: image.to_owned(),
        image_id: Some(ami.to_owned()),
        instance_type: data.instance_type().map_or("", InstanceType::as_str).to_owned(),
        iam_instance_profile_arn: data
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .unwrap_or_default()
            .to_owned(),
        security_group_ids: data.security_group_ids().to_vec(),
        user_data: data.user_data().map_or_else(String::new, |u| {
            base64_decode(u).and_then(|b| String::from_utf8(b).ok()).unwrap_or_else(|| u.to_owned())
        }),
        metadata_options: data
            .metadata_options()
            .map(|m| MetadataOptions {
                http_endpoint: m
                    .http_endpoint()
                    .map_or("", LaunchTemplateInstanceMetadataEndpointState::as_str)
                    .to_owned(),
                http_tokens: m
                    .http_tokens()
                    .map_or("", LaunchTemplateHttpTokensState::as_str)
                    .to_owned(),
                http_put_response_hop_limit: m.http_put_response_hop_limit(),
            })
            .unwrap_or_default(),
        root_volume: data
            .block_device_mappings()
            .first()
            .map(|root| {
                let ebs = root.ebs();
                RootVolume {
                    device_name: root.device_name().unwrap_or_default().to_owned(),
                    size: ebs
                        .and_then(LaunchTemplateEbsBlockDevice::volume_size)
                        .unwrap_or_default(),
                    volume_type: ebs
                        .and_then(|e| e.volume_type())
                        .map_or("", VolumeType::as_str)
                        .to_owned(),
                    encrypted: ebs.and_then(LaunchTemplateEbsBlockDevice::encrypted),
                    delete_on_termination: ebs
                        .and_then(LaunchTemplateEbsBlockDevice::delete_on_termination),
                }
            })
            .unwrap_or_default(),
        monitoring: data.monitoring().and_then(LaunchTemplatesMonitoring::enabled).unwrap_or(false),
        tags: visible(&tags),
        key_name: data.key_name().map(str::to_owned),
    };
    let outputs = outputs(id, version.version_number()?, ami);
    Some(Tagged::of(id, tags, &template, &outputs))
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard BASE64 with padding, as EC2 wants user data (no crate for 20 lines).
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
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
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
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
        LaunchTemplateInstanceMetadataOptions, LaunchTemplatesMonitoring,
        ResponseLaunchTemplateData, Tag,
    };
    use serde_json::json;

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "#!/bin/bash\necho ok\n"] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&e).as_deref(), Some(s.as_bytes()), "{s:?} {e}");
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
                "image_id": "ami-1",
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
