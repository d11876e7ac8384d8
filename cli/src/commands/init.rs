//! `ecsops init [DIR] [--env NAME...] [--force]`.

use std::path::PathBuf;

use clap::Args;

use super::Context;
use crate::exit::Exit;
use crate::report::CliError;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to make the workspace (created if missing), relative to `-C DIR` when given;
    /// default: the current directory.
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// An environment to make, extending `base.toml` (repeat it for more); default: acceptance
    /// and production. `production` and `prod` are protected.
    #[arg(long = "env", value_name = "NAME")]
    environments: Vec<String>,
    /// Overwrite the files of an existing workspace.
    #[arg(long)]
    force: bool,
}

pub fn run(ctx: &Context, args: &InitArgs) -> Result<Exit, CliError> {
    let cwd = std::env::current_dir().map_err(|e| CliError::Io(e.to_string()))?;
    // `DIR` is relative to `-C`, as if ecsops had been started there.
    let base = ctx.directory().map_or_else(|| cwd.clone(), |d| cwd.join(d));
    let dir = args.dir.as_deref().map_or_else(|| base.clone(), |d| base.join(d));
    let made = ecsops_core::ops::init::init(&dir, &args.environments, args.force)?;
    anstream::println!(
        "made a workspace with {} in `{}`:",
        made.environments.join(", "),
        made.dir.display()
    );
    for file in &made.written {
        anstream::println!("  {}", file.display());
    }
    anstream::println!("next:");
    if dir != cwd {
        anstream::println!("  cd {}", dir.display());
    }
    anstream::println!(
        "  edit environments/base.toml: the region, its zones, the service and its image"
    );
    anstream::println!("  ecsops validate");
    anstream::println!("  ecsops diff {}", made.environments[0]);
    if !made.in_repository {
        anstream::println!("  git init");
    }
    anstream::println!("  git add environments schemas .gitignore && git commit");
    anstream::println!(
        "shell completions and the manual: `ecsops completions --help`, `ecsops man`"
    );
    Ok(Exit::Success)
}
