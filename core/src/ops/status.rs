//! `ecsops status ENV`: what runs now. The recorded state says which services and instance
//! groups are the environment's; AWS says how they are doing, read through the environment's
//! session (`ops::session`) with the same account checks as `diff`. Also the lock holder, read
//! without taking the lock, and the revision of the last apply.

use crate::provider::aws::LiveStatus;
use crate::state::{LockInfo, Revision, State};
use crate::status::{GroupStatus, ServiceStatus};
use crate::workspace::Workspace;

use super::OpsError;
use super::diff::desired;
use super::session;

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
    // The same guard as `diff`'s, in its two halves around reading the state.
    let session = session::open_if_bound(environment, &desired.manifest).await?;
    let target = super::state::target(ws, environment, state_url).await?;
    let (state, lock) = tokio::try_join!(target.backend.read(), target.backend.read_lock())?;
    let state: Option<State> = state.map(|s| s.state);
    let read = state.as_ref().filter(|s| !s.resources.is_empty());
    let session =
        session::for_state(session, environment, &desired.manifest, state.as_ref(), read.is_some())
            .await?;
    let (live, aws_requests) = match (read, &session) {
        (Some(s), Some(session)) => {
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
