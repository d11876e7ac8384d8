//! One module per command: its `XxxArgs` and a `run` that calls `ecsops_core::ops`.

pub mod apply;
pub mod diff;
pub mod history;
pub mod images;
pub mod init;
pub mod lock;
pub mod output;
pub mod roll;
pub mod schema;
pub mod shell;
pub mod state;
pub mod status;
pub mod validate;

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ecsops_core::workspace::Workspace;

use crate::report::CliError;

/// How a reporting command prints: text for people, JSON for tools (`docs/json-output.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// `--format`, on every command that reports.
#[derive(Debug, Clone, Copy, Args)]
pub struct FormatArg {
    /// Output format: `text` for people, `json` for tools (versioned, see
    /// `docs/json-output.md`).
    #[arg(long = "format", value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--fix-bucket`, only on the commands that use the state.
#[derive(Debug, Clone, Copy, Args)]
pub struct FixBucket {
    /// Turn on versioning, default encryption and public access blocking on the S3 state
    /// bucket where they are off (otherwise ecsops only reports them).
    #[arg(long = "fix-bucket")]
    pub on: bool,
}

/// What every command needs: where the workspace is.
pub struct Context {
    directory: Option<PathBuf>,
    /// `--state-url` / `ECSOPS_STATE_URL`.
    pub state_url: Option<String>,
    /// `--fix-bucket`.
    fix_bucket: bool,
}

impl Context {
    pub fn new(directory: Option<PathBuf>, state_url: Option<String>, fix_bucket: bool) -> Self {
        Self {
            directory,
            state_url,
            fix_bucket,
        }
    }

    /// The environment's state backend.
    pub async fn target(
        &self,
        environment: &str,
    ) -> Result<ecsops_core::ops::state::Target, CliError> {
        let ws = self.workspace()?;
        let target =
            ecsops_core::ops::state::target(&ws, environment, self.state_url.as_deref()).await?;
        if let Some(check) = ecsops_core::ops::state::check_bucket(&target, self.fix_bucket).await?
        {
            crate::report::bucket_check(&check);
        }
        Ok(target)
    }

    /// Before planning against the state: a missing S3 bucket is an error naming it, and the
    /// bucket's hygiene is reported on first use, as the state commands do.
    pub async fn check_state(&self, environment: &str) -> Result<(), CliError> {
        self.target(environment).await.map(drop)
    }

    /// `-C DIR`, when given.
    pub fn directory(&self) -> Option<&std::path::Path> {
        self.directory.as_deref()
    }

    pub fn workspace(&self) -> Result<Workspace, CliError> {
        let cwd = std::env::current_dir().map_err(|e| CliError::Io(e.to_string()))?;
        Ok(Workspace::discover(self.directory.as_deref(), &cwd)?)
    }
}
