//! `ecsops lock ENV` (who holds it) and `ecsops unlock ENV LOCK_ID`.

use clap::Args;
use ecsops_core::ops::state as ops;

use super::Context;
use crate::exit::Exit;
use crate::report::{self, CliError};

/// Exit status: 0 when unlocked, 2 when someone holds the lock, 1 on error.
#[derive(Debug, Args)]
pub struct LockArgs {
    #[arg(value_name = "ENV")]
    environment: String,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[arg(value_name = "ENV")]
    environment: String,
    /// The lock id `ecsops lock ENV` shows.
    #[arg(value_name = "LOCK_ID")]
    id: String,
}

pub async fn run_lock(ctx: &Context, args: &LockArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&args.environment).await?;
    match ops::lock_holder(&target).await? {
        None => {
            anstream::println!("`{}` is unlocked ({})", args.environment, target.describe());
            Ok(Exit::Success)
        }
        Some(holder) => {
            anstream::println!("`{}` is locked ({})", args.environment, target.describe());
            anstream::print!("{}", report::lock_fields(&holder));
            Ok(Exit::Locked)
        }
    }
}

pub async fn run_unlock(ctx: &Context, args: &UnlockArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&args.environment).await?;
    ops::unlock(&target, &args.id).await?;
    anstream::println!("released lock {} of `{}`", args.id, args.environment);
    Ok(Exit::Success)
}
