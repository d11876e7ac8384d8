//! `ecsops output ENV [NAME]`: the values an apply recorded (load balancer DNS names, the
//! cluster's name, the alerts topic), from the state alone: no AWS call, no credentials beyond
//! those of the state backend.

use clap::Args;
use ecsops_core::ops::state as ops;
use ecsops_core::render::reports;
use ecsops_core::state::outputs;
use serde_json::Value;

use super::{Context, FixBucket, Format, FormatArg};
use crate::exit::Exit;
use crate::report::{self, CliError};

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// One output, such as `load_balancer.default.dns_name`, printed alone (for scripts); all
    /// of them when left out.
    #[arg(value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    pub bucket: FixBucket,
}

pub async fn run(ctx: &Context, args: &OutputArgs) -> Result<Exit, CliError> {
    let env = &args.environment;
    let target = ctx.target(env).await?;
    let stored = ops::read(&target).await?;
    let state = stored.as_ref().map(|s| &s.state);
    let named = state.map(outputs::named).unwrap_or_default();
    let json = args.format.format == Format::Json;
    if let Some(name) = &args.name {
        let Some(value) = named.get(name) else {
            anstream::eprintln!("error: `{env}` has no output `{name}`");
            if state.is_none() {
                anstream::eprintln!(
                    "help: `{env}` has no state yet ({}); run `ecsops apply {env}` first",
                    target.describe()
                );
            } else {
                let close = report::closest_prefix(name, named.keys().map(String::as_str));
                anstream::eprintln!("help: {close}`ecsops output {env}` lists the outputs");
            }
            return Ok(Exit::Error);
        };
        match value {
            Value::String(s) if !json => anstream::println!("{s}"),
            other => {
                anstream::println!("{}", serde_json::to_string_pretty(other).unwrap_or_default());
            }
        }
        return Ok(Exit::Success);
    }
    let location = target.describe();
    if json {
        anstream::print!("{}", reports::outputs(env, &location, state, &named));
        return Ok(Exit::Success);
    }
    if named.is_empty() {
        match state {
            None => anstream::eprintln!(
                "`{env}` has no state yet ({location}); `ecsops apply {env}` records the outputs"
            ),
            Some(s) => anstream::eprintln!(
                "no outputs are recorded for `{env}` (serial {}, {location})",
                s.serial
            ),
        }
        return Ok(Exit::Success);
    }
    let width = named.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in &named {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        anstream::println!("{name:width$} = {shown}");
    }
    Ok(Exit::Success)
}
