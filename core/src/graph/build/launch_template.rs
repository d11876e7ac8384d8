//! The launch template of an instance group: ECS-optimized AL2023 AMI via SSM, IMDSv2 only,
//! user data that joins the cluster.

use serde_json::json;

use super::iam::Iam;
use super::{AMI_PARAMETER_ARM, AMI_PARAMETER_X86, Builder};
use crate::graph::attrs::{self, Desired};
use crate::graph::user_data::UserData;
use crate::graph::{Address, Expr};
use crate::manifest::InstanceGroup;

pub(super) fn launch_template(
    b: &mut Builder<'_>,
    name: &str,
    g: &InstanceGroup,
    aws_name: &str,
    iam: &Iam,
    sg_instances: &Address,
) -> Address {
    // A parameter's AMI is only known once SSM is asked: the planner pins it (`plan::ami`).
    let (image, image_id) = match g.ami.as_str() {
        "recommended" => (format!("ssm:{AMI_PARAMETER_X86}"), None),
        "recommended-arm64" => (format!("ssm:{AMI_PARAMETER_ARM}"), None),
        id => (id.to_owned(), Some(Expr::str(id))),
    };
    let user_data = UserData {
        cluster: &b.prefix,
        instance_group: name,
        docker_auth: g.docker_auth.as_deref(),
        logging_drivers: g.logging_drivers.as_deref(),
        host_log_prefix: b.manifest.logging.host_logs.then_some(b.log_prefix.as_str()),
        custom: g.user_data.as_deref(),
    }
    .render();
    let template = attrs::LaunchTemplate::<Desired> {
        name: Expr::str(aws_name),
        image: Expr::str(image),
        image_id,
        instance_type: Expr::str(g.instance_type.clone()),
        iam_instance_profile_arn: Builder::r(&iam.instance_profile, "arn"),
        security_group_ids: Expr::List(vec![Builder::r(sg_instances, "id")]),
        user_data: Expr::str(user_data),
        // IMDSv2 only. A bridge-mode container is one hop further than the host, so hop limit
        // 1 keeps the instance role's credentials (ecs:Poll among them) from every task.
        metadata_options: Expr::Lit(json!({
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": if g.containers_reach_instance_metadata { 2 } else { 1 },
        })),
        root_volume: Expr::Lit(json!({"device_name": "/dev/xvda", "size": g.root_volume.size,
                                      "type": g.root_volume.volume_type,
                                      "encrypted": g.root_volume.encrypted,
                                      "delete_on_termination": true})),
        monitoring: true.into(),
        tags: b.tags(Some(aws_name)),
        key_name: g.key_pair.clone().map(Expr::str),
    };
    b.add(Address::keyed("launch_template", name), &template, [])
}
