//! The `ecsops` command: parses arguments, calls one `ecsops_core::ops` function per command,
//! presents the result and maps it to an exit status. Everything else lives in `ecsops-core`.

mod commands;
mod exit;
mod report;
mod term;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;

/// GitOps for production AWS ECS infrastructure from TOML manifests.
#[derive(Debug, Parser)]
#[command(name = "ecsops", version, about, propagate_version = true)]
struct Cli {
    /// Workspace root (the directory holding `environments/`); default: search upward.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    /// More output: `-v` for progress, `-vv` for debug tracing.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check manifests against the schema and the semantic rules.
    Validate(commands::validate::ValidateArgs),
    /// Show what an apply would change.
    Diff(commands::diff::DiffArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    term::init_tracing(cli.verbose);
    let ctx = commands::Context::new(cli.directory);
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(&ctx, &args),
        Command::Diff(args) => commands::diff::run(&ctx, &args),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            report::error(&err);
            Exit::Error.into()
        }
    }
}
