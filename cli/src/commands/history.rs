//! `ecsops history ENV`: the applied revisions, newest first, as text or JSON.

use std::fmt::Write as _;

use clap::Args;
use ecsops_core::ops::history::{AppliedRevision, history};
use ecsops_core::render::reports;
use ecsops_core::state::Operation;

use super::{Context, Format, FormatArg};
use crate::exit::Exit;
use crate::report::CliError;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The environment (a file stem in `environments/`).
    #[arg(value_name = "ENV")]
    environment: String,
    #[command(flatten)]
    format: FormatArg,
}

pub async fn run(ctx: &Context, args: &HistoryArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let env = &args.environment;
    let found = history(&ws, env, ctx.state_url.as_deref()).await?;
    for w in &found.warnings {
        anstream::eprintln!("warning: {w}");
    }
    match args.format.format {
        Format::Json => anstream::print!("{}", reports::history(&found)),
        Format::Text if found.revisions.is_empty() => {
            anstream::println!(
                "No applied revisions of `{env}` yet: `ecsops apply {env}` from a committed work tree tags one."
            );
        }
        Format::Text => {
            for r in &found.revisions {
                anstream::print!("{}", entry(r));
            }
        }
    }
    Ok(Exit::Success)
}

/// One revision, git-log style: a heading line, then indented fields.
fn entry(r: &AppliedRevision) -> String {
    let mut out = format!("serial {}", r.serial);
    match &r.tag {
        Some(t) => _ = write!(out, "  {t}"),
        None => out.push_str("  (untagged)"),
    }
    if let Some(op) = r.operation.filter(|o| *o != Operation::Apply) {
        _ = write!(out, "  [{}]", op.as_str());
    }
    if r.current {
        out.push_str("  (current)");
    }
    out.push('\n');
    let mut field = |name: &str, value: &str| _ = writeln!(out, "  {name:<9}{value}");
    let mut commit = r.short_commit.clone();
    if let Some(subject) = &r.subject {
        _ = write!(commit, " {subject}");
    }
    if let Some(author) = &r.author {
        _ = write!(commit, " ({author})");
    }
    field("commit", &commit);
    if let Some(rb) = &r.rolled_back_to {
        field("rollback", &format!("to {}", rb.describe()));
    }
    match (&r.applied_at, &r.applied_by) {
        (Some(at), Some(by)) => field("applied", &format!("{at} by {by}")),
        (Some(at), None) => field("applied", at),
        _ => {}
    }
    if let Some(account) = &r.account {
        field("account", account);
    }
    if let Some(summary) = r.summary.as_ref().filter(|s| !s.is_empty()) {
        field("plan", summary);
    }
    for note in &r.notes {
        field("note", note);
    }
    out.push('\n');
    out
}
