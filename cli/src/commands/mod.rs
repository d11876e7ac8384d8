//! One module per command: its `XxxArgs` and a `run` that calls `ecsops_core::ops`.

pub mod apply;
pub mod diff;
pub mod events;
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
use std::time::Duration;

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

/// How often a command that waits reads AWS again: the rollout wait of `apply`, `roll`,
/// `events --follow`. Five seconds suits AWS (rollouts and launches take minutes; the describe
/// calls are throttled per account); tests against an emulator, whose answers are ready at once,
/// set less through `ECSOPS_POLL_INTERVAL` (`200ms`). No option, not even a hidden one:
/// clap_complete offers hidden options in every shell's completions.
pub fn poll_interval() -> Result<Duration, CliError> {
    std::env::var("ECSOPS_POLL_INTERVAL").map_or(Ok(Duration::from_secs(5)), |s| {
        parse_positive(&s).map_err(|e| CliError::Io(format!("ECSOPS_POLL_INTERVAL: {e}")))
    })
}

/// [`parse_duration`] for what cannot be zero: an interval, or a wait's timeout (a wait of
/// nothing would fail every wait at once).
pub fn parse_positive(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err(format!("`{s}`: must be longer than zero")),
        every => Ok(every),
    }
}

/// The longest duration an option takes: beyond it a number is a typo, and a wait shown as
/// "up to 8639999999913600s" helps nobody.
const LONGEST: Duration = Duration::from_hours(366 * 24);

/// A duration such as `30s`, `5m`, `1h` or `2d` (a bare number is seconds), for the options that
/// take one.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 =
        digits.parse().map_err(|_| format!("`{s}` is not a duration like `30s`, `5m` or `1h`"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ if unit.starts_with(['.', ',']) => {
            return Err(format!(
                "`{s}`: use a whole number, in a smaller unit for a fraction (`90m` for `1.5h`)"
            ));
        }
        _ => return Err(format!("`{s}`: use `s`, `m`, `h`, `d` or `ms`")),
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .filter(|d| *d <= LONGEST)
        .ok_or_else(|| format!("`{s}` is too long (at most `366d`)"))
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
        Self { directory, state_url, fix_bucket }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_takes_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_mins(30)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_hours(1)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_hours(48)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1w"), Err("`1w`: use `s`, `m`, `h`, `d` or `ms`".to_owned()));
        assert!(parse_duration("h").is_err());
        // A fraction is not a wrong unit: say to use a smaller unit instead.
        assert_eq!(
            parse_duration("1.5h"),
            Err("`1.5h`: use a whole number, in a smaller unit for a fraction (`90m` for `1.5h`)"
                .to_owned())
        );
        assert_eq!(
            parse_duration("2,5m"),
            Err("`2,5m`: use a whole number, in a smaller unit for a fraction (`90m` for `1.5h`)"
                .to_owned())
        );
        assert_eq!(
            parse_duration("99999999999999999d"),
            Err("`99999999999999999d` is too long (at most `366d`)".to_owned()),
            "no overflow"
        );
        assert_eq!(
            parse_duration("100000d"),
            Err("`100000d` is too long (at most `366d`)".to_owned())
        );
        assert_eq!(parse_duration("366d"), Ok(Duration::from_hours(366 * 24)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_positive("0s"), Err("`0s`: must be longer than zero".to_owned()));
        assert_eq!(parse_positive("1s"), Ok(Duration::from_secs(1)));
    }
}
