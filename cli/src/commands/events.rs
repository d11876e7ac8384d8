//! `ecsops events ENV`: service events and stopped tasks with why they stopped, oldest first;
//! `--follow` polls until Ctrl-C and prints only what is new. Reads AWS and the state; changes
//! nothing and takes no lock.

use std::io::Write as _;
use std::time::Duration;

use clap::Args;
use ecsops_core::events::Seen;
use ecsops_core::ops::events as ops;
use ecsops_core::render::events as render;

use super::{Context, FixBucket, Format, FormatArg, parse_duration, poll_interval};
use crate::exit::Exit;
use crate::report::CliError;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// Only what happened in this last stretch, such as `30m`, `1h` or `2d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
    /// Only this service or system container (its name in the manifest).
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Keep reading (every 5 seconds) and print what is new, until Ctrl-C; with
    /// `--format json`, one JSON object per line.
    #[arg(long)]
    follow: bool,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    pub bucket: FixBucket,
}

pub async fn run(ctx: &Context, args: &EventsArgs) -> Result<Exit, CliError> {
    let env = &args.environment;
    let interval = args.follow.then(poll_interval).transpose()?;
    ctx.check_state(env).await?;
    let ws = ctx.workspace()?;
    let reader =
        ops::open(&ws, env, ctx.state_url.as_deref(), args.service.as_deref(), args.since).await?;
    // Nothing applied, nothing to read or wait for (following would print nothing for ever).
    if !reader.recorded() {
        match args.format.format {
            Format::Json => anstream::print!("{}", render::json(env, &[])),
            Format::Text => anstream::print!("{}", render::nothing_recorded(env, reader.serial())),
        }
        return Ok(Exit::Success);
    }
    if let Some(interval) = interval {
        // Until the first event comes, this line is all that says the command is working.
        anstream::eprintln!("Following `{env}`: new events every {interval:?}, until Ctrl-C.");
        return follow(&reader, args.format.format, interval).await;
    }
    let entries = reader.read().await?;
    match args.format.format {
        Format::Json => anstream::print!("{}", render::json(env, &entries)),
        Format::Text => anstream::print!("{}", render::text(env, &entries)),
    }
    tracing::info!(requests = reader.aws_requests(), "events read AWS");
    Ok(Exit::Success)
}

/// Reads and prints what is new until the process is stopped.
async fn follow(
    reader: &ops::Reader,
    format: Format,
    interval: Duration,
) -> Result<Exit, CliError> {
    let mut seen = Seen::default();
    loop {
        for entry in seen.fresh(reader.read().await?) {
            match format {
                Format::Json => anstream::print!("{}", render::json_line(&entry)),
                Format::Text => anstream::print!("{}", render::entry(&entry)),
            }
        }
        // Whoever reads a pipe should see each entry as it comes, not when a buffer fills.
        let _ = std::io::stdout().flush();
        tokio::time::sleep(interval).await;
    }
}
