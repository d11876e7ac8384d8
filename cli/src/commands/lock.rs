//! `ecsops lock ENV` (who holds it) and `ecsops unlock ENV LOCK_ID`.

use clap::Args;
use ecsops_core::ops::state as ops;
use ecsops_core::render::reports;

use super::{Context, FixBucket, Format, FormatArg};
use crate::exit::Exit;
use crate::report::{self, CliError};

/// Exit status: 0 when unlocked, 2 when someone holds the lock, 1 on error.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The environment whose state lock to show (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    pub bucket: FixBucket,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The environment whose state lock to remove (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// The lock id `ecsops lock ENV` shows.
    #[arg(value_name = "LOCK_ID")]
    id: String,
    #[command(flatten)]
    pub bucket: FixBucket,
}

pub async fn run_lock(ctx: &Context, args: &LockArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&args.environment).await?;
    let holder = ops::lock_holder(&target).await?;
    let exit = if holder.is_some() { Exit::Locked } else { Exit::Success };
    if args.format.format == Format::Json {
        let location = target.describe();
        anstream::print!("{}", reports::lock(&args.environment, &location, holder.as_ref()));
        return Ok(exit);
    }
    match holder {
        None => {
            anstream::println!("`{}` is unlocked (state: {})", args.environment, target.describe());
        }
        Some(holder) => {
            anstream::println!("`{}` is locked (state: {})", args.environment, target.describe());
            anstream::print!("{}", report::lock_fields(&holder));
        }
    }
    Ok(exit)
}

pub async fn run_unlock(ctx: &Context, args: &UnlockArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&args.environment).await?;
    ops::unlock(&target, &args.id).await?;
    anstream::println!("released lock {} of `{}`", args.id, args.environment);
    Ok(Exit::Success)
}
