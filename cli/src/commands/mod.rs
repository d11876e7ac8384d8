//! One module per command: its `XxxArgs` and a `run` that calls `ecsops_core::ops`.

pub mod diff;
pub mod validate;

use std::path::PathBuf;

use ecsops_core::workspace::Workspace;

use crate::report::CliError;

/// What every command needs: where the workspace is.
pub struct Context {
    directory: Option<PathBuf>,
}

impl Context {
    pub fn new(directory: Option<PathBuf>) -> Self {
        Self { directory }
    }

    pub fn workspace(&self) -> Result<Workspace, CliError> {
        let cwd = std::env::current_dir().map_err(|e| CliError::Io(e.to_string()))?;
        Ok(Workspace::discover(self.directory.as_deref(), &cwd)?)
    }
}
