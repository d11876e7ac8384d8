//! `ecsops state list|show|pull|push|history ENV`.

use std::time::Duration;

use clap::{Args, Subcommand};
use ecsops_core::graph::Address;
use ecsops_core::ops::state as ops;
use ecsops_core::state::{LockInfo, State};

use super::Context;
use crate::exit::Exit;
use crate::report::{self, CliError};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Addresses, kinds and ids of the recorded resources.
    List(EnvArg),
    /// One recorded resource in full.
    Show(ShowArgs),
    /// The raw state document, on stdout.
    Pull(EnvArg),
    /// Replace the state with a document (a backup or an edited pull), under the lock.
    Push(PushArgs),
    /// Kept versions of the state, newest first: serial, when, who, and the apply that wrote
    /// it (one per apply, and every push).
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(value_name = "ENV")]
    environment: String,
    /// Show at most this many versions.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, Args)]
pub struct EnvArg {
    #[arg(value_name = "ENV")]
    environment: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(value_name = "ENV")]
    environment: String,
    /// A resource address such as `vpc` or `service[web]`.
    #[arg(value_name = "ADDRESS")]
    address: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[arg(value_name = "ENV")]
    environment: String,
    /// The state document to write (`-` for stdin).
    #[arg(value_name = "FILE")]
    file: String,
    /// Write even if the document's lineage or serial does not follow the stored state (the
    /// stored lineage is kept and the serial moves past the stored one).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    lock: LockTimeout,
}

/// `--lock-timeout`: how long to wait for a held lock (0 = fail at once).
#[derive(Debug, Args)]
pub struct LockTimeout {
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like `30s` or `5m`"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(format!("`{s}`: use `s`, `m` or `ms`")),
    }
}

pub async fn run(ctx: &Context, cmd: StateCommand) -> Result<Exit, CliError> {
    match cmd {
        StateCommand::List(a) => {
            let target = ctx.target(&a.environment).await?;
            let Some(stored) = ops::read(&target).await? else {
                anstream::eprintln!(
                    "`{}` has no state yet ({})",
                    a.environment,
                    target.describe()
                );
                return Ok(Exit::Success);
            };
            let width = stored
                .state
                .resources
                .keys()
                .map(|a| a.as_str().len())
                .max()
                .unwrap_or(0);
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
        StateCommand::Show(a) => {
            let target = ctx.target(&a.environment).await?;
            let stored = ops::read(&target).await?;
            let address = Address::from(a.address.as_str());
            if let Some(r) = stored
                .as_ref()
                .and_then(|s| s.state.resources.get(&address))
            {
                let json = serde_json::to_string_pretty(r).unwrap_or_default();
                anstream::println!("# {address}\n{json}");
                Ok(Exit::Success)
            } else {
                anstream::eprintln!(
                    "error: `{address}` is not in the state of `{}`",
                    a.environment
                );
                anstream::eprintln!(
                    "help: `ecsops state list {}` shows the recorded addresses",
                    a.environment
                );
                Ok(Exit::Error)
            }
        }
        StateCommand::Pull(a) => {
            let target = ctx.target(&a.environment).await?;
            if let Some(stored) = ops::read(&target).await? {
                anstream::println!(
                    "{}",
                    serde_json::to_string_pretty(&stored.state).unwrap_or_default()
                );
                Ok(Exit::Success)
            } else {
                anstream::eprintln!(
                    "error: `{}` has no state yet ({})",
                    a.environment,
                    target.describe()
                );
                Ok(Exit::Error)
            }
        }
        StateCommand::Push(a) => push(ctx, a).await,
        StateCommand::History(a) => {
            let target = ctx.target(&a.environment).await?;
            let entries = ops::history(&target).await?;
            if entries.is_empty() {
                anstream::eprintln!(
                    "no kept versions of `{}` ({})",
                    a.environment,
                    target.describe()
                );
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
    }
}

async fn push(ctx: &Context, a: PushArgs) -> Result<Exit, CliError> {
    let text = if a.file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Io(format!("cannot read stdin: {e}")))?
    } else {
        std::fs::read_to_string(&a.file)
            .map_err(|e| CliError::Io(format!("cannot read `{}`: {e}", a.file)))?
    };
    let document: State = serde_json::from_str(&text)
        .map_err(|e| CliError::Io(format!("`{}` is not a state document: {e}", a.file)))?;
    let ws = ctx.workspace()?;
    let target = ctx.target(&a.environment).await?;
    let info = LockInfo::new("state push", ws.root());
    let mut wait = report::LockWait::default();
    ops::acquire(&target, &info, a.lock.timeout, &mut |h, left| {
        wait.tick(h, left);
    })
    .await?;
    let serial = ops::push(&target, document, a.force, &info).await?;
    anstream::println!(
        "wrote serial {serial} of `{}` to {}",
        a.environment,
        target.describe()
    );
    Ok(Exit::Success)
}
