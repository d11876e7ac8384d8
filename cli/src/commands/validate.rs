//! `ecsops validate [ENV...]`.

use clap::Args;

use super::Context;
use crate::exit::Exit;
use crate::report::{self, CliError};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environments to check; all of them when none is named.
    #[arg(value_name = "ENV")]
    environments: Vec<String>,
}

pub fn run(ctx: &Context, args: &ValidateArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let report = ecsops_core::ops::validate(&ws, &args.environments)?;
    report::diagnostics(&report.sources, &report.diagnostics);
    if report.is_valid() {
        anstream::println!(
            "{} valid: {}",
            plural(report.environments.len(), "environment"),
            report.environments.join(", ")
        );
        Ok(Exit::Success)
    } else {
        report::summary(report.diagnostics.error_count());
        Ok(Exit::Error)
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
