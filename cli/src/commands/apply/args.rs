//! The arguments of `apply`, `destroy` and `rollback`: what the three share, and the rollout
//! wait that destroy (which starts no rollout) does not offer.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ecsops_core::rollout::WaitOptions;

use super::super::state::LockTimeout;
use super::super::{FixBucket, FormatArg, parse_positive, poll_interval};
use crate::report::CliError;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    pub(super) environment: String,
    /// Apply exactly the plan `ecsops diff ENV --out FILE` saved; refused when the state, the
    /// manifests or the commit changed since.
    #[arg(long, value_name = "FILE", conflicts_with = "offline")]
    pub(super) plan: Option<PathBuf>,
    /// Apply without asking for confirmation (for CI).
    #[arg(long)]
    pub(super) auto_approve: bool,
    #[command(flatten)]
    pub flags: ApplyFlags,
    #[command(flatten)]
    pub(super) wait: WaitFlags,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    pub(super) environment: String,
    /// Destroy without asking to type the environment's name (for CI).
    #[arg(long)]
    pub(super) auto_approve: bool,
    #[command(flatten)]
    pub flags: ApplyFlags,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    pub(super) environment: String,
    /// The revision to go back to: a tag (`ecsops/ENV/7`), a serial (`7`) or a commit.
    #[arg(long, value_name = "REV")]
    pub(super) to: String,
    /// Roll back without asking for confirmation (for CI).
    #[arg(long)]
    pub(super) auto_approve: bool,
    #[command(flatten)]
    pub flags: ApplyFlags,
    #[command(flatten)]
    pub(super) wait: WaitFlags,
}

/// What apply, destroy and rollback share.
#[derive(Debug, Args)]
pub struct ApplyFlags {
    /// Resources changed at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(super) parallelism: u16,
    /// After a failure, keep applying what does not depend on the failed resource.
    #[arg(long)]
    pub(super) continue_on_error: bool,
    /// Plan against the recorded state without reading the live resources first.
    #[arg(long)]
    pub(super) offline: bool,
    #[command(flatten)]
    pub(super) format: FormatArg,
    #[command(flatten)]
    pub(super) lock: LockTimeout,
    #[command(flatten)]
    pub bucket: FixBucket,
}

/// The rollout wait of apply and rollback: destroy starts no rollout, so it offers none.
#[derive(Debug, Args)]
pub struct WaitFlags {
    /// How long to wait for the rollouts of the services and system containers the apply
    /// created or changed, such as `20s` or `10m`; a rollout still going then fails the apply
    /// (exit 3, no tag).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_positive)]
    pub(super) wait_timeout: Duration,
    /// Do not wait for rollouts; old task definition revisions are then kept, not retired
    /// (nothing says the services moved off them).
    #[arg(long, conflicts_with = "wait_timeout")]
    pub(super) no_wait: bool,
}

impl WaitFlags {
    /// The wait asked for, or none with `--no-wait`.
    pub(super) fn options(&self) -> Result<Option<WaitOptions>, CliError> {
        if self.no_wait {
            return Ok(None);
        }
        Ok(Some(WaitOptions { timeout: self.wait_timeout, poll: poll_interval()? }))
    }
}
