//! Exit statuses, in one place: 0 success or no changes, 1 error, 2 changes present (with
//! `--detailed-exitcode`), as Terraform does; `ecsops lock` exits 2 when the lock is held;
//! `apply` and `rollback` exit 3 when every step was done but a rollout did not complete (a
//! pipeline can tell "the deploy is unhealthy" from "the apply broke"); `destroy` starts no
//! rollout to wait for.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Error,
    Changes,
    /// `ecsops lock`: someone holds the lock.
    Locked,
    /// Every step was applied but a rollout failed or timed out.
    RolloutFailed,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Error => ExitCode::from(1),
            Exit::Changes | Exit::Locked => ExitCode::from(2),
            Exit::RolloutFailed => ExitCode::from(3),
        }
    }
}
