//! CloudWatch log groups: the instances' own logs (one group per host log).

use super::Builder;
use crate::graph::Address;
use crate::graph::attrs::{self, Desired};
use crate::graph::user_data::HOST_LOGS;

pub(super) fn log_group(b: &mut Builder<'_>, address: Address, name: String) -> Address {
    let group = attrs::LogGroup::<Desired> {
        name: name.into(),
        retention_in_days: b.manifest.logging.retention_days.into(),
        tags: b.tags(None),
    };
    b.add(address, &group, [])
}

pub(super) fn host_log_groups(b: &mut Builder<'_>) -> Vec<Address> {
    if !b.manifest.logging.host_logs {
        return Vec::new();
    }
    HOST_LOGS
        .iter()
        .map(|(key, suffix, _)| {
            let name = format!("{}{suffix}", b.log_prefix);
            log_group(b, Address::keyed("log_group.host", key), name)
        })
        .collect()
}
