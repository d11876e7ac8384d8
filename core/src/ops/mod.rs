//! One function per command, composing the pipeline stages. The CLI calls these and presents
//! what they return; nothing here prints.

pub mod apply;
pub(crate) mod diff;
pub mod events;
pub mod history;
pub mod images;
pub mod init;
mod review;
pub mod roll;
pub mod schema;
mod session;
pub mod state;
pub mod status;
mod validate;

pub use diff::{DiffOptions, DiffOutcome, diff};
pub use review::{diff_promotion, diff_revision};
pub use validate::{ValidateReport, validate};

use crate::diagnostic::Diagnostics;
use crate::source::Sources;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    /// The manifest has errors; the diagnostics say which.
    #[error("{} in the manifest", plural(.0.diagnostics.error_count(), "error"))]
    Invalid(Box<Invalid>),
    #[error("cannot read the state of `{environment}` from `{location}`: {reason}")]
    State { environment: String, location: String, reason: String },
    #[error(transparent)]
    Graph(#[from] crate::graph::BuildError),
    #[error(transparent)]
    Statefile(#[from] crate::state::StateError),
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    /// The environment's credentials are for another account, or cannot be told; nothing was
    /// locked, read or changed.
    #[error(transparent)]
    Account(Box<crate::account::AccountError>),
    /// A locked command ended (with `error`, or with nothing that reports it) and releasing
    /// its lock failed as well.
    #[error("{}", error.as_ref().map_or_else(
        || format!("releasing the lock of `{environment}` failed: {}", left.reason),
        ToString::to_string,
    ))]
    LockLeft { error: Option<Box<OpsError>>, environment: String, left: apply::LockLeft },
    /// The apply stopped because the state could not be saved; the outcome holds the state
    /// that records what exists.
    #[error(transparent)]
    SaveFailed(Box<crate::apply::SaveFailed>),
    #[error(transparent)]
    Git(#[from] crate::gitops::GitError),
    /// `set-image` or `promote` refused the change; nothing was written.
    #[error(transparent)]
    Image(Box<images::ImageError>),
    /// A protected environment's git conditions do not hold; nothing was locked or changed.
    #[error(transparent)]
    Protected(Box<crate::gitops::guard::Refusal>),
    /// Nobody could confirm (no terminal); the lock was released, nothing changed.
    #[error("refusing to {operation} `{environment}` without confirmation: {reason}")]
    NotConfirmed { environment: String, operation: &'static str, reason: String },
    /// `init` refused; nothing was written.
    #[error(transparent)]
    Init(Box<init::InitError>),
    /// A file of the workspace could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The revision to roll back to cannot be used.
    #[error("cannot roll back `{environment}`: {reason}")]
    Rollback { environment: String, reason: String, help: String },
    /// `apply --plan` with a plan that no longer describes what it would change.
    #[error("the saved plan of `{environment}` is stale: {}; nothing was changed", .reasons.join("; "))]
    StalePlan { environment: String, reasons: Vec<String> },
    /// `events --service` names no service or system container of the environment.
    #[error("`{environment}` has no service or system container `{name}`")]
    UnknownService {
        environment: String,
        name: String,
        /// Its services and system containers, for the hint.
        known: Vec<String>,
    },
    /// A file given as a saved plan is not one this ecsops applies.
    #[error("cannot use `{path}`: {source}")]
    SavedPlan {
        path: String,
        #[source]
        source: crate::plan::saved::SavedPlanError,
    },
    /// SSM has no parameter by the name an instance group's `ami` stands for; nothing was
    /// planned.
    #[error(
        "`{place}` asks for the AMI SSM parameter `{parameter}` names, and SSM has no such parameter in `{region}`"
    )]
    AmiParameter { place: String, parameter: String, region: String },
    /// The AMI an instance group would launch is of another architecture than its instance
    /// type: EC2 would refuse every launch, long after the apply; nothing was planned.
    #[error(
        "`{place}` launches `{ami}`, an {architecture} AMI, on `{instance_type}`, which runs {wanted} images"
    )]
    AmiArchitecture {
        place: String,
        ami: String,
        architecture: String,
        instance_type: String,
        wanted: String,
    },
    /// `roll --group` names no instance group of the environment.
    #[error("`{environment}` has no applied instance group `{group}`")]
    UnknownGroup { environment: String, group: String, known: Vec<String> },
    /// The manifests at a revision do not validate under today's rules.
    #[error("the manifests of `{environment}` at {revision} do not validate under today's rules ({})", plural(.invalid.diagnostics.error_count(), "error"))]
    RevisionInvalid { environment: String, revision: String, invalid: Box<Invalid> },
}

/// Diagnostics together with the files they point into.
#[derive(Debug)]
pub struct Invalid {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
