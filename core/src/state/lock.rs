//! The lock record: who holds an environment's state, since when, doing what. Written as JSON by
//! every backend; shown in full whenever a lock blocks someone, with the exact unlock command.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::account::Caller;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id (UUID v4); `ecsops unlock <env> <id>` needs it.
    pub id: String,
    /// The command holding the lock (`apply`, `state push`, ...).
    pub operation: String,
    /// `user@host`.
    pub who: String,
    /// RFC 3339, UTC.
    pub when: String,
    /// ecsops version of the holder.
    pub version: String,
    /// Git commit of the holder's workspace, when it is a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The AWS account the holder acts in, when it asked (an apply always does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The holder's caller ARN (a user, or an assumed role and its session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

impl LockInfo {
    /// A new lock record for `operation`, run from workspace `root`.
    pub fn new(operation: &str, root: &Path) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            who: who(),
            when: now(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: git_head(root),
            account: None,
            caller: None,
        }
    }

    /// The record of a holder acting as `caller`.
    #[must_use]
    pub fn running_as(self, caller: &Caller) -> Self {
        Self { account: Some(caller.account.clone()), caller: Some(caller.arn.clone()), ..self }
    }
}

/// The lock `id` may release: the holder's, and only when it is `id`.
pub(super) fn releasable(
    environment: &str,
    held: Option<LockInfo>,
    id: &str,
) -> Result<LockInfo, super::StateError> {
    let Some(held) = held else {
        return Err(super::StateError::NotLocked { environment: environment.to_owned() });
    };
    if held.id != id {
        return Err(super::StateError::WrongLockId {
            environment: environment.to_owned(),
            given: id.to_owned(),
            held: held.id,
        });
    }
    Ok(held)
}

/// The current time as RFC 3339 (seconds, UTC).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// `user@host` from the environment and the host name file, `unknown` where missing.
pub fn who() -> String {
    let user = user();
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{user}@{host}")
}

/// The user running ecsops: from the environment, else the password database's name of the
/// process's user (CI containers often set no `USER`), else `unknown`.
pub fn user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(passwd_name)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The `/etc/passwd` name of the user owning this process (Linux: the owner of `/proc/self`).
fn passwd_name() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid).then(|| name.to_owned())
        })
    }
    #[cfg(not(unix))]
    None
}

/// The commit `HEAD` points at, read from `.git` directly (no git process, no libgit2).
pub fn git_head(root: &Path) -> Option<String> {
    let git = root.ancestors().map(|d| d.join(".git")).find(|g| g.is_dir())?;
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref: ") else {
        return Some(head.to_owned());
    };
    if let Ok(id) = std::fs::read_to_string(git.join(reference)) {
        return Some(id.trim().to_owned());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(_, name)| *name == reference)
        .map(|(id, _)| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_the_account_and_caller_it_runs_as() {
        let info = LockInfo::new("apply", Path::new("/nonexistent")).running_as(&Caller {
            account: "222222222222".to_owned(),
            arn: "arn:aws:sts::222222222222:assumed-role/deployer/ecsops-acc-ci".to_owned(),
        });
        let json = serde_json::to_value(&info).expect("json");
        assert_eq!(json["account"], "222222222222");
        assert_eq!(json["caller"], "arn:aws:sts::222222222222:assumed-role/deployer/ecsops-acc-ci");
        let before: LockInfo = serde_json::from_value(serde_json::json!({
            "id": "x", "operation": "apply", "who": "a@b", "when": "t", "version": "0"
        }))
        .expect("a record written before accounts reads");
        assert_eq!((before.account, before.caller), (None, None));
    }
}
