//! `ecsops set-image ENV SERVICE=IMAGE...` and `ecsops promote FROM TO [SERVICE...]`: edit the
//! environment's manifest file, print what changed and the file's diff, optionally commit.

use clap::Args;
use ecsops_core::ops::images::{EditOptions, ImageUpdate, promote, set_image};
use ecsops_core::render::patch;

use super::Context;
use crate::exit::Exit;
use crate::report::CliError;
use crate::term;

#[derive(Debug, Args)]
pub struct SetImageArgs {
    /// The environment (a file stem in `environments/`); only its own file is edited.
    #[arg(value_name = "ENV")]
    environment: String,
    /// A service or system container and the image it should run, e.g.
    /// `web=public.ecr.aws/nginx/nginx:1.28-alpine`.
    #[arg(value_name = "SERVICE=IMAGE", required = true, value_parser = parse_request)]
    images: Vec<(String, String)>,
    #[command(flatten)]
    edit: EditArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose images (merged manifest) are copied.
    #[arg(value_name = "FROM")]
    from: String,
    /// The environment whose own file is edited.
    #[arg(value_name = "TO")]
    to: String,
    /// Services or system containers to promote; default: every one both run.
    #[arg(value_name = "SERVICE")]
    names: Vec<String>,
    #[command(flatten)]
    edit: EditArgs,
}

#[derive(Debug, Args)]
struct EditArgs {
    /// Commit the edited file (only it) with a message naming each service and image.
    #[arg(long, conflicts_with = "dry_run")]
    commit: bool,
    /// Print the diff only; write nothing.
    #[arg(long)]
    dry_run: bool,
}

impl EditArgs {
    fn options(&self) -> EditOptions {
        EditOptions { dry_run: self.dry_run, commit: self.commit }
    }
}

fn parse_request(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, image)) if !name.is_empty() && !image.is_empty() => {
            Ok((name.to_owned(), image.to_owned()))
        }
        _ => {
            Err(format!("expected `SERVICE=IMAGE`, for example `web=nginx:1.28-alpine`, not `{s}`"))
        }
    }
}

pub fn run_set_image(ctx: &Context, args: &SetImageArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let update = set_image(&ws, &args.environment, &args.images, args.edit.options())?;
    show(&update);
    Ok(Exit::Success)
}

pub fn run_promote(ctx: &Context, args: &PromoteArgs) -> Result<Exit, CliError> {
    let ws = ctx.workspace()?;
    let update = promote(&ws, &args.from, &args.to, &args.names, args.edit.options())?;
    show(&update);
    Ok(Exit::Success)
}

fn show(u: &ImageUpdate) {
    let env = &u.environment;
    if u.changes.is_empty() {
        match &u.source {
            Some(from) => anstream::println!(
                "Nothing to promote: `{env}` already runs the images `{from}` runs."
            ),
            None => anstream::println!("Nothing to change: `{env}` already runs these images."),
        }
        return;
    }
    for c in &u.changes {
        anstream::println!("{env}: {} {} → {}", c.name, c.from, c.to);
        if let Some(base) = &c.inherited_from {
            anstream::println!(
                "  override added: the image was inherited from {base}, which is unchanged"
            );
        }
    }
    anstream::println!();
    anstream::print!("{}", patch::unified(&u.file, &u.before, &u.after, term::stdout_color()));
    anstream::println!();
    if !u.also.is_empty() {
        let names: Vec<String> = u.also.iter().map(|e| format!("`{e}`")).collect();
        anstream::println!(
            "The edit changes {} too: {}; `ecsops diff ENV` shows each plan.",
            names.join(", "),
            ecsops_core::ops::images::extending(&u.also, &u.file)
        );
    }
    match (&u.commit, u.written) {
        (Some(c), _) => {
            anstream::println!("Wrote {} and committed it: {} {}", u.file, c.short(), c.subject);
        }
        (None, true) => anstream::println!(
            "Wrote {}; `ecsops diff {env}` shows the plan, `--commit` would have committed it.",
            u.file
        ),
        (None, false) => anstream::println!("Dry run: nothing was written."),
    }
}
