//! The `ecsops` command: parses arguments, calls one `ecsops_core::ops` function per command,
//! presents the result and maps it to an exit status. Everything else lives in `ecsops-core`.

mod commands;
mod exit;
mod report;
mod term;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

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
    /// Where the state is, overriding the manifest's `[state]`: `s3://bucket/prefix` or
    /// `file://path`.
    #[arg(long, global = true, env = "ECSOPS_STATE_URL", value_name = "URL")]
    state_url: Option<String>,
    /// Colour: `auto` (on a terminal, unless `NO_COLOR` is set or `CLICOLOR_FORCE` forces
    /// it), `always` or `never`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = term::ColorChoice::Auto)]
    color: term::ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check manifests against the schema and the semantic rules.
    Validate(commands::validate::ValidateArgs),
    /// Show what an apply would change.
    Diff(commands::diff::DiffArgs),
    /// Make AWS match the manifest: show the plan, confirm, apply.
    Apply(commands::apply::ApplyArgs),
    /// Remove every resource of an environment, dependents first.
    Destroy(commands::apply::DestroyArgs),
    /// Make AWS match the manifests of an earlier revision, read from git; tag the result.
    Rollback(commands::apply::RollbackArgs),
    /// The revisions applied to an environment, newest first (from its git tags and state).
    History(commands::history::HistoryArgs),
    /// Set the image a service or system container runs, in the environment's own manifest.
    SetImage(commands::images::SetImageArgs),
    /// Copy the images one environment runs into another's manifest.
    Promote(commands::images::PromoteArgs),
    /// Inspect or replace the recorded state.
    #[command(subcommand)]
    State(commands::state::StateCommand),
    /// Show who holds an environment's lock: exit 0 unlocked, 2 held, 1 on error.
    Lock(commands::lock::LockArgs),
    /// Remove a lock, given its id (after making sure its holder is gone).
    Unlock(commands::lock::UnlockArgs),
    /// Values recorded by the last apply (load balancer DNS names, cluster name, alerts topic),
    /// read from the state without calling AWS.
    Output(commands::output::OutputArgs),
    /// What runs now: services and system containers (revision, counts, rollout, images),
    /// instance groups (instances, and which are outdated), the lock holder, the last apply.
    Status(commands::status::StatusArgs),
    /// Service events and stopped tasks with why they stopped (exit codes, reasons, log
    /// streams), oldest first; `--follow` prints what is new until Ctrl-C.
    Events(commands::events::EventsArgs),
    /// Replace container instances that run an outdated launch template, instance type or AMI,
    /// a batch at a time without disrupting tasks; resumable (progress is read from AWS).
    Roll(commands::roll::RollArgs),
    /// Make a new workspace: manifests, the schema they name, and `.gitignore`.
    ///
    /// `environments/base.toml` and one file per environment extending it (production
    /// protected), `schemas/manifest.schema.json`, and `.ecsops/` in `.gitignore`.
    Init(commands::init::InitArgs),
    /// Print the manifest JSON Schema of this ecsops, or write it into the workspace.
    Schema(commands::schema::SchemaArgs),
    /// Print a shell completion script.
    ///
    /// bash: `ecsops completions bash > ~/.local/share/bash-completion/completions/ecsops`
    ///
    /// zsh: `ecsops completions zsh > ~/.zfunc/_ecsops`, with `~/.zfunc` in `fpath`
    ///
    /// fish: `ecsops completions fish > ~/.config/fish/completions/ecsops.fish`
    Completions(commands::shell::CompletionsArgs),
    /// Print the man page (roff), or write one page per command.
    ///
    /// `ecsops man --dir ~/.local/share/man/man1`, then `man ecsops` and `man ecsops-apply`.
    Man(commands::shell::ManArgs),
}

impl Command {
    /// `--fix-bucket`, which only the commands that use the state offer.
    fn fix_bucket(&self) -> bool {
        let flag = match self {
            Self::Diff(a) => a.bucket,
            Self::Apply(a) => a.flags.bucket,
            Self::Destroy(a) => a.flags.bucket,
            Self::Rollback(a) => a.flags.bucket,
            Self::State(c) => c.bucket(),
            Self::Lock(a) => a.bucket,
            Self::Unlock(a) => a.bucket,
            Self::Output(a) => a.bucket,
            Self::Status(a) => a.bucket,
            Self::Events(a) => a.bucket,
            Self::Roll(a) => a.bucket,
            Self::Validate(_)
            | Self::History(_)
            | Self::SetImage(_)
            | Self::Promote(_)
            | Self::Init(_)
            | Self::Schema(_)
            | Self::Completions(_)
            | Self::Man(_) => {
                return false;
            }
        };
        flag.on
    }

    /// Whether the command plans, and so offers `--offline` when AWS cannot be read.
    fn plans(&self) -> bool {
        matches!(self, Self::Diff(_) | Self::Apply(_) | Self::Destroy(_) | Self::Rollback(_))
    }
}

/// Prints what clap answered. `--help` and `--version` are answers (exit 0); anything else is a
/// usage error and exits 1 like every error: clap's own 2 would read as "changes present" to a
/// CI job running `diff --detailed-exitcode`.
fn usage(e: &clap::Error) -> ExitCode {
    // Nothing sensible is left to do when the terminal is gone.
    let _ = e.print();
    if e.use_stderr() { Exit::Error.into() } else { Exit::Success.into() }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    term::init_color(cli.color);
    term::init_tracing(cli.verbose);
    let ctx = commands::Context::new(cli.directory, cli.state_url, cli.command.fix_bucket());
    let plans = cli.command.plans();
    // One runtime for the whole process; commands that need no I/O simply do not use it.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report::error(
                &report::CliError::Io(format!("cannot start the async runtime: {e}")),
                false,
            );
            return Exit::Error.into();
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Validate(args) => commands::validate::run(&ctx, &args),
            Command::Diff(args) => commands::diff::run(&ctx, &args).await,
            Command::Apply(args) => Box::pin(commands::apply::run(&ctx, &args)).await,
            Command::Destroy(args) => Box::pin(commands::apply::destroy(&ctx, &args)).await,
            Command::Rollback(args) => Box::pin(commands::apply::rollback(&ctx, &args)).await,
            Command::History(args) => commands::history::run(&ctx, &args).await,
            Command::SetImage(args) => commands::images::run_set_image(&ctx, &args),
            Command::Promote(args) => commands::images::run_promote(&ctx, &args),
            Command::State(cmd) => commands::state::run(&ctx, cmd).await,
            Command::Lock(args) => commands::lock::run_lock(&ctx, &args).await,
            Command::Unlock(args) => commands::lock::run_unlock(&ctx, &args).await,
            Command::Output(args) => commands::output::run(&ctx, &args).await,
            Command::Status(args) => commands::status::run(&ctx, &args).await,
            Command::Events(args) => commands::events::run(&ctx, &args).await,
            Command::Roll(args) => Box::pin(commands::roll::run(&ctx, &args)).await,
            Command::Init(args) => commands::init::run(&ctx, &args),
            Command::Schema(args) => commands::schema::run(&ctx, &args),
            Command::Completions(args) => commands::shell::completions(Cli::command(), &args),
            Command::Man(args) => commands::shell::man(Cli::command(), &args),
        }
    });
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            report::error(&err, plans);
            Exit::Error.into()
        }
    }
}
