//! `ecsops diff ENV`: the plan, as text, Markdown or JSON.

use clap::{Args, ValueEnum};
use ecsops_core::ops::{self, DiffOptions};
use ecsops_core::render;

use super::Context;
use crate::exit::Exit;
use crate::report::{self, CliError};
use crate::term;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan against the recorded state without reading the live resources from AWS (no
    /// credentials needed; drift goes unnoticed).
    #[arg(long)]
    offline: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

pub async fn run(ctx: &Context, args: &DiffArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let options = DiffOptions {
        state_url: ctx.state_url.clone(),
        offline: args.offline,
    };
    let outcome = ops::diff(&ws, &args.environment, &options).await?;
    report::diagnostics(&outcome.sources, &outcome.warnings);
    if outcome.aws_requests > 0 {
        anstream::eprintln!(
            "Read the live resources with {} AWS requests.",
            outcome.aws_requests
        );
    }
    let out = match args.format {
        Format::Text => render::text::render(&outcome.plan, term::stdout_color()),
        Format::Markdown => render::markdown::render(&outcome.plan),
        Format::Json => render::json::render(&outcome.plan),
    };
    anstream::print!("{out}");
    Ok(if args.detailed_exitcode && outcome.plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
