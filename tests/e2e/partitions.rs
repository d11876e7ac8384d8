//! An environment in the China partition against moto, which keeps partitions apart as AWS does:
//! it makes `arn:aws-cn:` ARNs there and refuses to attach `arn:aws:` managed policies. The apply
//! attaches AWS's managed policies by the partition's ARNs and converges.

use ecsops_core::provider::aws::sdk::iam;
use ecsops_core::provider::aws::sdk::iam::config::Region;

use crate::support::env::{ENV, Env};
use crate::support::iam::{attached_policy_arns, role};

#[tokio::test]
async fn an_environment_in_china_applies_with_the_partitions_arns() {
    let env = Env::new().await;
    env.edit("base.toml", "region = \"eu-west-1\"", "region = \"cn-north-1\"");
    env.edit(
        "base.toml",
        "availability_zones = [\"eu-west-1a\", \"eu-west-1b\"]",
        "availability_zones = [\"cn-north-1a\", \"cn-north-1b\"]",
    );
    // moto publishes the ECS-optimized AMI parameters for the commercial regions only (AWS has
    // them in China too): name one of the images moto has there instead.
    env.edit("base.toml", "ami = \"recommended\"", "ami = \"ami-04681a1dbd79675a5\"");
    let applied = env.run(&["apply", ENV, "--auto-approve"]);
    applied.expect_code(0);

    // IAM answers per partition: read it as a client of the China regions.
    let config = iam::config::Builder::from(&env.config).region(Region::new("cn-north-1")).build();
    let iamc = iam::Client::from_conf(config);
    let managed = |name: &str| format!("arn:aws-cn:iam::aws:policy/{name}");
    let instance = attached_policy_arns(&iamc, "acceptance-default-instance").await;
    for name in ["service-role/AmazonEC2ContainerServiceforEC2Role", "AmazonSSMManagedInstanceCore"]
    {
        assert!(instance.contains(&managed(name)), "{instance:?}");
    }
    let execution = attached_policy_arns(&iamc, "acceptance-default-task-execution").await;
    let task_execution = managed("service-role/AmazonECSTaskExecutionRolePolicy");
    assert!(execution.contains(&task_execution), "{execution:?}");
    let arn = role(&iamc, "acceptance-default-instance").await.arn;
    assert!(arn.starts_with("arn:aws-cn:iam::"), "{arn}");

    // Converged: a second diff plans nothing.
    env.run(&["diff", ENV, "--detailed-exitcode"]).expect_code(0);
}
