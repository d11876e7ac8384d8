//! `ecsops state list|show|pull|push|history ENV`.

use std::time::Duration;

use clap::{Args, Subcommand};
use ecsops_core::graph::Address;
use ecsops_core::ops::state as ops;
use ecsops_core::render::reports;
use ecsops_core::state::local::decode;
use ecsops_core::state::{LockInfo, StateError};

use super::{Context, FixBucket, Format, FormatArg};
use crate::exit::Exit;
use crate::report::{self, CliError};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Addresses, kinds and ids of the recorded resources.
    List(ListArgs),
    /// One recorded resource in full.
    Show(ShowArgs),
    /// The raw state document, on stdout.
    Pull(EnvArg),
    /// Replace the state with a document (a backup, a kept version or an edited pull), under
    /// the lock.
    Push(PushArgs),
    /// Kept versions of the state, newest first: serial, when, who, and the apply that wrote
    /// it (one per apply, and every push).
    History(HistoryArgs),
}

impl StateCommand {
    /// `--fix-bucket` of whichever subcommand it is.
    pub fn bucket(&self) -> FixBucket {
        match self {
            Self::List(a) => a.bucket,
            Self::Show(a) => a.bucket,
            Self::Pull(a) => a.bucket,
            Self::Push(a) => a.bucket,
            Self::History(a) => a.bucket,
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The environment whose kept state versions to list (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// Show at most this many versions (1 or more).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = parse_limit)]
    limit: usize,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    bucket: FixBucket,
}

/// `--limit`: a count of versions to show, at least one (`0` would list nothing).
fn parse_limit(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("at least 1 (`--limit 0` would list no version)".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The environment whose recorded resources to list (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    bucket: FixBucket,
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// The environment whose state to print (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    #[command(flatten)]
    bucket: FixBucket,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The environment whose state to read (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// A resource address such as `vpc` or `service[web]`.
    #[arg(value_name = "ADDRESS")]
    address: String,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    bucket: FixBucket,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The environment whose state to replace (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// The state document to write (`-` for stdin).
    #[arg(value_name = "FILE")]
    file: String,
    /// Write even if the document's lineage or serial does not follow the stored state (the
    /// document's lineage is written, as its resources' ownership tags carry it, and the serial
    /// moves past the stored one), or over a stored state that does not parse. A document of
    /// another environment is refused all the same.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    lock: LockTimeout,
    #[command(flatten)]
    bucket: FixBucket,
}

/// `--lock-timeout`, on every command that takes the lock.
#[derive(Debug, Args)]
pub struct LockTimeout {
    /// How long to wait while someone else holds the lock, such as `30s` or `5m` (`0s`: fail
    /// at once and say who holds it).
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = super::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(ctx: &Context, cmd: StateCommand) -> Result<Exit, CliError> {
    match cmd {
        StateCommand::List(a) => list(ctx, &a).await,
        StateCommand::Show(a) => show(ctx, &a).await,
        StateCommand::Pull(a) => {
            let target = ctx.target(&a.environment).await?;
            if let Some(stored) = ops::read(&target).await? {
                anstream::println!(
                    "{}",
                    serde_json::to_string_pretty(&stored.state).unwrap_or_default()
                );
                Ok(Exit::Success)
            } else {
                no_state(&a.environment, &target.describe());
                Ok(Exit::Error)
            }
        }
        StateCommand::Push(a) => push(ctx, a).await,
        StateCommand::History(a) => history(ctx, &a).await,
    }
}

/// The error of a command that needs the state of an environment that has none.
fn no_state(environment: &str, location: &str) {
    anstream::eprintln!("error: `{environment}` has no state yet ({location})");
    anstream::eprintln!(
        "help: `ecsops apply {environment}` creates it; `ecsops state push {environment} FILE` puts a kept version back (`ecsops state history {environment}` lists them)"
    );
}

async fn list(ctx: &Context, a: &ListArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&a.environment).await?;
    let stored = ops::read(&target).await?;
    let location = target.describe();
    if a.format.format == Format::Json {
        let state = stored.as_ref().map(|s| &s.state);
        anstream::print!("{}", reports::state_list(&a.environment, &location, state));
        return Ok(Exit::Success);
    }
    let Some(stored) = stored else {
        anstream::eprintln!("`{}` has no state yet ({location})", a.environment);
        return Ok(Exit::Success);
    };
    if stored.state.resources.is_empty() {
        anstream::eprintln!(
            "no resources are recorded for `{}` (serial {}, {location})",
            a.environment,
            stored.state.serial
        );
        return Ok(Exit::Success);
    }
    let width = stored.state.resources.keys().map(|a| a.as_str().len()).max().unwrap_or(0);
    for (address, r) in &stored.state.resources {
        anstream::println!(
            "{:width$}  {:26}  {}",
            address.as_str(),
            r.kind.as_str(),
            r.id.as_deref().unwrap_or("-")
        );
    }
    Ok(Exit::Success)
}

async fn show(ctx: &Context, a: &ShowArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&a.environment).await?;
    let Some(stored) = ops::read(&target).await? else {
        no_state(&a.environment, &target.describe());
        return Ok(Exit::Error);
    };
    let address = Address::from(a.address.as_str());
    let Some(r) = stored.state.resources.get(&address) else {
        anstream::eprintln!("error: `{address}` is not in the state of `{}`", a.environment);
        let recorded = stored.state.resources.keys().map(Address::as_str);
        let close = report::closest_prefix(&a.address, recorded);
        anstream::eprintln!(
            "help: {close}`ecsops state list {}` shows the recorded addresses",
            a.environment
        );
        return Ok(Exit::Error);
    };
    if a.format.format == Format::Json {
        let location = target.describe();
        anstream::print!(
            "{}",
            reports::state_show(&a.environment, &location, &stored.state, &address, r)
        );
    } else {
        let json = serde_json::to_string_pretty(r).unwrap_or_default();
        anstream::println!("# {address}\n{json}");
    }
    Ok(Exit::Success)
}

async fn history(ctx: &Context, a: &HistoryArgs) -> Result<Exit, CliError> {
    let target = ctx.target(&a.environment).await?;
    let entries = ops::history(&target).await?;
    if a.format.format == Format::Json {
        let location = target.describe();
        anstream::print!(
            "{}",
            reports::state_history(&a.environment, &location, &entries, a.limit)
        );
        return Ok(Exit::Success);
    }
    if entries.is_empty() {
        anstream::eprintln!("no kept versions of `{}` ({})", a.environment, target.describe());
    }
    for h in entries.iter().take(a.limit) {
        anstream::println!(
            "serial {:<6} {:<20} {:<30} {:<48} {}",
            h.serial,
            h.when.as_deref().unwrap_or("-"),
            h.who.as_deref().unwrap_or("-"),
            h.summary.as_deref().unwrap_or("state push"),
            h.version
        );
    }
    if entries.len() > a.limit {
        anstream::eprintln!(
            "… {} older version(s); `--limit {}` shows them",
            entries.len() - a.limit,
            entries.len()
        );
    }
    Ok(Exit::Success)
}

async fn push(ctx: &Context, a: PushArgs) -> Result<Exit, CliError> {
    let text = if a.file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Io(format!("cannot read stdin: {e}")))?
    } else {
        std::fs::read_to_string(&a.file)
            .map_err(|e| CliError::Io(format!("cannot read `{}`: {e}", a.file)))?
    };
    let document = decode(&a.environment, &a.file, text.as_bytes()).map_err(|e| match e {
        StateError::Corrupt { reason, .. } => {
            CliError::Io(format!("`{}` is not a state document: {reason}", a.file))
        }
        e => CliError::Ops(e.into()),
    })?;
    let ws = ctx.workspace()?;
    let target = ctx.target(&a.environment).await?;
    let info = LockInfo::new("state push", ws.root());
    let mut wait = report::LockWait::default();
    ops::acquire(&target, &info, a.lock.timeout, &mut |h, left| {
        wait.tick(h, left);
    })
    .await?;
    let pushed = ops::push(&target, document, a.force, &info).await?;
    anstream::println!(
        "wrote serial {} of `{}` to {}",
        pushed.serial,
        a.environment,
        target.describe()
    );
    if let Some(left) = &pushed.lock_left {
        report::lock_left(&a.environment, left);
    }
    Ok(Exit::Success)
}
