//! `ecsops completions SHELL` and `ecsops man`: generated from the clap definition, so they
//! always match the commands and flags of this binary.

use clap::Args;
use clap_complete::Shell;

use crate::exit::Exit;
use crate::report::CliError;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

pub fn completions(mut command: clap::Command, args: &CompletionsArgs) -> Result<Exit, CliError> {
    let name = command.get_name().to_owned();
    // Generated into memory: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    print(&script, "the completion script")
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write a page per command into this directory (`ecsops.1`, `ecsops-apply.1`, ...: the
    /// pages the top page's SUBCOMMANDS names) instead of printing the top page.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

pub fn man(command: clap::Command, args: &ManArgs) -> Result<Exit, CliError> {
    if let Some(dir) = &args.dir {
        clap_mangen::generate_to(command, dir).map_err(|e| {
            CliError::Io(format!("cannot write the man pages to {}: {e}", dir.display()))
        })?;
        return Ok(Exit::Success);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|e| CliError::Io(format!("cannot render the man page: {e}")))?;
    print(&page, "the man page")
}

fn print(bytes: &[u8], what: &str) -> Result<Exit, CliError> {
    use std::io::Write as _;
    std::io::stdout()
        .write_all(bytes)
        .map_err(|e| CliError::Io(format!("cannot print {what}: {e}")))?;
    Ok(Exit::Success)
}
