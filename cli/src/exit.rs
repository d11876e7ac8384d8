//! Exit statuses, in one place: 0 success or no changes, 1 error, 2 changes present (with
//! `--detailed-exitcode`), as Terraform does; `ecsops lock` exits 2 when the lock is held.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Error,
    Changes,
    /// `ecsops lock`: someone holds the lock.
    Locked,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Error => ExitCode::from(1),
            Exit::Changes | Exit::Locked => ExitCode::from(2),
        }
    }
}
