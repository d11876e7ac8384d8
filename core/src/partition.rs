//! AWS partitions: the separate clouds (the commercial regions, China, GovCloud, the isolated
//! regions) an account and its resources belong to. A region's partition is the first field of
//! every ARN in it (`arn:aws-cn:...`, AWS's own managed policies included) and the DNS suffix of
//! its endpoints (which `kms:ViaService` names), so the policies the graph writes follow the
//! environment's region, and the ARNs a manifest names must be of the same partition. The table
//! is the one the AWS SDK resolves endpoints with.

/// One partition: the name ARNs carry and the DNS suffix of its service endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub name: &'static str,
    /// `amazonaws.com`, `amazonaws.com.cn`, ...
    pub dns_suffix: &'static str,
}

/// The partitions other than `aws`, each with the prefix its region names start with.
const OTHERS: [(&str, Partition); 7] = [
    ("cn-", partition("aws-cn", "amazonaws.com.cn")),
    ("us-gov-", partition("aws-us-gov", "amazonaws.com")),
    ("us-iso-", partition("aws-iso", "c2s.ic.gov")),
    ("us-isob-", partition("aws-iso-b", "sc2s.sgov.gov")),
    ("us-isof-", partition("aws-iso-f", "csp.hci.ic.gov")),
    ("eu-isoe-", partition("aws-iso-e", "cloud.adc-e.uk")),
    ("eusc-", partition("aws-eusc", "amazonaws.eu")),
];

const fn partition(name: &'static str, dns_suffix: &'static str) -> Partition {
    Partition { name, dns_suffix }
}

impl Partition {
    /// The commercial regions' partition, which the SDK also assumes for a region it does not
    /// know.
    pub const AWS: Partition = partition("aws", "amazonaws.com");

    /// The partition of `region` (`eu-west-1`, `cn-north-1`, `us-gov-west-1`).
    pub fn of(region: &str) -> Partition {
        OTHERS.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or(Self::AWS, |(_, p)| *p)
    }

    /// The ARN of AWS's own managed policy `name` (`service-role/AmazonECSTaskExecutionRolePolicy`).
    pub fn managed_policy(&self, name: &str) -> String {
        format!("arn:{}:iam::aws:policy/{name}", self.name)
    }

    /// The endpoint host of `service` in `region` (with its partition's DNS suffix), as
    /// `kms:ViaService` names it.
    pub fn endpoint(service: &str, region: &str) -> String {
        format!("{service}.{region}.{}", Self::of(region).dns_suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_fall_into_the_partitions_the_sdk_knows() {
        let name = |region| Partition::of(region).name;
        assert_eq!(name("eu-west-1"), "aws");
        assert_eq!(name("us-east-1"), "aws");
        assert_eq!(name("il-central-1"), "aws");
        assert_eq!(name("cn-north-1"), "aws-cn");
        assert_eq!(name("cn-northwest-1"), "aws-cn");
        assert_eq!(name("us-gov-west-1"), "aws-us-gov");
        assert_eq!(name("us-iso-east-1"), "aws-iso");
        assert_eq!(name("us-isob-east-1"), "aws-iso-b");
        assert_eq!(name("us-isof-south-1"), "aws-iso-f");
        assert_eq!(name("eu-isoe-west-1"), "aws-iso-e");
        assert_eq!(name("eusc-de-east-1"), "aws-eusc");
        // A region nobody knows yet is taken for a commercial one, as the SDK does.
        assert_eq!(name("xx-newplace-1"), "aws");
    }

    #[test]
    fn policies_and_endpoints_follow_the_partition() {
        let cn = Partition::of("cn-north-1");
        assert_eq!(
            cn.managed_policy("AmazonSSMManagedInstanceCore"),
            "arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore"
        );
        assert_eq!(Partition::endpoint("ssm", "cn-north-1"), "ssm.cn-north-1.amazonaws.com.cn");
        assert_eq!(
            Partition::endpoint("secretsmanager", "us-gov-west-1"),
            "secretsmanager.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            Partition::AWS.managed_policy("service-role/AmazonECSTaskExecutionRolePolicy"),
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
        );
    }
}
