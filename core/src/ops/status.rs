//! `ecsops status ENV`: what runs now. The recorded state says which services and instance
//! groups are the environment's; AWS says how they are doing, read through the environment's
//! [`Session`] as `diff` does, so the same account checks cover it. Also the lock holder, read without taking
//! the lock, and the revision of the last apply.

use crate::provider::aws::LiveStatus;
use crate::state::{LockInfo, Revision, State};
use crate::status::{GroupStatus, ServiceStatus};
use crate::workspace::Workspace;

use super::OpsError;
use super::diff::desired;
use super::session::{self, Session};

/// What `status` found.
#[derive(Debug, Clone)]
pub struct Status {
    pub environment: String,
    /// Where the state is, for messages.
    pub location: String,
    /// `None` when the environment was never applied.
    pub serial: Option<u64>,
    pub lock: Option<LockInfo>,
    /// The git revision of the last apply, as the state records it.
    pub revision: Option<Revision>,
    pub services: Vec<ServiceStatus>,
    pub instance_groups: Vec<GroupStatus>,
    /// Requests sent to AWS.
    pub aws_requests: usize,
}

pub async fn status(
    ws: &Workspace,
    environment: &str,
    state_url: Option<&str>,
) -> Result<Status, OpsError> {
    let desired = desired(ws, environment)?;
    // As in `diff`: a bound environment is checked before anything is read, and any session
    // is checked against the account the state records.
    let mut session = if session::bound(&desired.manifest) {
        Some(Session::open(environment, &desired.manifest).await?)
    } else {
        None
    };
    let target = super::state::target(ws, environment, state_url).await?;
    let (state, lock) = tokio::try_join!(target.backend.read(), target.backend.read_lock())?;
    let state: Option<State> = state.map(|s| s.state);
    let read = state.as_ref().filter(|s| !s.resources.is_empty());
    if let (Some(_), None) = (read, &session) {
        session = Some(Session::open(environment, &desired.manifest).await?);
    }
    let (live, aws_requests) = match (read, &session) {
        (Some(s), Some(session)) => {
            session.check_recorded(s)?;
            let provider = session.provider(s);
            let live = provider.status(&s.resources).await?;
            (live, provider.calls().total())
        }
        _ => (LiveStatus::default(), 0),
    };
    Ok(Status {
        environment: environment.to_owned(),
        location: target.describe(),
        serial: state.as_ref().map(|s| s.serial),
        lock,
        revision: state.and_then(|s| s.revision),
        services: live.services,
        instance_groups: live.instance_groups,
        aws_requests,
    })
}
