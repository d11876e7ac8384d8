//! `ecsops validate [ENV...]`.

use clap::Args;
use ecsops_core::render::reports;

use super::{Context, Format, FormatArg};
use crate::exit::Exit;
use crate::report::{self, CliError};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environments to check; all of them when none is named.
    #[arg(value_name = "ENV")]
    environments: Vec<String>,
    #[command(flatten)]
    format: FormatArg,
}

pub fn run(ctx: &Context, args: &ValidateArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let report = ecsops_core::ops::validate(&ws, &args.environments)?;
    let exit = if report.is_valid() { Exit::Success } else { Exit::Error };
    if args.format.format == Format::Json {
        anstream::print!(
            "{}",
            reports::validation(&report.environments, &report.sources, &report.diagnostics)
        );
        return Ok(exit);
    }
    report::diagnostics(&report.sources, &report.diagnostics);
    if report.is_valid() {
        anstream::println!(
            "{} valid: {}",
            plural(report.environments.len(), "environment"),
            report.environments.join(", ")
        );
    } else {
        report::summary(report.diagnostics.error_count());
    }
    Ok(exit)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
