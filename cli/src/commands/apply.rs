//! `ecsops apply ENV`, `destroy ENV` and `rollback ENV --to REV`: the plan, a confirmation,
//! then progress per resource (a live status line on a terminal, plain lines otherwise) and a
//! closing report of what was done, what failed, what is left, and the tag the revision got;
//! then the rollout of each service it created or changed (a live line per service on a
//! terminal, a line per finished service otherwise) and, when one did not complete, which and
//! why. With `--format json` stdout carries only the report document and everything for people
//! goes to stderr. The workflow itself (lock, git checks, the wait, tagging) is
//! `ops::apply::run`; this is its terminal.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ecsops_core::apply::{ApplyOptions, Event, Part};
use ecsops_core::ops::OpsError;
use ecsops_core::ops::apply::{
    Answer, ApplyReport, ApplyRequest, Confirmation, Done, Interaction, Mode, Planned, Tagging,
};
use ecsops_core::plan::Action;
use ecsops_core::plan::saved::SavedPlan;
use ecsops_core::render;
use ecsops_core::render::apply_report::{self, Ended};
use ecsops_core::rollout::{self, Finish, Observed, RolloutResult, Tick, WaitOptions};
use ecsops_core::state::{LockInfo, Operation};

use super::{Context, Format};
use crate::exit::Exit;
use crate::report::{self, CliError};
use crate::term;

mod args;
mod outcome;
pub use args::{ApplyArgs, ApplyFlags, DestroyArgs, RollbackArgs};
use outcome::report_outcome;

pub async fn run(ctx: &Context, args: &ApplyArgs) -> Result<Exit, CliError> {
    let (env, mode) = (&args.environment, Mode::Apply);
    let plan = args.plan.as_deref();
    let wait = args.wait.options()?;
    Box::pin(walk(ctx, env, mode, args.auto_approve, &args.flags, wait, plan)).await
}

/// The saved plan at `path`, when it is one this ecsops applies.
fn read_saved(path: &Path) -> Result<Box<SavedPlan>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Io(format!("cannot read `{}`: {e}", path.display())))?;
    let saved = SavedPlan::parse(&text)
        .map_err(|source| OpsError::SavedPlan { path: path.display().to_string(), source })?;
    Ok(Box::new(saved))
}

pub async fn destroy(ctx: &Context, args: &DestroyArgs) -> Result<Exit, CliError> {
    let (env, mode) = (&args.environment, Mode::Destroy);
    Box::pin(walk(ctx, env, mode, args.auto_approve, &args.flags, None, None)).await
}

pub async fn rollback(ctx: &Context, args: &RollbackArgs) -> Result<Exit, CliError> {
    let env = &args.environment;
    let mode = Mode::Rollback { to: args.to.clone() };
    let wait = args.wait.options()?;
    Box::pin(walk(ctx, env, mode, args.auto_approve, &args.flags, wait, None)).await
}

async fn walk(
    ctx: &Context,
    env: &str,
    mode: Mode,
    auto_approve: bool,
    flags: &ApplyFlags,
    wait: Option<WaitOptions>,
    plan: Option<&Path>,
) -> Result<Exit, CliError> {
    let operation = mode.operation();
    let json = flags.format.format == Format::Json;
    // Stdout is one document however the command ends: the block's errors too.
    let result: Result<Exit, CliError> = Box::pin(async {
        let saved = plan.map(read_saved).transpose()?;
        let ws = ctx.workspace()?;
        ctx.check_state(env).await?;
        let rerun = match &mode {
            Mode::Apply => format!("ecsops apply {env}"),
            Mode::Destroy => format!("ecsops destroy {env}"),
            Mode::Rollback { to } => format!("ecsops rollback {env} --to {to}"),
        };
        let request = ApplyRequest {
            mode,
            state_url: ctx.state_url.clone(),
            offline: flags.offline,
            lock_timeout: flags.lock.timeout,
            auto_approve,
            options: ApplyOptions {
                parallelism: usize::from(flags.parallelism),
                continue_on_error: flags.continue_on_error,
            },
            wait,
            saved,
        };
        // Installed before the lock is taken: Ctrl-C at the prompt cancels and releases it.
        let interrupt = interrupted();
        let mut ui = Terminal {
            json,
            // Without a wait there is no rollout line to show it in.
            wait_timeout: wait.map(|w| w.timeout).unwrap_or_default(),
            progress: None,
            lock_wait: report::LockWait::default(),
            asked: None,
            compared: if flags.offline {
                render::Compared::Recorded
            } else {
                render::Compared::Live
            },
        };
        let report = Box::pin(ecsops_core::ops::apply::run(
            &ws, env, &request, &mut ui, interrupt,
        ))
        .await;
        if let Some(p) = &ui.progress {
            p.clear();
        }
        let verb = verb(operation);
        if json {
            let ended = match &report {
                Ok(ApplyReport::NoChanges) => Some(Ended::NoChanges),
                Ok(ApplyReport::Cancelled) => Some(Ended::Cancelled),
                Ok(ApplyReport::Interrupted) => Some(Ended::Interrupted),
                Ok(ApplyReport::Done(done)) => Some(Ended::Done(done)),
                Err(OpsError::SaveFailed(failed)) => {
                    let text = failed.to_string();
                    print!(
                        "{}",
                        apply_report::json(env, operation, Ended::SaveFailed(&failed.outcome, &text))
                    );
                    None
                }
                // Printed by the caller.
                Err(_) => None,
            };
            if let Some(ended) = ended {
                print!("{}", apply_report::json(env, operation, ended));
            }
        }
        match report {
            Ok(ApplyReport::NoChanges) => Ok(Exit::Success),
            Ok(ApplyReport::Cancelled) => {
                match &ui.asked {
                    Some(answer) => anstream::eprintln!(
                        "{verb} cancelled: only `{answer}` confirms; nothing was changed."
                    ),
                    None => anstream::eprintln!("{verb} cancelled; nothing was changed."),
                }
                Ok(Exit::Error)
            }
            Ok(ApplyReport::Interrupted) => {
                anstream::eprintln!("\n{verb} interrupted before it started; nothing was changed.");
                Ok(Exit::Error)
            }
            Ok(ApplyReport::Done(done)) => Ok(finish(env, operation, &done, &rerun, json)),
            Err(OpsError::SaveFailed(failed)) => {
                report_outcome(operation, &failed.outcome, [&[], &[]], &rerun, json, false);
                anstream::eprintln!("error: {failed}");
                let unlock = failed.lock_left.as_ref().map_or_else(String::new, |id| {
                    format!(" (releasing the lock failed too: if the push says `{env}` is locked, run `ecsops unlock {env} {id}` first)")
                });
                match &failed.kept_at {
                    Some(path) => anstream::eprintln!(
                        "help: the state that records what exists was written to {}; fix the backend, then run `ecsops state push {env} {}`{unlock}",
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
    })
    .await;
    if json && let Err(e) = &result {
        // Stdout is one document however the command ends; the error itself is rendered on
        // stderr as usual.
        let (text, left) = match e {
            CliError::Ops(e) => (
                e.to_string(),
                match e {
                    OpsError::LockLeft { left, .. } => Some(left),
                    _ => None,
                },
            ),
            CliError::Io(e) => (e.clone(), None),
        };
        print!("{}", apply_report::json(env, operation, Ended::Error(&text, left)));
    }
    result
}

fn verb(operation: Operation) -> &'static str {
    match operation {
        Operation::Apply => "Apply",
        Operation::Destroy => "Destroy",
        Operation::Rollback => "Rollback",
    }
}

/// The terminal side of the workflow.
struct Terminal {
    /// Stdout carries the JSON report: everything else goes to stderr.
    json: bool,
    wait_timeout: Duration,
    progress: Option<Progress>,
    lock_wait: report::LockWait,
    /// The answer the confirmation asked for, to say so when another one cancels.
    asked: Option<String>,
    compared: render::Compared,
}

impl Interaction for Terminal {
    fn waiting_for_lock(&mut self, holder: &LockInfo, left: Duration) {
        self.lock_wait.tick(holder, left);
    }

    fn planned(&mut self, planned: &Planned<'_>) {
        use std::fmt::Write as _;
        report::diagnostics(planned.sources, planned.warnings);
        if let Some(target) = planned.rollback {
            say(
                self.json,
                format_args!(
                    "Rolling back to {}: {} ({})\n",
                    target.describe(),
                    target.commit.subject,
                    target.commit.author
                ),
            );
        }
        let color = if self.json { term::stderr_color() } else { term::stdout_color() };
        let mut plan = render::text::render(planned.plan, color, self.compared);
        if !planned.held.is_empty() {
            let _ = writeln!(
                plan,
                "\nHeld until the rollouts complete ({}): the old revisions' tasks use them until then",
                planned.held.len()
            );
            for (address, action) in &planned.held {
                let how = match action {
                    Action::Update => "update: widened to the old and new grants first",
                    _ => action.as_str(),
                };
                let _ = writeln!(plan, "  {address} ({how})");
            }
        }
        if self.json {
            anstream::eprint!("{plan}");
        } else {
            anstream::print!("{plan}");
        }
        self.progress = Some(Progress::new(planned.steps, self.wait_timeout));
    }

    fn confirm(&mut self, c: &Confirmation) -> Answer {
        let env = &c.environment;
        if !std::io::stdin().is_terminal() {
            let reason = format!(
                "stdin is not a terminal; pass `--auto-approve` to {} unattended",
                c.operation.as_str()
            );
            return Box::pin(std::future::ready(Err(reason)));
        }
        let question = match c.operation {
            Operation::Destroy => format!(
                "\nDestroy all {} resources of `{env}`? Type the environment name to confirm: ",
                c.summary.delete
            ),
            _ if c.protected => format!(
                "\n`{env}` is protected. Type its name to {} these changes: ",
                c.operation.as_str()
            ),
            _ => format!(
                "\n{} these changes to `{env}`? Only `{}` confirms: ",
                verb(c.operation),
                c.answer
            ),
        };
        self.asked = Some(c.answer.clone());
        ask(&question, c.answer.clone())
    }

    fn event(&mut self, event: Event) {
        if let Some(p) = &mut self.progress {
            p.event(&event);
        }
    }
}

/// Prints `question` and answers whether the next line of stdin is `expected`.
pub(super) fn ask(question: &str, expected: String) -> Answer {
    anstream::eprint!("{question}");
    let _ = std::io::stderr().flush();
    // A thread of its own, not the runtime's blocking pool: an interrupt answers instead,
    // and the process must not wait for a read that never ends.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map(|_| line.trim() == expected)
            .map_err(|e| format!("cannot read the answer: {e}"));
        let _ = tx.send(read);
    });
    Box::pin(async move { rx.await.unwrap_or_else(|_| Err("the answer was lost".to_owned())) })
}

/// Resolves at the first Ctrl-C or SIGTERM. Later ones are left to the handler, which only
/// repeats that the apply is finishing (killing it mid-call is what the state saves guard
/// against, but a clean stop loses nothing at all).
pub(super) fn interrupted() -> impl std::future::Future<Output = ()> + Send {
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

/// A line for people: on stdout, or on stderr when stdout carries the JSON report.
fn say(json: bool, text: impl std::fmt::Display) {
    if json {
        anstream::eprintln!("{text}");
    } else {
        anstream::println!("{text}");
    }
}

/// Per-resource lines; on a terminal also a status line (done/total and what runs now, or the
/// services still rolling out), redrawn in place below them.
struct Progress {
    total: usize,
    finished: usize,
    running: Vec<String>,
    live: bool,
    color: bool,
    started: Instant,
    wait_timeout: Duration,
    /// The rollout wait began: when, and the live line of the services still rolling out.
    rollout: Option<(Instant, String)>,
}

impl Progress {
    fn new(total: usize, wait_timeout: Duration) -> Self {
        Self {
            total,
            finished: 0,
            running: Vec::new(),
            live: std::io::stderr().is_terminal(),
            color: term::stderr_color(),
            started: Instant::now(),
            wait_timeout,
            rollout: None,
        }
    }

    fn rollout(&mut self, tick: &Tick) {
        if self.rollout.is_none() {
            self.rollout = Some((Instant::now(), String::new()));
            self.line(&format!(
                "Waiting for the rollouts (up to {}; `--no-wait` skips this)...",
                rollout::duration(self.wait_timeout)
            ));
        }
        match tick {
            Tick::Waiting(services) => {
                let now: Vec<String> = services
                    .iter()
                    .map(|p| format!("{} {}", p.service, counts(&p.observed)))
                    .collect();
                if let Some((_, line)) = &mut self.rollout {
                    *line = now.join(" | ");
                }
                self.redraw();
            }
            Tick::Finished(r) => {
                let text = match &r.reason {
                    None => format!(
                        "{}: rollout of {} completed after {}s ({} running)",
                        r.address, r.task_definition, r.seconds, r.running
                    ),
                    Some(reason) => format!(
                        "{}: rollout of {} did not complete: {reason} ({})",
                        r.address,
                        r.task_definition,
                        result_counts(r)
                    ),
                };
                let text = if r.completed() || !self.color {
                    text
                } else {
                    let red = anstyle::AnsiColor::Red.on_default().bold();
                    format!("{red}{text}{red:#}")
                };
                self.line(&text);
            }
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Started {
                address,
                action,
                part,
            } => {
                self.running.push(address.to_string());
                self.line(&format!("{address}: {}...", ing(*action, *part)));
            }
            Event::Finished {
                address,
                action,
                part,
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
                    ed(*action, *part),
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed {
                address,
                action,
                part,
                error,
            } => {
                self.finished += 1;
                self.running.retain(|a| a != address.as_str());
                let what = match part {
                    Part::Retire => "retiring old revisions",
                    Part::Park { .. } | Part::Widen => ing(*action, *part),
                    _ => action.as_str(),
                };
                let text = format!("{address}: {what} failed: {error}");
                let text = if self.color {
                    let red = anstyle::AnsiColor::Red.on_default().bold();
                    format!("{red}{text}{red:#}")
                } else {
                    text
                };
                self.line(&text);
            }
            Event::Saved { serial } => tracing::debug!(serial, "state saved"),
            Event::SaveFailed { error } => self.line(&format!(
                "Saving the state failed: {error}; starting nothing new, waiting for {} running step(s)",
                self.running.len()
            )),
            Event::Interrupted => self.line(&format!(
                "Interrupted: starting nothing new; waiting for {} running step(s) to finish and be saved",
                self.running.len()
            )),
            Event::Rollout(tick) => self.rollout(tick),
        }
    }

    fn line(&self, text: &str) {
        let mut err = anstream::stderr().lock();
        if self.live {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "{text}");
        drop(err);
        self.redraw();
    }

    /// The status line under the progress lines, on a terminal.
    fn redraw(&self) {
        if !self.live {
            return;
        }
        let mut err = anstream::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        if let Some((since, services)) = &self.rollout {
            if !services.is_empty() {
                let _ = write!(err, "[rolling out, {}s] {services}", since.elapsed().as_secs());
            }
        } else {
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
        }
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.live {
            let _ = write!(anstream::stderr(), "\r\x1b[K");
        }
    }
}

/// `1/2 running, 1 pending, 2 failed tasks`: a service's counts while it rolls out.
fn counts(o: &Observed) -> String {
    tally(o.running, o.desired, o.pending, o.failed_tasks())
}

fn result_counts(r: &RolloutResult) -> String {
    use std::fmt::Write as _;
    let mut text = tally(r.running, r.desired, r.pending, r.failed_tasks);
    if let Some(state) = &r.rollout_state {
        let _ = write!(text, "; rollout {state}");
        if let Some(reason) = &r.rollout_state_reason {
            let _ = write!(text, ": {reason}");
        }
    }
    text
}

fn tally(running: i32, desired: i32, pending: i32, failed: i32) -> String {
    use std::fmt::Write as _;
    let mut text = format!("{running}/{desired} running");
    if pending > 0 {
        let _ = write!(text, ", {pending} pending");
    }
    if failed > 0 {
        let _ = write!(text, ", {failed} failed tasks");
    }
    text
}

fn ing(action: Action, part: Part) -> &'static str {
    match action {
        _ if part == Part::Retire => "retiring revisions beyond the ones kept",
        _ if matches!(part, Part::Park { .. }) => "moving aside to a free priority",
        _ if part == Part::Widen => {
            "widening to the old and new grants until the rollouts complete"
        }
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Revise => "registering a new revision",
        Action::Delete => "destroying",
        Action::NoOp => "checking",
    }
}

fn ed(action: Action, part: Part) -> &'static str {
    match action {
        _ if part == Part::Retire => "retired revisions beyond the ones kept",
        _ if matches!(part, Part::Park { .. }) => "moved aside to a free priority",
        _ if part == Part::Widen => "widened to the old and new grants",
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Revise => "registered a new revision",
        Action::Delete => "destroyed",
        Action::NoOp => "unchanged",
    }
}

/// The closing report and the exit status.
fn finish(env: &str, operation: Operation, done: &Done, rerun: &str, json: bool) -> Exit {
    let outcome = &done.outcome;
    let untouched = [&done.forgotten[..], &done.recorded[..]];
    report_outcome(operation, outcome, untouched, rerun, json, true);
    let unfinished: Vec<&RolloutResult> = done.rollouts.iter().filter(|r| !r.completed()).collect();
    for r in &unfinished {
        anstream::eprintln!(
            "error: the rollout of `{}` ({}) did not complete: {} ({})",
            r.service,
            r.task_definition,
            r.reason.as_deref().unwrap_or_default(),
            result_counts(r)
        );
        explanation(r);
    }
    if !unfinished.is_empty() {
        // A wait stopped by Ctrl-C has no cause to fix: the next run finishes the apply.
        let next = if unfinished.iter().all(|r| r.result == Finish::Interrupted) {
            format!(
                "`{rerun}` finishes the apply: it waits for the rollouts, then records and tags it"
            )
        } else {
            format!(
                "`ecsops status {env}` shows what runs now; fix the cause (the image, the container's command or health check, capacity), then run `{rerun}` again"
            )
        };
        anstream::eprintln!(
            "help: the state is saved (serial {}){}; no tag was made. {next}",
            outcome.state.serial,
            if done.lock_left.is_none() { " and the lock released" } else { "" }
        );
    }
    if !outcome.after_rollout.is_empty() {
        anstream::eprintln!(
            "Held until the rollouts complete ({}): the old revisions' tasks may still use them; `{rerun}` makes these changes once the services run the new ones",
            outcome.after_rollout.len()
        );
        for (address, action) in &outcome.after_rollout {
            anstream::eprintln!("  {address} ({})", action.as_str());
        }
    }
    match &done.tagging {
        Tagging::Tagged { name, commit } => {
            say(json, format_args!("Tagged {name} on {}.", ecsops_core::gitops::short(commit)));
        }
        Tagging::Dirty => anstream::eprintln!(
            "warning: not tagged: `{env}` was applied from uncommitted files (recorded as dirty in the state)"
        ),
        Tagging::NoRepository => anstream::eprintln!(
            "warning: not tagged: the workspace is not in a git repository (or has no commit), so nothing records which revision was applied"
        ),
        Tagging::Unfinished => {}
        Tagging::Exists { name } => {
            anstream::eprintln!(
                "warning: not tagged: tag `{name}` was made while this apply ran (by hand, or by an apply of `{env}` with another state in this repository), after the apply chose serial {} above every existing tag; tags are never moved",
                outcome.state.serial
            );
            anstream::eprintln!(
                "help: `git show {name}` says who made it; this apply is recorded in the state all the same (`ecsops history {env}` lists it as untagged), and the next apply is tagged above `{name}`"
            );
        }
        Tagging::Failed(reason) => anstream::eprintln!("warning: not tagged: {reason}"),
    }
    if let Some(left) = &done.lock_left {
        report::lock_left(env, left);
    }
    for (group, n) in &done.outdated {
        say(
            json,
            format_args!(
                "hint: {n} instance(s) of instance group `{group}` still run the previous launch template; replace them with `ecsops roll {env}` (`--dry-run` lists them)"
            ),
        );
    }
    if let Some((target, files)) = &done.rollback
        && outcome.succeeded()
    {
        say(
            json,
            format_args!(
                "\nThe work tree still holds the change that was rolled back: the next `ecsops apply {env}` would apply it again."
            ),
        );
        say(json, "To make git match what is applied now, restore the files and commit:");
        say(
            json,
            format_args!(
                "  git restore --source={} --staged --worktree -- {}",
                target.commit.short(),
                files.join(" ")
            ),
        );
        say(json, format_args!("  git commit -m \"Roll back {env} to {}\"", target.describe()));
        if files.len() > 1 {
            say(
                json,
                "(the base files are shared: check the other environments that extend them with `ecsops diff`)",
            );
        }
    }
    if done.succeeded() {
        Exit::Success
    } else if outcome.succeeded() && unfinished.iter().all(|r| r.result != Finish::Interrupted) {
        Exit::RolloutFailed
    } else {
        Exit::Error
    }
}

/// Why a rollout did not complete, as ECS tells it: the service's last events and the new
/// revision's stopped tasks (exit codes, reasons, log streams), or why they could not be read.
fn explanation(r: &RolloutResult) {
    if !r.explainable() {
        return;
    }
    let d = &r.details;
    match &d.unreadable {
        Some(error) => anstream::eprintln!(
            "  (its service events and stopped tasks could not be read: {error}; `ecsops events` shows them)"
        ),
        None => anstream::eprint!(
            "{}",
            render::events::history(&d.events, &d.stopped_tasks, rollout::LAST_EVENTS)
        ),
    }
}
