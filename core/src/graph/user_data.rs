//! Instance user data for the ECS-optimized Amazon Linux 2023 AMI, rendered in Rust (the
//! reference rendered an Amazon Linux 1 Upstart script onto an AL2 AMI, which never ran).
//!
//! On AL2023 the ECS agent starts by itself once cloud-init is done, so the script writes
//! `/etc/ecs/ecs.config` first and nothing it does later can keep the instance from joining the
//! cluster: host-log shipping and the user's own commands run after, and their failure is logged
//! rather than fatal. All metadata access goes through the agent's own IMDSv2 handling; the
//! script itself never calls IMDS.

use std::fmt::Write as _;

/// Host log files shipped to CloudWatch: (log group suffix, file glob).
pub const HOST_LOGS: [(&str, &str, &str); 6] = [
    ("dmesg", "/var/log/dmesg", "/var/log/dmesg"),
    ("docker", "/var/log/docker", "/var/log/docker"),
    ("ecs-agent", "/var/log/ecs/ecs-agent.log", "/var/log/ecs/ecs-agent.log*"),
    ("ecs-init", "/var/log/ecs/ecs-init.log", "/var/log/ecs/ecs-init.log*"),
    ("audit", "/var/log/ecs/audit.log", "/var/log/ecs/audit.log*"),
    ("messages", "/var/log/messages", "/var/log/messages"),
];

/// What goes into one instance group's user data.
#[derive(Debug, Clone)]
pub struct UserData<'a> {
    pub cluster: &'a str,
    pub instance_group: &'a str,
    /// `s3://bucket/key` of private registry auth lines for ecs.config.
    pub docker_auth: Option<&'a str>,
    pub logging_drivers: Option<&'a [String]>,
    /// Log group prefix when host logs are shipped.
    pub host_log_prefix: Option<&'a str>,
    pub custom: Option<&'a str>,
}

impl UserData<'_> {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "#!/bin/bash");
        let _ = writeln!(
            s,
            "# Written by ecsops: joins this instance to ECS cluster {} (group {}).",
            self.cluster, self.instance_group
        );
        s.push_str("set -uo pipefail\n\n");
        s.push_str("cat >> /etc/ecs/ecs.config <<'ECS_CONFIG'\n");
        let _ = writeln!(s, "ECS_CLUSTER={}", self.cluster);
        let _ = writeln!(
            s,
            "ECS_INSTANCE_ATTRIBUTES={{\"ecsops.instance-group\":\"{}\"}}",
            self.instance_group
        );
        s.push_str("ECS_ENABLE_CONTAINER_METADATA=true\n");
        s.push_str("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true\n");
        if let Some(drivers) = self.logging_drivers {
            // JSON strings: a name can neither end the heredoc (a newline) nor the list.
            let list = serde_json::to_string(drivers).unwrap_or_default();
            let _ = writeln!(s, "ECS_AVAILABLE_LOGGING_DRIVERS={list}");
        }
        s.push_str("ECS_CONFIG\n");
        if let Some(auth) = self.docker_auth {
            s.push_str(
                "\n# Private registry auth (ECS_ENGINE_AUTH_TYPE / ECS_ENGINE_AUTH_DATA).\n",
            );
            // The ECS-optimized AL2023 AMI is built from the minimal AMI, which has no AWS CLI.
            // The agent starts after cloud-init, so the auth lands before it reads ecs.config.
            s.push_str("{ command -v aws >/dev/null || dnf install -y awscli-2; } &&\n  ");
            // Its own ECS_CLUSTER (a whole ecs.config copied from elsewhere) would win over
            // ecsops's, the last assignment counting: dropped.
            let _ = writeln!(
                s,
                "aws s3 cp {} - | sed -E '/^[[:space:]]*ECS_CLUSTER=/d' >> /etc/ecs/ecs.config || echo {} >&2",
                quoted(auth),
                quoted(&format!("ecsops: cannot read {auth}"))
            );
        }
        if let Some(prefix) = self.host_log_prefix {
            s.push_str("\n# Ship host logs with the unified CloudWatch agent.\n");
            s.push_str("(\n");
            s.push_str("  dnf install -y amazon-cloudwatch-agent rsyslog &&\n");
            // AL2023 keeps the kernel's and dockerd's output in the journal only: without
            // these files two of the six host log groups would stay empty.
            s.push_str("  cat > /etc/rsyslog.d/50-ecsops.conf <<'RSYSLOG' &&\n");
            s.push_str("kern.* /var/log/dmesg\n");
            s.push_str(":programname, isequal, \"dockerd\" /var/log/docker\n");
            s.push_str("RSYSLOG\n");
            s.push_str("  systemctl enable --now rsyslog &&\n");
            s.push_str(
                "  cat > /opt/aws/amazon-cloudwatch-agent/etc/ecsops.json <<'CW_AGENT' &&\n",
            );
            s.push_str("{\"logs\":{\"logs_collected\":{\"files\":{\"collect_list\":[\n");
            let entries: Vec<String> = HOST_LOGS
                .iter()
                .map(|(_, suffix, glob)| {
                    format!(
                        "{{\"file_path\":\"{glob}\",\"log_group_name\":\"{prefix}{suffix}\",\"log_stream_name\":\"{{instance_id}}\"}}"
                    )
                })
                .collect();
            s.push_str(&entries.join(",\n"));
            s.push_str("\n]}}}}\nCW_AGENT\n");
            s.push_str("  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \\\n");
            s.push_str("    -c file:/opt/aws/amazon-cloudwatch-agent/etc/ecsops.json\n");
            s.push_str(") || echo 'ecsops: host log shipping failed' >&2\n");
        }
        if let Some(custom) = self.custom {
            // The user's commands run as plain bash runs them, unset variables and all.
            s.push_str("\n# Custom user data from the manifest.\nset +u +o pipefail\n");
            s.push_str(custom.trim_end());
            s.push('\n');
        }
        s
    }
}

/// `text` as one shell word: single-quoted, each `'` written as `'\''`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user data of group `default` in cluster `acc-default`, with no option set.
    fn bare() -> UserData<'static> {
        UserData {
            cluster: "acc-default",
            instance_group: "default",
            docker_auth: None,
            logging_drivers: None,
            host_log_prefix: None,
            custom: None,
        }
    }

    #[test]
    fn writes_the_cluster_first_and_optional_parts_only_when_asked() {
        let minimal = bare().render();
        assert!(minimal.starts_with("#!/bin/bash\n"));
        assert!(minimal.contains("\nECS_CLUSTER=acc-default\n"));
        assert!(!minimal.contains("ECS_AVAILABLE_LOGGING_DRIVERS"));
        assert!(!minimal.contains("aws s3 cp"));
        assert!(!minimal.contains("169.254.169.254"), "no IMDSv1 calls");

        let drivers = vec!["json-file".to_owned(), "fluentd".to_owned()];
        let full = UserData {
            instance_group: "gpu",
            docker_auth: Some("s3://bucket/ecs.config"),
            logging_drivers: Some(&drivers),
            host_log_prefix: Some("/ecsops/acc/default"),
            custom: Some("echo hi\n"),
            ..bare()
        }
        .render();
        assert!(full.contains("ECS_AVAILABLE_LOGGING_DRIVERS=[\"json-file\",\"fluentd\"]"));
        assert!(full.contains("aws s3 cp 's3://bucket/ecs.config' - | sed"));
        assert!(full.contains("/ecsops/acc/default/var/log/ecs/ecs-agent.log"));
        assert!(full.contains("\"ecsops.instance-group\":\"gpu\""));
        let cluster_at = full.find("ECS_CLUSTER").unwrap_or(usize::MAX);
        let custom_at = full.find("echo hi").unwrap_or(0);
        assert!(cluster_at < custom_at, "ecs.config is written before anything that can fail");
    }

    /// Manifest values reach the script as data: a quote in the S3 URL or a newline in a
    /// driver name (both refused by `validate` too) runs nothing.
    #[test]
    fn values_cannot_break_out_of_their_quotes() {
        let drivers = vec!["json-file\"]\nECS_CONFIG\ntouch /tmp/pwned\n".to_owned()];
        let script = UserData {
            docker_auth: Some("s3://b/k'; touch /tmp/pwned; echo '"),
            logging_drivers: Some(&drivers),
            ..bare()
        }
        .render();
        assert!(
            script.contains(r"aws s3 cp 's3://b/k'\''; touch /tmp/pwned; echo '\''' - |"),
            "{script}"
        );
        assert!(
            script.contains(
                r#"ECS_AVAILABLE_LOGGING_DRIVERS=["json-file\"]\nECS_CONFIG\ntouch /tmp/pwned\n"]"#
            ),
            "{script}"
        );
        assert_eq!(script.matches("\nECS_CONFIG\n").count(), 1, "{script}");
    }

    /// The reference's script was Amazon Linux 1 (Upstart jobs, `start ecs`, the awslogs agent
    /// and plain IMDS calls) on an AL2 AMI, where none of it ran (issue #24).
    #[test]
    fn nothing_of_amazon_linux_1_or_imdsv1_even_with_every_option() {
        let drivers = vec!["awslogs".to_owned()];
        let full = UserData {
            docker_auth: Some("s3://bucket/ecs.config"),
            logging_drivers: Some(&drivers),
            host_log_prefix: Some("/ecsops/acc/default"),
            ..bare()
        }
        .render();
        for al1 in [
            "/etc/init/",
            "start ecs",
            "chkconfig",
            "service awslogs",
            "yum ",
            "/etc/awslogs/",
            "169.254.169.254",
            "localhost:51678",
        ] {
            assert!(!full.contains(al1), "{al1:?} in\n{full}");
        }
        assert!(full.contains("dnf install -y amazon-cloudwatch-agent"));
        assert!(full.contains("systemctl enable --now rsyslog"));
    }

    /// The reference's six host log files existed on Amazon Linux 1; on AL2023 the kernel
    /// and dockerd log to the journal only, so rsyslog must write the two files the agent
    /// ships, before it starts.
    #[test]
    fn every_shipped_host_log_file_is_written_on_al2023() {
        let full = UserData { host_log_prefix: Some("/ecsops/acc/default"), ..bare() }.render();
        let rules = full.find("/etc/rsyslog.d/50-ecsops.conf").expect("an rsyslog rule file");
        let start = full.find("systemctl enable --now rsyslog").expect("rsyslog");
        assert!(rules < start, "{full}");
        assert!(full.contains("\nkern.* /var/log/dmesg\n"), "{full}");
        assert!(full.contains("\n:programname, isequal, \"dockerd\" /var/log/docker\n"), "{full}");
    }

    /// The ECS-optimized AL2023 AMI is built from the minimal AL2023 AMI, which has no AWS CLI
    /// (aws/amazon-ecs-ami installs none either): a bare `aws s3 cp` fails with "command not
    /// found" and the registry auth never reaches ecs.config, the reference's dead `ecs_config`
    /// path again.
    #[test]
    fn docker_auth_brings_the_aws_cli_it_copies_with() {
        let with_auth = UserData { docker_auth: Some("s3://bucket/ecs.config"), ..bare() }.render();
        let install = with_auth.find("dnf install -y awscli-2").expect("installs the AWS CLI");
        let copy = with_auth.find("aws s3 cp").expect("copies the object");
        assert!(install < copy, "{with_auth}");
        assert!(with_auth.contains("command -v aws"), "only when missing");
        let without = bare().render();
        assert!(!without.contains("awscli"), "{without}");
    }

    /// The script run by bash, with ecs.config in a temporary directory and an `aws` that
    /// prints a whole ecs.config of another cluster: the cluster stays ecsops's, the auth lines
    /// arrive, and the user's commands run as plain bash would run them.
    #[test]
    fn bash_runs_it_to_the_cluster_it_names_and_the_users_commands() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let aws = bin.join("aws");
        std::fs::write(
            &aws,
            "#!/bin/sh\nprintf 'ECS_CLUSTER=elsewhere\\n  ECS_CLUSTER=indented\\nECS_ENGINE_AUTH_TYPE=docker\\n'\n",
        )
        .expect("fake aws");
        std::fs::set_permissions(&aws, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let config = dir.path().join("ecs.config");
        let script = UserData {
            docker_auth: Some("s3://bucket/ecs.config"),
            custom: Some("echo \"home:${NOT_SET_ANYWHERE}\"\necho custom-ran\n"),
            ..bare()
        }
        .render()
        .replace("/etc/ecs/ecs.config", &config.to_string_lossy());
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("PATH", path)
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout.contains("home:\ncustom-ran"), "{stdout}");
        let written = std::fs::read_to_string(&config).expect("ecs.config");
        let clusters: Vec<&str> = written.lines().filter(|l| l.contains("ECS_CLUSTER=")).collect();
        assert_eq!(clusters, ["ECS_CLUSTER=acc-default"], "{written}");
        assert!(written.contains("ECS_ENGINE_AUTH_TYPE=docker"), "{written}");
    }
}
