//! `ecsops status ENV`: what runs now (services, system containers, instance groups with their
//! outdated instances), who holds the lock and what was applied last. Reads AWS and the state;
//! changes nothing and takes no lock.

use clap::Args;
use ecsops_core::ops::status as ops;
use ecsops_core::render::status as render;

use super::{Context, FixBucket, Format, FormatArg};
use crate::exit::Exit;
use crate::report::CliError;
use crate::term;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    pub bucket: FixBucket,
}

pub async fn run(ctx: &Context, args: &StatusArgs) -> Result<Exit, CliError> {
    let env = &args.environment;
    ctx.check_state(env).await?;
    let ws = ctx.workspace()?;
    let status = ops::status(&ws, env, ctx.state_url.as_deref()).await?;
    match args.format.format {
        Format::Json => anstream::print!("{}", render::json(&status)),
        Format::Text => anstream::print!("{}", render::text(&status, term::stdout_color())),
    }
    tracing::info!(requests = status.aws_requests, "status read AWS");
    Ok(Exit::Success)
}
