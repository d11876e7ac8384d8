//! `ecsops roll ENV`: replaces outdated container instances, batch by batch, without disrupting
//! tasks. Shows the plan, confirms like apply, then a line per step on stderr (on a terminal,
//! waits update one live line) and a closing report (text, or the JSON document with
//! `--format json`). The roll itself is `ops::roll::roll`.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use clap::Args;
use ecsops_core::ops::apply::Answer;
use ecsops_core::ops::roll::{Ended, RollInteraction, RollPlan, RollRequest, Step};
use ecsops_core::render::roll as render;
use ecsops_core::state::LockInfo;

use super::apply::{ask, interrupted};
use super::state::LockTimeout;
use super::{Context, FixBucket, Format, FormatArg, parse_positive, poll_interval};
use crate::exit::Exit;
use crate::report::{self, CliError};

#[derive(Debug, Args)]
pub struct RollArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    /// Only this instance group (`[instance_groups.NAME]`).
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    /// Instances replaced at once (capacity grows by this much during the roll).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    batch: u16,
    /// Show which instances would be replaced, and how, then stop.
    #[arg(long)]
    dry_run: bool,
    /// Roll without asking for confirmation (for CI).
    #[arg(long)]
    auto_approve: bool,
    /// How long each wait may take (a new instance to be ACTIVE, an old one to drain), such
    /// as `10m`.
    #[arg(long, value_name = "DURATION", env = "ECSOPS_ROLL_WAIT_TIMEOUT", default_value = "10m", value_parser = parse_positive)]
    wait_timeout: Duration,
    #[command(flatten)]
    format: FormatArg,
    #[command(flatten)]
    lock: LockTimeout,
    #[command(flatten)]
    pub bucket: FixBucket,
}

pub async fn run(ctx: &Context, args: &RollArgs) -> Result<Exit, CliError> {
    let env = &args.environment;
    let ws = ctx.workspace()?;
    ctx.check_state(env).await?;
    let request = RollRequest {
        state_url: ctx.state_url.clone(),
        group: args.group.clone(),
        batch: usize::from(args.batch),
        dry_run: args.dry_run,
        auto_approve: args.auto_approve,
        lock_timeout: args.lock.timeout,
        wait_timeout: args.wait_timeout,
        poll: poll_interval()?,
    };
    let mut ui = Terminal {
        json: args.format.format == Format::Json,
        live: std::io::stderr().is_terminal(),
        lock_wait: report::LockWait::default(),
        last_wait: None,
    };
    let report =
        Box::pin(ecsops_core::ops::roll::roll(&ws, env, &request, &mut ui, interrupted())).await?;
    ui.clear();
    if ui.json {
        anstream::print!("{}", render::json(&report));
    } else {
        anstream::print!("{}", render::report(&report));
    }
    if let Some(stopped) = &report.stopped {
        anstream::eprintln!("error: {stopped}");
        anstream::eprintln!("help: {}", stopped.help(env));
    }
    if let Some(left) = &report.lock_left {
        report::lock_left(env, left);
    }
    Ok(match report.ended {
        Ended::NothingToDo | Ended::DryRun | Ended::Done => Exit::Success,
        Ended::Cancelled | Ended::Interrupted | Ended::Stopped => Exit::Error,
    })
}

/// The terminal side of a roll.
struct Terminal {
    json: bool,
    /// stderr is a terminal: waits update one line in place.
    live: bool,
    lock_wait: report::LockWait,
    /// The last wait printed as a line of its own, and when: without a terminal a wait is
    /// printed when it starts and then every half minute, not at every poll.
    last_wait: Option<(String, Instant)>,
}

/// How often an unchanged wait is printed again without a terminal.
const REPEAT: Duration = Duration::from_secs(30);

impl Terminal {
    fn clear(&self) {
        if self.live {
            let _ = write!(anstream::stderr(), "\r\x1b[K");
        }
    }
}

impl RollInteraction for Terminal {
    fn waiting_for_lock(&mut self, holder: &LockInfo, left: Duration) {
        self.lock_wait.tick(holder, left);
    }

    fn planned(&mut self, plan: &RollPlan) {
        // With `--format json` stdout is the report's alone; the plan still shows, on stderr.
        if self.json {
            anstream::eprint!("{}", render::plan(plan));
        } else {
            anstream::print!("{}", render::plan(plan));
        }
    }

    fn confirm(&mut self, plan: &RollPlan) -> Answer {
        if !std::io::stdin().is_terminal() {
            let reason = "stdin is not a terminal; pass `--auto-approve` to roll unattended";
            return Box::pin(std::future::ready(Err(reason.to_owned())));
        }
        let env = &plan.environment;
        let question = if plan.answer == *env {
            format!("\n`{env}` is protected. Type its name to replace these instances: ")
        } else {
            format!("\nReplace these instances of `{env}`? Only `yes` confirms: ")
        };
        ask(&question, plan.answer.clone())
    }

    fn step(&mut self, step: &Step) {
        let line = render::step(step);
        let mut err = anstream::stderr().lock();
        if let Step::Waiting { waiting, .. } = step {
            if self.live {
                let _ = write!(err, "\r\x1b[K{line}");
                let _ = err.flush();
                return;
            }
            let what = waiting.to_string();
            let repeat =
                self.last_wait.as_ref().is_none_or(|(w, at)| *w != what || at.elapsed() >= REPEAT);
            if repeat {
                let _ = writeln!(err, "{line}");
                self.last_wait = Some((what, Instant::now()));
            }
            return;
        }
        self.last_wait = None;
        if self.live {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "{line}");
    }
}
