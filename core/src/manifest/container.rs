//! One view over the two container tables. Services and system containers declare the same
//! container keys (image, size, secrets, logging, task identity), each in its own struct
//! because `serde(flatten)` cannot be combined with `deny_unknown_fields`; the graph and the
//! rules read those keys through [`Container`], so the two tables cannot be treated apart.

use std::collections::BTreeMap;

use super::types::{ContainerLogging, Manifest, Service, SystemContainer};

/// The keys a service and a system container share, with the table and name that declare it.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    /// `services` or `system_containers`: the table that declares the container.
    pub section: &'static str,
    pub name: &'a str,
    pub image: Option<&'a str>,
    pub cpu: u32,
    pub memory: u32,
    pub instance_group: Option<&'a str>,
    pub command: Option<&'a [String]>,
    pub environment: &'a BTreeMap<String, String>,
    pub secrets: &'a BTreeMap<String, String>,
    pub logging: Option<&'a ContainerLogging>,
    pub registry_credentials: Option<&'a str>,
    pub secrets_kms_keys: &'a [String],
    pub task_policies: &'a [String],
    pub task_role_arn: Option<&'a str>,
    pub execute_command: bool,
}

impl<'a> Container<'a> {
    /// Every reference the execution role reads for the container: its secrets, its log
    /// driver's secret options, then its registry credentials.
    pub fn references(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        (self.secrets.values().map(String::as_str))
            .chain(self.log_secrets().values().map(String::as_str))
            .chain(self.registry_credentials)
    }

    /// The log driver's secret options, by option name (none without a `logging` driver).
    pub fn log_secrets(&self) -> &'a BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        self.logging.map_or(&NONE, |l| &l.secret_options)
    }

    /// Whether ecsops creates and owns a task role: asked for policies, or ECS Exec without a
    /// role of the user's own (the exec channels need a task role).
    pub fn owns_role(&self) -> bool {
        self.task_role_arn.is_none() && (!self.task_policies.is_empty() || self.execute_command)
    }
}

/// Both tables hold the shared keys under the same names.
macro_rules! container_view {
    ($($table:ty => $section:literal),*) => {$(
        impl $table {
            /// This entry, declared under `name`, as a [`Container`].
            pub fn container<'a>(&'a self, name: &'a str) -> Container<'a> {
                Container {
                    section: $section,
                    name,
                    image: self.image.as_deref(),
                    cpu: self.cpu,
                    memory: self.memory,
                    instance_group: self.instance_group.as_deref(),
                    command: self.command.as_deref(),
                    environment: &self.environment,
                    secrets: &self.secrets,
                    logging: self.logging.as_ref(),
                    registry_credentials: self.registry_credentials.as_deref(),
                    secrets_kms_keys: &self.secrets_kms_keys,
                    task_policies: &self.task_policies,
                    task_role_arn: self.task_role_arn.as_deref(),
                    execute_command: self.execute_command,
                }
            }
        }
    )*};
}
container_view!(Service => "services", SystemContainer => "system_containers");

impl Manifest {
    /// Every service's and system container's [`Container`], services first, each table in
    /// name order.
    pub fn containers(&self) -> impl Iterator<Item = Container<'_>> {
        let services = self.services.iter().map(|(n, s)| s.container(n));
        let system = self.system_containers.iter().map(|(n, s)| s.container(n));
        services.chain(system)
    }
}
