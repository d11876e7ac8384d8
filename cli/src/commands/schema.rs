//! `ecsops schema [--write]`.

use clap::Args;

use super::Context;
use crate::exit::Exit;
use crate::report::CliError;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write it to the workspace's `schemas/manifest.schema.json` (which the manifests'
    /// `#:schema` lines point editors at) instead of printing it.
    #[arg(long)]
    write: bool,
}

pub fn run(ctx: &Context, args: &SchemaArgs) -> Result<Exit, CliError> {
    if !args.write {
        anstream::print!("{}", ecsops_core::schema::generate());
        return Ok(Exit::Success);
    }
    let ws = ctx.workspace()?;
    let written = ecsops_core::ops::schema::write_schema(&ws)?;
    let id = ecsops_core::schema::id();
    if written.changed {
        anstream::println!("wrote `{}` ({id})", written.path.display());
    } else {
        anstream::println!("`{}` is up to date ({id})", written.path.display());
    }
    Ok(Exit::Success)
}
