//! `ecsops apply ENV` and `ecsops destroy ENV`: the plan, a confirmation, then progress per
//! resource (a live status line on a terminal, plain lines otherwise) and a closing report of
//! what was done, what failed and what is left.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use clap::Args;
use ecsops_core::apply::{ApplyOptions, Event, Outcome};
use ecsops_core::ops::OpsError;
use ecsops_core::ops::apply::{ApplyRequest, Prepared, prepare};
use ecsops_core::plan::Action;
use ecsops_core::render;

use super::Context;
use super::state::LockTimeout;
use crate::exit::Exit;
use crate::report::{self, CliError};
use crate::term;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// Apply without asking (for CI).
    #[arg(long)]
    auto_approve: bool,
    /// Resources changed at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallelism: u16,
    /// After a failure, keep applying what does not depend on the failed resource.
    #[arg(long)]
    continue_on_error: bool,
    /// Plan against the recorded state without reading the live resources first.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    lock: LockTimeout,
}

pub async fn run(ctx: &Context, args: &ApplyArgs, destroy: bool) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let env = &args.environment;
    let request = ApplyRequest {
        state_url: ctx.state_url.clone(),
        offline: args.offline,
        destroy,
        lock_timeout: args.lock.timeout,
    };
    let prepared = prepare(&ws, env, &request, &mut report::lock_countdown).await?;
    report::diagnostics(&prepared.sources, &prepared.warnings);
    anstream::print!(
        "{}",
        render::text::render(&prepared.plan, term::stdout_color())
    );
    if !prepared.plan.has_changes() {
        prepared.abandon().await?;
        return Ok(Exit::Success);
    }
    if !args.auto_approve && !confirmed(env, destroy, &prepared)? {
        prepared.abandon().await?;
        anstream::eprintln!("{} cancelled; nothing was changed.", verb(destroy));
        return Ok(Exit::Error);
    }
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        continue_on_error: args.continue_on_error,
    };
    let total = prepared
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .count();
    let mut progress = Progress::new(total);
    let result = prepared
        .apply(options, interrupted(), &mut |e| progress.event(&e))
        .await;
    progress.clear();
    match result {
        Ok(outcome) => Ok(finish(env, destroy, &outcome)),
        Err(OpsError::SaveFailed(failed)) => {
            anstream::eprintln!("error: {failed}");
            match &failed.kept_at {
                Some(path) => anstream::eprintln!(
                    "help: the state that records what exists was written to {}; fix the backend, then run `ecsops state push {env} {}`",
                    path.display(),
                    path.display()
                ),
                None => anstream::eprintln!(
                    "help: the state could not be written anywhere; run `ecsops diff {env}` once the backend works: resources carry ownership tags and are adopted"
                ),
            }
            Ok(Exit::Error)
        }
        Err(e) => Err(e.into()),
    }
}

fn verb(destroy: bool) -> &'static str {
    if destroy { "Destroy" } else { "Apply" }
}

/// Asks on the terminal; without one, refuses (a pipe cannot confirm a production change).
fn confirmed(env: &str, destroy: bool, prepared: &Prepared) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Io(format!(
            "refusing to {} `{env}` without confirmation: stdin is not a terminal; pass `--auto-approve` to apply unattended",
            if destroy { "destroy" } else { "apply" }
        )));
    }
    let s = prepared.plan.summary;
    let (question, answer) = if destroy {
        (
            format!(
                "\nDestroy all {} resources of `{env}`? Type the environment name to confirm: ",
                s.delete
            ),
            env.to_owned(),
        )
    } else {
        (
            format!("\nApply these changes to `{env}`? Only `yes` confirms: "),
            "yes".to_owned(),
        )
    };
    anstream::eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Io(e.to_string()))?;
    Ok(line.trim() == answer)
}

/// Resolves at the first Ctrl-C or SIGTERM. Later ones are left to the handler, which only
/// repeats that the apply is finishing (killing it mid-call is what the state saves guard
/// against, but a clean stop loses nothing at all).
fn interrupted() -> impl std::future::Future<Output = ()> + Send {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let installed = ctrlc::set_handler(move || {
        if let Some(tx) = tx.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = tx.send(());
        } else {
            let _ = writeln!(
                std::io::stderr(),
                "\nstill finishing the running steps; their results are being saved"
            );
        }
    });
    if let Err(e) = installed {
        tracing::warn!(error = %e, "cannot catch Ctrl-C; an interrupt will stop the apply abruptly");
    }
    async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Per-resource lines; on a terminal also a status line (done/total and what runs now),
/// redrawn in place below them.
struct Progress {
    total: usize,
    finished: usize,
    running: Vec<String>,
    live: bool,
    color: bool,
    started: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            finished: 0,
            running: Vec::new(),
            live: std::io::stderr().is_terminal(),
            color: term::stderr_color(),
            started: Instant::now(),
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Started { address, action } => {
                self.running.push(address.to_string());
                self.line(&format!("{address}: {}...", ing(*action)));
            }
            Event::Finished {
                address,
                action,
                elapsed,
                adopted,
            } => {
                self.finished += 1;
                self.running.retain(|a| a != address.as_str());
                let adopted = if *adopted {
                    " (adopted an existing resource carrying its tags)"
                } else {
                    ""
                };
                self.line(&format!(
                    "{address}: {} after {:.1}s{adopted}",
                    ed(*action),
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed {
                address,
                action,
                error,
            } => {
                self.finished += 1;
                self.running.retain(|a| a != address.as_str());
                let text = format!("{address}: {} failed: {error}", action.as_str());
                let text = if self.color {
                    let red = anstyle::AnsiColor::Red.on_default().bold();
                    format!("{red}{text}{red:#}")
                } else {
                    text
                };
                self.line(&text);
            }
            Event::Saved { serial } => tracing::debug!(serial, "state saved"),
            Event::Interrupted => self.line(&format!(
                "Interrupted: starting nothing new; waiting for {} running step(s) to finish and be saved",
                self.running.len()
            )),
        }
    }

    fn line(&self, text: &str) {
        let mut err = anstream::stderr().lock();
        if self.live {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "{text}");
        if self.live {
            let mut now: Vec<&str> = self.running.iter().map(String::as_str).take(3).collect();
            if self.running.len() > 3 {
                now.push("...");
            }
            let _ = write!(
                err,
                "[{}/{}, {}s] {}",
                self.finished,
                self.total,
                self.started.elapsed().as_secs(),
                now.join(", ")
            );
            let _ = err.flush();
        }
    }

    fn clear(&self) {
        if self.live {
            let _ = write!(anstream::stderr(), "\r\x1b[K");
        }
    }
}

fn ing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "destroying",
        Action::NoOp => "checking",
    }
}

fn ed(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "destroyed",
        Action::NoOp => "unchanged",
    }
}

/// The closing report and the exit status.
fn finish(env: &str, destroy: bool, outcome: &Outcome) -> Exit {
    let count = |a: Action| outcome.done.iter().filter(|(_, x)| *x == a).count();
    let done = format!(
        "{} created, {} updated, {} replaced, {} destroyed",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Delete)
    );
    if outcome.succeeded() {
        anstream::println!("\n{} complete: {done}.", verb(destroy));
        return Exit::Success;
    }
    let why = if outcome.interrupted {
        "interrupted"
    } else {
        "stopped"
    };
    anstream::eprintln!("\n{} {why}: {done}.", verb(destroy));
    for f in &outcome.failed {
        anstream::eprintln!("error: {}", f.error);
    }
    if !outcome.not_started.is_empty() {
        anstream::eprintln!("Not started ({}):", outcome.not_started.len());
        for (address, action) in &outcome.not_started {
            anstream::eprintln!("  {address} ({})", action.as_str());
        }
    }
    let command = if destroy { "destroy" } else { "apply" };
    anstream::eprintln!(
        "help: everything finished is saved in the state (serial {}); fix the cause and run `ecsops {command} {env}` again to continue",
        outcome.state.serial
    );
    Exit::Error
}
