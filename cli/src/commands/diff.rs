//! `ecsops diff ENV`: the plan, as text, Markdown or JSON; with `--rev BASE`, the plan of what
//! the work tree changes since a git revision (every changed environment when ENV is left out),
//! offline, for pull-request review.

use clap::{Args, ValueEnum};
use ecsops_core::ops::{self, DiffOptions};
use ecsops_core::render::{self, Compared};

use super::{Context, FixBucket};
use crate::exit::Exit;
use crate::report::{self, CliError};
use crate::term;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The environment (a file stem in `environments/`); with `--rev` it may be left out to plan
    /// every environment whose manifests changed.
    #[arg(value_name = "ENV", required_unless_present = "rev")]
    environment: Option<String>,
    /// Plan the work tree's manifests against those at this git revision (a branch, tag or
    /// commit) instead of the state: no credentials, endpoint or state needed.
    #[arg(long, value_name = "REV", conflicts_with = "offline")]
    rev: Option<String>,
    /// Plan what promoting environment FROM's manifests to ENV would change (everything but
    /// ENV's identity: `[environment]`, `[state]`, network addresses); no state or AWS read.
    #[arg(long, value_name = "FROM", conflicts_with_all = ["rev", "offline"], requires = "environment")]
    from: Option<String>,
    /// Also save the plan to FILE, for `ecsops apply ENV --plan FILE` to apply exactly it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rev", "from"])]
    out: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan against the recorded state without reading the live resources from AWS (no
    /// credentials needed; drift goes unnoticed).
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    pub bucket: FixBucket,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

pub async fn run(ctx: &Context, args: &DiffArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    if let Some(rev) = &args.rev {
        let environments: Vec<String> = args.environment.iter().cloned().collect();
        let outcomes = ops::diff_revision(&ws, &environments, rev)?;
        for o in &outcomes {
            report::diagnostics(&o.sources, &o.warnings);
        }
        let plans: Vec<_> = outcomes.into_iter().map(|o| o.plan).collect();
        let out = match (args.format, args.environment.is_some()) {
            (Format::Markdown, false) => render::markdown::render_many(&plans, rev),
            (Format::Json, false) => render::json::render_many(&plans),
            (Format::Text, false) if plans.is_empty() => {
                format!("No environment's manifests differ from {rev}.\n")
            }
            (format, _) => plans
                .iter()
                .map(|p| render_one(format, p, Compared::Recorded))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        anstream::print!("{out}");
        let changes = plans.iter().any(ecsops_core::plan::Plan::has_changes);
        return Ok(exit(args.detailed_exitcode, changes));
    }
    let environment = args.environment.as_deref().unwrap_or_default();
    if let Some(from) = &args.from {
        let outcome = ops::diff_promotion(&ws, from, environment)?;
        report::diagnostics(&outcome.sources, &outcome.warnings);
        anstream::print!("{}", render_one(args.format, &outcome.plan, Compared::Recorded));
        return Ok(exit(args.detailed_exitcode, outcome.plan.has_changes()));
    }
    ctx.check_state(environment).await?;
    let options = DiffOptions {
        state_url: ctx.state_url.clone(),
        offline: args.offline,
        save: args.out.is_some(),
    };
    let outcome = ops::diff(&ws, environment, &options).await?;
    report::diagnostics(&outcome.sources, &outcome.warnings);
    if outcome.aws_requests > 0 {
        anstream::eprintln!("Read the live resources with {} AWS requests.", outcome.aws_requests);
    }
    let compared = if args.offline { Compared::Recorded } else { Compared::Live };
    anstream::print!("{}", render_one(args.format, &outcome.plan, compared));
    if let (Some(path), Some(saved)) = (&args.out, &outcome.saved) {
        std::fs::write(path, saved.to_json())
            .map_err(|e| CliError::Io(format!("cannot write `{}`: {e}", path.display())))?;
        anstream::eprintln!(
            "Saved the plan to {}; `ecsops apply {environment} --plan {}` applies exactly it.",
            path.display(),
            path.display()
        );
    }
    Ok(exit(args.detailed_exitcode, outcome.plan.has_changes()))
}

fn render_one(format: Format, plan: &ecsops_core::plan::Plan, compared: Compared) -> String {
    match format {
        Format::Text => render::text::render(plan, term::stdout_color(), compared),
        Format::Markdown => render::markdown::render(plan, compared),
        Format::Json => render::json::render(plan),
    }
}

fn exit(detailed: bool, changes: bool) -> Exit {
    if detailed && changes { Exit::Changes } else { Exit::Success }
}
